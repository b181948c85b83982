"""Verifying a custody ledger of 1,000,000 records, against plain hashlib over the same stored bytes (issue 4).

A fresh database (SQLite in --dir by default, or --database-url for PostgreSQL) is migrated and filled with
one million version-1 ledger records exactly as ``append_event`` writes them (canonical JSON leaves of about
330 bytes, their RFC 6962 leaf hashes), and a signed tree head over all of them. Then, median of --runs:

- baseline: read every stored leaf from the database in leaf order and ``hashlib.sha256(leaf).digest()`` it;
- ``precedent verify`` without the column check: leaf hashes compared, the Merkle tree built, the signed
  head's signature and root checked (what a third party can check from the leaves alone);
- ``precedent verify``'s full ledger check: the above plus every leaf parsed and compared with its row;
- the same two pure hashing paths on leaves already in memory (no database), for the record.

It also times a fresh process's first tree load (what the API pays once, on its first proof request).

    .venv/bin/python bench/bench_custody_verify.py [--records 1000000] [--runs 3] [--database-url URL]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]


def median_seconds(function: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fill(ctx, records: int) -> None:  # type: ignore[no-untyped-def]
    """Insert ``records`` ledger rows as append_event writes them, plus the rows they refer to."""
    from api.auth import service as auth_service
    from api.auth.security import Actor
    from api.cases import service as cases_service
    from api.custody.service import leaf_record
    from api.models import CustodyEvent, EvidenceItem
    from evidence_store.canonical import canonical_json
    from evidence_store.digest import Digest
    from evidence_store.treehead import format_timestamp
    from schemas.case import CaseCreate
    from schemas.custody import CustodyAction
    from schemas.enums import Role

    with ctx.db.write_session() as session:
        user, _ = auth_service.create_user(
            session=session, username="bench", role=Role.DOCUMENTER, password="x" * 16
        )
        actor = Actor.for_user(user.id, user.username, user.role)
        case = cases_service.create_case(
            session=session,
            actor=actor,
            case_in=CaseCreate(title="Bench", country="BY", occurred_from="2022-04-19"),
        )
    items = [uuid.uuid4() for _ in range(1000)]
    now = datetime.now(UTC).replace(microsecond=0)
    with ctx.db.write_engine.begin() as conn:
        conn.execute(
            sa.insert(EvidenceItem.__table__),  # type: ignore[attr-defined]
            [
                {
                    "id": i,
                    "case_id": case.id,
                    "form": "file",
                    "kind": "photo",
                    "created_by": user.id,
                    "created_at": now,
                }
                for i in items
            ],
        )
    actions = list(CustodyAction)
    insert = sa.insert(CustodyEvent.__table__)  # type: ignore[attr-defined]
    batch: list[dict[str, object]] = []
    for index in range(records):
        moment = now + timedelta(milliseconds=index)
        action = actions[index % 4]
        evidence = items[index % len(items)]
        digest = Digest(hashlib.sha256(index.to_bytes(8, "big")).hexdigest())
        details = {"size": index * 37 % 10**9, "media_type": "image/jpeg"}
        leaf = canonical_json(
            leaf_record(
                seq=index, time=format_timestamp(moment), actor_id=user.id, action=action,
                evidence_id=evidence, object_digest=digest, details=details,
            )
        )  # fmt: skip
        batch.append(
            {"leaf_index": index, "recorded_at": moment, "actor_id": user.id, "action": action.value,
             "evidence_id": evidence, "object_digest": str(digest), "details": details, "leaf": leaf,
             "leaf_hash": hashlib.sha256(b"\x00" + leaf).digest()}
        )  # fmt: skip
        if len(batch) == 20_000:
            with ctx.db.write_engine.begin() as conn:
                conn.execute(insert, batch)
            batch = []
    if batch:
        with ctx.db.write_engine.begin() as conn:
            conn.execute(insert, batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument("--database-url", default=None, help="an empty PostgreSQL database (default: SQLite)")
    args = parser.parse_args()

    args.dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=args.dir, prefix="ledger-"))
    os.environ["PRECEDENT_DATA_DIR"] = str(work)
    os.environ["PRECEDENT_SECRET_KEY"] = "bench-secret-key-0123456789-0123456789-0123"  # noqa: S105
    if args.database_url:
        os.environ["PRECEDENT_DATABASE_URL"] = args.database_url
    from api import migrate
    from api.config import Settings
    from api.context import AppContext
    from api.custody import check
    from api.custody import service as custody_service
    from evidence_store.merkle import MerkleTree

    settings = Settings()
    migrate.upgrade(settings.resolved_database_url)
    ctx = AppContext.build(settings)
    print(f"load average at start: {os.getloadavg()}; database {ctx.db.url.get_backend_name()}", flush=True)
    started = time.perf_counter()
    fill(ctx, args.records)
    print(f"filled {args.records} records in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    head = custody_service.latest_signed_head(ctx=ctx)
    print(
        f"first tree load of a fresh process + signing: {time.perf_counter() - started:.2f} s (tree size {head.tree_size})"
    )

    with ctx.db.engine.connect() as conn:
        average = conn.execute(sa.text("SELECT avg(length(leaf)) FROM custody_event")).scalar_one()
    leaves: list[bytes] = []

    def baseline_db() -> None:
        sha256 = hashlib.sha256
        leaves.clear()
        for rows in check._ledger_rows(ctx, "leaf"):
            batch = [row[0] for row in rows]
            for leaf in batch:
                sha256(leaf).digest()
            leaves.extend(batch)

    def ours(check_columns: bool) -> Callable[[], None]:
        def run() -> None:
            report = check.IntegrityReport()
            tree = check.verify_ledger(ctx=ctx, report=report, check_columns=check_columns)
            check.verify_tree_heads(ctx=ctx, report=report, tree=tree)
            assert report.ok, report.findings[:3]

        return run

    def baseline_memory() -> None:
        sha256 = hashlib.sha256
        for leaf in leaves:
            sha256(leaf).digest()

    def ours_memory() -> None:
        sha256 = hashlib.sha256
        MerkleTree.from_leaf_hashes([sha256(b"\x00" + leaf).digest() for leaf in leaves]).root()

    base = median_seconds(baseline_db, args.runs)
    rows = [
        ("baseline: read leaves + hashlib.sha256 each", base, base),
        ("verify: leaf hashes + Merkle tree + signed head", median_seconds(ours(False), args.runs), base),
        (
            "verify: the above + leaf vs columns (precedent verify)",
            median_seconds(ours(True), args.runs),
            base,
        ),
    ]
    memory_base = median_seconds(baseline_memory, args.runs)
    rows += [
        ("in memory: hashlib.sha256 each", memory_base, memory_base),
        ("in memory: leaf hashes + Merkle tree", median_seconds(ours_memory, args.runs), memory_base),
    ]
    print(f"\n{args.records} records, {average:.0f} B per leaf on average, median of {args.runs} runs")
    for name, seconds, reference in rows:
        print(
            f"{name:56s} {seconds:6.2f} s  {args.records / seconds / 1e6:5.2f} M/s  {reference / seconds:.2f}x"
        )
    print(f"\nload average at end: {os.getloadavg()}")
    ctx.close()


if __name__ == "__main__":
    main()
