"""Merkle tree hashes, inclusion and consistency proofs exactly as RFC 6962 §2.1 (kept by RFC 9162 §2.1).

Hashing (SHA-256, with the one-byte prefixes that separate leaves from nodes)::

    MTH({})      = SHA-256()                                   the empty tree
    leaf(d)      = SHA-256(0x00 || d)
    node(l, r)   = SHA-256(0x01 || l || r)
    MTH(D[n])    = node(MTH(D[0:k]), MTH(D[k:n]))  for n > 1,  k = largest power of two < n

Proofs are lists of 32-byte hashes, ordered from the leaf level upwards, exactly as RFC 6962 PATH
(§2.1.1) and PROOF (§2.1.2) define them. The verifiers below do not use the tree class: they follow
the algorithms of RFC 9162 §2.1.3.2 / §2.1.4.2 in the bit-twiddling form of transparency-dev
``merkle/proof/verify.go``, so they can check proofs produced by any RFC 6962 log.

``MerkleTree`` keeps the hash of every complete, aligned power-of-two subtree (about two hashes per
leaf, 64 bytes, in flat ``bytearray``s), so appending costs O(1) amortised and any root, inclusion
proof or consistency proof for any earlier tree size costs O(log n) hash operations.

Errors (all ``IntegrityError`` < ``EvidenceStoreError``)::

    ProofError                    a proof does not verify; ``reason`` says why
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from evidence_store.errors import IntegrityError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleTree",
    "ProofError",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion_proof",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

#: Bytes in every leaf, node and root hash (SHA-256).
HASH_SIZE = 32
#: RFC 6962 §2.1: the hash of an empty tree is the hash of the empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_sha256 = hashlib.sha256


class ProofError(IntegrityError):
    """A Merkle inclusion or consistency proof that does not verify."""

    def __init__(self, reason: str) -> None:
        """Record why the proof failed."""
        super().__init__(reason)
        self.reason = reason


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 6962 leaf hash SHA-256(0x00 || data)."""
    return _sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 interior node hash SHA-256(0x01 || left || right)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def root_from_leaf_hashes(leaf_hashes: Iterable[bytes]) -> bytes:
    """Return MTH over the given leaf hashes, streaming them with O(log n) memory."""
    # Stack of (subtree size, hash) for the complete subtrees seen so far, largest first; equal
    # neighbours merge at once, exactly like a binary counter.
    sizes: list[int] = []
    hashes: list[bytes] = []
    sha256 = _sha256
    for h in leaf_hashes:
        size = 1
        while sizes and sizes[-1] == size:
            sizes.pop()
            h = sha256(_NODE_PREFIX + hashes.pop() + h).digest()
            size <<= 1
        sizes.append(size)
        hashes.append(h)
    if not hashes:
        return EMPTY_ROOT
    # The remaining subtrees are the right spine of the RFC 6962 shape: fold from the right.
    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = sha256(_NODE_PREFIX + left + root).digest()
    return root


