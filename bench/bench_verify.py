"""The offline verifier on a bundle holding a large exhibit, against ``sha256sum`` of the same zip, in one run.

Builds (once; later runs reuse ``var/bench/verify-<N>mib/``) a real internal bundle with an exhibit of
``--size-mib`` random bytes (default 1024) through the real app, as bench_bundle.py does: a local uvicorn, a
coordinator's token, a case, the exhibit PUT over HTTP, the bundle downloaded with curl, and the published key
from ``GET /api/v1/custody/key``. Then, best of ``--rounds``, on the zip already in the page cache:

- baseline: ``sha256sum`` of the zip (the same bytes, one digest);
- ours: ``python -m evidence_store verify ZIP --public-key KEY`` as a subprocess, wall clock, which must say
  VERIFIED (it exits otherwise);
- for context: ``openssl dgst -sha256`` of the zip (coreutils may not use the CPU's SHA instructions).

Last, the verifier once in-process under cProfile: the top 15 functions by cumulative and by total time.
It prints sizes, MiB/s of each, the ratio (verifier / sha256sum) and the load average before and after.
The scratch app data (database, store, exhibit) is deleted unless ``--keep``; delete the cache folder to
rebuild the bundle.

    .venv/bin/python bench/bench_verify.py [--size-mib 1024] [--rounds 2] [--keep]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_bundle import BLOCK, _cli, _curl  # noqa: E402
from bench.bench_upload import uvicorn  # noqa: E402
from evidence_store.treehead import load_public_key  # noqa: E402
from evidence_store.verify import VerificationReport, verify_path  # noqa: E402

BENCH_DIR = ROOT / "var" / "bench"
CASE = {"title": "Bench case", "country": "BY", "occurred_from": "2022-04-19", "date_precision": "day"}


def cached_bundle(size_mib: int, keep: bool) -> tuple[Path, Path]:
    """Return (bundle zip, published key PEM) for an exhibit of ``size_mib`` MiB, building them if absent."""
    cache = BENCH_DIR / f"verify-{size_mib}mib"
    bundle, key, meta = cache / "bundle.zip", cache / "public-key.pem", cache / "meta.json"
    if (
        meta.is_file()
        and bundle.is_file()
        and key.is_file()
        and json.loads(meta.read_text())["zip_bytes"] == bundle.stat().st_size
    ):
        print(f"reusing the cached bundle {bundle.relative_to(ROOT)}")
        return bundle, key
    cache.mkdir(parents=True, exist_ok=True)
    meta.unlink(missing_ok=True)
    work = Path(tempfile.mkdtemp(prefix="verify-scratch-", dir=BENCH_DIR))
    try:
        build_bundle(work, bundle, key, size_mib)
    finally:
        if keep:
            print(f"scratch data kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    meta.write_text(json.dumps({"size_mib": size_mib, "zip_bytes": bundle.stat().st_size}))
    return bundle, key


def coordinator_token(env: dict[str, str]) -> str:
    """Migrate a fresh app, load the taxonomy, create a coordinator; return its token."""
    _cli(["db", "upgrade"], env)
    _cli(["taxonomy", "load"], env)
    user = ["user", "create", "bench-coordinator", "--role", "coordinator", "--password-stdin"]
    _cli(user, env, "bench-password-1234\n")
    return _cli(["token", "create", "bench-coordinator"], env).split()[0]


def build_bundle(work: Path, bundle: Path, key: Path, size_mib: int) -> None:
    """Upload a random exhibit to a fresh app in ``work``; download its case's internal bundle and the key."""
    env = {**os.environ, "PRECEDENT_DATA_DIR": str(work / "data"), "PRECEDENT_LOG_LEVEL": "WARNING"}
    auth = ["-H", f"Authorization: Bearer {coordinator_token(env)}"]
    exhibit = work / "exhibit.bin"
    with exhibit.open("wb") as handle:
        for _ in range(size_mib):
            handle.write(os.urandom(BLOCK))
    print(f"building a bundle with a {size_mib} MiB exhibit through the app in {work.relative_to(ROOT)}")
    with uvicorn(["api.main:app_factory", "--factory"], env) as server:
        api = f"{server.url}/api/v1"
        json_body = ["-H", "Content-Type: application/json", "--data-binary", json.dumps(CASE)]
        case = json.loads(_curl(*auth, *json_body, f"{api}/cases"))["id"]
        octets = ["-H", "Content-Type: application/octet-stream", "-T", str(exhibit), "-X", "PUT"]
        _curl(*auth, *octets, f"{api}/cases/{case}/evidence?filename=exhibit.bin")
        partial = bundle.with_suffix(".part")
        _curl(*auth, "-o", str(partial), f"{api}/cases/{case}/bundle?audience=internal")
        key.write_text(json.loads(_curl(*auth, f"{api}/custody/key"))["public_key_pem"])
    partial.replace(bundle)


