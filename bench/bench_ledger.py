"""Custody-ledger verification speed against plain hashlib.sha256 over the same bytes, in the same run.

One million stored records of about 200 bytes (the exact leaf bytes, in memory) are verified the way
the offline verifier does it: RFC 6962 leaf hashes, then the Merkle root. The baseline hashes the
same records with ``hashlib.sha256(record).digest()`` and nothing else, so the ratio shows what the
leaf prefix and the tree cost on this machine (perf-baselines.md section 4: root of 1M leaves ~1 s).

    .venv/bin/python bench/bench_ledger.py [--records 1000000] [--runs 3] [--full]

``--full`` also times ``verify_store_dir`` over the same records written as custody/ledger.jsonl
(JSON parsing, base64, shown-field checks and the root), which is what a court expert would run.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evidence_store.merkle import MerkleTree, leaf_hash, root_from_leaf_hashes
from evidence_store.treehead import SignedTreeHead, TreeHead, public_key_pem
from evidence_store.verify import event_line, verify_store_dir


def make_records(count: int) -> list[bytes]:
    """Return ``count`` canonical-JSON-like custody records of about 200 bytes."""
    return [
        (
            f'{{"action":"evidence.received","actor":"user-{i % 977}","object_sha256":"'
            f'{hashlib.sha256(i.to_bytes(8, "big")).hexdigest()}","seq":{i},'
            f'"size":{i * 37 % 10**9},"timestamp":"2024-05-01T12:{i % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z"}}'
        ).encode()
        for i in range(count)
    ]


def plain_sha256(records: list[bytes]) -> bytes:
    """Baseline: hash every record once with hashlib, nothing else."""
    sha256 = hashlib.sha256
    last = b""
    for record in records:
        last = sha256(record).digest()
    return last


def leaves_only(records: list[bytes]) -> bytes:
    """RFC 6962 leaf hashes only."""
    return [leaf_hash(record) for record in records][-1]


def leaves_and_root(records: list[bytes]) -> bytes:
    """What verification costs: every leaf hash, streamed into the Merkle root."""
    return root_from_leaf_hashes(leaf_hash(record) for record in records)


def incremental_tree(records: list[bytes]) -> bytes:
    """Appending every leaf to a MerkleTree (the API's live ledger), then its root."""
    tree = MerkleTree(leaf_hash(record) for record in records)
    return tree.root()


def median_seconds(function: Callable[[list[bytes]], bytes], records: list[bytes], runs: int) -> float:
    """Return the median wall time of ``runs`` calls."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function(records)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def full_verifier_seconds(records: list[bytes]) -> float:
    """Time verify_store_dir over the records written as a store copy's custody ledger."""
    key = Ed25519PrivateKey.generate()
    root = leaves_and_root(records)
    signed = SignedTreeHead.sign(TreeHead.now(len(records), root), key)
    with tempfile.TemporaryDirectory() as directory:
        custody = Path(directory) / "custody"
        custody.mkdir()
        with (custody / "ledger.jsonl").open("wb") as ledger:
            for index, record in enumerate(records):
                ledger.write(event_line(index, record))
        (custody / "tree-head.json").write_bytes(signed.to_json())
        (custody / "public-key.pem").write_bytes(public_key_pem(key))
        start = time.perf_counter()
        report = verify_store_dir(Path(directory))
        elapsed = time.perf_counter() - start
    assert report.ok, report.problems[:3]
    return elapsed


def main() -> None:
    """Run the benchmark and print rates and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="also time the whole offline verifier")
    args = parser.parse_args()

    records = make_records(args.records)
    size = sum(map(len, records)) / len(records)
    print(f"{len(records)} records, {size:.0f} B on average, median of {args.runs} runs")
    assert leaves_and_root(records) == incremental_tree(records)

    baseline = median_seconds(plain_sha256, records, args.runs)
    print(
        f"{'plain hashlib.sha256 (baseline)':36s} {baseline:6.3f} s  {len(records) / baseline / 1e6:5.2f} M/s  1.00x"
    )
    for name, function in (
        ("RFC 6962 leaf hashes", leaves_only),
        ("leaf hashes + Merkle root (verify)", leaves_and_root),
        ("MerkleTree.append + root", incremental_tree),
    ):
        seconds = median_seconds(function, records, args.runs)
        print(
            f"{name:36s} {seconds:6.3f} s  {len(records) / seconds / 1e6:5.2f} M/s  "
            f"{baseline / seconds:.2f}x of baseline"
        )
    if args.full:
        seconds = full_verifier_seconds(records)
        print(
            f"{'verify_store_dir on ledger.jsonl':36s} {seconds:6.3f} s  {len(records) / seconds / 1e6:5.2f} M/s  "
            f"{baseline / seconds:.2f}x of baseline (one run)"
        )


if __name__ == "__main__":
    main()
