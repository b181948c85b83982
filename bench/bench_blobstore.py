"""Throughput of LocalBlobStore against a plain read + sha256 + write + fsync loop, in the same run.

Both sides copy the same random file (page-cached after the first read) in fixed-size chunks into a
fresh directory on the same filesystem, and fsync the result. The ratio is what matters: on the
reference VM the plain loop reaches about 500 MiB/s (perf-baselines.md, section 1).

    .venv/bin/python bench/bench_blobstore.py [--size-mib 256] [--runs 5] [--dir var/bench]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from evidence_store import Digest, LocalBlobStore

MiB = 1024 * 1024


def make_source(path: Path, size_mib: int) -> None:
    """Write ``size_mib`` MiB of random bytes to ``path``."""
    with path.open("wb") as file:
        for _ in range(size_mib):
            file.write(os.urandom(MiB))


def plain_copy(source: Path, workdir: Path, chunk_size: int) -> Digest:
    """Copy with hashlib and file writes only, fsync, rename: the baseline."""
    hasher = hashlib.sha256()
    temporary = workdir / "plain.part"
    with source.open("rb", buffering=0) as reader, temporary.open("wb", buffering=0) as writer:
        while chunk := reader.read(chunk_size):
            hasher.update(chunk)
            writer.write(chunk)
        os.fsync(writer.fileno())
    temporary.rename(workdir / hasher.hexdigest())
    return Digest(hasher.hexdigest())


def store_copy(source: Path, workdir: Path, chunk_size: int) -> Digest:
    """Copy through LocalBlobStore's streaming writer."""
    store = LocalBlobStore(workdir / "store")
    with source.open("rb", buffering=0) as reader, store.begin_write() as writer:
        while chunk := reader.read(chunk_size):
            writer.write(chunk)
        return writer.commit().digest


def time_once(
    copy: Callable[[Path, Path, int], Digest], source: Path, parent: Path, chunk_size: int
) -> tuple[float, Digest]:
    """Run one copy into a fresh directory; return (seconds, digest)."""
    workdir = Path(tempfile.mkdtemp(dir=parent))
    try:
        started = time.perf_counter()
        digest = copy(source, workdir, chunk_size)
        return time.perf_counter() - started, digest
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    """Run both copies alternately and print medians and the ratio."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--chunk-kib", type=int, default=1024, help="64 mimics raw HTTP body chunks")
    parser.add_argument("--dir", type=Path, default=Path("var/bench"), help="on the filesystem to measure")
    args = parser.parse_args()

    args.dir.mkdir(parents=True, exist_ok=True)
    parent = Path(tempfile.mkdtemp(dir=args.dir))
    try:
        source = parent / "source.bin"
        make_source(source, args.size_mib)
        timings: dict[str, list[float]] = {"plain loop": [], "LocalBlobStore": []}
        digests = set()
        for _ in range(args.runs):
            for name, copy in (("plain loop", plain_copy), ("LocalBlobStore", store_copy)):
                seconds, digest = time_once(copy, source, parent, args.chunk_kib * 1024)
                timings[name].append(seconds)
                digests.add(digest)
        assert len(digests) == 1, "both copies must produce the same digest"
    finally:
        shutil.rmtree(parent, ignore_errors=True)

    rates = {name: args.size_mib / statistics.median(values) for name, values in timings.items()}
    print(
        f"{args.size_mib} MiB, {args.chunk_kib} KiB chunks, fsync on, median of {args.runs} runs in {args.dir}"
    )
    for name, rate in rates.items():
        spread = ", ".join(f"{args.size_mib / seconds:.0f}" for seconds in timings[name])
        print(f"  {name:15} {rate:7.0f} MiB/s   (runs: {spread})")
    print(f"  ratio store / plain loop: {rates['LocalBlobStore'] / rates['plain loop']:.2f}")


if __name__ == "__main__":
    main()
