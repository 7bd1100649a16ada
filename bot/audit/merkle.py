"""RFC 6962 / RFC 9162 Merkle tree hashing, inclusion and consistency proofs. Pure functions.

`leaves` arguments are sequences of leaf hashes (SHA-256(0x00 || data)), not leaf data:
the audit chain stores those hashes, so the tree is built over them directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import sha256

HASH_SIZE = 32
EMPTY_ROOT = sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2): where RFC 6962 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """Compact range: the roots of the perfect subtrees that make up a tree of `size` leaves.

    Appending costs one hash on average and the root needs at most log2(size) more, so a log
    of any length streams through in constant memory.
    """

    __slots__ = ("size", "nodes")

    def __init__(self, size: int = 0, nodes: Iterable[bytes] = ()) -> None:
        self.size = size
        self.nodes = list(nodes)
        if len(self.nodes) != size.bit_count():
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} frontier nodes")

    def append(self, leaf: bytes) -> None:
        nodes = self.nodes
        nodes.append(leaf)
        carry = self.size
        self.size = carry + 1
        # Each trailing 1 bit of the old size is a full subtree of equal height: merge them.
        while carry & 1:
            right = nodes.pop()
            nodes[-1] = sha256(b"\x01" + nodes[-1] + right).digest()
            carry >>= 1

    def root(self) -> bytes:
        if not self.nodes:
            return EMPTY_ROOT
        it = reversed(self.nodes)
        acc = next(it)
        for left in it:
            acc = sha256(b"\x01" + left + acc).digest()
        return acc

    def copy(self) -> Frontier:
        return Frontier(self.size, self.nodes)


def subtree_root(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi])."""
    f = Frontier()
    for i in range(lo, hi):
        f.append(leaves[i])
    return f.root()


def root(leaves: Sequence[bytes]) -> bytes:
    return subtree_root(leaves, 0, len(leaves))


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(index, D[n]) of RFC 6962 2.1.1, deepest sibling first."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf index {index} outside a tree of {len(leaves)}")
    proof: list[bytes] = []

    def path(m: int, lo: int, hi: int) -> None:
        if hi - lo <= 1:
            return
        k = _split(hi - lo)
        if m < k:
            path(m, lo, lo + k)
            proof.append(subtree_root(leaves, lo + k, hi))
        else:
            path(m - k, lo + k, hi)
            proof.append(subtree_root(leaves, lo, lo + k))

    path(index, 0, len(leaves))
    return proof


def _all_hashes(*values: bytes | Sequence[bytes]) -> bool:
    """Every value (or list of values) is a SHA-256 hash: anything else never verifies."""
    return all(len(h) == 32 for v in values
               for h in (v if isinstance(v, list | tuple) else [v]))


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes],
                     expected_root: bytes) -> bool:
    """RFC 9162 2.1.3.2."""
    if not 0 <= index < size or not _all_hashes(leaf, expected_root, list(proof)):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def consistency_proof(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 6962 2.1.2 / RFC 9162 2.1.4.1."""
    n = len(leaves)
    if not 0 < old_size <= n:
        raise ValueError(f"no consistency proof from size {old_size} to {n}")
    proof: list[bytes] = []

    def subproof(m: int, lo: int, hi: int, whole: bool) -> None:
        if lo + m == hi:
            if not whole:
                proof.append(subtree_root(leaves, lo, hi))
            return
        k = _split(hi - lo)
        if m <= k:
            subproof(m, lo, lo + k, whole)
            proof.append(subtree_root(leaves, lo + k, hi))
        else:
            subproof(m - k, lo + k, hi, False)
            proof.append(subtree_root(leaves, lo, lo + k))

    subproof(old_size, 0, n, True)
    return proof


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 2.1.4.2: is the tree of old_size leaves a prefix of the tree of new_size?"""
    if not 0 < old_size <= new_size:  # from the empty tree a proof proves nothing
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof or not _all_hashes(old_root, new_root, list(proof)):
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node of the new tree
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
