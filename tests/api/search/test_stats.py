"""Statistics: grouped counts of cases and of victims equal brute-force counts over the same data, under the
same filters and visibility as the search; as JSON and as CSV."""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.db import normalise_url
from tests.api.search.test_facets import change
from tests.api.search.world import CANARY, Built, World, build_world, fold
from tests.conftest import Account
from tests.factories import API, create_case, create_person, involve, ok


@pytest.fixture
def world(client: TestClient, accounts: dict[str, Account]) -> World:
    return build_world(client, accounts)


def ancestors(code: str) -> set[str]:
    parts = code.split(".")
    return {".".join(parts[: i + 1]) for i in range(len(parts))}


def keys_of(case: Built, group_by: str) -> set[Any]:
    s = case.spec
    if group_by == "category":
        return {a for code in s.categories for a in ancestors(code)}
    if group_by == "year":
        return {f"{case.earliest.year:04d}"}
    if group_by == "month":
        precise = s.date_precision is None and len(s.occurred_from) >= 7
        return {case.earliest.strftime("%Y-%m") if precise else f"{case.earliest.year:04d}"}
    return {getattr(s, group_by)}


def brute_force(
    world: World, cases: list[Built], group_by: str
) -> tuple[dict[Any, tuple[int, int]], int, int]:
    case_sets: dict[Any, set[str]] = defaultdict(set)
    people_sets: dict[Any, set[str]] = defaultdict(set)
    for case in cases:
        if group_by == "victim_status":
            for person, status in world.victims(case):
                case_sets[status].add(case.id)
                people_sets[status].add(person)
            continue
        for key in keys_of(case, group_by):
            case_sets[key].add(case.id)
            people_sets[key] |= {p for p, _ in world.victims(case)}
    groups = {k: (len(case_sets[k]), len(people_sets[k])) for k in case_sets}
    everyone = {p for c in cases for p, _ in world.victims(c)}
    return groups, len(cases), len(everyone)


FILTERS: list[tuple[dict[str, Any], Any]] = [
    ({}, lambda w, c: True),
    (
        {"category": "A.LIB"},
        lambda w, c: any(a == "A.LIB" for code in c.spec.categories for a in ancestors(code)),
    ),
    (
        {"date_from": "2021", "date_to": "2021"},
        lambda w, c: c.latest.year >= 2021 and c.earliest.year <= 2021,
    ),
    (
        {"victim_status": "detained", "region": "гродзенская вобласць"},
        lambda w, c: (
            any(s == "detained" for _, s in w.victims(c))
            and c.spec.region is not None
            and fold(c.spec.region) == fold("Гродзенская вобласць")
        ),
    ),
    ({"q": "звольнены"}, lambda w, c: c.spec.title.startswith(("Арышт", "Restricted"))),
]
GROUPS = ["category", "year", "month", "country", "region", "employer", "victim_status"]


@pytest.mark.parametrize("role", ["researcher", "documenter", "coordinator"])
def test_stats_equal_brute_force_counts_for_every_grouping_and_filter(
    client: TestClient, world: World, accounts: dict[str, Account], role: str
) -> None:
    assert_stats_equal_brute_force(client, world, accounts[role], role)


