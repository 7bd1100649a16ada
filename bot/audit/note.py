"""C2SP signed notes carrying C2SP tlog-checkpoint bodies.

Checkpoint body: "<origin>\\n<tree size>\\n<base64 root hash>\\n". The note is the body, a
blank line, then one line per signature: "— <key name> <base64(key id || Ed25519 sig)>\\n".
The signature covers the body bytes including its final newline.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.audit.keys import SigningKey, VerifierKey, check_key_name

SIG_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 100  # as golang.org/x/mod/sumdb/note: more is a malformed note
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_DECIMAL = re.compile(r"\A(0|[1-9][0-9]{0,18})\Z")


class NoteError(ValueError):
    """A note that does not parse or does not verify; `reason` is a short machine tag."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class CheckpointBody:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode('ascii')}\n"


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes


def parse_checkpoint_body(body: str) -> CheckpointBody:
    lines = body.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise NoteError("malformed", "checkpoint body needs origin, size and root lines")
    origin, size, root = lines[0], lines[1], lines[2]
    if not origin:
        raise NoteError("malformed", "checkpoint origin line is empty")
    if not _DECIMAL.match(size):
        raise NoteError("malformed", f"checkpoint size {size!r} is not a decimal number")
    try:
        raw = base64.b64decode(root, validate=True)
    except binascii.Error:
        raw = b""
    if len(raw) != 32:
        raise NoteError("malformed", "checkpoint root is not a base64 SHA-256 hash")
    return CheckpointBody(origin, int(size), raw)


def sign_note(body: str, key: SigningKey) -> str:
    if not body.endswith("\n") or "\n\n" in body or _CONTROL.search(body):
        raise ValueError("note body must end in a newline, without blank lines or controls")
    sig = key.sign(body.encode("utf-8"))
    encoded = base64.b64encode(key.key_id + sig).decode("ascii")
    return f"{body}\n{SIG_PREFIX}{key.name} {encoded}\n"


def parse_note(text: str) -> tuple[str, list[NoteSignature]]:
    if _CONTROL.search(text) or not text.endswith("\n"):
        raise NoteError("malformed", "not a signed note (control characters or no final newline)")
    split = text.rfind("\n\n")
    if split < 0:
        raise NoteError("malformed", "not a signed note (no blank line before the signatures)")
    body, sig_block = text[: split + 1], text[split + 2 :]
    sigs = []
    for line in sig_block.split("\n")[:-1]:
        if not line.startswith(SIG_PREFIX):
            raise NoteError("malformed", f"bad signature line {line[:40]!r}")
        name, _, encoded = line[len(SIG_PREFIX):].rpartition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
            check_key_name(name)
        except ValueError:  # bad base64 (binascii.Error) or a key name with spaces or '+'
            raw = b""
        if len(raw) < 5:
            raise NoteError("malformed", f"bad signature line {line[:40]!r}")
        sigs.append(NoteSignature(name, raw[:4], raw[4:]))
    if not sigs:
        raise NoteError("malformed", "signed note has no signature lines")
    if len(sigs) > MAX_SIGNATURES:
        raise NoteError("malformed", f"signed note has more than {MAX_SIGNATURES} signatures")
    return body, sigs


def as_pasted(text: str) -> str:
    """A note as a chat shows it, back in signed-note form: CRLF or CR line ends, the final
    newline trimmed (Telegram does), blank lines or spaces around it. Only whitespace outside
    the signed text changes, so a note that verifies after this is the note that was signed."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip() + "\n"


def open_note(text: str, keys: Iterable[VerifierKey]) -> tuple[CheckpointBody, VerifierKey]:
    """Parse and verify a checkpoint note against trusted keys; NoteError says why not."""
    body, sigs = parse_note(text)
    known = {(k.name, k.key_id): k for k in keys}
    for sig in sigs:
        key = known.get((sig.name, sig.key_id))
        if key is None:
            continue
        if not key.verify(body.encode("utf-8"), sig.signature):
            raise NoteError("bad_signature",
                            f"signature by key {sig.name}+{sig.key_id.hex()} does not verify")
        return parse_checkpoint_body(body), key
    ids = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in sigs)
    raise NoteError("unknown_key", f"signed only by unknown key(s): {ids}")


def signer_key_ids(text: str) -> list[str]:
    """Hex key ids named on the signature lines (unverified), for messages."""
    try:
        return [s.key_id.hex() for s in parse_note(text)[1]]
    except NoteError:
        return []
