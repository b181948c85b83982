"""The search facets kept on each case follow every write: place fields, victim counts and victim statuses."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Account
from tests.factories import API, add_testimony, create_case, create_person, involve, ok


def found(client: TestClient, who: Account, case_id: str, **params: Any) -> bool:
    """Whether the case is among the matches of the filters."""
    page = ok(client.get(f"{API}/cases", params={**params, "limit": 200}, headers=who.headers))
    return case_id in {item["id"] for item in page["items"]}


def change(client: TestClient, who: Account, url: str, body: dict[str, Any], *, action: str = "") -> None:
    etag = client.get(url, headers=who.headers).headers["ETag"]
    target = f"{url}/{action}" if action else url
    method = client.post if action else client.patch
    ok(method(target, json=body, headers={**who.headers, "If-Match": etag}))


def test_victim_filters_follow_added_changed_and_retracted_involvements(
    client: TestClient, documenter: Account, researcher: Account
) -> None:
    case = create_case(client, documenter, title="Two workers of Naftan")
    cid = case["id"]
    assert found(client, researcher, cid, victims_max=0)

    def victim(pseudonym: str, status: str) -> dict[str, Any]:
        person = create_person(client, documenter, pseudonym=pseudonym)["id"]
        return involve(client, documenter, cid, person_id=person, role="victim", victim_status=status)

    first = victim("N-1", "detained")
    victim("N-2", "dismissed")
    involve(client, documenter, cid, person_id=create_person(client, documenter)["id"], role="witness")
    assert found(client, researcher, cid, victim_status="detained", victims_min=2, victims_max=2)
    assert found(client, researcher, cid, victim_status=["released", "dismissed"])
    assert not found(client, researcher, cid, victim_status="released")
    assert not found(client, researcher, cid, victims_min=3)

    url = f"{API}/cases/{cid}/involvements/{first['id']}"
    change(client, documenter, url, {"victim_status": "released"})
    assert found(client, researcher, cid, victim_status="released")
    assert not found(client, researcher, cid, victim_status="detained")

    change(client, documenter, url, {"role": "witness"})  # no longer a victim: its status goes with it
    assert not found(client, researcher, cid, victim_status="released")
    assert found(client, researcher, cid, victims_max=1, victims_min=1)

    second = client.get(f"{API}/cases/{cid}/involvements", headers=documenter.headers).json()
    victim = next(i for i in second if i["role"] == "victim")
    change(
        client,
        documenter,
        f"{API}/cases/{cid}/involvements/{victim['id']}",
        {"reason": "recorded twice"},
        action="retract",
    )
    assert found(client, researcher, cid, victims_max=0)
    assert not found(client, researcher, cid, victim_status="dismissed")


def test_place_filters_follow_edits_in_any_script_and_case(
    client: TestClient, documenter: Account, researcher: Account
) -> None:
    cid = create_case(client, documenter, region="Мінская вобласць", employer="БЕЛАЗ")["id"]
    assert found(client, researcher, cid, region="мінская вобласць", employer="белаз")
    change(client, documenter, f"{API}/cases/{cid}", {"region": "Гродзенская вобласць", "employer": None})
    assert found(client, researcher, cid, region="ГРОДЗЕНСКАЯ ВОБЛАСЦЬ")
    assert not found(client, researcher, cid, region="Мінская вобласць")
    assert not found(client, researcher, cid, employer="БЕЛАЗ")


def test_the_migration_fills_in_the_facets_the_services_keep(
    client: TestClient, documenter: Account, database_url: str
) -> None:
    import sqlalchemy as sa

    from api import migrate

    shared = create_person(client, documenter, pseudonym="Shared")["id"]
    released = create_person(client, documenter, pseudonym="Released")["id"]
    for n, (region, statuses) in enumerate(
        [("Мінская вобласць", ["detained", "released"]), ("Ёлкі", ["sentenced"]), (None, [])]
    ):
        cid = create_case(
            client,
            documenter,
            title=f"Case {n}",
            region=region,
            employer="Гродна Азот" if n else None,
            categories=["A.LIB.ADMIN", "C.DIS.DISMISSAL"] if n == 0 else ["A.LIB"],
        )["id"]
        for status in statuses:
            person = shared if status != "released" else released
            involve(client, documenter, cid, person_id=person, role="victim", victim_status=status)
    columns = (
        "region_fold, place_fold, employer_fold, sector_fold, victims, victim_mask, victim_people, victim_statuses, "
        "category_codes, victim_ids"
    )
    db = client.app.state.ctx.db  # type: ignore[attr-defined]

    def facets() -> list[tuple[Any, ...]]:
        with db.engine.connect() as conn:
            cases = conn.execute(sa.text(f"SELECT title, {columns} FROM case_record ORDER BY title")).all()  # noqa: S608
            people = conn.execute(sa.text("SELECT pseudonym, victim_cases FROM person ORDER BY id")).all()
        return [tuple(r) for r in cases] + [tuple(r) for r in people]

    kept = facets()
    assert kept[0][1:] == (
        "мінская вобласць",
        None,
        None,
        None,
        2,
        0b10001,
        2,
        "detained=1 released=1",
        "A.LIB.ADMIN C.DIS.DISMISSAL",
        f"{uuid.UUID(shared).hex}:detained",
    )  # detained (bit 0) and released (bit 4), one person each; only the one in another case is listed
    assert kept[1][1:4] == ("елкі", None, "гродна азот")
    assert ("Shared", 2) in kept
    db.dispose()
    migrate.downgrade(database_url, "0007")
    migrate.upgrade(database_url)
    assert facets() == kept


def test_upgrading_a_database_with_unindexed_records_indexes_their_words(
    client: TestClient,
    documenter: Account,
    researcher: Account,
    database_url: str,
    data_dir: Path,
    key_environment: Callable[[Path], None],
) -> None:
    # Migration 0007 created the full-text index empty: cases recorded before it were not found by their
    # words. The upgrade that follows indexes every unretracted case and testimony that has no index row.
    import sqlalchemy as sa

    from api import migrate

    cid = create_case(client, documenter, title="Звальненне на Гранітным камбінаце", narrative="Мікашэвічы")[
        "id"
    ]
    source = create_person(client, documenter)["id"]
    add_testimony(client, documenter, cid, source, text="Майстар сказаў: пішы заяву сам.")
    retracted = create_case(client, documenter, title="Граніт двойчы")["id"]
    change(client, documenter, f"{API}/cases/{retracted}", {"reason": "duplicate"}, action="retract")
    db = client.app.state.ctx.db  # type: ignore[attr-defined]
    with db.engine.begin() as conn:  # as on a database from before the index
        conn.execute(sa.text("DELETE FROM case_text"))
    assert not found(client, researcher, cid, q="гранітным")
    db.dispose()
    key_environment(data_dir)  # going back up through 0016 seals the testimonies again
    # Below 0016 a testimony's words are dropped, never opened into clear: the testimony comes back empty.
    migrate.downgrade(database_url, "0008")
    migrate.upgrade(database_url)
    assert found(client, researcher, cid, q="гранітным мікашэвічы")
    assert not found(client, researcher, retracted, q="граніт")
    with db.engine.connect() as conn:
        kinds = conn.execute(
            sa.text("SELECT kind, count(*) FROM case_text GROUP BY kind ORDER BY kind")
        ).all()
    assert [tuple(k) for k in kinds] == [("case", 1), ("testimony", 1)]
    migrate.upgrade(database_url)  # at head already: nothing runs twice
    db.dispose()


def test_a_rebuild_puts_right_every_list_of_people_in_several_cases(
    client: TestClient, documenter: Account
) -> None:
    """rebuild_victim_ids (as the demo seed runs it) rewrites a wrong list, fills an emptied one and empties one
    that should be empty."""
    import sqlalchemy as sa

    from api.search.index import rebuild_victim_ids

    person = create_person(client, documenter, pseudonym="Twice")["id"]
    once = create_person(client, documenter, pseudonym="Once")["id"]
    cases = [create_case(client, documenter, title=f"Case {n}")["id"] for n in range(3)]
    involve(client, documenter, cases[0], person_id=person, role="victim", victim_status="detained")
    involve(client, documenter, cases[1], person_id=person, role="victim")
    involve(client, documenter, cases[2], person_id=once, role="victim", victim_status="released")
    db = client.app.state.ctx.db  # type: ignore[attr-defined]
    listed = "SELECT title, victim_ids FROM case_record ORDER BY title"
    with db.engine.connect() as conn:
        kept = conn.execute(sa.text(listed)).all()
    hex_id = uuid.UUID(person).hex
    assert [ids for _, ids in kept] == [f"{hex_id}:detained", f"{hex_id}:-", ""]
    with db.write_engine.begin() as conn:
        for title, ids in [
            ("Case 0", f"{hex_id}:released"),
            ("Case 1", ""),
            ("Case 2", f"{uuid.UUID(once).hex}:-"),
        ]:
            conn.execute(
                sa.text("UPDATE case_record SET victim_ids = :ids WHERE title = :title"),
                {"ids": ids, "title": title},
            )
    with db.write_engine.begin() as conn:
        rebuild_victim_ids(conn)
    with db.engine.connect() as conn:
        assert conn.execute(sa.text(listed)).all() == kept
