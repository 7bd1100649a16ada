"""`apel-bot role grant|revoke|list`, and what a grant lets a person see in the reports."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import tomli_w
from sqlmodel import select

from bot.audit.models import AuditEntry
from bot.cli import main
from bot.org.models import RoleGrant
from bot.platform.db import Database
from bot.reports import scope as report_scope

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(tmp_path) -> Path:
    data = tomllib.loads((ROOT / "config.example.toml").read_text())
    data["database"]["url"] = f"sqlite:///{tmp_path / 'apel.db'}"
    data["telegram"]["admin_user_ids"] = [42]
    data["audit"]["key_file"] = str(tmp_path / "audit.key")
    path = tmp_path / "config.toml"
    path.write_text(tomli_w.dumps(data))
    assert main(["db", "upgrade", "--config", str(path)]) == 0
    return path


def run(config: Path, *args: str) -> int:
    return main([*args[:2], *args[2:], "--config", str(config)])


def test_grant_list_revoke(config, capsys, settings):
    assert run(config, "role", "grant", "--user", "7001", "--role", "kanwil",
               "--kanwil", "kanwil jawa tengah") == 0
    assert "granted grant 1: 7001 kanwil Kanwil Jawa Tengah" in capsys.readouterr().out
    assert run(config, "role", "grant", "--user", "7001", "--role", "kanwil",
               "--kanwil", "Kanwil Jawa Tengah") == 0
    assert "already has grant 1" in capsys.readouterr().out
    assert run(config, "role", "grant", "--user", "7002", "--role", "satgas",
               "--unit", "lapas-palu") == 0
    assert run(config, "role", "grant", "--user", "7003", "--role", "admin") == 0
    capsys.readouterr()
    assert run(config, "role", "list") == 0
    out = capsys.readouterr().out
    assert "42  admin   all (config.toml" in out
    assert "7001  kanwil  kanwil 'Kanwil Jawa Tengah'" in out
    assert "7002  satgas  unit lapas-palu" in out and "7003  admin   all" in out

    db = Database(tomllib.loads(config.read_text())["database"]["url"])
    scope = db.call(lambda s: report_scope.scope_for(s, settings, 7001))
    assert [u.code for u in scope.units] == ["lapas-cilacap"]
    scope = db.call(lambda s: report_scope.scope_for(s, settings, 7002))
    assert [u.code for u in scope.units] == ["lapas-palu"]
    assert len(db.call(lambda s: report_scope.scope_for(s, settings, 7003)).units) == 2

    assert run(config, "role", "revoke", "--user", "7001", "--role", "kanwil",
               "--kanwil", "Kanwil Jawa Tengah") == 0
    assert "revoked grant 1" in capsys.readouterr().out
    assert run(config, "role", "revoke", "--user", "7001", "--role", "kanwil",
               "--kanwil", "Kanwil Jawa Tengah") == 1
    assert not db.call(lambda s: report_scope.scope_for(s, settings, 7001)).allowed
    assert run(config, "role", "list", "--user", "7001", "--all") == 0
    assert "revoked" in capsys.readouterr().out
    rows = db.call(lambda s: s.exec(select(RoleGrant).order_by(RoleGrant.id)).all())
    assert [(r.telegram_user_id, r.revoked_at is not None) for r in rows] == [
        (7001, True), (7002, False), (7003, False)]
    kinds = db.call(lambda s: [e.kind for e in s.exec(select(AuditEntry)).all()])
    assert kinds.count("role.granted") == 3 and kinds.count("role.revoked") == 1
    db.dispose()


@pytest.mark.parametrize(("args", "message"), [
    (["--role", "kanwil"], "needs --kanwil"),
    (["--role", "kanwil", "--kanwil", "Kanwil Atlantis"], "unknown Kanwil"),
    (["--role", "satgas"], "needs --unit"),
    (["--role", "satgas", "--unit", "lapas-nowhere"], "unknown unit"),
    (["--role", "admin", "--unit", "lapas-palu"], "neither --unit nor --kanwil"),
    (["--role", "satgas", "--unit", "lapas-palu", "--kanwil", "Kanwil Jawa Tengah"],
     "not both"),
])
def test_bad_grants_are_refused(config, capsys, args, message):
    assert run(config, "role", "grant", "--user", "7001", *args) == 2
    assert message in capsys.readouterr().err


def test_satgas_per_kanwil_sees_its_units(config, settings):
    assert run(config, "role", "grant", "--user", "7009", "--role", "satgas",
               "--kanwil", "Kanwil Sulawesi Tengah") == 0
    db = Database(tomllib.loads(config.read_text())["database"]["url"])
    scope = db.call(lambda s: report_scope.scope_for(s, settings, 7009))
    assert [u.code for u in scope.units] == ["lapas-palu"]
    db.dispose()
