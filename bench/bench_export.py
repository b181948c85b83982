"""Research exports over HTTP against a plain cursor loop on the same database, in the same run (issue 6).

Seeds ``--cases`` synthetic cases (``precedent demo seed``) into a scratch SQLite file and/or a scratch
PostgreSQL database, then for CSV and NDJSON:

- baseline: the export's own SQL (compiled once, literal values) run through the plain driver (sqlite3 /
  psycopg), every row written with ``csv.writer`` / ``orjson`` into a buffer that is dropped every 64 KiB:
  what a hand-written exporter costs, with no HTTP;
- ours: ``GET /api/v1/exports/research?format=...`` from the real app under uvicorn (``--loop uvloop --http
  httptools``, one worker) as a researcher, read to the end by curl into /dev/null.

It prints rows per second for both, their ratio, and the server's peak RSS above its idle size (sampled every
5 ms) for an export of a tenth of the cases and of all of them: flat memory means the two are alike.

    .venv/bin/python bench/bench_export.py [--cases 100000] [--db sqlite|postgres|both] [--runs 3]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
import psutil
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.auth.security import Actor  # noqa: E402
from api.cases.service import visible_clause  # noqa: E402
from api.exports.research import COLUMNS, research_statement  # noqa: E402
from api.models import Case  # noqa: E402
from bench.bench_upload import RssSampler, uvicorn  # noqa: E402

# What the statement returns: the export's columns but the victim count (the export counts the statuses).
RAW_COLUMNS = tuple(name for name in COLUMNS if name != "victims")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_NAME = "precedent_bench_export"
PRECEDENT = [sys.executable, "-m", "api.cli"]


@dataclass
class Target:
    name: str
    env: dict[str, str]
    url: str  # SQLAlchemy URL


def _run(args: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    done = subprocess.run(
        [*PRECEDENT, *args], env=env, input=stdin, capture_output=True, text=True, cwd=ROOT, check=False
    )
    if done.returncode:
        sys.exit(f"precedent {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def prepare(name: str, work: Path, cases: int) -> tuple[Target, str]:
    """Migrate, load the taxonomy, seed, and return the target and a researcher's token."""
    data = work / name
    if data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True)
    env = {**os.environ, "PRECEDENT_DATA_DIR": str(data), "PRECEDENT_LOG_LEVEL": "WARNING"}
    if name == "postgres":
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{PG_NAME}"')
        env["PRECEDENT_DATABASE_URL"] = f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_NAME}"
        url = env["PRECEDENT_DATABASE_URL"]
    else:
        url = f"sqlite:///{data / 'precedent.sqlite3'}"
        env["PRECEDENT_DATABASE_URL"] = url
    _run(["db", "upgrade"], env)
    _run(["taxonomy", "load"], env)
    started = time.perf_counter()
    _run(["demo", "seed", "--cases", str(cases), "--seed", "7"], env)
    print(f"  {name}: seeded {cases:,} cases in {time.perf_counter() - started:.0f} s", flush=True)
    _run(
        ["user", "create", "bench-researcher", "--role", "researcher", "--password-stdin"],
        env,
        "bench-password-1234\n",
    )
    token = _run(["token", "create", "bench-researcher"], env).split()[0]
    return Target(name, env, url), token


def baseline_sql(target: Target, researcher_id: uuid.UUID) -> str:
    """The export's statement for a researcher, compiled with literal values for the plain driver."""
    actor = Actor.for_user(researcher_id, "bench-researcher", "researcher")
    statement = research_statement([visible_clause(actor), Case.retracted_at.is_(None)])  # type: ignore[union-attr]
    dialect = sa.create_engine(target.url).dialect
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def _plain_cursor(target: Target) -> Iterator[tuple[object, ...]]:
    if target.name == "postgres":
        import psycopg

        with (
            psycopg.connect(target.url.replace("+psycopg", ""), prepare_threshold=None) as conn,
            conn.cursor(name="bench") as cursor,
        ):
            cursor.itersize = 2000
            cursor.execute(SQL[target.name])
            yield from cursor
    else:
        import sqlite3

        conn = sqlite3.connect(target.url.removeprefix("sqlite:///"))
        try:
            yield from conn.execute(SQL[target.name])
        finally:
            conn.close()


SQL: dict[str, str] = {}


