"""Does an upload's answer time tell whether the organisation already holds the same bytes? (issue 19)

A documenter who cannot see case A uploads into their own case B, interleaved in random order:

- ``new``: ``--size-mib`` (default 5) of fresh random bytes, never stored before (with ``--kind pdf``, a
  300-page PDF with an author and a random attachment of that size, so metadata extraction has work to do);
- ``stored``: bytes another documenter uploaded into case A before the timed run (so already at their
  content address, with their blob row), which the uploader cannot see.

Each upload is a raw PUT (or multipart POST with ``--multipart``) over HTTP to a local uvicorn with the fast
stack (uvloop + httptools, 1 worker), timed on the client from the first byte sent to the last byte of the
answer, as a hostile tester would. The bodies are made before the timed run. It prints, per kind, the
median, p90 and spread (median absolute deviation), the difference of the medians against that spread, the
Mann-Whitney U test (normal approximation with tie correction, two-sided) and the AUC, U / (n1 n2): the
chance that a ``stored`` upload takes longer than a ``new`` one. An AUC near 0.5 and a large p-value mean
the timing does not tell the two apart; an attacker's best guess is then a coin toss.

    .venv/bin/python bench/bench_dedup_oracle.py [--size-mib 5] [--count 50] [--kind random|pdf] [--multipart]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_upload import uvicorn  # noqa: E402

MiB = 1024 * 1024
CASE = {"title": "Bench case", "country": "BY", "occurred_from": "2022-04-19", "date_precision": "day"}


def prepare(data_dir: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Migrate a fresh database, create two documenters; return the server env and their tokens."""
    env = {
        "PRECEDENT_DATA_DIR": str(data_dir),
        "PRECEDENT_SECRET_KEY": "bench-secret-key-0123456789-0123456789-0123",
        "PRECEDENT_LOG_LEVEL": "WARNING",
    }
    if os.environ.get("PRECEDENT_DATABASE_URL"):
        env["PRECEDENT_DATABASE_URL"] = os.environ["PRECEDENT_DATABASE_URL"]
    os.environ.update(env)
    from api import migrate
    from api.auth import service as auth_service
    from api.config import Settings
    from api.context import AppContext
    from schemas.enums import Role

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.resolved_database_url)
    ctx = AppContext.build(settings)
    tokens = {}
    try:
        with ctx.db.write_session() as session:
            for name in ("holder", "prober"):
                auth_service.create_user(
                    session=session, username=name, role=Role.DOCUMENTER, password="x" * 16
                )
                tokens[name], _ = auth_service.create_api_token(
                    ctx=ctx, session=session, username=name, days=1
                )
    finally:
        ctx.close()
    return env, tokens


def make_body(kind: str, size: int) -> bytes:
    """Return ``size`` fresh random bytes, or a PDF carrying them as an attachment."""
    if kind == "random":
        return os.urandom(size)
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(300):
        writer.add_blank_page(595, 842)
    writer.add_metadata({"/Title": "Minutes of the meeting", "/Author": "A. Witness"})
    writer.add_attachment("scan.bin", os.urandom(size))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def send(client: httpx.Client, url: str, body: bytes, *, multipart: bool) -> tuple[float, httpx.Response]:
    """Upload ``body``; return the seconds from sending to the whole answer, and the answer."""
    start = time.perf_counter()
    if multipart:
        response = client.post(url, files={"file": ("evidence.bin", body, "application/octet-stream")})
    else:
        response = client.put(url, content=body, headers={"Content-Type": "application/octet-stream"})
    response.read()
    elapsed = time.perf_counter() - start
    if response.status_code != 201:
        raise RuntimeError(f"upload answered {response.status_code}: {response.text[:300]}")
    return elapsed, response


def mann_whitney(a: list[float], b: list[float]) -> tuple[float, float]:
    """Return U of ``a`` against ``b`` and the two-sided p-value (normal approximation, ties corrected).

    Written here rather than taken from SciPy: a benchmark should not pull a 40 MB dependency into the
    project for one rank test, and with n = 50 per group the normal approximation is what SciPy uses too.
    """
    pooled = sorted([(value, 0) for value in a] + [(value, 1) for value in b])
    ranks = [0.0] * len(pooled)
    ties = 0.0
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        ties += (j - i + 1) ** 3 - (j - i + 1)
        i = j + 1
    n1, n2 = len(a), len(b)
    rank_sum = sum(rank for rank, (_, group) in zip(ranks, pooled, strict=True) if group == 0)
    u = rank_sum - n1 * (n1 + 1) / 2
    n = n1 + n2
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    z = (abs(u - n1 * n2 / 2) - 0.5) / sigma if sigma else 0.0
    return u, math.erfc(max(z, 0.0) / math.sqrt(2))