def _largest_power_of_two_below(n: int) -> int:
    """Return the largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """An append-only RFC 6962 tree of leaf hashes with memoised complete subtrees."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        """Start a tree, optionally with leaf hashes already in order."""
        # _levels[h] holds, back to back, the hashes of the complete subtrees of 2**h leaves that
        # start at multiples of 2**h; level 0 holds the leaf hashes themselves.
        self._levels: list[bytearray] = [bytearray()]
        self._size = 0
        self.extend(leaf_hashes)

    @classmethod
    def from_leaf_hashes(cls, leaf_hashes: Sequence[bytes]) -> MerkleTree:
        """Build a tree from leaf hashes in one pass, level by level (faster than appending one by one)."""
        for i, h in enumerate(leaf_hashes):
            if len(h) != HASH_SIZE:
                raise ValueError(f"leaf hash {i} has {len(h)} bytes, expected {HASH_SIZE}")
        tree = cls()
        level = list(leaf_hashes)
        tree._levels = [bytearray(b"".join(level))]
        tree._size = len(level)
        sha256 = _sha256
        # The same complete, aligned subtrees append() memoises: pairs of each level, odd one left over.
        while len(level) > 1:
            level = [
                sha256(_NODE_PREFIX + a + b).digest() for a, b in zip(level[0::2], level[1::2], strict=False)
            ]
            tree._levels.append(bytearray(b"".join(level)))
        return tree

    @property
    def size(self) -> int:
        """Return the number of leaves."""
        return self._size

    def __len__(self) -> int:
        """Return the number of leaves."""
        return self._size

    def append(self, leaf_hash: bytes) -> int:
        """Append one leaf hash (not leaf data); return its index."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"a leaf hash has {HASH_SIZE} bytes, got {len(leaf_hash)}")
        index = self._size
        levels = self._levels
        levels[0] += leaf_hash
        self._size = index + 1
        h = bytes(leaf_hash)
        level, i = 0, index
        # While the new node is a right child, its left sibling is complete: merge them upwards.
        while i & 1:
            start = (i - 1) * HASH_SIZE
            h = _sha256(_NODE_PREFIX + levels[level][start : start + HASH_SIZE] + h).digest()
            level += 1
            i >>= 1
            if level == len(levels):
                levels.append(bytearray())
            levels[level] += h
        return index

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append leaf hashes in order."""
        for h in leaf_hashes:
            self.append(h)

    def leaf_hash(self, index: int) -> bytes:
        """Return the leaf hash stored at ``index``."""
        self._check_index(index, self._size)
        return bytes(self._levels[0][index * HASH_SIZE : (index + 1) * HASH_SIZE])

    def root(self, size: int | None = None) -> bytes:
        """Return MTH of the first ``size`` leaves (default: all of them)."""
        size = self._check_size(size)
        return self._subtree(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Return PATH(index, D[0:size]) from RFC 6962 §2.1.1, leaf level first."""
        size = self._check_size(size)
        self._check_index(index, size)
        proof: list[bytes] = []
        start, n, m = 0, size, index
        # Walk down from the root; each step records the sibling of the side that holds the leaf.
        while n > 1:
            k = _largest_power_of_two_below(n)
            if m < k:
                proof.append(self._subtree(start + k, n - k))
                n = k
            else:
                proof.append(self._subtree(start, k))
                start, m, n = start + k, m - k, n - k
        proof.reverse()
        return proof

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """Return PROOF(first, D[0:second]) from RFC 6962 §2.1.2, leaf level first."""
        second = self._check_size(second)
        if not 0 <= first <= second:
            raise ValueError(f"need 0 <= first <= second, got first={first}, second={second}")
        if first == 0 or first == second:
            return []  # nothing to prove: every tree extends the empty tree and itself
        proof: list[bytes] = []
        start, m, n = 0, first, second
        whole_old_tree = True  # the flag b of SUBPROOF: still on the path of the old root itself
        while m != n:
            k = _largest_power_of_two_below(n)
            if m <= k:
                proof.append(self._subtree(start + k, n - k))
                n = k
            else:
                proof.append(self._subtree(start, k))
                start, m, n = start + k, m - k, n - k
                whole_old_tree = False
        if not whole_old_tree:
            proof.append(self._subtree(start, m))
        proof.reverse()
        return proof

    def _complete(self, start: int, n: int) -> bytes:
        """Return the memoised hash of the complete subtree of ``n`` (a power of two) leaves at ``start``."""
        level = n.bit_length() - 1
        offset = (start >> level) * HASH_SIZE
        return bytes(self._levels[level][offset : offset + HASH_SIZE])

    def _subtree(self, start: int, n: int) -> bytes:
        """Return MTH(D[start:start+n]) for a subtree that RFC 6962's recursion visits (n >= 1)."""
        # Such a subtree is a chain of complete left subtrees down its right spine: at most
        # log2(n) memoised lookups and as many node hashes.
        lefts: list[bytes] = []
        while n & (n - 1):
            k = 1 << (n.bit_length() - 1)
            lefts.append(self._complete(start, k))
            start, n = start + k, n - k
        h = self._complete(start, n)
        for left in reversed(lefts):
            h = node_hash(left, h)
        return h

    def _check_size(self, size: int | None) -> int:
        """Return ``size`` (default: the current size) after checking it is in range."""
        if size is None:
            return self._size
        if not 0 <= size <= self._size:
            raise ValueError(f"tree size {size} is not within 0..{self._size}")
        return size

    @staticmethod
    def _check_index(index: int, size: int) -> None:
        """Refuse a leaf index outside a tree of ``size`` leaves."""
        if not 0 <= index < size:
            raise IndexError(f"leaf index {index} is not within a tree of {size} leaves")


def _check_hash(name: str, value: bytes) -> None:
    """Refuse a hash that is not 32 bytes long."""
    if len(value) != HASH_SIZE:
        raise ProofError(f"{name} has {len(value)} bytes, expected {HASH_SIZE}")


