"""`apel-bot backup --out DIR` and `apel-bot restore --from DIR`: everything that must survive
the loss of the machine (database, audit signing key, its public keyring, config.toml), copied
consistently while the bot runs, with SHA-256 sums that are checked before anything is restored.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import inspect, literal, select, table
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.audit.keys import keyring_path
from bot.audit.models import Checkpoint
from bot.commands.common import add_config_arg, load
from bot.platform.config import AuditConfig
from bot.platform.db import Database

MANIFEST = "MANIFEST.json"
FORMAT = "apel-bot-backup/1"
SQLITE_FILE, PG_FILE = "database.sqlite3", "database.pgdump"
KEY_FILE, KEYRING_FILE, CONFIG_FILE = "audit.key", "audit.key.pub-history", "config.toml"
WHAT = {
    SQLITE_FILE: "database: SQLite online copy (sqlite3 backup API)",
    PG_FILE: "database: pg_dump custom format (-Fc), for pg_restore",
    KEY_FILE: "audit signing key ([audit].key_file); secret, owner-only",
    KEYRING_FILE: "every public key the audit log was signed with (<key_file>.pub-history)",
    CONFIG_FILE: "config.toml given to --config (may hold the bot token)",
}
DATABASE_FILES = {"sqlite": SQLITE_FILE, "postgresql": PG_FILE}


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


def _guarded(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except (BackupError, OSError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
    return run


# ---- files ----------------------------------------------------------------------------------

def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _create_private(path: Path) -> None:
    """An empty owner-only file: what is written into it is never readable by others."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _copy_private(src: Path, dst: Path) -> None:
    _create_private(dst)
    shutil.copyfile(src, dst)


def _empty_dir(path: Path) -> Path:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BackupError(f"--out {path} exists and is not an empty folder; give a new one")
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


# ---- databases ------------------------------------------------------------------------------

def _kind(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def _sqlite_path(url: str) -> Path:
    path = make_url(url).database
    if not path or path == ":memory:":
        raise BackupError(f"database.url {url!r} names no SQLite file")
    return Path(path)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The URL for pg_dump/pg_restore, and the environment carrying the password (never on
    the command line, where `ps` shows it)."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    uri = URL.create("postgresql", username=parsed.username, host=parsed.host,
                     port=parsed.port, database=parsed.database, query=parsed.query)
    return uri.render_as_string(hide_password=False), env


def _run_tool(name: str, args: list[str], env: dict[str, str]) -> None:
    tool = shutil.which(name)
    if tool is None:
        raise BackupError(f"{name} not found on PATH; install the PostgreSQL client tools "
                          "(the same major version as the server or newer)")
    # A fixed tool with our own arguments, no shell.
    done = subprocess.run([tool, *args], env=env, capture_output=True, text=True,  # noqa: S603
                          check=False)
    if done.returncode != 0:
        raise BackupError(f"{name} failed (exit {done.returncode}): {done.stderr.strip()}")


def _sqlite_copy(src: Path, dst: Path) -> None:
    """Page by page through SQLite's backup API: consistent while the bot writes."""
    with closing(sqlite3.connect(src)) as source, closing(sqlite3.connect(dst)) as target:
        source.backup(target)


def _dump_database(url: str, out: Path) -> str:
    name = DATABASE_FILES[_kind(url)]
    _create_private(out / name)
    if _kind(url) == "sqlite":
        path = _sqlite_path(url)
        if not path.is_file():
            raise BackupError(f"database file {path} does not exist")
        _sqlite_copy(path, out / name)
    else:
        uri, env = _libpq(url)
        _run_tool("pg_dump", ["--format=custom", f"--file={out / name}", uri], env)
    return name


def _filled_tables(url: str) -> list[str]:
    """Tables (other than Alembic's) holding at least one row."""
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            names = [n for n in inspect(conn).get_table_names() if n != "alembic_version"]
            return [n for n in names
                    if conn.execute(select(literal(1)).select_from(table(n)).limit(1)).first()]
    except SQLAlchemyError as err:
        raise BackupError(f"cannot open database {db.safe_url}: {err}") from None
    finally:
        db.dispose()


def _load_database(backup: Path, url: str) -> None:
    if _kind(url) == "sqlite":
        _sqlite_copy(backup, _sqlite_path(url))
        return
    uri, env = _libpq(url)
    _run_tool("pg_restore", ["--clean", "--if-exists", "--no-owner", "--no-privileges",
                             "--single-transaction", f"--dbname={uri}", str(backup)], env)


# ---- manifest -------------------------------------------------------------------------------

def _entry(out: Path, name: str) -> dict:
    path = out / name
    return {"file": name, "what": WHAT[name], "sha256": _sha256(path),
            "bytes": path.stat().st_size}


def _key_files(audit: AuditConfig) -> dict[str, Path]:
    return {KEY_FILE: Path(audit.key_file), KEYRING_FILE: keyring_path(audit.key_file)}


