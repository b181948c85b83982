"""Researcher search and statistics over HTTP against hand-written SQL on the same stack (issue 5; perf-baselines.md §3).

Seeds a scratch database with `precedent demo seed` (SQLite in a folder of its own, PostgreSQL in the database
`precedent_bench`), then serves the real application with uvicorn (``--loop uvloop --http httptools``, one
worker) with extra routes ``/bench/raw/<query>`` added to the same FastAPI app: each runs the same question as
hand-written SQL through the plain driver (sqlite3 / psycopg, no ORM, no validation) and answers with the same
JSON shape (``items``/``total``/``next_cursor`` or ``groups``/``total_cases``/``total_people``).

Five researcher questions and one statistics question, asked as a researcher with an API token (the raw routes
skip authentication, so the ratio includes it). For each: requests per second with 4 client threads (httpx,
keep-alive) after a warm-up, p50/p95 latency with one client (so a request does not queue behind the others on
the one worker), app and raw interleaved, and the throughput ratio app/raw.

    .venv/bin/python bench/bench_search.py [--cases 100000] [--db sqlite|postgres|both] [--seconds 5]
        [--dir var/bench/search] [--pg-url postgresql://postgres@127.0.0.1:5432/postgres] [--reseed]

A database already seeded with the same number of cases (and seed) is reused; `--reseed` starts afresh.
"""

# The raw endpoints build SQL text from fixed fragments and "?" placeholders only; every value is a parameter.
# ruff: noqa: S608

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STACK = ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
SECRET = "bench-secret-key-0123456789-0123456789-0123"  # noqa: S105 (a scratch database's key)
PAGE = 50
HELD = ("detained", "on_trial", "sentenced")
# Bits of case_record.victim_mask (api.search.index.VICTIM_STATUS_BIT): detained, on_trial, sentenced.
HELD_BITS = 0b111
COUNT_CAP = 1000

# name -> (what a researcher asks, the app's endpoint and parameters)
QUERIES: dict[str, tuple[str, str, list[tuple[str, str]]]] = {
    "q1_arrests_minsk": (
        "deprivation of liberty (A.LIB subtree), Minsk Region, since 2021, by date",
        "/api/v1/cases",
        [("category", "A.LIB"), ("region", "Minsk Region"), ("date_from", "2021-01-01"), ("sort", "date")],
    ),
    "q2_leaf_page": (
        "one leaf (C.DIS.DISMISSAL), newest first (the default order)",
        "/api/v1/cases",
        [("category", "C.DIS.DISMISSAL")],
    ),
    "q3_held_state_industry": (
        "victims still held (detained, on trial, sentenced), sector State industry, since 2021",
        "/api/v1/cases",
        [("sector", "State industry"), ("date_from", "2021-01-01"), ("sort", "date")]
        + [("victim_status", s) for s in HELD],
    ),
    "q4_fulltext_be": (
        "full text q=затрыманне (Belarusian: detention), newest first",
        "/api/v1/cases",
        [("q", "затрыманне"), ("sort", "newest")],
    ),
    "q5_employer_range": (
        "employer Belaruskali, 2020-08-01..2021-12-31, by date",
        "/api/v1/cases",
        [
            ("employer", "Belaruskali"),
            ("date_from", "2020-08-01"),
            ("date_to", "2021-12-31"),
            ("sort", "date"),
        ],
    ),
    "q6_stats_category": (
        "statistics by category (rolled up), Belarus, since 2021",
        "/api/v1/stats",
        [("group_by", "category"), ("country", "BY"), ("date_from", "2021-01-01")],
    ),
}


# ---- the raw endpoints (imported by uvicorn in the server process) ----------------------------------------