def baseline(target: Target, fmt: str) -> tuple[int, float]:
    """Rows and seconds for the plain cursor loop writing the same columns."""
    started = time.perf_counter()
    rows = 0
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(RAW_COLUMNS)
        for row in _plain_cursor(target):
            writer.writerow(["" if v is None else v for v in row])
            rows += 1
            if buffer.tell() >= 65536:
                buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
    else:
        chunk = bytearray()
        for row in _plain_cursor(target):
            chunk += orjson.dumps(dict(zip(RAW_COLUMNS, row, strict=True)), option=orjson.OPT_APPEND_NEWLINE)
            rows += 1
            if len(chunk) >= 65536:
                chunk.clear()
    return rows, time.perf_counter() - started


@contextmanager
def peak_rss(process: psutil.Process) -> Iterator[RssSampler]:
    """Sample the process's RSS every 5 ms while the block runs; the sampler keeps the peak."""
    sampler = RssSampler(process)
    sampler.start()
    try:
        yield sampler
    finally:
        sampler.running = False
        sampler.join()


def http_export(url: str, token: str, fmt: str, params: str = "") -> tuple[int, float]:
    """Bytes and seconds for curl reading the whole export."""
    started = time.perf_counter()
    out = subprocess.run(
        [
            "curl",
            "-sS",
            "-f",
            "-o",
            "/dev/null",
            "-w",
            "%{size_download}",
            "-H",
            f"Authorization: Bearer {token}",
            f"{url}/api/v1/exports/research?format={fmt}{params}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout), time.perf_counter() - started


def researcher_id(target: Target) -> uuid.UUID:
    engine = sa.create_engine(target.url)
    with engine.connect() as conn:
        value = conn.execute(
            sa.text("SELECT id FROM user_account WHERE username = 'bench-researcher'")
        ).scalar_one()
    engine.dispose()
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def tenth_params(target: Target) -> str:
    """A date filter that keeps about a tenth of the cases (by event date)."""
    engine = sa.create_engine(target.url)
    with engine.connect() as conn:
        dates = conn.execute(sa.text("SELECT date_lo FROM case_record ORDER BY date_lo")).scalars().all()
    engine.dispose()
    cut = dates[len(dates) // 10]
    return f"&date_to={cut if isinstance(cut, str) else cut.isoformat()}"


def bench(target: Target, token: str, runs: int) -> list[str]:
    SQL[target.name] = baseline_sql(target, researcher_id(target))
    lines = []
    with uvicorn(["api.main:app_factory", "--factory"], target.env) as server:
        url, process = server.url, server.process
        http_export(url, token, "csv", "&date_to=2000-01-01")  # warm up: imports, taxonomy cache, connections
        idle = process.memory_info().rss
        for fmt in ("csv", "ndjson"):
            base, ours, peaks = [], [], {}
            rows = 0
            for _ in range(runs):
                rows, seconds = baseline(target, fmt)
                base.append(rows / seconds)
                with peak_rss(process) as peak:
                    _, seconds = http_export(url, token, fmt)
                ours.append(rows / seconds)
                peaks["all"] = max(peaks.get("all", 0), peak.peak - idle)
            with peak_rss(process) as peak:
                http_export(url, token, fmt, tenth_params(target))
            peaks["tenth"] = peak.peak - idle
            b, o = statistics.median(base), statistics.median(ours)
            lines.append(
                f"{target.name:9} {fmt:7} {rows:>9,} {b:>12,.0f} {o:>12,.0f} {o / b:>6.2f}x "
                f"{peaks['tenth'] / 2**20:>9.1f} {peaks['all'] / 2**20:>9.1f}"
            )
            print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=ROOT / "var" / "bench-export")
    args = parser.parse_args()
    names = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    prepared = [prepare(name, args.dir, args.cases) for name in names]
    print(
        f"\n{'database':9} {'format':7} {'rows':>9} {'plain rows/s':>12} {'HTTP rows/s':>12} {'ratio':>7} "
        f"{'RSS 10% MiB':>11} {'RSS 100% MiB':>12}"
    )
    for target, token in prepared:
        bench(target, token, args.runs)
    print("\nAim (issue 6): HTTP export at least 80k rows/s on both databases; RSS flat as the export grows.")


if __name__ == "__main__":
    main()