def warm(path: Path) -> None:
    """Read the file once, so every timed reader finds it in the page cache."""
    with path.open("rb", buffering=0) as handle:
        while handle.read(BLOCK * 8):
            pass


def timed(command: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run a command; return its wall-clock seconds and result."""
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    return time.perf_counter() - started, done


def digest_seconds(command: list[str]) -> float:
    """Seconds for a digest command; exit if it fails."""
    seconds, done = timed(command)
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr}")
    return seconds


def verifier_seconds(bundle: Path, key: Path) -> tuple[float, str]:
    """Seconds for the verifier CLI and its verdict line; exit loudly unless it says VERIFIED."""
    command = [sys.executable, "-m", "evidence_store", "verify", str(bundle), "--public-key", str(key)]
    seconds, done = timed(command)
    verdicts = [line for line in done.stdout.splitlines() if line.startswith(("VERIFIED", "FAILED"))]
    if done.returncode or not verdicts or not verdicts[-1].startswith("VERIFIED"):
        sys.exit(f"NOT VERIFIED (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    return seconds, verdicts[-1]


def profile_in_process(bundle: Path, key: Path) -> tuple[float, VerificationReport, pstats.Stats]:
    """Verify the bundle in this process under cProfile; return the seconds, the report and the stats."""
    public_key = load_public_key(key.read_bytes())
    profiler = cProfile.Profile()
    started = time.perf_counter()
    report = profiler.runcall(verify_path, bundle, public_key=public_key)
    seconds = time.perf_counter() - started
    return seconds, report, pstats.Stats(profiler, stream=sys.stdout).strip_dirs()


def rate(size: int, seconds: float) -> str:
    return f"{size / seconds / 2**20:8.0f} MiB/s  ({seconds:6.2f} s)"


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def measure(bundle: Path, key: Path, rounds: int) -> tuple[dict[str, float], str]:
    """Best seconds of each reader over ``rounds`` interleaved rounds, and the verifier's verdict line."""
    best: dict[str, float] = {}
    verdict = ""
    for _ in range(rounds):
        runs = {"sha256sum": digest_seconds(["sha256sum", str(bundle)])}
        runs["verifier"], verdict = verifier_seconds(bundle, key)
        if shutil.which("openssl"):
            runs["openssl"] = digest_seconds(["openssl", "dgst", "-sha256", str(bundle)])
        best = {name: min(seconds, best.get(name, seconds)) for name, seconds in runs.items()}
    return best, verdict


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the scratch app data (database, store)")
    args = parser.parse_args()
    bundle, key = cached_bundle(args.size_mib, args.keep)
    size = bundle.stat().st_size
    load_before = load()
    warm(bundle)
    best, verdict = measure(bundle, key, args.rounds)
    print(f"exhibit {args.size_mib} MiB, bundle zip {size:,} bytes ({size / 2**20:,.1f} MiB)")
    print(f"best of {args.rounds} rounds; load average {load_before} before, {load()} after")
    print(f"sha256sum of the zip            {rate(size, best['sha256sum'])}")
    if "openssl" in best:
        print(f"openssl dgst -sha256 (context)  {rate(size, best['openssl'])}")
    print(f"verifier CLI on the zip         {rate(size, best['verifier'])}")
    print(f"ratio verifier / sha256sum      {best['sha256sum'] / best['verifier']:8.2f}x")
    if "openssl" in best:
        print(f"ratio verifier / openssl        {best['openssl'] / best['verifier']:8.2f}x")
    print(f"verdict: {verdict}")
    seconds, report, stats = profile_in_process(bundle, key)
    if not report.ok:
        sys.exit(f"NOT VERIFIED in-process: {[str(p) for p in report.problems]}")
    print(f"\nin-process under cProfile       {rate(size, seconds)}, report ok")
    stats.sort_stats("cumulative").print_stats(15)
    stats.sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
