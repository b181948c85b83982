"""RFC 6962 Merkle trees: roots and proofs against a naive transcription of RFC 6962 §2.1."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence_store import merkle
from evidence_store.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    ProofError,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

# --------------------------------------------------------------------------- RFC 6962 §2.1, literally


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_mth(d: Sequence[bytes]) -> bytes:
    """MTH(D[n]) from RFC 6962 §2.1."""
    n = len(d)
    if n == 0:
        return _sha256(b"")
    if n == 1:
        return _sha256(b"\x00" + d[0])
    k = _k(n)
    return _sha256(b"\x01" + naive_mth(d[:k]) + naive_mth(d[k:]))


def naive_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) from RFC 6962 §2.1.1."""
    n = len(d)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*naive_path(m, d[:k]), naive_mth(d[k:])]
    return [*naive_path(m - k, d[k:]), naive_mth(d[:k])]


def naive_proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) from RFC 6962 §2.1.2."""
    return _naive_subproof(m, d, True)


def _naive_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [naive_mth(d)]
    k = _k(n)
    if m <= k:
        return [*_naive_subproof(m, d[:k], b), naive_mth(d[k:])]
    return [*_naive_subproof(m - k, d[k:], False), naive_mth(d[:k])]


# --------------------------------------------------------------------------- fixtures

# The test vectors of the certificate-transparency / transparency-dev suites.
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

EXHAUSTIVE = 70
LEAVES = [f"custody record {i}".encode() * (i % 3 + 1) for i in range(EXHAUSTIVE)]
LARGE = 3000
LARGE_LEAVES = [i.to_bytes(4, "big") for i in range(LARGE)]


@pytest.fixture(scope="module")
def tree() -> MerkleTree:
    return MerkleTree(leaf_hash(d) for d in LEAVES)


@pytest.fixture(scope="module")
def large_tree() -> MerkleTree:
    return MerkleTree(leaf_hash(d) for d in LARGE_LEAVES)


def _flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 1]) + h[1:]


# --------------------------------------------------------------------------- hashing


def test_leaf_and_node_hashes_use_the_rfc6962_prefixes() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    left, right = b"L" * 32, b"R" * 32
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT


def test_roots_match_the_certificate_transparency_vectors() -> None:
    ct_tree = MerkleTree(leaf_hash(d) for d in CT_LEAVES)
    for size, expected in enumerate(CT_ROOTS):
        assert ct_tree.root(size).hex() == expected
        assert root_from_leaf_hashes([leaf_hash(d) for d in CT_LEAVES[:size]]).hex() == expected


def test_proofs_match_the_certificate_transparency_vectors() -> None:
    ct_tree = MerkleTree(leaf_hash(d) for d in CT_LEAVES)
    assert [h.hex() for h in ct_tree.inclusion_proof(0, 8)] == [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]
    assert [h.hex() for h in ct_tree.consistency_proof(6, 8)] == [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]
    assert [h.hex() for h in ct_tree.consistency_proof(2, 5)] == [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ]


# --------------------------------------------------------------------------- exhaustive up to 70 leaves


def test_every_root_matches_naive_mth(tree: MerkleTree) -> None:
    for size in range(EXHAUSTIVE + 1):
        expected = naive_mth(LEAVES[:size])
        assert tree.root(size) == expected, size
        assert root_from_leaf_hashes(leaf_hash(d) for d in LEAVES[:size]) == expected, size


def test_every_inclusion_proof_matches_naive_path_and_verifies(tree: MerkleTree) -> None:
    for size in range(1, EXHAUSTIVE + 1):
        root = naive_mth(LEAVES[:size])
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert proof == naive_path(index, LEAVES[:size]), (index, size)
            verify_inclusion(leaf_hash(LEAVES[index]), index, size, proof, root)


def test_every_consistency_proof_matches_naive_proof_and_verifies(tree: MerkleTree) -> None:
    for second in range(1, EXHAUSTIVE + 1):
        root2 = naive_mth(LEAVES[:second])
        for first in range(1, second + 1):
            proof = tree.consistency_proof(first, second)
            assert proof == naive_proof(first, LEAVES[:second]), (first, second)
            verify_consistency(first, second, naive_mth(LEAVES[:first]), root2, proof)


def test_every_altered_inclusion_proof_fails(tree: MerkleTree) -> None:
    for size in range(1, 20):
        root = tree.root(size)
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            leaf = tree.leaf_hash(index)
            for position in range(len(proof)):
                broken = [*proof[:position], _flip(proof[position]), *proof[position + 1 :]]
                with pytest.raises(ProofError, match="leads to root"):
                    verify_inclusion(leaf, index, size, broken, root)
            with pytest.raises(ProofError):
                verify_inclusion(_flip(leaf), index, size, proof, root)
            with pytest.raises(ProofError):
                verify_inclusion(leaf, index, size, [*proof, leaf], root)
            if size > 1:
                with pytest.raises(ProofError):
                    verify_inclusion(leaf, (index + 1) % size, size, proof, root)


def test_every_altered_consistency_proof_fails(tree: MerkleTree) -> None:
    for second in range(2, 20):
        root2 = tree.root(second)
        for first in range(1, second):
            root1 = tree.root(first)
            proof = tree.consistency_proof(first, second)
            for position in range(len(proof)):
                broken = [*proof[:position], _flip(proof[position]), *proof[position + 1 :]]
                with pytest.raises(ProofError):
                    verify_consistency(first, second, root1, root2, broken)
            with pytest.raises(ProofError):
                verify_consistency(first, second, _flip(root1), root2, proof)
            with pytest.raises(ProofError):
                verify_consistency(first, second, root1, _flip(root2), proof)
            with pytest.raises(ProofError):
                verify_consistency(first, second, root1, root2, proof[:-1])


# --------------------------------------------------------------------------- random, larger trees


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_random_inclusion_proofs_match_naive_path(large_tree: MerkleTree, data: st.DataObject) -> None:
    size = data.draw(st.integers(1, LARGE), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = large_tree.inclusion_proof(index, size)
    assert proof == naive_path(index, LARGE_LEAVES[:size])
    verify_inclusion(leaf_hash(LARGE_LEAVES[index]), index, size, proof, large_tree.root(size))


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_random_consistency_proofs_match_naive_proof(large_tree: MerkleTree, data: st.DataObject) -> None:
    second = data.draw(st.integers(1, LARGE), label="second")
    first = data.draw(st.integers(1, second), label="first")
    proof = large_tree.consistency_proof(first, second)
    assert proof == naive_proof(first, LARGE_LEAVES[:second])
    verify_consistency(first, second, large_tree.root(first), large_tree.root(second), proof)


@settings(max_examples=100, deadline=None)
@given(size=st.integers(1, 200_000), data=st.data())
def test_proofs_in_a_200k_tree_verify(huge_tree: MerkleTree, size: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, size - 1), label="index")
    first = data.draw(st.integers(1, size), label="first")
    root = huge_tree.root(size)
    verify_inclusion(huge_tree.leaf_hash(index), index, size, huge_tree.inclusion_proof(index, size), root)
    verify_consistency(first, size, huge_tree.root(first), root, huge_tree.consistency_proof(first, size))


@pytest.fixture(scope="module")
def huge_tree() -> MerkleTree:
    return MerkleTree(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(200_000))


def test_incremental_root_equals_batch_root(huge_tree: MerkleTree) -> None:
    hashes = [huge_tree.leaf_hash(i) for i in range(huge_tree.size)]
    assert huge_tree.root() == root_from_leaf_hashes(hashes) == root_from_leaf_hashes(iter(hashes))


# --------------------------------------------------------------------------- cost


def _count_node_hashes(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    calls = 0
    original = merkle.node_hash

    def counting(left: bytes, right: bytes) -> bytes:
        nonlocal calls
        calls += 1
        return original(left, right)

    monkeypatch.setattr(merkle, "node_hash", counting)
    return lambda: calls


def test_roots_and_proofs_for_any_size_cost_logarithmic_hashing(
    huge_tree: MerkleTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = _count_node_hashes(monkeypatch)
    bound = 2 * 18  # 2 * ceil(log2(200_000))
    for size in (131_071, 199_999, 200_000, 77_777):
        before = count()
        huge_tree.root(size)
        huge_tree.inclusion_proof(size // 3, size)
        huge_tree.consistency_proof(size // 5, size)
        assert count() - before <= 3 * bound, size


def test_append_is_amortised_constant(monkeypatch: pytest.MonkeyPatch) -> None:
    hashed = 0
    original = merkle._sha256

    def counting(data: bytes = b"") -> Any:
        nonlocal hashed
        hashed += 1
        return original(data)

    monkeypatch.setattr(merkle, "_sha256", counting)
    grown = MerkleTree()
    for i in range(4096):
        assert grown.append(hashlib.sha256(bytes(i % 256)).digest()) == i
    assert hashed == 4095  # one interior node per complete pair: n - 1 in total


# --------------------------------------------------------------------------- edges and errors


def test_empty_tree() -> None:
    empty = MerkleTree()
    assert len(empty) == 0
    assert empty.root() == EMPTY_ROOT
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    assert empty.consistency_proof(0, 0) == []


def test_tree_accessors(tree: MerkleTree) -> None:
    assert tree.size == len(tree) == EXHAUSTIVE
    assert tree.leaf_hash(5) == leaf_hash(LEAVES[5])
    assert tree.root() == tree.root(EXHAUSTIVE)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda t: t.root(EXHAUSTIVE + 1), ValueError),
        (lambda t: t.root(-1), ValueError),
        (lambda t: t.inclusion_proof(5, 5), IndexError),
        (lambda t: t.inclusion_proof(-1), IndexError),
        (lambda t: t.leaf_hash(EXHAUSTIVE), IndexError),
        (lambda t: t.consistency_proof(6, 5), ValueError),
        (lambda t: t.consistency_proof(1, EXHAUSTIVE + 1), ValueError),
    ],
)
def test_out_of_range_requests_are_refused(
    tree: MerkleTree, call: Callable[[MerkleTree], object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        call(tree)


def test_append_refuses_a_hash_of_the_wrong_size() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        MerkleTree().append(b"short")


def test_inclusion_verification_refuses_bad_arguments(tree: MerkleTree) -> None:
    leaf = tree.leaf_hash(0)
    with pytest.raises(ProofError, match="not within"):
        verify_inclusion(leaf, 3, 3, tree.inclusion_proof(0, 3), tree.root(3))
    with pytest.raises(ProofError, match="bytes"):
        root_from_inclusion_proof(b"short", 0, 3, tree.inclusion_proof(0, 3))
    with pytest.raises(ProofError, match="needs 2 hashes, got 1"):
        verify_inclusion(leaf, 0, 3, tree.inclusion_proof(0, 3)[:1], tree.root(3))


def test_consistency_special_cases(tree: MerkleTree) -> None:
    root5 = tree.root(5)
    verify_consistency(5, 5, root5, root5, [])
    verify_consistency(0, 5, EMPTY_ROOT, root5, [])
    with pytest.raises(ProofError, match="different roots"):
        verify_consistency(5, 5, root5, tree.root(6), [])
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(5, 5, root5, root5, [root5])
    with pytest.raises(ProofError, match="empty tree"):
        verify_consistency(0, 5, root5, root5, [])
    with pytest.raises(ProofError, match="first <= second"):
        verify_consistency(6, 5, tree.root(6), root5, [])
    with pytest.raises(ProofError, match="is empty"):
        verify_consistency(3, 5, tree.root(3), root5, [])


@pytest.mark.parametrize("size", [0, 1, 2, 3, 5, 8, 13, 64, 129, 1000])
def test_tree_built_in_one_pass_equals_the_appended_tree(size: int) -> None:
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    appended = MerkleTree(leaves)
    built = MerkleTree.from_leaf_hashes(leaves)
    assert built.size == size
    for n in range(size + 1):
        assert built.root(n) == appended.root(n)
    for index in range(size):
        assert built.inclusion_proof(index) == appended.inclusion_proof(index)
        assert built.consistency_proof(index + 1) == appended.consistency_proof(index + 1)
    extra = merkle.leaf_hash(b"one more")
    built.append(extra)
    appended.append(extra)
    assert built.root() == appended.root()


def test_tree_built_in_one_pass_refuses_a_hash_of_the_wrong_size() -> None:
    with pytest.raises(ValueError, match="leaf hash 1"):
        MerkleTree.from_leaf_hashes([b"\x00" * 32, b"\x00" * 31])
