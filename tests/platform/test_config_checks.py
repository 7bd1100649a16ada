"""Every config mistake of issue 15 is refused at start-up by one line naming the key and the
value, before anything is written; and a [period] that misses today is reported."""

from __future__ import annotations

import logging
import os
import shutil
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import tomli_w
from sqlalchemy import text
from sqlmodel import select

from bot.audit.keys import SigningKey, key_file_problems, write_private_file
from bot.cli import main
from bot.delivery.models import OutboxMessage
from bot.org.units import warn_period
from bot.platform.config import ConfigError
from bot.platform.config_loading import parse_settings, period_warning
from bot.platform.db import Database
from tests.conftest import ROOT

PALU_A, CILACAP_I = -1001000000001, -1002000000001


def example() -> dict:
    return tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))


def _times(pagi: str, siang: str, malam: str, deadline: int = 30) -> Callable:
    def mutate(d: dict, _tmp: Path) -> None:
        d["units"][0].update(apel_times={"pagi": pagi, "siang": siang, "malam": malam},
                             deadline_minutes=deadline, late_after_minutes=min(15, deadline))
    return mutate


def _set(path: str, value: object) -> Callable:
    """units.0.regu.1.chat_id = value."""
    def mutate(d: dict, _tmp: Path) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        for p in parents:
            d = d[p]
        d[last] = value
    return mutate


def _key_in_missing_folder(d: dict, tmp: Path) -> None:
    d["audit"]["key_file"] = str(tmp / "no-such-folder" / "audit.key")


def _exposed_key(d: dict, tmp: Path) -> None:
    write_private_file(tmp / "audit.key", SigningKey.generate("apel-bot"), exclusive=True)
    os.chmod(tmp / "audit.key", 0o640)


def _key_of_another_log(d: dict, tmp: Path) -> None:
    write_private_file(tmp / "audit.key", SigningKey.generate("other-log"), exclusive=True)


# (mutation, key named, words naming the value)
MISTAKES = {
    "chat id beyond 64 bits": (_set("units.0.regu.0.chat_id", -(2**64)),
                               "units[0].regu[0].chat_id", "-18446744073709551616"),
    "kalapas id beyond 64 bits": (_set("units.1.kalapas_chat_id", 2**63),
                                  "units[1].kalapas_chat_id", "9223372036854775808"),
    "apel times out of order": (_times("13:00", "07:00", "19:00"), "units[0].apel_times",
                                "pagi 13:00, siang 07:00"),
    "apel times equal": (_times("07:00", "07:00", "19:00"), "units[0].apel_times",
                         "pagi 07:00, siang 07:00"),
    "deadline past the next apel": (_times("07:00", "08:00", "19:00", deadline=90),
                                    "units[0].deadline_minutes",
                                    "90 closes the pagi apel (07:00) at 08:30, after the siang "
                                    "apel starts (08:00)"),
    "malam deadline past tomorrow's pagi": (_times("00:30", "08:00", "23:30", deadline=90),
                                            "units[0].deadline_minutes",
                                            "closes the malam apel (23:30) at 01:00"),
    "kalapas chat is a regu group": (_set("units.0.kalapas_chat_id", PALU_A),
                                     "units[0].kalapas_chat_id",
                                     f"{PALU_A} is the group of regu 'Regu A' of unit lapas-palu"),
    "admin group is another unit's regu group": (
        _set("units.1.admin_group_chat_id", PALU_A), "units[1].admin_group_chat_id",
        f"{PALU_A} is the group of regu 'Regu A' of unit lapas-palu"),
    "operator chat is a regu group": (_set("telegram.operator_chat_id", CILACAP_I),
                                      "telegram.operator_chat_id",
                                      f"{CILACAP_I} is the group of regu 'Regu I'"),
    "positive regu chat id": (_set("units.0.regu.2.chat_id", 5000123), "units[0].regu[2].chat_id",
                              "5000123 is a private chat"),
    "positive admin group id": (_set("units.0.admin_group_chat_id", 77), "units[0].admin_group_"
                                "chat_id", "77 is a private chat"),
    "one chat for regu of two units": (
        _set("units.1.regu.0.chat_id", PALU_A), "units[1].regu[0].chat_id",
        f"{PALU_A} (regu 'Regu I' of unit lapas-cilacap) is already the group of regu 'Regu A' "
        "of unit lapas-palu"),
    "one chat for two regu of a unit": (
        _set("units.0.regu.3.chat_id", PALU_A), "units[0].regu[3].chat_id",
        f"{PALU_A} (regu 'Regu D' of unit lapas-palu) is already the group of regu 'Regu A'"),
    "key file in a missing folder": (_key_in_missing_folder, "audit.key_file",
                                     "no-such-folder does not exist"),
    "key file readable by others": (_exposed_key, "audit.key_file", "permissions are 0640"),
    "key file of another log": (_key_of_another_log, "audit.origin",
                                "signs the log 'other-log'"),
}


