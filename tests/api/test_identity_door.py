"""One audited door to identities: no path shows a sealed identity without an `identity.read` event, and
every refusal (403, or 404 for a record one may not see) is in the audit log too.

Written as the adversary: a hostile tester walks every route as every role looking for a canary name that
leaves without a record; a researcher and a stranger documenter probe cases that are not theirs.
"""

from __future__ import annotations

import ast
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.context import AppContext
from api.models import AuditEvent
from api.sealing import Sealer
from tests import leaks
from tests.api.test_authorization_matrix import CANARY, OK, ROLES, RULES, World, build_world, fill
from tests.conftest import PG_URL, Account
from tests.factories import API, create_case, create_person, ok, patch

ROOT = Path(__file__).resolve().parents[2]
NAME = "Аляксандр Ярашук"


# ---- helpers: what the audit log holds --------------------------------------------------------------------


def last_event_id(ctx: AppContext) -> int:
    with ctx.db.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(AuditEvent.id), 0))).scalar_one())


def events_since(ctx: AppContext, after: int, **where: Any) -> list[Any]:
    """Audit events after id `after` matching the given columns, oldest first."""
    conditions = [AuditEvent.id > after] + [getattr(AuditEvent, k) == v for k, v in where.items()]  # type: ignore[operator]
    with ctx.db.engine.connect() as conn:
        return list(conn.execute(sa.select(AuditEvent).where(*conditions).order_by(AuditEvent.id)).all())  # type: ignore[arg-type]


def identity_read_recorded(ctx: AppContext, after: int, actor: uuid.UUID, person: str) -> bool:
    """True if an identity.read event of `actor` after `after` names `person` (alone, or among its ids)."""
    for event in events_since(ctx, after, action="identity.read", actor_id=actor):
        if event.target_id == person or person in event.details.get("ids", []):
            return True
    return False


# ---- only the door opens sealed values ----------------------------------------------------------------------