def test_stats_read_in_ranges_of_pages_at_once_equal_brute_force_counts(
    client: TestClient,
    world: World,
    accounts: dict[str, Account],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("only PostgreSQL shares a large table's pages out among connections")
    from api.search import service

    engine = sa.create_engine(
        normalise_url(database_url), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    try:
        with engine.connect() as conn:
            # One case to a page, so that this small world spans many pages; then relpages, from which the
            # ranges are cut, counts them.
            conn.execute(sa.text("ALTER TABLE case_record SET (fillfactor = 10)"))
            conn.execute(sa.text("VACUUM FULL case_record"))
            conn.execute(sa.text("ANALYZE case_record"))
            pages = conn.execute(
                sa.text("SELECT relpages FROM pg_class WHERE relname = 'case_record'")
            ).scalar()
    finally:
        engine.dispose()
    assert pages >= 6  # so that each of the three ranges holds cases
    monkeypatch.setattr(service, "SPLIT_PAGES", 0)
    monkeypatch.setattr(service, "SPLIT_WAYS", 3)
    side = client.app.state.ctx.db.side_engine  # type: ignore[attr-defined]
    taken: list[int] = []

    def count_checkout(*_args: object) -> None:
        taken.append(1)

    sa.event.listen(side, "checkout", count_checkout)
    try:
        for role in ("researcher", "documenter"):
            assert_stats_equal_brute_force(client, world, accounts[role], role)
    finally:
        sa.event.remove(side, "checkout", count_checkout)
    # Each statistics request read its three ranges through the side pool (not one pass).
    requests = 2 * len(FILTERS) * len(GROUPS)
    assert len(taken) == 3 * requests


def assert_stats_equal_brute_force(client: TestClient, world: World, account: Account, role: str) -> None:
    visible = world.visible_to(role)
    for params, predicate in FILTERS:
        cases = [c for c in visible if predicate(world, c)]
        for group_by in GROUPS:
            body = ok(
                client.get(f"{API}/stats", params={**params, "group_by": group_by}, headers=account.headers)
            )
            expected, total_cases, total_people = brute_force(world, cases, group_by)
            got = {g["key"]: (g["cases"], g["people"]) for g in body["groups"]}
            assert got == expected, (role, params, group_by)
            assert (body["total_cases"], body["total_people"]) == (total_cases, total_people), (role, params)
            assert body["group_by"] == group_by
            assert all(g["label"] for g in body["groups"])


def test_a_case_under_two_leaves_of_a_node_counts_once_for_that_node(
    client: TestClient, world: World, coordinator: Account
) -> None:
    body = ok(client.get(f"{API}/stats", params={"group_by": "category"}, headers=coordinator.headers))
    groups = {g["key"]: g for g in body["groups"]}
    two_under_a = [
        c
        for c in world.visible_to("coordinator")
        if sum(code.startswith("A.") for code in c.spec.categories) >= 2
    ]
    assert two_under_a  # the extremism case is under A.LIB.CRIMINAL and A.DUE.EXTREMIST
    assert groups["A"]["cases"] == len(
        [
            c
            for c in world.visible_to("coordinator")
            if any(code.startswith("A.") for code in c.spec.categories)
        ]
    )
    assert groups["A.LIB.ARREST"]["label"] != "A.LIB.ARREST"  # a human label from the taxonomy


def test_people_and_cases_are_counted_apart(client: TestClient, world: World, coordinator: Account) -> None:
    body = ok(client.get(f"{API}/stats", params={"group_by": "victim_status"}, headers=coordinator.headers))
    groups = {g["key"]: g for g in body["groups"]}
    assert groups["dismissed"] == {"key": "dismissed", "label": "dismissed", "cases": 1, "people": 2}
    # "shared" is a victim in two cases: counted in both cases' groups but once in the total.
    assert groups["sentenced"]["cases"] == 2 and groups["sentenced"]["people"] == 1


def test_stats_as_csv(client: TestClient, world: World, researcher: Account) -> None:
    json_body = ok(client.get(f"{API}/stats", params={"group_by": "employer"}, headers=researcher.headers))
    for request in (
        {"params": {"group_by": "employer", "format": "csv"}, "headers": researcher.headers},
        {"params": {"group_by": "employer"}, "headers": {**researcher.headers, "Accept": "text/csv"}},
    ):
        response = client.get(f"{API}/stats", **request)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.text)))
        assert rows[0] == ["employer", "label", "cases", "people"]
        assert rows[-1] == ["", "total", str(json_body["total_cases"]), str(json_body["total_people"])]
        body = [[r[0], int(r[2]), int(r[3])] for r in rows[1:-1]]
        assert body == [[g["key"] or "", g["cases"], g["people"]] for g in json_body["groups"]]


def test_stats_respect_visibility_and_carry_no_identities(
    client: TestClient, world: World, accounts: dict[str, Account]
) -> None:
    doc2 = ok(
        client.get(f"{API}/stats", params={"group_by": "region"}, headers=accounts["documenter2"].headers)
    )
    assert doc2["total_cases"] == len(world.visible_to("documenter2")) == 2
    researcher = client.get(
        f"{API}/stats", params={"group_by": "victim_status"}, headers=accounts["researcher"].headers
    )
    assert CANARY not in researcher.text
    assert not re.search(r'"(identity|full_name|person_id|pseudonym)"', researcher.text)
    restricted = ok(
        client.get(
            f"{API}/stats",
            params={"group_by": "country", "confidentiality": "restricted"},
            headers=accounts["researcher"].headers,
        )
    )
    assert restricted == {"group_by": "country", "groups": [], "total_cases": 0, "total_people": 0}


