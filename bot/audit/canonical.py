"""The exact bytes the chain hashes. Change nothing here without a new format version.

An entry's leaf data is the RFC 8785 (JCS) canonical JSON of the object

    {"actor": str, "at": str, "kind": str, "payload": object, "prev": str, "seq": int}

where `at` is the UTC time as RFC 3339 with exactly six fraction digits and "Z"
(`2024-11-25T12:00:00.000000Z`), `prev` is the previous entry's leaf hash in lowercase hex
(64 zeros for seq 1), and `payload` is the event's canonical JSON object (no floats; NIPs
and other big numbers as strings). The leaf hash is SHA-256(0x00 || leaf data), the RFC 6962
leaf hash, so the Merkle tree of checkpoints is built directly over the chain's hashes.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import rfc8785

GENESIS_PREV = "0" * 64
AT_PATTERN = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z\Z")

# JSON string escaping that matches RFC 8785 3.2.2.2 for valid Unicode: only '"', '\\' and
# U+0000..U+001F are escaped (short forms \b \t \n \f \r, else \u00xx in lowercase), non-ASCII
# is written as UTF-8. The C implementation makes verification of millions of entries cheap.
_json_str = json.encoder.encode_basestring  # type: ignore[attr-defined]


def format_at(at: datetime) -> str:
    """The one RFC 3339 spelling used in the chain; fixed width, so text order is time order."""
    if at.tzinfo is None:
        raise ValueError("audit time must be an aware datetime (UTC from the Clock)")
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_at(text: str) -> datetime:
    if not AT_PATTERN.match(text):
        raise ValueError(f"not an audit time (YYYY-MM-DDTHH:MM:SS.ffffffZ): {text!r}")
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)


def _check_value(value: Any, path: str) -> None:
    if value is None or isinstance(value, bool | str | int):
        return
    if isinstance(value, float):
        raise TypeError(f"audit payload {path}: floats are not allowed (use int or str)")
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_value(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"audit payload {path}: keys must be strings, got {key!r}")
            _check_value(item, f"{path}.{key}")
        return
    raise TypeError(
        f"audit payload {path}: {type(value).__name__} is not JSON; pass ids as int, "
        "NIPs and dates as str"
    )


def canonical_payload(payload: dict[str, Any]) -> str:
    """RFC 8785 text of a payload; refuses floats, non-string keys and non-JSON types."""
    if not isinstance(payload, dict):
        raise TypeError("audit payload must be a dict")
    _check_value(payload, "payload")
    try:
        return rfc8785.dumps(payload).decode("utf-8")
    except rfc8785.CanonicalizationError as err:
        raise ValueError(f"audit payload cannot be canonicalised: {err}") from None


def leaf_data(seq: int, at: str, kind: str, actor: str, payload_json: str, prev: str) -> bytes:
    """Canonical JSON of the entry, assembled from already-canonical parts (see module doc).

    Equal to rfc8785.dumps({...}) because keys are emitted in sorted order and the payload
    text is itself canonical; building it this way keeps verification fast.
    """
    return (
        f'{{"actor":{_json_str(actor)},"at":{_json_str(at)},"kind":{_json_str(kind)},'
        f'"payload":{payload_json},"prev":{_json_str(prev)},"seq":{seq}}}'
    ).encode()