def bad_config(name: str, tmp_path: Path) -> tuple[dict, str, str]:
    mutate, key, words = MISTAKES[name]
    data = example()
    data["audit"]["key_file"] = str(tmp_path / "audit.key")
    data["database"]["url"] = f"sqlite:///{tmp_path / 'apel.db'}"
    mutate(data, tmp_path)
    return data, key, words


def test_a_key_of_its_own_log_is_accepted(tmp_path):
    data, _, _ = bad_config("key file of another log", tmp_path)
    data["audit"]["origin"] = "other-log"  # the key's own log: nothing wrong any more
    assert parse_settings(data, checks=[key_file_problems]).audit.origin == "other-log"


@pytest.mark.parametrize("name", MISTAKES)
def test_mistake_is_refused_naming_key_and_value(name, tmp_path):
    data, key, words = bad_config(name, tmp_path)
    with pytest.raises(ConfigError) as err:
        parse_settings(data, "config.toml", checks=[key_file_problems])
    lines = str(err.value).splitlines()
    assert lines[0] == "Invalid configuration in config.toml:"
    assert any(line.startswith(f"  - {key}: ") and words in line for line in lines[1:]), lines


@pytest.mark.parametrize("name", MISTAKES)
def test_refused_config_writes_nothing(name, tmp_path, capsys, _sqlite_template):
    """A command that brings config into the database stops with exit 2 and one message; the
    database is left as it was (no units)."""
    data, key, words = bad_config(name, tmp_path)
    shutil.copy(_sqlite_template, tmp_path / "apel.db")
    config = tmp_path / "config.toml"
    config.write_text(tomli_w.dumps(data), encoding="utf-8")
    assert main(["role", "list", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"  - {key}: " in err and words in err, err
    assert "Traceback" not in err
    db = Database(data["database"]["url"])
    try:
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM unit")).scalar_one() == 0
    finally:
        db.dispose()


def test_the_same_config_without_the_mistake_is_synced(tmp_path, capsys, _sqlite_template):
    """The check above fails for the right reason: a good config does write its units."""
    data = example()
    data["audit"]["key_file"] = str(tmp_path / "audit.key")
    data["database"]["url"] = f"sqlite:///{tmp_path / 'apel.db'}"
    shutil.copy(_sqlite_template, tmp_path / "apel.db")
    config = tmp_path / "config.toml"
    config.write_text(tomli_w.dumps(data), encoding="utf-8")
    assert main(["role", "list", "--config", str(config)]) == 0
    db = Database(data["database"]["url"])
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM unit")).scalar_one() == 2
    db.dispose()


def test_period_covering_today_gives_no_warning(settings):
    assert period_warning(settings, datetime(2024, 11, 25, 3, 0, tzinfo=UTC)) is None


def test_period_over_in_one_zone_is_named():
    """16:30 UTC on the last day: already 1 January in Palu (WITA), still 31 December in
    Cilacap (WIB)."""
    line = period_warning(parse_settings(example()), datetime(2024, 12, 31, 16, 30, tzinfo=UTC))
    assert line == ("period: 'Pilkada 2024' runs 2024-09-01 to 2024-12-31 but today is "
                    "2025-01-01 in Asia/Makassar; no apel opens there until [period] start/end "
                    "in config.toml cover today")


def test_period_warning_is_logged_and_sent_to_the_operator_once(sqlite_db, caplog):
    data = example()
    data["telegram"]["operator_chat_id"] = -1009999999999
    settings = parse_settings(data)
    now = datetime(2025, 2, 3, 1, 0, tzinfo=UTC)
    with caplog.at_level(logging.WARNING, logger="bot.org.units"):
        for _ in range(2):  # a restart loop: the operator hears once a day
            line = sqlite_db.call(lambda s: warn_period(s, settings, now))
    assert line is not None and line in caplog.text
    rows = sqlite_db.read(lambda s: s.exec(select(OutboxMessage)).all())
    assert [r.chat_id for r in rows] == [-1009999999999]
    message = rows[0].payload["text"]
    assert "Periode ikrar «Pilkada 2024» (01-09-2024 s.d. 31-12-2024) tidak mencakup hari " \
           "ini: 03-02-2025 WIB, 03-02-2025 WITA." in message


def test_period_warning_without_operator_chat_is_only_logged(sqlite_db, caplog):
    settings = parse_settings(example())
    now = datetime(2025, 2, 3, 1, 0, tzinfo=UTC)
    with caplog.at_level(logging.WARNING, logger="bot.org.units"):
        assert sqlite_db.call(lambda s: warn_period(s, settings, now)) is not None
    assert "today is 2025-02-03 in Asia/Jakarta, 2025-02-03 in Asia/Makassar" in caplog.text
    assert sqlite_db.read(lambda s: s.exec(select(OutboxMessage)).all()) == []
