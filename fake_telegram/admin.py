"""The Bot API methods that send nothing: who the bot is (getMe), its command menus
(set/get/deleteMyCommands), and what it asks about a chat or a member (getChat,
getChatMember)."""

from __future__ import annotations

import json
import re
from typing import Any

from fake_telegram.chats import BOT_ID, BOT_ME, BOT_USER, Chats, member_json
from fake_telegram.wire import ApiError, Handler, Upload, int_param

_BOT_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")


def _commands_key(scope: Any, language_code: str) -> tuple[str, str]:
    return json.dumps(scope or {"type": "default"}, sort_keys=True), language_code


class BotAdmin:
    def __init__(self, chats: Chats) -> None:
        self.chats = chats
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def methods(self) -> dict[str, Handler]:
        return {
            "getMe": lambda params, files: BOT_ME,
            "logOut": lambda params, files: True,
            "close": lambda params, files: True,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getChat": lambda params, files: self.chats.target(params).full_info(),
            "getChatMember": self._get_chat_member,
        }

    def commands(self, scope: dict[str, Any] | None, language_code: str) -> list[dict[str, Any]]:
        return list(self._commands.get(_commands_key(scope, language_code), []))

    def _set_my_commands(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            if not _BOT_COMMAND_RE.fullmatch(name):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        key = _commands_key(params.get("scope"), params.get("language_code") or "")
        if commands:
            self._commands[key] = commands
        else:
            self._commands.pop(key, None)
        return True

    def _get_my_commands(self, params: dict[str, Any], files: dict[str, Upload]) -> list:
        return self.commands(params.get("scope"), params.get("language_code") or "")

    def _delete_my_commands(self, params: dict[str, Any], files: dict[str, Upload]) -> bool:
        key = _commands_key(params.get("scope"), params.get("language_code") or "")
        self._commands.pop(key, None)
        return True

    def _get_chat_member(self, params: dict[str, Any], files: dict[str, Upload]) -> dict:
        chat = self.chats.target(params)
        user_id = int_param(params, "user_id")
        if user_id == BOT_ID:
            return member_json(BOT_USER, "member")
        user = self.chats.find_user(user_id) if user_id is not None else None
        if user is None:
            raise ApiError(400, "Bad Request: user not found")
        status = self.chats.member_status(chat.id, user.id)
        return member_json(user.to_json(), status)
