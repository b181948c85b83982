"""`precedent demo seed`: what the synthetic data covers, that it is reproducible, and that the app reads it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api import migrate
from api.cases import dates
from api.config import Settings
from api.context import AppContext
from api.db import Database
from api.demo import seed as demo
from api.sealing import Sealer
from schemas.enums import DatePrecision
from tests.conftest import Account

API = "/api/v1"
CASES = 300


@pytest.fixture
def seeded(settings: Settings) -> demo.SeedReport:
    ctx = AppContext.build(settings)
    try:
        return demo.seed_demo(db=ctx.db, sealer=ctx.sealer, cases=CASES, seed=7, batch=64)
    finally:
        ctx.close()


def _rows(settings: Settings, sql: str) -> list[sa.Row[tuple[object, ...]]]:
    db = Database(settings.resolved_database_url)
    try:
        with db.engine.connect() as conn:
            return list(conn.execute(sa.text(sql)))
    finally:
        db.dispose()


# ---- what the data covers ---------------------------------------------------------------------------------


def test_report_counts_match_the_tables(settings: Settings, seeded: demo.SeedReport) -> None:
    assert seeded.rows["case_record"] == CASES
    for table in ("case_record", "case_category", "case_tag", "person", "involvement", "testimony"):
        assert _rows(settings, f"SELECT count(*) FROM {table}")[0][0] == seeded.rows[table], table  # noqa: S608
    reason = demo.REVISION_REASON
    revisions = _rows(settings, f"SELECT count(*) FROM revision WHERE reason = '{reason}'")[0][0]  # noqa: S608
    assert revisions == seeded.rows["revision"] > CASES


def test_the_search_index_written_with_the_cases_is_the_one_a_rebuild_makes(
    settings: Settings, seeded: demo.SeedReport
) -> None:
    from api.search.index import rebuild_text_index

    text = "source_id, kind, body" + (
        ", tsv::text" if settings.resolved_database_url.startswith("postgres") else ""
    )
    facets = (
        "region_fold, place_fold, employer_fold, sector_fold, victims, victim_mask, victim_people, victim_statuses, "
        "category_codes, victim_ids"
    )
    queries = [
        f"SELECT {text} FROM case_text ORDER BY source_id",  # noqa: S608
        f"SELECT id, {facets} FROM case_record ORDER BY id",  # noqa: S608
        "SELECT id, victim_cases FROM person ORDER BY id",
    ]
    written = [_rows(settings, sql) for sql in queries]
    assert len(written[0]) > CASES and any(n > 1 for _, n in written[2])  # testimonies; people in two cases
    ctx = AppContext.build(settings)
    try:
        with ctx.db.engine.begin() as conn:
            rebuild_text_index(conn, sealer=ctx.sealer)
    finally:
        ctx.close()
    assert [_rows(settings, sql) for sql in queries] == written


def test_cases_cover_every_area_precision_and_several_regions(
    settings: Settings, seeded: demo.SeedReport
) -> None:
    del seeded
    areas = {code[0] for (code,) in _rows(settings, "SELECT code FROM case_category WHERE is_primary")}
    assert areas == set("ABCDEFG")
    precisions = {p for (p,) in _rows(settings, "SELECT DISTINCT date_precision FROM case_record")}
    assert precisions == {p.value for p in DatePrecision}
    ranges = _rows(settings, "SELECT count(*) FROM case_record WHERE occurred_to IS NOT NULL")[0][0]
    assert ranges > 0
    regions = Counter(r for (r,) in _rows(settings, "SELECT region FROM case_record WHERE country = 'BY'"))
    assert len(regions) >= 5
    countries = Counter(c for (c,) in _rows(settings, "SELECT country FROM case_record"))
    assert countries.most_common(1)[0][0] == "BY"
    years = {
        d.year if isinstance(d, date) else int(str(d)[:4])
        for (d,) in _rows(settings, "SELECT date_lo FROM case_record")
    }
    assert min(years) <= 2017 and max(years) >= 2024
    employers = {e for (e,) in _rows(settings, "SELECT employer FROM case_record WHERE employer IS NOT NULL")}
    assert {"Belaruskali", "Grodno Azot", "Naftan"} <= employers


def test_every_case_has_one_primary_category_that_is_a_taxonomy_leaf(
    settings: Settings, seeded: demo.SeedReport
) -> None:
    del seeded
    rows = _rows(
        settings,
        "SELECT c.id, c.primary_category, count(cc.code), sum(CASE WHEN cc.is_primary THEN 1 ELSE 0 END) "
        "FROM case_record c JOIN case_category cc ON cc.case_id = c.id GROUP BY c.id, c.primary_category",
    )
    assert len(rows) == CASES
    assert all(primaries == 1 for *_, primaries in rows)
    leaves = {code for (code,) in _rows(settings, "SELECT code FROM taxonomy_node WHERE is_leaf")}
    assert {primary for _, primary, _, _ in rows} <= leaves


def test_searchable_interval_is_the_one_the_create_path_derives(
    settings: Settings, seeded: demo.SeedReport
) -> None:
    del seeded
    rows = _rows(
        settings, "SELECT occurred_from, occurred_to, date_precision, date_lo, date_hi FROM case_record"
    )
    as_date = lambda v: v if isinstance(v, date) or v is None else date.fromisoformat(str(v))  # noqa: E731
    for occurred_from, occurred_to, precision, lo, hi in rows:
        f, t = as_date(occurred_from), as_date(occurred_to)
        p = DatePrecision(precision)
        assert dates.normalise(f, p) == f
        assert dates.window(f, t, p) == (as_date(lo), as_date(hi))
        assert not dates.date_problems(f, t)


def test_victims_have_statuses_and_testimonies_come_in_three_languages(
    settings: Settings, seeded: demo.SeedReport
) -> None:
    del seeded
    statuses = Counter(
        s
        for (s,) in _rows(
            settings, "SELECT victim_status FROM involvement WHERE role = 'victim' AND person_id IS NOT NULL"
        )
    )
    assert None not in statuses
    assert {"detained", "sentenced", "released", "dismissed"} <= set(statuses)
    assert (
        _rows(
            settings, "SELECT count(*) FROM involvement WHERE victim_status IS NOT NULL AND role <> 'victim'"
        )[0][0]
        == 0
    )
    held_without_detention = _rows(
        settings,
        "SELECT count(*) FROM involvement WHERE victim_status IN ('detained', 'sentenced', 'on_trial') "
        "AND detention_type IS NULL",
    )[0][0]
    assert held_without_detention == 0
    assert {lang for (lang,) in _rows(settings, "SELECT DISTINCT language FROM testimony")} == {
        "be",
        "ru",
        "en",
    }
    assert {lang for (lang,) in _rows(settings, "SELECT DISTINCT language FROM case_record")} == {
        "be",
        "ru",
        "en",
    }
    perpetrators = _rows(settings, "SELECT count(*) FROM involvement WHERE role = 'perpetrator'")[0][0]
    assert perpetrators > CASES // 2


def test_people_are_pseudonymous_and_no_identity_is_stored(
    settings: Settings, seeded: demo.SeedReport
) -> None:
    del seeded
    assert _rows(settings, "SELECT count(*) FROM person_identity")[0][0] == 0
    pseudonyms = [p for (p,) in _rows(settings, "SELECT pseudonym FROM person")]
    assert pseudonyms and all(re.fullmatch(r"\w+ \w\.", p) for p in pseudonyms)


def test_references_are_unique_and_the_counter_continues_after_them(
    client: TestClient, settings: Settings, seeded: demo.SeedReport, documenter: Account
) -> None:
    del seeded
    references = [r for (r,) in _rows(settings, "SELECT reference FROM case_record")]
    assert len(set(references)) == CASES
    assert all(re.fullmatch(r"PR-20\d\d-\d{6}", r) for r in references)
    highest = dict(_rows(settings, "SELECT year, last_value FROM reference_counter"))
    per_year = Counter(int(r[3:7]) for r in references)
    assert {int(y): v for y, v in highest.items()} == dict(per_year)
    response = client.post(
        f"{API}/cases",
        json={"title": "Entered after the demo data", "occurred_from": "2024-05-01", "country": "BY"},
        headers=documenter.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["reference"] not in references


# ---- reproducible -----------------------------------------------------------------------------------------


def _fixed_context(existing: int = 0) -> demo._Context:
    ids = iter(uuid.UUID(int=n) for n in range(1, 1000))
    from api.demo import data

    return demo._Context(
        leaves=["A.LIB.ARREST", "A.LIB.CRIMINAL", "B.DIS.JUDICIAL", "C.DIS.DISMISSAL", "E.STR.SANCTIONS"],
        urgent_leaves=frozenset({"A.LIB.CRIMINAL"}),
        documenters=[next(ids), next(ids)],
        unions=[next(ids), next(ids)],
        employers={e.name: next(ids) for e in data.EMPLOYERS},
        state_bodies=[(next(ids), kind, ptype) for _, kind, ptype in data.STATE_BODIES],
        existing_cases=existing,
    )


_SEALED = ("sealed_text", "sealed_identity")  # sealed with a fresh random nonce each time, on purpose


def _generate(seed: int, existing: int = 0) -> dict[str, list[dict[str, object]]]:
    generator = demo.Generator(_fixed_context(existing), seed=seed, history=True, sealer=Sealer(bytes(32)))
    batch = demo._Batch()
    for _ in range(200):
        generator.add_case(batch)
    return batch.rows


def _unsealed(rows: dict[str, list[dict[str, object]]]) -> dict[str, list[dict[str, object]]]:
    return {
        table: [{k: v for k, v in r.items() if k not in _SEALED} for r in batch]
        for table, batch in rows.items()
    }


def test_same_seed_gives_the_same_rows_and_another_seed_different_ones() -> None:
    first, again, other = _generate(5), _generate(5), _generate(6)
    assert _unsealed(first) == _unsealed(again)
    assert first["testimony"] and all(isinstance(r["sealed_text"], bytes) for r in first["testimony"])
    assert first["case_record"] != other["case_record"]


def test_seeding_a_database_that_already_holds_cases_makes_new_identifiers() -> None:
    first, later = _generate(5, existing=0), _generate(5, existing=200)
    assert not {r["id"] for r in first["case_record"]} & {r["id"] for r in later["case_record"]}


def test_seeding_twice_adds_cases(settings: Settings, seeded: demo.SeedReport) -> None:
    ctx = AppContext.build(settings)
    try:
        demo.seed_demo(db=ctx.db, sealer=ctx.sealer, cases=50, seed=7, batch=64)
    finally:
        ctx.close()
    assert _rows(settings, "SELECT count(*) FROM case_record")[0][0] == seeded.cases + 50


# ---- the application reads it -----------------------------------------------------------------------------


def test_seeded_cases_read_back_through_the_api(
    client: TestClient, settings: Settings, seeded: demo.SeedReport, researcher: Account, coordinator: Account
) -> None:
    del seeded
    page = client.get(f"{API}/cases", params={"limit": 100}, headers=researcher.headers)
    assert page.status_code == 200, page.text
    assert len(page.json()["items"]) == 100
    visible = _rows(settings, "SELECT count(*) FROM case_record WHERE confidentiality <> 'restricted'")[0][0]
    seen, cursor = 0, None
    while True:
        params: dict[str, object] = {"limit": 100} | ({"cursor": cursor} if cursor else {})
        body = client.get(f"{API}/cases", params=params, headers=researcher.headers).json()
        seen += len(body["items"])
        cursor = body.get("next_cursor")
        if not cursor:
            break
    assert seen == visible
    with_testimony = [
        str(case_id) for (case_id,) in _rows(settings, "SELECT DISTINCT case_id FROM testimony")
    ][:15]
    for case_id in with_testimony:
        case_id = case_id if "-" in case_id else str(uuid.UUID(case_id))
        case = client.get(f"{API}/cases/{case_id}", headers=coordinator.headers)
        assert case.status_code == 200, case.text
        assert case.json()["categories"][0] == case.json()["primary_category"]
        involvements = client.get(f"{API}/cases/{case_id}/involvements", headers=coordinator.headers)
        assert involvements.status_code == 200, involvements.text
        assert involvements.json()
        testimonies = client.get(f"{API}/cases/{case_id}/testimonies", headers=coordinator.headers)
        assert testimonies.status_code == 200, testimonies.text
        assert {t["language"] for t in testimonies.json()} <= {"be", "ru", "en"}
        history = client.get(f"{API}/cases/{case_id}/history", headers=coordinator.headers)
        assert history.status_code == 200, history.text
        kinds = Counter(r["entity_type"] for r in history.json())
        assert kinds["case"] == 1 and kinds["testimony"] >= 1 and kinds["involvement"] >= 1
        creation = next(r for r in history.json() if r["entity_type"] == "case")
        assert creation["changes"]["reference"]["after"] == case.json()["reference"]


def test_seeded_people_read_back_through_the_api(
    client: TestClient, settings: Settings, seeded: demo.SeedReport, coordinator: Account
) -> None:
    del seeded
    for (person_id,) in _rows(settings, "SELECT id FROM person")[:10]:
        person_id = str(uuid.UUID(str(person_id)))
        response = client.get(f"{API}/people/{person_id}", headers=coordinator.headers)
        assert response.status_code == 200, response.text
        assert response.json()["identity"] is None


# ---- the command ------------------------------------------------------------------------------------------


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # A process of its own: the CLI caches its settings, so in-process runs would share one database.
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args], env=env, capture_output=True, text=True, check=False
    )


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PRECEDENT_DATABASE_URL": settings.resolved_database_url,
        "PRECEDENT_DATA_DIR": str(settings.data_dir),
        "PRECEDENT_SECRET_KEY": settings.secret_key.get_secret_value() if settings.secret_key else "",
        **extra,
    }


def test_command_seeds_and_the_schema_check_still_passes(settings: Settings) -> None:
    result = _cli("demo", "seed", "--cases", "120", "--batch", "50", env=_env(settings))
    assert result.returncode == 0, result.stderr
    assert "seeded 120 cases" in result.stdout
    assert _rows(settings, "SELECT count(*) FROM case_record")[0][0] == 120
    check = _cli("db", "check", env=_env(settings))
    assert check.returncode == 0, check.stdout + check.stderr
    db = Database(settings.resolved_database_url)
    try:
        with db.engine.connect() as conn:
            assert migrate.current_revision(conn) == migrate.head_revision()
    finally:
        db.dispose()


def test_command_refuses_production_mode_without_force(settings: Settings) -> None:
    env = _env(settings, PRECEDENT_MODE="production")
    result = _cli("demo", "seed", "--cases", "10", env=env)
    assert result.returncode == 1
    assert "production" in result.stderr
    assert _rows(settings, "SELECT count(*) FROM case_record")[0][0] == 0
    forced = _cli("demo", "seed", "--cases", "10", "--force", env=env)
    assert forced.returncode == 0, forced.stderr
    assert _rows(settings, "SELECT count(*) FROM case_record")[0][0] == 10


def test_verify_still_passes_after_seeding(
    settings: Settings, seeded: demo.SeedReport, tmp_path: Path
) -> None:
    del seeded, tmp_path
    ctx = AppContext.build(settings)
    try:
        from api.custody import check

        report = check.verify_everything(ctx=ctx, progress=lambda *_: None)
    finally:
        ctx.close()
    assert report.ok, report.findings