class Raw:
    """Hand-written SQL for each query through the plain driver, one connection per server thread."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pg = url.startswith("postgresql")
        self.local = threading.local()
        conn = self.connect()
        rows = self.fetch(conn, "SELECT ancestor, descendant FROM taxonomy_closure")
        self.subtree: dict[str, list[str]] = {}
        self.ancestors: dict[str, set[str]] = {}
        self.expanded: dict[str, frozenset[str]] = {}
        for ancestor, descendant in rows:
            self.subtree.setdefault(ancestor, []).append(descendant)
            self.ancestors.setdefault(descendant, set()).add(ancestor)
        self.labels = {code: (labels or {}).get("en") for code, labels in self._labels(conn)}
        self.has_text = bool(
            self.fetch(
                conn,
                "SELECT 1 FROM information_schema.tables WHERE table_name = 'case_text'"
                if self.pg
                else "SELECT 1 FROM sqlite_master WHERE name = 'case_text'",
            )
        )

    def _labels(self, conn: Any) -> list[tuple[str, dict[str, str]]]:
        import orjson

        rows = self.fetch(conn, "SELECT code, labels FROM taxonomy_node")
        return [(code, labels if isinstance(labels, dict) else orjson.loads(labels)) for code, labels in rows]

    def connect(self) -> Any:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            if self.pg:
                import psycopg

                conn = psycopg.connect(self.url.replace("postgresql+psycopg", "postgresql"), autocommit=True)
                conn.prepare_threshold = None  # the generic-plan trap (perf-baselines.md §3b)
            else:
                import sqlite3

                path = self.url.removeprefix("sqlite:///")
                conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
                from api.db import SQLITE_MMAP_BYTES, SQLITE_SORTER_THREADS

                # as the app's connections (api/db.py)
                conn.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
                conn.execute(f"PRAGMA threads={SQLITE_SORTER_THREADS}")
            self.local.conn = conn
        return conn

    def fetch(self, conn: Any, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[Any]:
        if self.pg:
            sql = sql.replace("?", "%s")
        return list(conn.execute(sql, params).fetchall())

    # -- helpers

    def _ids(self, value: Any) -> Any:
        # SQLite stores UUIDs as 32 hex digits; PostgreSQL as uuid.
        return value.hex if not self.pg and isinstance(value, uuid.UUID) else value

    def _uuid(self, value: Any) -> str:
        return str(value) if self.pg else str(uuid.UUID(value))

    def _ts(self, value: Any) -> str:
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat()
        return datetime.fromisoformat(value).replace(tzinfo=UTC).isoformat()

    def _day(self, value: Any) -> str | None:
        return None if value is None else (value.isoformat() if isinstance(value, date) else str(value))

    def _categories(self, codes: str, primary: str | None) -> list[str]:
        return sorted(set(codes.split()), key=lambda code: (code != primary, code))

    def _in(self, values: list[str]) -> str:
        return ", ".join("?" for _ in values)

    def page(
        self,
        where: list[str],
        params: list[Any],
        order: str,
        join: str = "",
        hint: str = "",
        walk: list[str] | None = None,
        counted: int | None = None,
    ) -> dict[str, Any]:
        """`walk`: on PostgreSQL, the conditions of the page's own statement (a walk of the sort index, which
        meets every case in turn), if not `where`; they take the same parameters. `counted`: the matches,
        counted already (up to COUNT_CAP + 1); on SQLite the walk then lists the page's ids only."""
        conn = self.connect()
        base = ["c.retracted_at IS NULL", "c.confidentiality <> 'restricted'"]
        clause = " AND ".join([*base, *where])
        walk_clause = " AND ".join([*base, *(walk or where)])
        columns = (
            "c.id, c.reference, c.title, c.summary, c.narrative, c.occurred_from, c.occurred_to, c.date_precision, "
            "c.date_lo, c.date_hi, c.country, c.region, c.place, c.employer, c.sector, c.status, "
            "c.confidentiality, c.urgent, c.urgency_reason, c.language, c.primary_category, c.location_type, "
            "c.violation_status, c.created_by, c.created_at, c.updated_by, c.updated_at, c.version, c.category_codes"
        )
        # The same question as the app: count up to the cap, then say "more" (api.search.service.COUNT_CAP).
        # LIMIT as a literal: a bound LIMIT made SQLite pick a date scan (perf-baselines.md §3b).
        if not self.pg:
            # SQLite meets the matches in the page's order: one statement lists the first COUNT_CAP + 1
            # ids, which count and also name the page's cases, then read by id.
            indexed = f"INDEXED BY {hint}" if hint else ""
            listed = (max(COUNT_CAP, PAGE) if counted is None else PAGE) + 1
            ids = [
                r[0]
                for r in self.fetch(
                    conn,
                    f"SELECT c.id FROM case_record c {indexed} {join} WHERE {clause} ORDER BY {order} "
                    f"LIMIT {listed}",
                    params,
                )
            ]
            total = len(ids) if counted is None else counted
            place = {i: n for n, i in enumerate(ids[: PAGE + 1])}
            rows = sorted(
                self.fetch(
                    conn,
                    f"SELECT {columns} FROM case_record c WHERE c.id IN ({self._in(list(place))})",
                    list(place),
                ),
                key=lambda r: place[r[0]],
            )
        else:
            # PostgreSQL counts in the page's order only when a place or employer index leads.
            ordered = "" if "_fold = ?" not in " ".join(where) else f"ORDER BY {order}"
            total = (
                counted
                if counted is not None
                else self.fetch(
                    conn,
                    f"SELECT count(*) FROM (SELECT 1 FROM case_record c {join} WHERE {clause} {ordered} "
                    f"LIMIT {COUNT_CAP + 1}) m",
                    params,
                )[0][0]
            )
            rows = self.fetch(
                conn,
                f"SELECT {columns} FROM case_record c {join} WHERE {walk_clause} ORDER BY {order} "
                f"LIMIT {PAGE + 1}",
                params,
            )
        exact = total <= COUNT_CAP
        total = min(total, COUNT_CAP)
        more, rows = len(rows) > PAGE, rows[:PAGE]
        ids = [r[0] for r in rows]
        tags: dict[Any, list[str]] = {i: [] for i in ids}
        if ids:
            marks = self._in(ids)
            # Categories as the app lists them, from the row's category_codes: the primary first.
            for case_id, tag in self.fetch(
                conn,
                f"SELECT case_id, tag FROM case_tag WHERE case_id IN ({marks}) ORDER BY tag",
                ids,
            ):
                tags[case_id].append(tag)
        items = []
        for r in rows:
            items.append(
                {
                    "id": self._uuid(r[0]),
                    "reference": r[1],
                    "title": r[2],
                    "summary": r[3],
                    "narrative": r[4],
                    "occurred_from": self._day(r[5]),
                    "occurred_to": self._day(r[6]),
                    "date_precision": r[7],
                    "earliest": self._day(r[8]),
                    "latest": self._day(r[9]),
                    "country": r[10],
                    "region": r[11],
                    "place": r[12],
                    "employer": r[13],
                    "sector": r[14],
                    "status": r[15],
                    "confidentiality": r[16],
                    "urgent": bool(r[17]),
                    "urgency_reason": r[18],
                    "language": r[19],
                    "tags": tags[r[0]],
                    "categories": self._categories(r[28], r[20]),
                    "primary_category": r[20],
                    "location_type": r[21],
                    "violation_status": r[22],
                    "created_by": self._uuid(r[23]),
                    "created_at": self._ts(r[24]),
                    "updated_by": self._uuid(r[25]),
                    "updated_at": self._ts(r[26]),
                    "version": r[27],
                    "retracted": None,
                    "notices": [],
                }
            )
        # A real cursor is not needed to measure the first page; say whether there is a next one.
        return {"items": items, "total": total, "total_exact": exact, "next_cursor": "more" if more else None}

    def category(self, code: str) -> tuple[str, list[str]]:
        codes = self.subtree[code]
        return f"c.id IN (SELECT case_id FROM case_category WHERE code IN ({self._in(codes)}))", codes

    # -- the six questions

    def q1_arrests_minsk(self) -> dict[str, Any]:
        # The region's index leads; each candidate's own category codes are tested (A.LIB and A.LIB.*).
        find = "strpos" if self.pg else "instr"
        cat = f"({find}(' ' || c.category_codes || ' ', ' A.LIB ') > 0 OR {find}(' ' || c.category_codes, ' A.LIB.') > 0)"
        return self.page(
            [cat, "c.region_fold = ?", "c.date_hi >= ?"],
            ["minsk region", "2021-01-01"],
            "c.date_lo DESC, c.id DESC",
            hint="ix_case_record_region_fold_walk",
        )

    def q2_leaf_page(self) -> dict[str, Any]:
        # A leaf (one code), newest first, as the app finds it: its cases walked in case_category's
        # (code, created_at) index, each joined to its case.
        (code,) = self.subtree["C.DIS.DISMISSAL"]
        join = "JOIN case_category cc ON cc.case_id = c.id AND cc.code = ?"
        return self.page([], [code], "cc.created_at DESC, cc.case_id DESC", join=join)

    def q3_held_state_industry(self) -> dict[str, Any]:
        return self.page(
            ["c.sector_fold = ?", "c.date_hi >= ?", "(c.victim_mask & ?) <> 0"],
            ["state industry", "2021-01-01", HELD_BITS],
            "c.date_lo DESC, c.id DESC",
            hint="ix_case_record_sector_fold_walk",
        )

    def q4_fulltext_be(self) -> dict[str, Any]:
        if not self.has_text:
            return {"items": [], "total": 0, "next_cursor": None}
        if self.pg:
            # As the app: counted from the GIN index's matches, each case looked up by its key, serially,
            # up to a quarter over the cap in rows (the cases apart); the planner finds the page.
            conn = self.connect()
            rows_cap = (COUNT_CAP + 1) * 5 // 4
            conn.execute("SET max_parallel_workers_per_gather = 0")
            try:
                distinct, read = self.fetch(
                    conn,
                    "SELECT count(DISTINCT case_id), count(*) FROM (SELECT t.case_id FROM case_text t "
                    "JOIN case_record c ON c.id = t.case_id WHERE t.tsv @@ plainto_tsquery('simple', ?) "
                    f"AND c.retracted_at IS NULL AND c.confidentiality <> 'restricted' LIMIT {rows_cap}) m",
                    ["затрыманне"],
                )[0]
            finally:
                conn.execute("RESET max_parallel_workers_per_gather")
            settled = distinct > COUNT_CAP or read < rows_cap
            match = "c.id IN (SELECT case_id FROM case_text WHERE tsv @@ plainto_tsquery('simple', ?))"
            return self.page(
                [match],
                ["затрыманне"],
                "c.created_at DESC, c.id DESC",
                counted=min(distinct, COUNT_CAP + 1) if settled else None,
            )
        # A common word on SQLite, as the app asks it: counted from the full-text matches, each one's case
        # tested in the id's walk index, up to the cap; the page walks the newest-first index and probes each
        # case's own texts against the matching rows (listed once; "+ 0" keeps SQLite from walking that list).
        word = '"затрыманне"'
        (total,) = self.fetch(
            self.connect(),
            "SELECT count(*) FROM (SELECT DISTINCT t.case_id FROM case_fts f JOIN case_text t ON t.id = f.rowid "
            "JOIN case_record c INDEXED BY ix_case_record_id_walk ON c.id = t.case_id WHERE case_fts MATCH ? "
            f"AND c.retracted_at IS NULL AND c.confidentiality <> 'restricted' LIMIT {COUNT_CAP + 1})",
            [word],
        )[0]
        probe = (
            "EXISTS (SELECT 1 FROM case_text t WHERE t.case_id = c.id "
            "AND t.id + 0 IN (SELECT rowid FROM case_fts WHERE case_fts MATCH ?))"
        )
        return self.page(
            [probe],
            [word],
            "c.created_at DESC, c.id DESC",
            hint="ix_case_record_created_at_walk",
            counted=total,
        )

    def q5_employer_range(self) -> dict[str, Any]:
        return self.page(
            ["c.employer_fold = ?", "c.date_hi >= ?", "c.date_lo <= ?"],
            ["belaruskali", "2020-08-01", "2021-12-31"],
            "c.date_lo DESC, c.id DESC",
            hint="ix_case_record_employer_fold_walk",
        )

    def q6_stats_category(self) -> dict[str, Any]:
        # The app's method in hand-written SQL: one grouped pass over the cases' facet columns adds up the cases
        # and their people, with the lists of people in several cases concatenated; their repeats come off.
        conn = self.connect()
        if self.pg:
            conn.execute("SET jit = off")  # as the app's statistics (per transaction there)
        where = "c.retracted_at IS NULL AND c.confidentiality <> 'restricted' AND c.country = ? AND c.date_hi >= ?"
        joined = "string_agg(c.victim_ids, ' ')" if self.pg else "group_concat(c.victim_ids, ' ')"
        cases: dict[str, int] = {}
        people: dict[str, int] = {}
        listed: dict[str, list[str]] = {}
        everywhere: list[str] = []
        total_cases = total_people = 0
        for codes, n, victims, lists in self.fetch(
            conn,
            f"SELECT c.category_codes, count(*), sum(c.victim_people), {joined} FROM case_record c "
            f"WHERE {where} GROUP BY c.category_codes",
            ["BY", "2021-01-01"],
        ):
            ids = [token[:32] for token in (lists or "").split()]
            total_cases += n
            total_people += victims or 0
            everywhere.extend(ids)
            for code in self.rolled_up(codes):
                cases[code] = cases.get(code, 0) + n
                people[code] = people.get(code, 0) + (victims or 0)
                listed.setdefault(code, []).extend(ids)
        for code, ids in listed.items():
            people[code] -= len(ids) - len(set(ids))
        total_people -= len(everywhere) - len(set(everywhere))
        groups = [
            {"key": key, "label": self.labels.get(key), "cases": n, "people": people.get(key, 0)}
            for key, n in sorted(cases.items())
        ]
        return {"groups": groups, "total_cases": total_cases, "total_people": total_people}

    def rolled_up(self, codes: str) -> frozenset[str]:
        found = self.expanded.get(codes)
        if found is None:
            found = self.expanded[codes] = frozenset(
                a for c in codes.split() for a in self.ancestors.get(c, {c})
            )
        return found


