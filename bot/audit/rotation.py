"""Replacing the signing key without losing the ability to verify what the old key signed."""

from __future__ import annotations

import os
from pathlib import Path

from bot.audit.chain import append
from bot.audit.checkpoint import sign_checkpoint
from bot.audit.keys import (
    SigningKey,
    add_to_keyring,
    keyring_path,
    load_signing_key,
    write_private_file,
)
from bot.audit.kinds import KEY_ROTATED
from bot.platform.clock import Clock
from bot.platform.db import Database


def rotate_key(db: Database, *, key_file: str | Path, origin: str, clock: Clock,
               actor: str) -> tuple[SigningKey, SigningKey]:
    """Old key signs a last checkpoint, the chain records the change, the new key signs next.

    The new public key joins the keyring before anything is signed with it, and the private
    file is swapped only after the database committed, so a crash leaves either the old key
    in use or a rotation that `verify` can follow.
    """
    path = Path(key_file)
    old = load_signing_key(path, origin)
    new = SigningKey.generate(origin)
    add_to_keyring(keyring_path(path), new.verifier)
    staged = path.with_name(path.name + ".new")
    staged.unlink(missing_ok=True)  # never reuse a file whose permissions we did not set
    write_private_file(staged, new, exclusive=True)
    try:
        with db.transaction() as session:
            now = clock.now()
            sign_checkpoint(session, at=now, key=old)
            append(session, kind=KEY_ROTATED, actor=actor, at=now, payload={
                "old_key_id": old.verifier.key_id_hex, "new_key_id": new.verifier.key_id_hex,
                "old_key": old.verifier.text(), "new_key": new.verifier.text()})
            sign_checkpoint(session, at=now, key=new)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    os.replace(staged, path)
    return old, new
