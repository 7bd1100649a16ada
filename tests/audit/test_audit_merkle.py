"""RFC 6962 / 9162 tree hashing against the published test vectors, and proofs from first
principles."""

from __future__ import annotations

import hashlib

import pytest

from bot.audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    subtree_root,
    verify_consistency,
    verify_inclusion,
)

# The certificate-transparency / transparency-dev test data (merkle_tree_test, testonly).
CT_LEAVES = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
             b"\x50\x51\x52\x53\x54\x55\x56\x57", bytes(range(0x60, 0x70))]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_CONSISTENCY = {
    (1, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 5): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
}
CT_INCLUSION = {
    (0, 8): CT_CONSISTENCY[(1, 8)],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}
HASHES = [leaf_hash(x) for x in CT_LEAVES]


def test_empty_tree_and_leaf_hash():
    assert root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert leaf_hash(b"") == bytes.fromhex(CT_ROOTS[0])


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_published_vectors(size):
    assert root(HASHES[:size]).hex() == CT_ROOTS[size - 1]


@pytest.mark.parametrize(("old", "new"), sorted(CT_CONSISTENCY))
def test_consistency_proofs_match_published_vectors(old, new):
    proof = consistency_proof(old, HASHES[:new])
    assert [p.hex() for p in proof] == CT_CONSISTENCY[(old, new)]
    assert verify_consistency(old, new, bytes.fromhex(CT_ROOTS[old - 1]),
                              bytes.fromhex(CT_ROOTS[new - 1]), proof)


@pytest.mark.parametrize(("index", "size"), sorted(CT_INCLUSION))
def test_inclusion_proofs_match_published_vectors(index, size):
    proof = inclusion_proof(index, HASHES[:size])
    assert [p.hex() for p in proof] == CT_INCLUSION[(index, size)]
    assert verify_inclusion(index, size, HASHES[index], proof, bytes.fromhex(CT_ROOTS[size - 1]))


def _reference_mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 2.1 written literally, as the oracle for the streaming versions."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(_reference_mth(leaves[:k]), _reference_mth(leaves[k:]))


def test_frontier_equals_definition_for_every_size_up_to_70():
    leaves = [leaf_hash(i.to_bytes(2, "big")) for i in range(70)]
    f = Frontier()
    for n, leaf in enumerate(leaves, 1):
        f.append(leaf)
        assert f.root() == _reference_mth(leaves[:n])
        assert Frontier(f.size, f.nodes).root() == f.root()
    assert subtree_root(leaves, 5, 37) == _reference_mth(leaves[5:37])
    with pytest.raises(ValueError):
        Frontier(5, f.nodes[:1])  # 5 leaves need 2 nodes


def test_every_proof_up_to_33_leaves_verifies_and_rejects_tampering():
    for n in range(1, 34):
        leaves = [leaf_hash(bytes([i])) for i in range(n)]
        r = root(leaves)
        for i in range(n):
            proof = inclusion_proof(i, leaves)
            assert verify_inclusion(i, n, leaves[i], proof, r)
            assert not verify_inclusion(i, n, leaf_hash(b"other"), proof, r)
            if n > 1:
                assert not verify_inclusion((i + 1) % n, n, leaves[i], proof, r)
        for m in range(1, n + 1):
            proof = consistency_proof(m, leaves)
            old = root(leaves[:m])
            assert verify_consistency(m, n, old, r, proof)
            if m < n:
                assert not verify_consistency(m, n, leaf_hash(b"x"), r, proof)
                assert not verify_consistency(m, n, old, leaf_hash(b"x"), proof)
                assert not verify_consistency(m, n, old, r, proof[:-1])
                forked = leaves[: m - 1] + [leaf_hash(b"fork")] + leaves[m:]
                assert not verify_consistency(m, n, root(forked[:m]), r, proof)
