"""`apel-bot demo`: see one whole apel work in a minute, without a token."""

from __future__ import annotations

import argparse
import logging


def _demo(args: argparse.Namespace) -> int:
    from bot.demo import main  # imported late: pulls in the fake server only when asked

    if not args.verbose:
        logging.getLogger().setLevel(logging.WARNING)
    return main()


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="run one apel against a built-in fake Telegram")
    p.set_defaults(func=_demo)
