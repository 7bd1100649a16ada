"""`python -m fake_telegram`: the fake Bot API server by hand. It prints what everyone sees;
with -i, user actions are typed on stdin (see CONSOLE_HELP)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import threading

from fake_telegram.server import FakeTelegram

CONSOLE_HELP = """commands:
  start USER                 USER opens the bot (/start)
  text USER CHAT message     USER writes in CHAT (a private chat's id is the user id)
  press USER CHAT MSG DATA   USER taps a button with callback data DATA
  click USER CHAT MSG LABEL  USER taps the button labelled LABEL
  stats                      counters"""


def _parse_pairs(spec: str) -> list[tuple[int, str]]:
    """'-1001:Regu A,-1002' -> [(-1001, 'Regu A'), (-1002, '')]."""
    pairs = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        raw_id, _, name = item.partition(":")
        pairs.append((int(raw_id), name))
    return pairs


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m fake_telegram",
        description="A fake Telegram Bot API server that prints what the bot sends.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument(
        "--no-limits", action="store_true", help="do not enforce Telegram's flood limits"
    )
    parser.add_argument("--round-trip-ms", type=float, default=0.0,
                        help="network round trip to add to every call (Indonesia to "
                             "Telegram: about 200-300)")
    parser.add_argument("--groups", default="", help="group ids, e.g. -1001:Regu A,-1002")
    parser.add_argument("--users", default="", help="users, e.g. 11:Budi,12:Sari")
    parser.add_argument("--started", action="store_true", help="users have started the bot already")
    parser.add_argument(
        "-i", "--interactive", action="store_true", help="read user actions from stdin"
    )
    return parser.parse_args(_glued(sys.argv[1:] if argv is None else argv))


def _glued(argv: list[str]) -> list[str]:
    """`--groups -1002:ReguB` as `--groups=-1002:ReguB`: argparse takes a value that starts
    with '-' (every group id does) for an option unless it is glued to its flag."""
    out: list[str] = []
    items = iter(argv)
    for item in items:
        if item in ("--groups", "--users"):
            out.append(f"{item}={next(items, '')}")
        else:
            out.append(item)
    return out


def _print(line: str) -> None:
    print(line, flush=True)


def _run_console_command(tg: FakeTelegram, line: str) -> None:
    words = line.split()
    if not words:
        return
    command = words[0]
    try:
        if command == "start":
            tg.user_start(int(words[1]))
        elif command == "text":
            _, user, chat, text = line.split(maxsplit=3)
            tg.send_text(int(user), int(chat), text)
        elif command in ("press", "click"):
            _, user, chat, msg, arg = line.split(maxsplit=4)
            act = tg.press if command == "press" else tg.press_button
            act(int(user), int(chat), int(msg), arg)
        elif command == "stats":
            _print(json.dumps(tg.stats(), indent=2))
        else:
            _print(CONSOLE_HELP)
    except (KeyError, ValueError, IndexError) as exc:
        _print(f"! {exc}")


def _start_console(tg: FakeTelegram, loop: asyncio.AbstractEventLoop) -> None:
    def read_lines() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(_run_console_command, tg, line.strip())

    threading.Thread(target=read_lines, name="fake-telegram-console", daemon=True).start()


async def _serve(args: argparse.Namespace) -> None:
    tg = FakeTelegram(enforce_limits=not args.no_limits, round_trip=args.round_trip_ms / 1000)
    tg.observer = _print
    for chat_id, title in _parse_pairs(args.groups):
        tg.add_group(chat_id, title or f"Group {chat_id}")
    for user_id, name in _parse_pairs(args.users):
        tg.add_user(user_id, name or f"User {user_id}").started = args.started
    await tg.start(args.host, args.port)
    _print(f"fake Telegram on {tg.root_url}")
    _print(f"  base_url={tg.base_url}  base_file_url={tg.base_file_url}")
    _print(f"  control API: {tg.control_url}/  (POST text, press, start, ...)")
    if args.interactive:
        _print(CONSOLE_HELP)
        _start_console(tg, asyncio.get_running_loop())
    try:
        await asyncio.Event().wait()
    finally:
        await tg.stop()


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
