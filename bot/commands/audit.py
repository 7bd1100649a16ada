"""`apel-bot audit ...` (keys, checkpoints, export) and `apel-bot verify`."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import date
from pathlib import Path

from bot.audit.checkpoint import sign_checkpoint
from bot.audit.keys import VerifierKey, keyring_path, load_signing_key, read_keyring
from bot.audit.rotation import rotate_key
from bot.commands.common import add_config_arg, load, open_database
from bot.inspection.baseline import run_baseline, summary
from bot.inspection.bundle import export_bundle, verify_bundle
from bot.inspection.inspector import write_report
from bot.inspection.verify import verify_database
from bot.platform.clock import SystemClock
from bot.platform.config import AuditConfig
from bot.platform.db import Database


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {value!r}") from None


def _verifier_key(value: str) -> VerifierKey:
    try:
        return VerifierKey.parse(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def operator_actor() -> str:
    """The audit actor of a command-line change: the operating-system user who ran it."""
    try:
        return f"cli:{getpass.getuser()}"[:80]
    except (KeyError, OSError):
        return "cli"


def _keyring(audit: AuditConfig) -> list[VerifierKey]:
    return read_keyring(keyring_path(audit.key_file))


def _public_key(args: argparse.Namespace) -> int:
    audit = load(args).audit
    key = load_signing_key(audit.key_file, audit.origin)
    print(key.verifier.text())
    print(f"key id: {key.verifier.key_id_hex}")
    return 0


def _rotate_key(args: argparse.Namespace) -> int:
    settings = load(args)
    db = open_database(settings, sync=False)
    try:
        old, new = rotate_key(db, key_file=settings.audit.key_file, origin=settings.audit.origin,
                              clock=SystemClock(), actor=operator_actor())
    finally:
        db.dispose()
    print(f"rotated: old key id {old.verifier.key_id_hex}, new key id {new.verifier.key_id_hex}")
    print(f"new public key: {new.verifier.text()}")
    print(f"all public keys: {keyring_path(settings.audit.key_file)}")
    return 0


def _checkpoint(args: argparse.Namespace) -> int:
    settings = load(args)
    key = load_signing_key(settings.audit.key_file, settings.audit.origin)
    db = open_database(settings, sync=False)
    try:
        with db.transaction() as session:
            cp = sign_checkpoint(session, at=SystemClock().now(), key=key)
    finally:
        db.dispose()
    print(cp.note, end="")
    return 0


def _export(args: argparse.Namespace) -> int:
    settings = load(args)
    key = load_signing_key(settings.audit.key_file, settings.audit.origin)
    db = open_database(settings, sync=False)
    clock = SystemClock()
    try:
        # A fresh checkpoint first, so the bundle's newest entries are covered by a signature.
        with db.transaction() as session:
            sign_checkpoint(session, at=clock.now(), key=key)
        manifest = export_bundle(db, start=args.date_from, end=args.date_to, out=args.out,
                                 origin=settings.audit.origin, keys=_keyring(settings.audit),
                                 now=clock.now())
    finally:
        db.dispose()
    print(f"wrote {args.out}: {manifest['entries']} entries "
          f"(seq {manifest['first_seq']}-{manifest['last_seq']}), "
          f"leaf hashes 1-{manifest['tree_size']}")
    return 0


def _baseline(args: argparse.Namespace) -> int:
    settings = load(args)
    db = open_database(settings, sync=False)
    try:
        result = run_baseline(db, actor=operator_actor(), at=SystemClock().now(),
                              again=args.again)
    finally:
        db.dispose()
    ok = result.written or not result.needed
    print(summary(result), file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


def _read_checkpoints(paths: list[str]) -> list[tuple[str, str]]:
    out = []
    for p in paths:
        try:
            out.append((p, Path(p).read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as err:
            raise SystemExit(f"error: cannot read checkpoint {p}: {err}") from None
    return out


def _verify(args: argparse.Namespace) -> int:
    outside = _read_checkpoints(args.checkpoint)
    if args.bundle:
        report = verify_bundle(args.bundle, outside=outside, pinned_keys=args.key,
                               recount=args.recount)
    else:
        settings = load(args)
        db = Database(settings.database.url)
        try:
            db.require_migrated()
            keys = _keyring(settings.audit) + list(args.key)
            report = verify_database(db, keys=keys, origin=settings.audit.origin,
                                     outside=outside, recount=args.recount)
        finally:
            db.dispose()
    print(report.text(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


def _report(args: argparse.Namespace) -> int:
    report = write_report(args.bundle, args.out, outside=_read_checkpoints(args.checkpoint),
                          pinned_keys=args.key, now=SystemClock().now())
    verdict = "OK" if report.ok else f"FAILED ({len(report.problems)} problem(s))"
    print(f"wrote {args.out}: {verdict}, {len(report.figures)} closed apel recounted",
          file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


def _add_trust_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", action="append", default=[], metavar="FILE",
                   help="a checkpoint note held outside (as pasted from the chat); repeatable")
    p.add_argument("--key", action="append", default=[], type=_verifier_key, metavar="VKEY",
                   help="trusted verifier key name+id+base64; repeatable (bundle: replaces "
                        "the bundle's own keys)")


def register(subparsers: argparse._SubParsersAction) -> None:
    audit = subparsers.add_parser("audit", help="audit trail: keys, checkpoints, bundles")
    sub = audit.add_subparsers(dest="audit_command", required=True)

    p = sub.add_parser("public-key", help="print the checkpoint verifier key and key id")
    add_config_arg(p)
    p.set_defaults(func=_public_key)

    p = sub.add_parser("rotate-key", help="replace the signing key (old public key is kept)")
    add_config_arg(p)
    p.set_defaults(func=_rotate_key)

    p = sub.add_parser("checkpoint", help="sign a checkpoint now and print its note")
    add_config_arg(p)
    p.set_defaults(func=_checkpoint)

    p = sub.add_parser("baseline", help="once after upgrading: vouch on the record for rows "
                                        "written before the chain stated them")
    add_config_arg(p)
    p.add_argument("--again", action="store_true",
                   help="record another baseline although one exists (it vouches for whatever "
                        "is unstated now)")
    p.set_defaults(func=_baseline)

    p = sub.add_parser("export", help="write an inspector bundle (zip) for a date range")
    add_config_arg(p)
    p.add_argument("--from", dest="date_from", type=_date, required=True, help="YYYY-MM-DD (UTC)")
    p.add_argument("--to", dest="date_to", type=_date, required=True, help="YYYY-MM-DD (UTC)")
    p.add_argument("--out", required=True, help="bundle file to write (.zip)")
    p.set_defaults(func=_export)

    p = sub.add_parser("report", help="check a bundle and write the inspector's HTML report "
                                      "(Indonesian, self-contained)")
    p.add_argument("--bundle", required=True, help="the bundle (.zip) to check")
    p.add_argument("--out", required=True, help="HTML file to write, e.g. laporan.html")
    _add_trust_args(p)
    p.set_defaults(func=_report)

    v = subparsers.add_parser("verify", help="verify the audit trail (database or bundle)")
    add_config_arg(v)
    v.add_argument("--bundle", help="verify this bundle instead of the database (no config)")
    v.add_argument("--recount", action="store_true",
                   help="also recompute every closed apel's figures from the chain and compare "
                        "them with what the reports show")
    _add_trust_args(v)
    v.set_defaults(func=_verify)
