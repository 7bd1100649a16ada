"""Ed25519 keys in the signed-note formats, the private key file and the public keyring.

Private key file (one line, the Go `golang.org/x/mod/sumdb/note` format):
    PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || 32-byte seed)>
Verifier key (what an inspector is given):
    <name>+<hex key id>+<base64(0x01 || 32-byte public key)>
Key id = first 4 bytes of SHA-256(name || "\\n" || 0x01 || public key).
The keyring `<key_file>.pub-history` lists every verifier key ever used, oldest first, so
checkpoints signed before a rotation still verify.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bot.platform.config import ConfigError, Settings
from bot.platform.config_loading import Problem

ALG_ED25519 = b"\x01"
_NAME_BAD = re.compile(r"[\s+]")


class KeyFileError(ConfigError):
    """A key file that is missing, malformed or unsafe; the message says what to do."""


def check_key_name(name: str) -> str:
    if not name or _NAME_BAD.search(name):
        raise ValueError(f"key name must be non-empty without spaces or '+': {name!r}")
    return name


def key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + ALG_ED25519 + public).digest()[:4]


@dataclass(frozen=True)
class VerifierKey:
    name: str
    public: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public)

    @property
    def key_id_hex(self) -> str:
        return self.key_id.hex()

    def text(self) -> str:
        encoded = base64.b64encode(ALG_ED25519 + self.public).decode("ascii")
        return f"{self.name}+{self.key_id_hex}+{encoded}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except InvalidSignature:
            return False
        return True

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        parts = text.strip().split("+", 2)  # the base64 part may itself contain '+'
        if len(parts) != 3:
            raise ValueError(f"not a verifier key (name+keyid+base64): {text.strip()!r}")
        name, hex_id, encoded = parts
        check_key_name(name)
        try:
            raw = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise ValueError(f"verifier key {name}: bad base64") from None
        if len(raw) != 33 or raw[:1] != ALG_ED25519:
            raise ValueError(f"verifier key {name}: not an Ed25519 key")
        key = cls(name, raw[1:])
        if key.key_id_hex != hex_id.lower():
            raise ValueError(f"verifier key {name}: key id {hex_id} does not match the key")
        return key


class SigningKey:
    def __init__(self, name: str, private: Ed25519PrivateKey) -> None:
        self.name = check_key_name(name)
        self._private = private
        public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = VerifierKey(name, public)

    @property
    def key_id(self) -> bytes:
        return self.verifier.key_id

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    @classmethod
    def generate(cls, name: str) -> SigningKey:
        return cls(name, Ed25519PrivateKey.generate())

    def secret_text(self) -> str:
        seed = self._private.private_bytes_raw()
        encoded = base64.b64encode(ALG_ED25519 + seed).decode("ascii")
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id_hex}+{encoded}\n"

    @classmethod
    def parse_secret(cls, text: str, source: str) -> SigningKey:
        parts = text.strip().split("+", 4)  # the base64 part may itself contain '+'
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise KeyFileError(f"{source} is not an audit signing key (PRIVATE+KEY+...)")
        _, _, name, hex_id, encoded = parts
        try:
            raw = base64.b64decode(encoded, validate=True)
            if len(raw) != 33 or raw[:1] != ALG_ED25519:
                raise ValueError("not Ed25519")
            key = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        except ValueError as err:
            raise KeyFileError(f"{source}: malformed signing key ({err})") from None
        if key.verifier.key_id_hex != hex_id.lower():
            raise KeyFileError(f"{source}: key id {hex_id} does not match the key")
        return key


def keyring_path(key_file: str | Path) -> Path:
    return Path(f"{key_file}.pub-history")


def read_keyring(path: str | Path) -> list[VerifierKey]:
    p = Path(path)
    if not p.is_file():
        return []
    keys = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            try:
                keys.append(VerifierKey.parse(line))
            except ValueError as err:
                raise KeyFileError(f"{p} line {n}: {err}") from None
    return keys


def add_to_keyring(path: str | Path, key: VerifierKey) -> None:
    if key in read_keyring(path):
        return
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(key.text() + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def check_private_file(path: Path) -> None:
    """Refuse a key that others could read or swap: the signature would prove nothing."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyFileError(
            f"refusing to use audit signing key {path}: its permissions are {mode:04o}, "
            f"readable or writable by group/others; run `chmod 600 {path}` (and check who "
            "may have copied it; if in doubt, rotate it with `apel-bot audit rotate-key`)"
        )


def write_private_file(path: Path, key: SigningKey, *, exclusive: bool) -> None:
    """Write owner-only from the first byte (never chmod after): no window for a reader."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key.secret_text())
        fh.flush()
        os.fsync(fh.fileno())


def load_signing_key(key_file: str | Path, name: str, *, create: bool = True) -> SigningKey:
    """The log's signing key; generated on first use. Its public half joins the keyring."""
    path = Path(key_file)
    if not path.exists():
        if not create:
            raise KeyFileError(f"audit signing key {path} does not exist")
        try:
            write_private_file(path, SigningKey.generate(check_key_name(name)), exclusive=True)
        except FileExistsError:
            pass  # another process created it first: use theirs
    check_private_file(path)
    key = SigningKey.parse_secret(path.read_text(encoding="ascii"), str(path))
    if key.name != name:
        raise KeyFileError(
            f"audit signing key {path} belongs to log {key.name!r} but [audit].origin is "
            f"{name!r}; the origin names the log and must not change"
        )
    add_to_keyring(keyring_path(path), key.verifier)
    return key


def key_file_problems(settings: Settings) -> Iterator[Problem]:
    """What signing would refuse hours later (at the first checkpoint), refused at start-up:
    a config check (bot.platform.config_loading.load_settings(checks=...))."""
    audit = settings.audit
    path = Path(audit.key_file)
    if not path.parent.is_dir():
        yield "audit.key_file", (f"{audit.key_file!r}: directory {path.parent} does not exist; "
                                 f"create it owner-only (mkdir -m 700 {path.parent}) or fix "
                                 "the path")
        return
    if not path.exists():
        return  # created, owner-only, on first use
    try:
        check_private_file(path)
        key = SigningKey.parse_secret(path.read_text(encoding="ascii"), str(path))
    except (KeyFileError, OSError, UnicodeDecodeError) as err:
        yield "audit.key_file", f"{audit.key_file!r}: {err}"
        return
    if key.name != audit.origin:
        yield "audit.origin", (f"{audit.origin!r}, but {path} signs the log {key.name!r}; the "
                               "origin names the log and must not change")
