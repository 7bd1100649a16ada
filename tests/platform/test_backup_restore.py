"""`apel-bot backup` / `apel-bot restore` on SQLite and PostgreSQL: a restored copy on a new
machine (new database, new key folder) verifies; a damaged backup or a full database is refused."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
import pytest
import tomli_w
from sqlalchemy import text

from bot.cli import main
from bot.commands.backup import _libpq
from bot.org.units import sync_config
from bot.platform.config_loading import load_settings
from bot.platform.db import Database
from tests.audit.test_audit_support import build_log
from tests.conftest import PG_ADMIN_DSN
from tests.platform.test_config_checks import example


def write_config(path: Path, url: str, key_file: Path) -> str:
    data = example()
    data["database"]["url"] = url
    data["audit"]["key_file"] = str(key_file)
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return str(path)


@pytest.fixture
def new_database_url(db, tmp_path):
    """Another, empty database of the same kind as `db`: the new machine's."""
    if db.is_sqlite:
        yield f"sqlite:///{tmp_path / 'new' / 'apel.db'}"
        return
    name = f"apel_restore_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def backed_up(db, tmp_path, clock, capsys):
    """A database with units and a signed audit log (key rotated once), and its backup."""
    (tmp_path / "old" / "keys").mkdir(parents=True, mode=0o700)
    key_file = tmp_path / "old" / "keys" / "audit.key"
    config = write_config(tmp_path / "old" / "config.toml", db.url, key_file)
    build_log(db, key_file, batches=4)
    db.call(lambda s: sync_config(s, load_settings(config), clock.now()))
    out = tmp_path / "backup"
    assert main(["backup", "--config", config, "--out", str(out)]) == 0, capsys.readouterr()
    capsys.readouterr()
    return out


@pytest.fixture
def new_machine(tmp_path, new_database_url) -> tuple[str, Path]:
    (tmp_path / "new" / "keys").mkdir(parents=True, mode=0o700)
    key_file = tmp_path / "new" / "keys" / "audit.key"
    return write_config(tmp_path / "new" / "config.toml", new_database_url, key_file), key_file


def count(url: str, table: str) -> int:
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
    finally:
        db.dispose()


def test_backup_holds_every_file_with_its_sum(backed_up, db):
    manifest = json.loads((backed_up / "MANIFEST.json").read_text())
    database = "database.sqlite3" if db.is_sqlite else "database.pgdump"
    assert [e["file"] for e in manifest["files"]] == [
        database, "audit.key", "audit.key.pub-history", "config.toml"]
    assert all(e["what"] for e in manifest["files"])
    for name in (database, "audit.key", "config.toml"):
        assert (backed_up / name).stat().st_mode & 0o077 == 0, name
    history = (backed_up / "audit.key.pub-history").read_text().split()
    assert len(history) == 2  # the key was rotated: both public keys travel


def test_restore_on_a_new_machine_verifies(backed_up, new_machine, db, capsys):
    config, key_file = new_machine
    assert main(["restore", "--from", str(backed_up), "--config", config]) == 0, \
        capsys.readouterr().err
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert key_file.read_bytes() == (backed_up / "audit.key").read_bytes()
    assert Path(f"{key_file}.pub-history").read_bytes() == \
        (backed_up / "audit.key.pub-history").read_bytes()
    capsys.readouterr()
    code = main(["verify", "--config", config])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("OK: ")
    url = load_settings(config).database.url
    assert count(url, "auditentry") == count(db.url, "auditentry") > 40
    assert count(url, "unit") == 2


def test_restore_refuses_a_database_that_is_not_empty(backed_up, new_machine, capsys):
    config, _ = new_machine
    assert main(["restore", "--from", str(backed_up), "--config", config]) == 0
    capsys.readouterr()
    assert main(["restore", "--from", str(backed_up), "--config", config]) == 1
    assert "is not empty (rows in " in capsys.readouterr().err
    assert main(["restore", "--from", str(backed_up), "--config", config, "--force"]) == 0
    capsys.readouterr()
    assert main(["verify", "--config", config]) == 0


@pytest.mark.parametrize("damaged", ["database", "audit.key.pub-history"])
def test_restore_refuses_a_tampered_backup(backed_up, new_machine, damaged, db, capsys):
    config, key_file = new_machine
    name = ("database.sqlite3" if db.is_sqlite else "database.pgdump") \
        if damaged == "database" else damaged
    data = bytearray((backed_up / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (backed_up / name).write_bytes(bytes(data))
    assert main(["restore", "--from", str(backed_up), "--config", config]) == 1
    err = capsys.readouterr().err
    assert f"{backed_up / name} is missing or does not match its SHA-256" in err
    assert not key_file.exists()
    url = load_settings(config).database.url
    if db.is_sqlite:
        assert not Path(url.removeprefix("sqlite:///")).exists()
    else:
        assert count(url, "pg_tables WHERE schemaname = 'public'") == 0  # no table at all


def test_backup_refuses_a_folder_in_use(backed_up, db, tmp_path, capsys):
    config = str(tmp_path / "old" / "config.toml")
    assert main(["backup", "--config", config, "--out", str(backed_up)]) == 1
    assert "is not an empty folder" in capsys.readouterr().err


def test_restore_keeps_a_different_key_already_there(backed_up, new_machine, capsys):
    config, key_file = new_machine
    Path(f"{key_file}.pub-history").write_text("# another log\n")
    assert main(["restore", "--from", str(backed_up), "--config", config]) == 1
    assert "differs from the backup's audit.key.pub-history" in capsys.readouterr().err
    assert not key_file.exists()


def test_the_database_password_never_reaches_the_command_line():
    """pg_dump/pg_restore get it through PGPASSWORD: a command line is visible to `ps`."""
    uri, env = _libpq("postgresql+psycopg://apel:s3cr%40t@db:5432/apel?sslmode=require")
    assert uri == "postgresql://apel@db:5432/apel?sslmode=require"
    assert env["PGPASSWORD"] == "s3cr@t"


def test_a_signed_log_without_its_key_found_is_not_backed_up(backed_up, db, tmp_path, capsys):
    """key_file read from another folder (a relative path): the key is not found although the
    log holds signed checkpoints. Such a backup would restore a log that no longer verifies."""
    lost = tmp_path / "elsewhere" / "audit.key"
    (tmp_path / "elsewhere").mkdir()
    config = write_config(tmp_path / "elsewhere" / "config.toml", db.url, lost)
    out = tmp_path / "backup-without-key"
    assert main(["backup", "--config", config, "--out", str(out)]) != 0
    said = capsys.readouterr().err
    assert "audit.key_file" in said and "signed checkpoints" in said
    assert not (out / "MANIFEST.json").exists()
