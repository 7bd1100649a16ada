"""The hashed bytes, the signed-note format and the key files."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone

import pytest
import rfc8785

from bot.audit.canonical import GENESIS_PREV, canonical_payload, format_at, leaf_data, parse_at
from bot.audit.keys import (
    KeyFileError,
    SigningKey,
    VerifierKey,
    keyring_path,
    load_signing_key,
    read_keyring,
)
from bot.audit.note import (
    CheckpointBody,
    NoteError,
    open_note,
    parse_checkpoint_body,
    sign_note,
)
from tests.audit.test_audit_vectors import GO


@pytest.mark.parametrize("value", [
    "plain", "", 'quote " and \\ backslash', "ctrl \x00\x01\x1f\x7f", "\b\f\n\r\t",
    "Indonesia – Sulawesi Tengah ✓ 😀", "\u2028\u2029", "é",
])
def test_leaf_data_is_rfc8785_of_the_entry(value):
    payload = {"z": [1, -2, True, None, {"b": value, "a": "x"}], "€": 0, "a": value, "10": 1}
    canon = canonical_payload(payload)
    data = leaf_data(7, "2024-11-25T12:00:00.000000Z", "pledge.recorded", f"tg:1 {value}",
                     canon, GENESIS_PREV)
    assert data == rfc8785.dumps({"seq": 7, "at": "2024-11-25T12:00:00.000000Z",
                                  "kind": "pledge.recorded", "actor": f"tg:1 {value}",
                                  "payload": payload, "prev": GENESIS_PREV})


def test_payload_rules():
    assert canonical_payload({"nip": "198507252009121001", "b": 2, "a": 1}) == \
        '{"a":1,"b":2,"nip":"198507252009121001"}'
    with pytest.raises(TypeError, match="floats"):
        canonical_payload({"score": 1.5})
    with pytest.raises(ValueError, match="canonicalised"):
        canonical_payload({"nip": 198507252009121001})  # beyond 2**53: must be a string
    with pytest.raises(TypeError, match="date"):
        canonical_payload({"day": datetime(2024, 1, 1).date()})
    with pytest.raises(TypeError, match="keys"):
        canonical_payload({1: "x"})


def test_time_format_is_fixed_width_utc():
    wita = timezone(timedelta(hours=8))
    text = format_at(datetime(2024, 11, 25, 7, 30, tzinfo=wita))
    assert text == "2024-11-24T23:30:00.000000Z"
    assert parse_at(text) == datetime(2024, 11, 24, 23, 30, tzinfo=UTC)
    with pytest.raises(ValueError):
        format_at(datetime(2024, 1, 1))
    with pytest.raises(ValueError):
        parse_at("2024-11-24T23:30:00Z")


def test_checkpoint_note_round_trip_and_failures():
    key, other = SigningKey.generate("apel-bot"), SigningKey.generate("apel-bot")
    note = sign_note(CheckpointBody("apel-bot", 42, b"\x07" * 32).text(), key)
    lines = note.split("\n")
    assert lines[:4] == ["apel-bot", "42", "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=", ""]
    assert lines[4].startswith("— apel-bot ")
    body, used = open_note(note, [other.verifier, key.verifier])
    assert (body.origin, body.size, body.root, used) == ("apel-bot", 42, b"\x07" * 32,
                                                          key.verifier)
    with pytest.raises(NoteError) as err:
        open_note(note, [other.verifier])
    assert err.value.reason == "unknown_key"
    with pytest.raises(NoteError) as err:
        open_note(note.replace("\n42\n", "\n43\n"), [key.verifier])
    assert err.value.reason == "bad_signature"
    with pytest.raises(NoteError):
        parse_checkpoint_body("apel-bot\n042\nAAAA\n")


def test_verifier_key_parsing():
    key = VerifierKey.parse("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6")
    assert key.name == "TEST"
    with pytest.raises(ValueError, match="does not match"):
        VerifierKey.parse(GO["peter_verifier_key"].replace("c74f20a3", "c74f20a4"))
    with pytest.raises(ValueError):
        VerifierKey.parse("no-plus-signs")


def test_key_file_created_owner_only_and_refused_when_exposed(tmp_path):
    path = tmp_path / "keys" / "audit.key"
    key = load_signing_key(path, "apel-bot")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert read_keyring(keyring_path(path)) == [key.verifier]
    assert load_signing_key(path, "apel-bot").verifier == key.verifier  # reused, not replaced
    os.chmod(path, 0o640)
    with pytest.raises(KeyFileError, match=r"chmod 600 .*audit.key"):
        load_signing_key(path, "apel-bot")
    os.chmod(path, 0o600)
    with pytest.raises(KeyFileError, match="origin"):
        load_signing_key(path, "another-log")