def _copy_keys(audit: AuditConfig, out: Path, *, signed: bool) -> list[str]:
    """The key and its public history. Missing while the log holds signed checkpoints, they
    are not "not yet made" but not found (a relative key_file read from another folder): a
    backup without them restores a log that no longer verifies, so it is refused."""
    names = []
    for name, path in _key_files(audit).items():
        if path.is_file():
            _copy_private(path, out / name)
            names.append(name)
        elif signed:
            raise BackupError(
                f"audit.key_file: {path.resolve()} not found, but the database holds signed "
                "checkpoints; run the backup from the bot's working folder or give key_file "
                "as an absolute path")
        else:
            print(f"note: {path} does not exist yet (no checkpoint signed); not in the backup")
    return names


def _has_checkpoints(url: str) -> bool:
    db = Database(url)
    try:
        return db.read(lambda s: s.exec(select(Checkpoint.id).limit(1)).first()) is not None
    finally:
        db.dispose()


def _verified_manifest(src: Path) -> dict:
    """The manifest, once every file it lists is present with its SHA-256."""
    path = src / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = {e["file"]: e["sha256"] for e in manifest["files"]}
        kind = manifest["database"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise BackupError(f"{path}: not a readable apel-bot backup manifest ({err})") from None
    if manifest.get("format") != FORMAT or DATABASE_FILES.get(kind) not in files:
        raise BackupError(f"{path}: not an {FORMAT} manifest with a database")
    for name, digest in files.items():
        if name not in WHAT:  # never a path of the manifest's choosing
            raise BackupError(f"{path}: unknown file {name!r}")
        if not (src / name).is_file() or _sha256(src / name) != digest:
            raise BackupError(f"{src / name} is missing or does not match its SHA-256 in "
                              f"{MANIFEST}: the backup is damaged or was altered; nothing "
                              "was restored")
    return manifest


# ---- commands -------------------------------------------------------------------------------

def _backup(args: argparse.Namespace) -> int:
    settings = load(args)
    out = _empty_dir(Path(args.out))
    url = settings.database.url
    keys = _copy_keys(settings.audit, out, signed=_has_checkpoints(url))  # refused: nothing made
    names = [_dump_database(url, out), *keys]
    _copy_private(Path(args.config), out / CONFIG_FILE)
    names.append(CONFIG_FILE)
    db = Database(url)
    try:
        revision = db.current_revision()
    finally:
        db.dispose()
    manifest = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "database": _kind(url), "source": db.safe_url, "alembic_revision": revision,
                "key_file": settings.audit.key_file, "files": [_entry(out, n) for n in names]}
    # Written last: a backup cut short has no manifest, and restore refuses it.
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(f"backup of {db.safe_url} written to {out}: {', '.join(names)} + {MANIFEST}")
    return 0


def _key_plan(src: Path, manifest: dict, audit: AuditConfig) -> list[tuple[Path, Path]]:
    """Key files to put back: those missing here. One that differs is never overwritten."""
    backed_up = {e["file"] for e in manifest["files"]}
    plan = []
    for name, target in _key_files(audit).items():
        if name not in backed_up:
            continue
        if not target.exists():
            plan.append((src / name, target))
        elif target.read_bytes() != (src / name).read_bytes():
            raise BackupError(f"{target} exists and differs from the backup's {name}; move it "
                              "away (it may hold a newer key) and run restore again")
    return plan


def _restore(args: argparse.Namespace) -> int:
    src = Path(args.source)
    manifest = _verified_manifest(src)
    settings = load(args)
    url = settings.database.url
    if manifest["database"] != _kind(url):
        raise BackupError(f"the backup holds a {manifest['database']} database but "
                          f"database.url in {args.config} is {_kind(url)}")
    keys = _key_plan(src, manifest, settings.audit)
    filled = _filled_tables(url)
    if filled and not args.force:
        shown = make_url(url).render_as_string(hide_password=True)
        raise BackupError(f"database {shown} is not empty (rows in {', '.join(filled[:5])}); "
                          "restore into an empty one, or add --force to replace its contents")
    _load_database(src / DATABASE_FILES[manifest["database"]], url)
    for backup, target in keys:
        _copy_private(backup, target)
        print(f"restored {target} (owner-only)")
    print(f"restored the database from {src} (revision {manifest['alembic_revision']}); next: "
          f"`apel-bot db upgrade --config {args.config}` then `apel-bot verify --config "
          f"{args.config}`; the backed-up config is {src / CONFIG_FILE}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("backup", help="copy database, audit keys and config to a folder")
    add_config_arg(p)
    p.add_argument("--out", required=True, help="new or empty folder to write the backup to")
    p.set_defaults(func=_guarded(_backup))

    r = subparsers.add_parser("restore", help="restore a backup made by `apel-bot backup`")
    add_config_arg(r)
    r.add_argument("--from", dest="source", required=True, help="the backup folder")
    r.add_argument("--force", action="store_true",
                   help="replace the contents of a database that is not empty")
    r.set_defaults(func=_guarded(_restore))
