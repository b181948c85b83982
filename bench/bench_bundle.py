"""An evidence bundle holding a large exhibit, over HTTP, against a plain read of the same file (issue 6).

Uploads one exhibit of ``--size-mib`` random bytes (default 1024) to a case on a local uvicorn (``--loop uvloop
--http httptools``, one worker, SQLite, local evidence folder), then downloads the case's internal bundle with
curl into /dev/null, several times. Baseline, measured in the same run on the same stored file: a plain Python
loop reading it in 1 MiB blocks and computing SHA-256 and CRC-32, which is the least any zip writer that checks
the digest on the way out must do. It prints throughput for both, their ratio, and the server's peak RSS above
its idle size (sampled every 5 ms): the exhibit is streamed, so RSS should not grow with the file.

    .venv/bin/python bench/bench_bundle.py [--size-mib 1024] [--runs 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_export import PRECEDENT, peak_rss  # noqa: E402
from bench.bench_upload import uvicorn  # noqa: E402

BLOCK = 1024 * 1024


def _cli(args: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    done = subprocess.run([*PRECEDENT, *args], env=env, input=stdin, capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        sys.exit(f"precedent {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _curl(*args: str) -> str:
    return subprocess.run(["curl", "-sS", "-f", *args], capture_output=True, text=True, check=True).stdout


def plain_read(path: Path) -> float:
    """Seconds for reading the file once with SHA-256 and CRC-32 over it."""
    started = time.perf_counter()
    digest, crc = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
            crc = zlib.crc32(block, crc)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = Path(
        tempfile.mkdtemp(
            prefix="precedent-bundle-bench-", dir=ROOT / "var" if (ROOT / "var").exists() else None
        )
    )
    try:
        data = work / "data"
        env = {**os.environ, "PRECEDENT_DATA_DIR": str(data), "PRECEDENT_LOG_LEVEL": "WARNING"}
        _cli(["db", "upgrade"], env)
        _cli(["taxonomy", "load"], env)
        _cli(
            ["user", "create", "bench-coordinator", "--role", "coordinator", "--password-stdin"],
            env,
            "bench-password-1234\n",
        )
        token = _cli(["token", "create", "bench-coordinator"], env).split()[0]
        exhibit = work / "exhibit.bin"
        with exhibit.open("wb") as handle:
            for _ in range(args.size_mib):
                handle.write(os.urandom(BLOCK))
        size = exhibit.stat().st_size
        auth = ["-H", f"Authorization: Bearer {token}"]
        with uvicorn(["api.main:app_factory", "--factory"], env) as server:
            url, process = server.url, server.process
            case = json.loads(
                _curl(
                    *auth,
                    "-H",
                    "Content-Type: application/json",
                    "--data-binary",
                    json.dumps(
                        {
                            "title": "Bench case",
                            "country": "BY",
                            "occurred_from": "2022-04-19",
                            "date_precision": "day",
                        }
                    ),
                    f"{url}/api/v1/cases",
                )
            )
            _curl(
                *auth,
                "-H",
                "Content-Type: application/octet-stream",
                "-T",
                str(exhibit),
                "-X",
                "PUT",
                f"{url}/api/v1/cases/{case['id']}/evidence?filename=exhibit.bin",
            )
            stored = next(p for p in data.rglob("*") if p.is_file() and p.stat().st_size == size)
            idle = process.memory_info().rss
            plain, ours, peaks, bundle_size = [], [], [], 0
            for _ in range(args.runs):
                plain.append(size / plain_read(stored))
                with peak_rss(process) as peak:
                    started = time.perf_counter()
                    bundle_size = int(
                        _curl(
                            *auth,
                            "-o",
                            "/dev/null",
                            "-w",
                            "%{size_download}",
                            f"{url}/api/v1/cases/{case['id']}/bundle?audience=internal",
                        )
                    )
                    ours.append(size / (time.perf_counter() - started))
                peaks.append(peak.peak - idle)
        p, o = statistics.median(plain), statistics.median(ours)
        print(
            f"exhibit {size / 2**20:,.0f} MiB, bundle {bundle_size / 2**20:,.1f} MiB, {args.runs} runs (median)"
        )
        print(f"plain read + SHA-256 + CRC-32 {p / 2**20:8.0f} MiB/s")
        print(f"bundle over HTTP              {o / 2**20:8.0f} MiB/s   ratio {o / p:.2f}x")
        print(f"server peak RSS above idle    {max(peaks) / 2**20:8.1f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