def describe(name: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    median = statistics.median(ms)
    p90 = ms[min(len(ms) - 1, math.ceil(0.9 * len(ms)) - 1)]
    mad = statistics.median(abs(v - median) for v in ms)
    return f"{name:7s} n={len(ms):3d}  median {median:8.1f} ms  p90 {p90:8.1f} ms  MAD {mad:6.1f} ms  min {ms[0]:7.1f}  max {ms[-1]:7.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=float, default=5.0)
    parser.add_argument("--count", type=int, default=50, help="uploads of each kind")
    parser.add_argument("--kind", choices=("random", "pdf"), default="random")
    parser.add_argument("--multipart", action="store_true", help="POST multipart/form-data instead of PUT")
    parser.add_argument("--seed", type=int, default=19, help="seed of the interleaving order")
    parser.add_argument("--dir", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument("--keep", action="store_true", help="keep the scratch data folder")
    args = parser.parse_args()
    size = int(args.size_mib * MiB)
    args.dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=args.dir, prefix="dedup-"))
    print(f"load average at start: {os.getloadavg()}; {os.cpu_count()} CPUs; {size / MiB:.1f} MiB per upload")
    try:
        env, tokens = prepare(work / "precedent")
        with uvicorn(["api.main:app_factory", "--factory"], env) as server:
            run(
                server.url,
                tokens,
                size=size,
                count=args.count,
                kind=args.kind,
                multipart=args.multipart,
                seed=args.seed,
            )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"load average at end: {os.getloadavg()}")


def run(
    url: str, tokens: dict[str, str], *, size: int, count: int, kind: str, multipart: bool, seed: int
) -> None:
    """Store ``count`` bodies in the holder's case, then time new and stored uploads by the prober."""
    holder = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tokens['holder']}"}, timeout=120)
    prober = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tokens['prober']}"}, timeout=120)
    with holder, prober:
        case_a = holder.post("/api/v1/cases", json=CASE).json()["id"]
        case_b = prober.post("/api/v1/cases", json=CASE).json()["id"]
        assert prober.get(f"/api/v1/cases/{case_a}").status_code == 404, "the prober must not see case A"
        stored = [make_body(kind, size) for _ in range(count)]
        for body in stored:
            send(holder, f"/api/v1/cases/{case_a}/evidence", body, multipart=multipart)
        fresh = [make_body(kind, size) for _ in range(count)]
        target = f"/api/v1/cases/{case_b}/evidence"
        for _ in range(5):  # warm-up, not counted
            send(prober, target, make_body(kind, size), multipart=multipart)
        order = ["new"] * count + ["stored"] * count
        random.Random(seed).shuffle(order)
        times: dict[str, list[float]] = {"new": [], "stored": []}
        shapes: dict[str, set[str]] = {"new": set(), "stored": set()}
        for label in order:
            body = (fresh if label == "new" else stored).pop()
            seconds, response = send(prober, target, body, multipart=multipart)
            times[label].append(seconds)
            shapes[label].add(json.dumps(sorted(response.json())) + json.dumps(sorted(response.headers)))
    report(times, shapes, kind=kind, multipart=multipart)


def report(times: dict[str, list[float]], shapes: dict[str, set[str]], *, kind: str, multipart: bool) -> None:
    new, stored = times["new"], times["stored"]
    print(f"\n{kind} bodies, {'multipart POST' if multipart else 'raw PUT'}, interleaved in random order")
    print(describe("new", new))
    print(describe("stored", stored))
    difference = (statistics.median(stored) - statistics.median(new)) * 1000
    spread = statistics.median(abs(v - statistics.median(new + stored)) for v in new + stored) * 1000
    u, p = mann_whitney(stored, new)
    auc = u / (len(new) * len(stored))
    print(
        f"median(stored) - median(new) = {difference:+.1f} ms; pooled MAD {spread:.1f} ms ({difference / spread:+.2f} MAD)"
    )
    print(f"Mann-Whitney U = {u:.0f}, two-sided p = {p:.3f}; AUC P(stored slower than new) = {auc:.2f}")
    same = shapes["new"] == shapes["stored"] and len(shapes["new"]) == 1
    print(f"response field and header names identical across all uploads: {same}")


if __name__ == "__main__":
    main()