def bench_app() -> Any:
    """The real application from PRECEDENT_* settings, plus one raw route per query."""
    from fastapi import Response

    from api.config import get_settings
    from api.main import create_app
    from api.search import service
    from api.search.index import status_bits

    # The raw SQL spells these out; they must be the app's.
    assert (status_bits(HELD), service.COUNT_CAP) == (HELD_BITS, COUNT_CAP)
    settings = get_settings()
    app = create_app(settings)
    raw = Raw(settings.resolved_database_url)

    def route(name: str) -> Callable[[], Response]:
        method = getattr(raw, name)

        def endpoint() -> Response:
            import orjson

            return Response(orjson.dumps(method()), media_type="application/json")

        endpoint.__name__ = f"raw_{name}"
        return endpoint

    for name in QUERIES:
        app.add_api_route(f"/bench/raw/{name}", route(name), methods=["GET"], include_in_schema=False)
    return app


# ---- preparing a database --------------------------------------------------------------------------------


def prepare(url: str, data_dir: Path, cases: int, seed: int) -> tuple[dict[str, str], str, str]:
    """Migrate, load the taxonomy, seed unless already seeded alike, create a researcher token."""
    env = {
        "PRECEDENT_DATABASE_URL": url,
        "PRECEDENT_DATA_DIR": str(data_dir),
        "PRECEDENT_SECRET_KEY": SECRET,
        "PRECEDENT_LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    import sqlalchemy as sa

    from api import migrate
    from api.auth import service as auth_service
    from api.config import Settings
    from api.context import AppContext
    from api.db import Database
    from api.demo import seed as demo
    from api.taxonomy import service as taxonomy_service
    from schemas.enums import Role

    settings = Settings()
    data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(url)
    db = Database(url)
    with db.session(write=True) as session:
        taxonomy_service.load_taxonomy(session=session)
        session.commit()
        present = session.execute(sa.text("SELECT count(*) FROM case_record")).scalar_one()
    note = f"reused {present:,} cases"
    if present != cases:
        if present:
            raise SystemExit(f"{url} holds {present:,} cases, not {cases:,}: pass --reseed or another --dir")
        started = time.perf_counter()
        keyed = AppContext.build(settings)  # the identity key the testimonies are sealed under
        try:
            report = demo.seed_demo(
                db=db, sealer=keyed.sealer, cases=cases, seed=seed, batch=10_000, history=False
            )
        finally:
            keyed.close()
        note = (
            f"seeded {cases:,} cases, {report.total_rows:,} rows in {report.seconds:.0f} s "
            f"({report.rows_per_second:,.0f} rows/s; {time.perf_counter() - started:.0f} s with index and ANALYZE)"
        )
    db.dispose()
    ctx = AppContext.build(settings)
    try:
        with ctx.db.write_session() as session:
            from sqlmodel import select

            from api.models import User

            if session.exec(select(User).where(User.username == "bench-researcher")).first() is None:
                auth_service.create_user(session=session, username="bench-researcher", role=Role.RESEARCHER)
            token, _ = auth_service.create_api_token(
                ctx=ctx, session=session, username="bench-researcher", days=1
            )
            session.commit()
    finally:
        ctx.close()
    return env, token, note


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    popen = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.bench_search:bench_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *STACK,
        ],
        env={**os.environ, **env},
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=1)  # noqa: S310
            break
        except OSError:
            time.sleep(0.05)
    else:
        popen.kill()
        raise RuntimeError("server did not start")
    try:
        yield url
    finally:
        popen.send_signal(signal.SIGINT)
        try:
            popen.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a long query still running
            popen.kill()
            popen.wait()


