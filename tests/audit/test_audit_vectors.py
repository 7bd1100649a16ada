"""The Merkle proofs and the signed-note format against test vectors published by other
implementations (sources and licences: tests/vectors/README.md)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from bot.audit.keys import SigningKey, VerifierKey
from bot.audit.merkle import verify_consistency, verify_inclusion
from bot.audit.note import NoteError, open_note, parse_note, sign_note

VECTORS = Path(__file__).parents[1] / "vectors"
TD_MERKLE = VECTORS / "transparency-dev-merkle"
MERKLE = sorted(TD_MERKLE.rglob("*.json"))
GO = json.loads((VECTORS / "c2sp-signed-note" / "golang-mod-sumdb-note.json").read_text(
    encoding="utf-8"))


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""


def _verifies(case: dict) -> bool:
    proof = [_b64(p) for p in case["proof"] or []]
    if "size1" in case:
        return verify_consistency(case["size1"], case["size2"], _b64(case["root1"]),
                                  _b64(case["root2"]), proof)
    return verify_inclusion(case["leafIdx"], case["treeSize"], _b64(case["leafHash"]), proof,
                            _b64(case["root"]))


def test_the_transparency_dev_vectors_are_all_there():
    kinds = {p.relative_to(TD_MERKLE).parts[0] for p in MERKLE}
    assert kinds == {"consistency", "inclusion"} and len(MERKLE) == 196


@pytest.mark.parametrize("path", MERKLE, ids=lambda p: str(p.relative_to(TD_MERKLE)))
def test_merkle_proofs_as_transparency_dev_judges_them(path):
    case = json.loads(path.read_text(encoding="utf-8"))
    assert _verifies(case) is not case["wantErr"], case["desc"]


def test_go_signing_key_gives_the_published_verifier_key_and_note():
    key = SigningKey.parse_secret(GO["peter_signing_key"], "vector")
    assert key.verifier.text() == GO["peter_verifier_key"]
    assert sign_note(GO["text"], key) == GO["signed_by_peter"]
    with pytest.raises(NoteError) as err:  # verified before the body is read as a checkpoint
        open_note(GO["signed_by_peter"].replace("cryptography", "Cryptography"), [key.verifier])
    assert err.value.reason == "bad_signature"


def test_go_note_with_two_signatures_each_verified_by_its_key():
    note = GO["text"] + "\n" + GO["peter_signature_line"] + GO["enoch_signature_line"]
    body, sigs = parse_note(note)
    assert body == GO["text"]
    keys = [VerifierKey.parse(GO[f"{who}_verifier_key"]) for who in ("peter", "enoch")]
    assert [(s.name, s.key_id) for s in sigs] == [(k.name, k.key_id) for k in keys]
    for key, sig in zip(keys, sigs, strict=True):
        assert key.verify(body.encode(), sig.signature)
    damaged = GO["peter_signature_line"][:60] + "ABCD" + GO["peter_signature_line"][60:]
    bad = parse_note(GO["text"] + "\n" + damaged)[1][0]
    assert not keys[0].verify(body.encode(), bad.signature)


@pytest.mark.parametrize("note", GO["malformed_notes"], ids=range(len(GO["malformed_notes"])))
def test_go_malformed_notes_are_refused(note):
    with pytest.raises(NoteError) as err:
        parse_note(note)
    assert err.value.reason == "malformed"


def test_go_verifier_key_manglings_are_refused():
    good = GO["peter_verifier_key"]
    mangled = [good[i:j] for i in range(len(good) + 1) for j in range(i + 1, len(good) + 1)
               if (i, j) != (0, len(good))]
    mangled += [good[:i] + chr(ord(good[i]) + 1) + good[i + 1:] for i in range(len(good))]
    for text in [*mangled, *GO["bad_verifier_keys"]]:
        with pytest.raises(ValueError):
            VerifierKey.parse(text)