def test_only_the_door_opens_sealed_values() -> None:
    """Sealer has no public open, and nothing but api/identity/door.py calls its private one (or its cipher)."""
    assert not hasattr(Sealer, "open")
    offenders = []
    for folder in ("api", "migrations", "evidence_store", "schemas"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                name = node.attr if isinstance(node, ast.Attribute) else None
                if name == "_open" and relative != "api/identity/door.py":
                    offenders.append(f"{relative}:{node.lineno} calls Sealer._open")
                if name == "_aead" and relative != "api/sealing.py":
                    offenders.append(f"{relative}:{node.lineno} reaches into the Sealer's cipher")
    assert offenders == [], "open sealed values through api.identity.door, which audits them"


# ---- the walk: every API route, every role ------------------------------------------------------------------


def _request(client: TestClient, who: Account, method: str, path: str, world: World) -> Any:
    rule = RULES[(method, path)]
    headers = dict(who.headers)
    if method == "PATCH" or path.endswith("/retract"):
        headers["If-Match"] = '"v1"'
    extra = rule.send(world) if rule.send else {"json": rule.body(world) if rule.body else None}
    return client.request(method, fill(path, world), headers=headers, **extra)


@pytest.mark.parametrize(("method", "path"), sorted(RULES))
def test_no_route_releases_an_identity_without_an_identity_read_event(
    client: TestClient, ctx: AppContext, accounts: dict[str, Account], method: str, path: str
) -> None:
    rule = RULES[(method, path)]

    def world_() -> World:
        return build_world(
            client,
            accounts["documenter"],
            accounts["admin"],
            accounts["documenter2"],
            with_user="{user_id}" in path,
        )

    shared = world_()
    for role, expected in zip(ROLES, rule.expected, strict=True):
        who = accounts[role]
        world = world_() if rule.mutates and expected == OK else shared
        before = last_event_id(ctx)
        response = _request(client, who, method, path, world)
        if leaks.find(response.content, [CANARY]):
            assert identity_read_recorded(ctx, before, who.user_id, world.person), (role, method, path)


def test_the_walk_sees_a_released_identity(
    client: TestClient, ctx: AppContext, accounts: dict[str, Account]
) -> None:
    """The walk above is not blind: a name the API does release is found in the answer, and recorded."""
    world = build_world(client, accounts["documenter"], accounts["admin"], accounts["documenter2"])
    before = last_event_id(ctx)
    response = _request(client, accounts["coordinator"], "GET", "/people/{person_id}", world)
    assert leaks.find(response.content, [CANARY])
    assert identity_read_recorded(ctx, before, accounts["coordinator"].user_id, world.person)


# ---- the routes the hostile tester found ----------------------------------------------------------------------


def test_an_empty_patch_of_a_person_records_the_identity_it_answers_with(
    client: TestClient, ctx: AppContext, documenter: Account
) -> None:
    person = create_person(client, documenter, identity={"full_name": NAME})
    before = last_event_id(ctx)
    answer = ok(patch(client, documenter, f"{API}/people/{person['id']}", '"v1"'))
    assert answer["identity"]["full_name"] == NAME
    [event] = events_since(ctx, before, action="identity.read")
    assert (event.actor_id, event.target_type, event.target_id) == (
        documenter.user_id,
        "person",
        person["id"],
    )
    assert event.details == {"kind": "person_identity", "purpose": "show"}


def test_changing_an_identity_records_one_read_in_the_same_commit_as_the_change(
    client: TestClient, ctx: AppContext, documenter: Account
) -> None:
    person = create_person(client, documenter, identity={"full_name": NAME})
    before = last_event_id(ctx)
    ok(
        patch(
            client,
            documenter,
            f"{API}/people/{person['id']}",
            '"v1"',
            identity={"name_ru": "Александр Ярошук"},
        )
    )
    # The merge opened the identity and the answer shows it: one event per request and person.
    [event] = events_since(ctx, before, action="identity.read")
    assert event.details["purpose"] == "update"


def test_retracting_a_person_records_the_identity_it_answers_with(
    client: TestClient, ctx: AppContext, documenter: Account
) -> None:
    person = create_person(client, documenter, identity={"full_name": NAME})
    before = last_event_id(ctx)
    response = client.post(
        f"{API}/people/{person['id']}/retract",
        json={"reason": "entered twice"},
        headers={**documenter.headers, "If-Match": '"v1"'},
    )
    assert ok(response)["identity"]["full_name"] == NAME
    assert identity_read_recorded(ctx, before, documenter.user_id, person["id"])


def test_a_persons_history_records_the_identity_values_it_shows(
    client: TestClient, ctx: AppContext, documenter: Account, coordinator: Account, researcher: Account
) -> None:
    person = create_person(client, documenter, identity={"full_name": NAME})
    ok(
        patch(
            client,
            documenter,
            f"{API}/people/{person['id']}",
            '"v1"',
            identity={"name_ru": "Александр Ярошук"},
        )
    )
    before = last_event_id(ctx)
    history = ok(client.get(f"{API}/people/{person['id']}/history", headers=coordinator.headers))
    assert history[0]["changes"]["identity.full_name"]["after"] == NAME
    [event] = events_since(ctx, before, action="identity.read")
    assert (event.actor_id, event.target_id) == (coordinator.user_id, person["id"])
    assert event.details == {"kind": "identity_revision", "purpose": "history"}
    # A researcher sees the history without the values, and nothing is opened for them.
    before = last_event_id(ctx)
    hidden = client.get(f"{API}/people/{person['id']}/history", headers=researcher.headers)
    assert NAME not in hidden.text
    assert events_since(ctx, before, action="identity.read") == []


def test_a_list_of_people_is_one_event_naming_every_identity_shown(
    client: TestClient, ctx: AppContext, documenter: Account, coordinator: Account
) -> None:
    first = create_person(client, documenter, pseudonym="Witness A-1", identity={"full_name": NAME})
    second = create_person(client, documenter, pseudonym="Witness A-2", identity={"full_name": "Іна Ярашук"})
    before = last_event_id(ctx)
    ok(client.get(f"{API}/people", headers=coordinator.headers))
    [event] = events_since(ctx, before, action="identity.read")
    assert event.target_id is None
    assert set(event.details["ids"]) >= {first["id"], second["id"]}


def test_exports_record_the_identities_they_opened(
    client: TestClient, ctx: AppContext, documenter: Account, coordinator: Account
) -> None:
    world = build_world(client, documenter, coordinator, documenter)
    before = last_event_id(ctx)
    sheet = client.get(
        f"{API}/cases/{world.case}/sheet", params={"audience": "public"}, headers=coordinator.headers
    )
    assert sheet.status_code == 200
    [event] = events_since(ctx, before, action="identity.read")
    assert event.target_id == world.person and event.details["purpose"] == "export"


def test_the_audit_log_holds_ids_never_the_names_it_recorded_reading(
    client: TestClient, ctx: AppContext, documenter: Account, coordinator: Account
) -> None:
    world = build_world(client, documenter, coordinator, documenter)
    before = last_event_id(ctx)
    for url in (
        f"/people/{world.person}",
        f"/people/{world.person}/history",
        "/people",
        f"/cases/{world.case}/sheet",
    ):
        assert client.get(API + url, headers=coordinator.headers).status_code == 200, url
    events = events_since(ctx, before)
    assert len(events) >= 4
    assert leaks.find(repr([tuple(e) for e in events]).encode(), [CANARY, "Канарэйка"]) == []


def test_an_identity_is_not_released_when_its_read_cannot_be_recorded(
    client: TestClient, ctx: AppContext, documenter: Account, coordinator: Account
) -> None:
    """Fail closed: a database that refuses the identity.read event gets no identity out of the API."""
    person = create_person(client, documenter, identity={"full_name": CANARY})
    refuse_identity_reads(ctx)
    for who in (coordinator, documenter):
        response = client.get(f"{API}/people/{person['id']}", headers=who.headers)
        assert response.status_code >= 500, response.text
        assert leaks.find(response.content, [CANARY]) == []
    etag_patch = patch(client, documenter, f"{API}/people/{person['id']}", '"v1"')
    assert etag_patch.status_code >= 500
    assert leaks.find(etag_patch.content, [CANARY]) == []


def refuse_identity_reads(ctx: AppContext) -> None:
    """Make the database refuse every identity.read event (as a full disk or a broken log would)."""
    with ctx.db.write_engine.begin() as conn:
        if PG_URL:
            conn.execute(
                sa.text(
                    "CREATE FUNCTION refuse_identity_read() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    "IF NEW.action = 'identity.read' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$"
                )
            )
            conn.execute(
                sa.text(
                    "CREATE TRIGGER refuse_identity_read BEFORE INSERT ON audit_event "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_identity_read()"
                )
            )
        else:
            conn.execute(
                sa.text(
                    "CREATE TRIGGER refuse_identity_read BEFORE INSERT ON audit_event "
                    "WHEN NEW.action = 'identity.read' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )


# ---- denials --------------------------------------------------------------------------------------------------


def test_a_researchers_403_is_recorded_without_the_body(
    client: TestClient, ctx: AppContext, documenter: Account, researcher: Account
) -> None:
    case = create_case(client, documenter)
    before = last_event_id(ctx)
    response = client.patch(
        f"{API}/cases/{case['id']}",
        json={"title": CANARY},
        headers={**researcher.headers, "If-Match": '"v1"'},
    )
    assert response.status_code == 403
    [event] = events_since(ctx, before, action="access.denied")
    assert (event.actor_id, event.target_type, event.target_id) == (researcher.user_id, "case", case["id"])
    assert event.details == {"route": "/api/v1/cases/{case_id}", "method": "PATCH", "status": 403}
    assert CANARY not in repr(tuple(event))


def test_a_documenters_404_on_another_documenters_case_is_recorded(
    client: TestClient, ctx: AppContext, documenter: Account, documenter2: Account
) -> None:
    case = create_case(client, documenter)
    before = last_event_id(ctx)
    for method, url in (("GET", f"/cases/{case['id']}"), ("GET", f"/cases/{case['id']}/evidence")):
        assert client.request(method, API + url, headers=documenter2.headers).status_code == 404
    events = events_since(ctx, before, action="access.denied")
    assert [(e.actor_id, e.target_type, e.target_id, e.details["status"]) for e in events] == [
        (documenter2.user_id, "case", case["id"], 404),
        (documenter2.user_id, "case", case["id"], 404),
    ]
    assert [e.details["route"] for e in events] == [
        "/api/v1/cases/{case_id}",
        "/api/v1/cases/{case_id}/evidence",
    ]


def test_a_stranger_adding_to_another_documenters_case_is_recorded(
    client: TestClient, ctx: AppContext, documenter: Account, documenter2: Account
) -> None:
    case = create_case(client, documenter)
    person = create_person(client, documenter2, identity={"full_name": NAME})
    before = last_event_id(ctx)
    # The stranger's own person is fine, the case is not theirs: the involvement is refused (404).
    response = client.post(
        f"{API}/cases/{case['id']}/involvements",
        json={"person_id": person["id"], "role": "witness"},
        headers=documenter2.headers,
    )
    assert response.status_code == 404
    [event] = events_since(ctx, before, action="access.denied")
    assert event.target_id == case["id"] and event.details["method"] == "POST"
    assert events_since(ctx, before, action="identity.read") == []


def test_unauthenticated_requests_are_not_recorded_as_denials(client: TestClient, ctx: AppContext) -> None:
    before = last_event_id(ctx)
    assert client.get(f"{API}/people/{uuid.uuid4()}").status_code == 401
    assert events_since(ctx, before) == []