# ---- measuring ------------------------------------------------------------------------------------------


@dataclass
class Result:
    requests: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def load(
    url: str, params: list[tuple[str, str]], headers: dict[str, str], seconds: float, threads: int
) -> Result:
    """Send the request from `threads` keep-alive clients for `seconds`; collect every latency."""
    import httpx

    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client() -> None:
        mine: list[float] = []
        bad = 0
        with httpx.Client(headers=headers, timeout=60) as http:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                try:
                    response = http.get(url, params=tuple(params))
                except httpx.TimeoutException:  # counted as an error, not a latency
                    bad += 1
                    continue
                mine.append(time.perf_counter() - t0)
                if response.status_code != 200:
                    bad += 1
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    started = time.perf_counter()
    workers = [threading.Thread(target=client) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return Result(len(latencies), time.perf_counter() - started, latencies, errors[0])


def check(base: str, token: str) -> dict[str, str]:
    """Ask each question once of both endpoints: status, total and first ids must agree."""
    import httpx

    notes = {}
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:
        for name, (_, path, params) in QUERIES.items():
            try:
                app = http.get(base + path, params=tuple(params))
                raw = http.get(f"{base}/bench/raw/{name}").json()
            except httpx.TimeoutException:
                notes[name] = "app timed out (over 120 s)"
                continue
            if app.status_code != 200:  # a failed query is reported in the table, the raw one still measured
                notes[name] = f"app {app.status_code}: {app.text[:160]}"
                continue
            body = app.json()
            if "groups" in body:
                same = {(g["key"], g["cases"], g["people"]) for g in body["groups"]} == {
                    (g["key"], g["cases"], g["people"]) for g in raw["groups"]
                }
                notes[name] = f"{len(body['groups'])} groups, {body['total_cases']:,} cases" + (
                    "" if same else " (COUNTS DIFFER from raw)"
                )
            else:
                same_total = body["total"] == raw["total"]
                same_ids = [i["id"] for i in body["items"]] == [i["id"] for i in raw["items"]]
                notes[name] = (
                    f"total {body['total']:,}"
                    + ("" if same_total else f" (raw {raw['total']:,})")
                    + ("" if same_ids else " (page differs from raw)")
                )
    return notes


def run_db(label: str, url: str, data_dir: Path, args: argparse.Namespace) -> list[str]:
    env, token, note = prepare(url, data_dir, args.cases, args.seed)
    print(f"\n## {label}: {note}", flush=True)
    lines = [
        f"| {label} query | app req/s | app p50 ms | app p95 ms | raw req/s | raw p50 ms | raw p95 ms | app/raw req/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    headers = {"Authorization": f"Bearer {token}"}
    with serve(env) as base:
        notes = check(base, token)
        for name, (_, path, params) in QUERIES.items():
            app_url, raw_url = base + path, f"{base}/bench/raw/{name}"
            app_ok = not notes.get(name, "").startswith("app ")  # "app <status>" or "app timed out"
            if app_ok:
                load(app_url, params, headers, args.warmup, args.threads)
            load(raw_url, [], {}, args.warmup, args.threads)
            # Throughput with `threads` clients at once; latency with one client (no queueing behind others).
            app_runs, raw_runs, app_solo, raw_solo = [], [], [], []
            for _ in range(args.rounds):  # interleaved, so drifting load hits both
                share = args.seconds / args.rounds / 2
                if app_ok:
                    app_runs.append(load(app_url, params, headers, share, args.threads))
                    app_solo.append(load(app_url, params, headers, share, 1))
                raw_runs.append(load(raw_url, [], {}, share, args.threads))
                raw_solo.append(load(raw_url, [], {}, share, 1))
            raw, raw_lat = merge(raw_runs), merge(raw_solo)
            raw_cells = f"{raw.rps:,.0f} | {raw_lat.pct(0.5):.1f} | {raw_lat.pct(0.95):.1f}"
            if app_ok:
                app, app_lat = merge(app_runs), merge(app_solo)
                lines.append(
                    f"| {name} | {app.rps:,.0f} | {app_lat.pct(0.5):.1f} | {app_lat.pct(0.95):.1f} | {raw_cells} | "
                    + (f"{app.rps / raw.rps:.2f}x |" if raw.rps else "– |")
                    + (f" {app.errors + app_lat.errors} app errors" if app.errors + app_lat.errors else "")
                    + (f" {raw.errors} raw errors" if raw.errors else "")
                )
            else:
                lines.append(f"| {name} | – | – | – | {raw_cells} | – (app: {notes[name][:60]}) |")
            print(lines[-1], flush=True)
    print()
    for name, (what, _, _) in QUERIES.items():
        print(f"- {name}: {what}; {notes.get(name, '')}")
    return lines


def merge(runs: list[Result]) -> Result:
    return Result(
        sum(r.requests for r in runs),
        sum(r.seconds for r in runs),
        [x for r in runs for x in r.latencies],
        sum(r.errors for r in runs),
    )


def pg_database(admin_url: str, name: str, fresh: bool) -> str:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if fresh and exists:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        if fresh or not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return "postgresql+psycopg://" + admin_url.split("://", 1)[1].rsplit("/", 1)[0] + f"/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--dir", type=Path, default=ROOT / "var" / "bench" / "search")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--pg-db", default="precedent_bench")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=6.0, help="measured seconds per endpoint and query")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--only", help="queries to run (default: all), by number: q1,q6")
    args = parser.parse_args()
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {name.split("_")[0] for name in QUERIES}
        if unknown:
            parser.error(f"unknown queries: {', '.join(sorted(unknown))}")
        for name in [name for name in QUERIES if name.split("_")[0] not in wanted]:
            del QUERIES[name]
    sys.path.insert(0, str(ROOT))
    print(f"# search bench: {args.cases:,} cases, {args.threads} client threads, page of {PAGE}")
    tables = []
    if args.db in ("sqlite", "both"):
        data_dir = args.dir / f"sqlite-{args.cases}-{args.seed}"
        if args.reseed and data_dir.exists():
            import shutil

            shutil.rmtree(data_dir)
        url = f"sqlite:///{(data_dir / 'precedent.sqlite3').resolve()}"
        tables.append(run_db("SQLite", url, data_dir, args))
    if args.db in ("postgres", "both"):
        marker = args.dir / f"pg-{args.pg_db}"
        url = pg_database(args.pg_url, args.pg_db, fresh=args.reseed)
        tables.append(run_db("PostgreSQL", url, marker, args))
    print()
    for table in tables:
        print("\n".join(table))
        print()


if __name__ == "__main__":
    main()
