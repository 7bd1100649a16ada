"""Invalid config stops start-up with a message naming the key."""

from __future__ import annotations

import pytest

from bot.platform.config import ConfigError
from bot.platform.config_loading import load_settings, parse_settings
from tests.calendar.test_duty import _minimal_config


def test_example_config_loads(settings):
    assert [u.code for u in settings.units] == ["lapas-palu", "lapas-cilacap"]
    assert settings.database.url == "sqlite:///apel.db"


@pytest.mark.parametrize("mutate, key, words", [
    (lambda d: d["units"][0].update(timezone="Asia/Tokyo"), "units[0].timezone", "Asia/Jakarta"),
    (lambda d: d["units"][0].update(kind="Polres"), "units[0].kind", "Lapas"),
    (lambda d: d["units"][0].pop("kalapas_chat_id"), "units[0].kalapas_chat_id", "required"),
    (lambda d: d["units"][0].update(apel_times={"pagi": "25:00"}), "units[0].apel_times.pagi",
     "time"),
    (lambda d: d["units"][0]["rotation"].update(order=["A", "B", "X", "D"]), "units[0]",
     "unknown regu"),
    (lambda d: d["units"][0].update(deadline_minutes=0), "units[0].deadline_minutes", "greater"),
    (lambda d: d["period"].update(pledge_points=["only one"]), "period", "four points"),
    (lambda d: d["period"].update(topics=["x" * 1001]), "period.topics[0]", "at most 1000"),
    (lambda d: d["period"]["pledge_points"].__setitem__(0, "x" * 301),
     "period.pledge_points[0]", "at most 300"),
    (lambda d: d.update(databse={"url": "x"}), "databse", "unknown key"),
    (lambda d: d.update(database={"url": "mysql://x"}), "database.url", "postgresql"),
])
def test_bad_config_names_the_key(mutate, key, words):
    data = _minimal_config("Asia/Jakarta")
    mutate(data)
    with pytest.raises(ConfigError) as err:
        parse_settings(data, "config.toml")
    text = str(err.value)
    assert f"  - {key}:" in text, text
    assert words in text, text


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[telegram\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken)


def test_token_from_environment_wins(monkeypatch):
    data = _minimal_config("Asia/Jakarta")
    data["telegram"] = {"token": "111:file-token"}
    s = parse_settings(data)
    assert s.telegram.resolved_token() == "111:file-token"
    monkeypatch.setenv("APEL_BOT_TOKEN", "222:env-token")
    assert s.telegram.resolved_token() == "222:env-token"
    assert "file-token" not in repr(s)  # SecretStr keeps it out of reprs and logs