def _decompose(index: int, size: int) -> tuple[int, int]:
    """Split an inclusion proof length into (inner, border) parts (RFC 9162 §2.1.3.2)."""
    # inner: levels where the leaf's path and the tree's last leaf path diverge; border: the
    # remaining levels, where the path runs along the right border and only left siblings exist.
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    """Hash ``seed`` up through ``proof``, taking each side from the bits of ``index``."""
    for i, sibling in enumerate(proof):
        seed = node_hash(seed, sibling) if (index >> i) & 1 == 0 else node_hash(sibling, seed)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    """Hash ``seed`` up through the left siblings only (those the older tree also had)."""
    for i, sibling in enumerate(proof):
        if (index >> i) & 1:
            seed = node_hash(sibling, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    """Hash ``seed`` up the right border, where every sibling is on the left."""
    for sibling in proof:
        seed = node_hash(sibling, seed)
    return seed


def root_from_inclusion_proof(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """Return the root that ``proof`` implies for ``leaf_hash`` at ``index`` in a tree of ``size``."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not within a tree of {size} leaves")
    _check_hash("leaf hash", leaf_hash)
    for i, sibling in enumerate(proof):
        _check_hash(f"proof[{i}]", sibling)
    inner, border = _decompose(index, size)
    if len(proof) != inner + border:
        raise ProofError(
            f"inclusion proof for leaf {index} in a tree of {size} needs {inner + border} hashes, got {len(proof)}"
        )
    h = _chain_inner(leaf_hash, proof[:inner], index)
    return _chain_border_right(h, proof[inner:])


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf_hash`` sits at ``index`` in the tree of ``size`` leaves with ``root``; raise ProofError."""
    _check_hash("root", root)
    found = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if found != root:
        raise ProofError(
            f"inclusion proof for leaf {index} in a tree of {size} leads to root {found.hex()}, "
            f"expected {root.hex()}"
        )


def verify_consistency(first: int, second: int, root1: bytes, root2: bytes, proof: Sequence[bytes]) -> None:
    """Check that the tree (``second``, ``root2``) extends (``first``, ``root1``); raise ProofError."""
    _check_hash("first root", root1)
    _check_hash("second root", root2)
    for i, node in enumerate(proof):
        _check_hash(f"proof[{i}]", node)
    if not 0 <= first <= second:
        raise ProofError(f"need 0 <= first <= second, got first={first}, second={second}")
    if first == second or first == 0:
        _verify_trivial_consistency(first, second, root1, root2, proof)
        return
    if not proof:
        raise ProofError(f"consistency proof from {first} to {second} is empty")

    inner, border = _decompose(first - 1, second)
    shift = (first & -first).bit_length() - 1  # trailing zero bits of `first`
    inner -= shift  # the lowest `shift` levels lie inside the old tree's last complete subtree
    # That subtree's hash starts the chain: it is the old root itself when `first` is 2**shift,
    # otherwise the proof's first element.
    if first == 1 << shift:
        seed, rest = root1, proof
    else:
        seed, rest = proof[0], proof[1:]
    if len(rest) != inner + border:
        expected = inner + border + (len(proof) - len(rest))
        raise ProofError(
            f"consistency proof from {first} to {second} needs {expected} hashes, got {len(proof)}"
        )

    mask = (first - 1) >> shift
    found1 = _chain_border_right(_chain_inner_right(seed, rest[:inner], mask), rest[inner:])
    if found1 != root1:
        raise ProofError(
            f"consistency proof rebuilds the root of size {first} as {found1.hex()}, expected {root1.hex()}"
        )
    found2 = _chain_border_right(_chain_inner(seed, rest[:inner], mask), rest[inner:])
    if found2 != root2:
        raise ProofError(
            f"consistency proof rebuilds the root of size {second} as {found2.hex()}, expected {root2.hex()}"
        )


def _verify_trivial_consistency(
    first: int, second: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> None:
    """Check the cases with an empty proof: equal sizes, or an empty first tree."""
    if proof:
        raise ProofError(f"consistency proof from {first} to {second} must be empty, got {len(proof)} hashes")
    if first == 0 and root1 != EMPTY_ROOT:
        raise ProofError(f"root of the empty tree is {EMPTY_ROOT.hex()}, got {root1.hex()}")
    if first == second and root1 != root2:
        raise ProofError(f"trees of equal size {first} have different roots {root1.hex()} and {root2.hex()}")
