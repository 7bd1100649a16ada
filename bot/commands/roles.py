"""`apel-bot role grant|revoke|list`: who is an admin, a Kanwil officer or a Satgas member.

The first admins come from config.toml (telegram.admin_user_ids); the others are granted here
and stored in the database, so the bot never takes a role from a Telegram display name.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from bot.commands.common import add_config_arg, load, open_database
from bot.org import roles
from bot.platform.clock import SystemClock


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:80]
    except (KeyError, OSError):
        return "cli"


def _describe(grant, code: str | None) -> str:  # noqa: ANN001
    scope = f"unit {code}" if code else (f"kanwil {grant.kanwil!r}" if grant.kanwil else "all")
    state = f" revoked {grant.revoked_at:%Y-%m-%d %H:%M} UTC" if grant.revoked_at else ""
    return (f"{grant.telegram_user_id:>12}  {grant.role:<7} {scope:<40} "
            f"granted {grant.granted_at:%Y-%m-%d %H:%M} UTC{state}")


def _change(args: argparse.Namespace, revoke: bool) -> int:
    settings = load(args)
    db = open_database(settings)
    now = SystemClock().now()
    try:
        with db.transaction() as session:
            try:
                t = roles.target(session, args.role, args.unit, args.kanwil)
            except roles.GrantError as err:
                print(f"error: {err}", file=sys.stderr)
                return 2
            if revoke:
                change, rows = roles.revoke(session, user_id=args.user, t=t,
                                            actor=_operator(), now=now)
                if change is roles.Change.NOT_FOUND:
                    print(f"no active {t.role} grant for {args.user} with that scope",
                          file=sys.stderr)
                    return 1
                for row in rows:
                    print(f"revoked grant {row.id}: {args.user} is no longer {t.role}")
                return 0
            change, row = roles.grant(session, user_id=args.user, t=t, by=None,
                                      actor=_operator(), now=now)
            verb = "already has" if change is roles.Change.ALREADY else "granted"
            print(f"{verb} grant {row.id}: {args.user} {t.role} "
                  f"{t.kanwil or args.unit or '(all units)'}")
            return 0
    finally:
        db.dispose()


def _grant(args: argparse.Namespace) -> int:
    return _change(args, revoke=False)


def _revoke(args: argparse.Namespace) -> int:
    return _change(args, revoke=True)


def _list(args: argparse.Namespace) -> int:
    settings = load(args)
    db = open_database(settings)
    try:
        rows = db.call(lambda s: roles.grants(s, user_id=args.user,
                                              include_revoked=args.all))
    finally:
        db.dispose()
    for admin in settings.telegram.admin_user_ids:
        if args.user in (None, admin):
            print(f"{admin:>12}  admin   all (config.toml telegram.admin_user_ids)")
    for grant, code in rows:
        print(_describe(grant, code))
    if not rows and not settings.telegram.admin_user_ids:
        print("no grants")
    return 0


def _scope_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--user", type=int, required=True, help="Telegram user id")
    p.add_argument("--role", required=True, choices=roles.GRANTABLE)
    p.add_argument("--unit", help="unit code (satgas)")
    p.add_argument("--kanwil", help="Kanwil name as in config.toml (kanwil; or satgas)")
    add_config_arg(p)


def register(subparsers: argparse._SubParsersAction) -> None:
    role = subparsers.add_parser("role", help="grant or revoke admin, kanwil and satgas roles")
    sub = role.add_subparsers(dest="role_command", required=True)
    g = sub.add_parser("grant", help="give a Telegram user a role",
                       description="admin: all units; kanwil: every unit of --kanwil; "
                                   "satgas: --unit (or every unit of --kanwil).")
    _scope_args(g)
    g.set_defaults(func=_grant)
    r = sub.add_parser("revoke", help="take a role away (the grant is kept, marked revoked)")
    _scope_args(r)
    r.set_defaults(func=_revoke)
    ls = sub.add_parser("list", help="show grants (and the admins from config.toml)")
    ls.add_argument("--user", type=int, help="only this Telegram user id")
    ls.add_argument("--all", action="store_true", help="include revoked grants")
    add_config_arg(ls)
    ls.set_defaults(func=_list)
