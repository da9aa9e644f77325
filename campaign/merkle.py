"""Merkle trees as RFC 6962 builds them, kept on disk for a delivery round, in memory for the log.

A round of a million signatures is a tree of a million leaf hashes; its levels (about 64 MB)
are written to one file next to the package, so a supporter's audit path is twenty reads at
known offsets. The lone last node of an odd level moves up as it is, which gives exactly the
RFC 6962 tree (split at the largest power of two below n). Verification lives in the
standalone verifier, :mod:`campaign.verifier.verify_proof`, which the app imports too.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from campaign.verifier.verify_proof import leaf_hash, merkle_root, node_hash

__all__ = [
    "leaf_hash",
    "node_hash",
    "merkle_root",
    "level_sizes",
    "write_tree",
    "audit_path",
    "consistency_proof",
    "HASH_SIZE",
]

HASH_SIZE = 32


def level_sizes(size: int) -> list[int]:
    """The number of nodes on each level of a tree of ``size`` leaves, leaves first."""
    sizes = [size]
    while sizes[-1] > 1:
        sizes.append((sizes[-1] + 1) // 2)
    return sizes


def write_tree(leaves: bytearray, path: Path) -> bytes:
    """Write every level of the tree over ``leaves`` (concatenated 32-byte leaf hashes) to
    ``path``, leaves first, and return the root. Memory: the leaves and one level at a time."""
    size = len(leaves) // HASH_SIZE
    if size == 0:
        path.write_bytes(b"")
        return hashlib.sha256(b"").digest()
    sha256 = hashlib.sha256
    prefix = b"\x01"
    with path.open("wb") as fh:
        level = leaves
        fh.write(level)
        while len(level) > HASH_SIZE:
            view = memoryview(level)
            count = len(level) // HASH_SIZE
            nxt = bytearray()
            for offset in range(0, (count - 1) * HASH_SIZE, 2 * HASH_SIZE):
                nxt += sha256(prefix + view[offset : offset + 2 * HASH_SIZE]).digest()
            if count % 2:
                nxt += view[(count - 1) * HASH_SIZE :]
            view.release()
            level = nxt
            fh.write(level)
    return bytes(level)


def audit_path(path: Path, size: int, index: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``size`` leaves stored at ``path``."""
    proof = []
    offset = 0
    with path.open("rb") as fh:
        for count in level_sizes(size)[:-1]:
            sibling = index ^ 1
            if sibling < count:
                fh.seek(offset + sibling * HASH_SIZE)
                proof.append(fh.read(HASH_SIZE))
            offset += count * HASH_SIZE
            index >>= 1
    return proof


def leaf_at(path: Path, index: int) -> bytes:
    with path.open("rb") as fh:
        fh.seek(index * HASH_SIZE)
        return fh.read(HASH_SIZE)


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def consistency_proof(leaves: list[bytes], first: int, second: int) -> list[bytes]:
    """The RFC 9162 (2.1.4.1) proof that the tree of the first ``first`` leaves is a prefix
    of the tree of the first ``second`` leaves."""
    if not 0 <= first <= second <= len(leaves):
        raise ValueError("tree sizes out of range")
    if first == 0 or first == second:
        return []
    return _subproof(leaves[:second], first, True)


def _subproof(leaves: list[bytes], m: int, complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [merkle_root(leaves)]
    k = _largest_power_of_two_below(n)
    if m <= k:
        return _subproof(leaves[:k], m, complete) + [merkle_root(leaves[k:])]
    return _subproof(leaves[k:], m - k, False) + [merkle_root(leaves[:k])]


def extend_frontier(frontier: list[tuple[int, bytes]], leaf: bytes) -> list[tuple[int, bytes]]:
    """Add a leaf hash to a tree's right edge (its perfect subtrees, largest first)."""
    frontier = [*frontier, (1, leaf)]
    while len(frontier) > 1 and frontier[-1][0] == frontier[-2][0]:
        (size, left), (_, right) = frontier[-2], frontier[-1]
        frontier[-2:] = [(2 * size, node_hash(left, right))]
    return frontier


def frontier_root(frontier: list[tuple[int, bytes]]) -> bytes:
    """The RFC 6962 root of the tree whose right edge is ``frontier``."""
    if not frontier:
        return hashlib.sha256(b"").digest()
    root = frontier[-1][1]
    for _, subtree in reversed(frontier[:-1]):
        root = node_hash(subtree, root)
    return root