def test_bad_stats_requests_are_422_problems(client: TestClient, world: World, researcher: Account) -> None:
    for params, field in (
        ({}, "query.group_by"),
        ({"group_by": "colour"}, "query.group_by"),
        ({"group_by": "year", "format": "xlsx"}, "query.format"),
        ({"group_by": "year", "sort": "date"}, "query.sort"),
        ({"group_by": "year", "category": "NOPE"}, "query.category"),
    ):
        response = client.get(f"{API}/stats", params=params, headers=researcher.headers)
        assert response.status_code == 422, params
        assert field in [e["field"] for e in response.json()["errors"]], params
    for value in ("' OR 1=1 --", '"; DROP TABLE case_record; --', "%", "NEAR(", "*"):
        response = client.get(
            f"{API}/stats", params={"group_by": "region", "employer": value}, headers=researcher.headers
        )
        assert response.status_code == 200
        assert response.json()["total_cases"] == 0


def test_a_person_named_in_a_second_case_counts_once_after_each_add_and_retraction(
    client: TestClient, documenter: Account, coordinator: Account
) -> None:
    """Each case lists its victims who are victims in other cases too: the earlier cases' lists change when a
    person is named again, or no longer."""
    employer = "Завод тэставых падзей"

    def counts(group_by: str) -> tuple[dict[Any, tuple[int, int]], int]:
        body = ok(
            client.get(
                f"{API}/stats",
                params={"group_by": group_by, "employer": employer},
                headers=coordinator.headers,
            )
        )
        return {g["key"]: (g["cases"], g["people"]) for g in body["groups"]}, body["total_people"]

    cases = [create_case(client, documenter, employer=employer, title=f"Case {n}")["id"] for n in range(3)]
    person = create_person(client, documenter, pseudonym="Named again")["id"]
    other = create_person(client, documenter, pseudonym="Named once")["id"]
    first = involve(client, documenter, cases[0], person_id=person, role="victim", victim_status="detained")
    involve(client, documenter, cases[0], person_id=other, role="victim", victim_status="detained")
    assert counts("year") == ({"2022": (3, 2)}, 2)

    second = involve(client, documenter, cases[1], person_id=person, role="victim", victim_status="released")
    assert counts("year") == ({"2022": (3, 2)}, 2)  # the first case now lists them too
    assert counts("victim_status") == ({"detained": (1, 2), "released": (1, 1)}, 2)

    change(
        client,
        documenter,
        f"{API}/cases/{cases[0]}/involvements/{first['id']}",
        {"reason": "named by mistake"},
        action="retract",
    )
    assert counts("victim_status") == ({"detained": (1, 1), "released": (1, 1)}, 2)
    involve(client, documenter, cases[2], person_id=person, role="victim", victim_status="sentenced")
    assert counts("year") == ({"2022": (3, 2)}, 2)
    assert counts("victim_status") == ({"detained": (1, 1), "released": (1, 1), "sentenced": (1, 1)}, 2)

    # No longer a victim in the second case (now a witness there), then named twice in the third.
    change(client, documenter, f"{API}/cases/{cases[1]}/involvements/{second['id']}", {"role": "witness"})
    assert counts("victim_status") == ({"detained": (1, 1), "sentenced": (1, 1)}, 2)
    involve(client, documenter, cases[2], person_id=person, role="victim", victim_status="detained")
    assert counts("victim_status") == ({"detained": (2, 2), "sentenced": (1, 1)}, 2)
    assert counts("year") == ({"2022": (3, 2)}, 2)
    # A union as a victim: a case's victim, not a person.
    union = ok(
        client.post(
            f"{API}/organisations",
            json={"name": "Незалежны прафсаюз", "kind": "union"},
            headers=documenter.headers,
        ),
        201,
    )
    involve(
        client, documenter, cases[1], organisation_id=union["id"], role="victim", victim_status="dismissed"
    )
    assert counts("victim_status") == ({"detained": (2, 2), "dismissed": (1, 0), "sentenced": (1, 1)}, 2)
