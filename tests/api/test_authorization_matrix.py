"""Walk every API route for every role and ownership case, and check who is let in.

The table below must name every route the application serves: a new route without an entry fails the
first test, so nobody adds an endpoint without deciding who may use it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.custody import service as custody_service
from tests import media_files
from tests.conftest import Account
from tests.factories import API, add_testimony, create_case, create_person, involve, make_jpeg, ok, upload

CANARY = "Канарэйка Сцяпанаўна Тэставая"
_n = itertools.count()


@dataclass
class World:
    """Records owned by `documenter`, as a documenter would build them."""

    case: str
    person: str
    involvement: str
    testimony: str
    consent: str
    organisation: str
    target_user: str
    documenter2: str
    export: str
    evidence: str
    clearing: str = "00000000-0000-0000-0000-000000000000"  # made only for the clearing routes
    copy: dict[str, str] | None = None  # a recording's review copy, made only for the media review routes


def build_world(
    client: TestClient,
    documenter: Account,
    admin: Account,
    documenter2: Account,
    *,
    with_user: bool = False,
    with_clearing: bool = False,
    with_recording: bool = False,
) -> World:
    org = ok(
        client.post(
            f"{API}/organisations", json={"name": "Naftan", "kind": "employer"}, headers=documenter.headers
        ),
        201,
    )
    person = create_person(client, documenter, identity={"full_name": CANARY})
    case = create_case(client, documenter)
    inv = involve(
        client, documenter, case["id"], person_id=person["id"], role="victim", victim_status="detained"
    )
    tes = add_testimony(client, documenter, case["id"], person["id"])
    consent = ok(
        client.post(
            f"{API}/people/{person['id']}/consents",
            json={"audience": "ilo", "granted_at": "2026-01-10", "method": "written"},
            headers=documenter.headers,
        ),
        201,
    )
    evidence = upload(client, documenter, case["id"], make_jpeg(), filename="photo.jpg")
    copy = None
    if with_recording:  # decoding and encoding take time: only for the media review routes
        evidence = upload(client, documenter, case["id"], media_files.audio_flac(0.2), filename="voice.flac")
        made = ok(client.post(f"{API}/evidence/{evidence['id']}/review-copies", headers=admin.headers), 201)
        copy = {"derivative_id": made["id"], "derivative_digest": made["digest"]}
    target = ""
    if with_user:  # Argon2 makes accounts slow to create: only for the user routes
        body = {"username": f"target{next(_n)}", "role": "researcher"}
        target = ok(client.post(f"{API}/users", json=body, headers=admin.headers), 201)["id"]
    sheet = client.get(
        f"{API}/cases/{case['id']}/sheet", params={"audience": "public"}, headers=admin.headers
    )
    return World(
        case["id"],
        person["id"],
        inv["id"],
        tes["id"],
        consent["id"],
        org["id"],
        target,
        str(documenter2.user_id),
        sheet.headers["X-Export-Id"],
        evidence["id"],
        _clearing(client, admin, case["id"]) if with_clearing else World.clearing,
        copy,
    )


def _clearing(client: TestClient, admin: Account, case_id: str) -> str:
    """The id of the ILO clearing of the case's testimony, proposed by an admin (it opens every identity)."""
    proposed = ok(
        client.post(f"{API}/cases/{case_id}/clearings", json={"audience": "ilo"}, headers=admin.headers), 201
    )
    return str(next(c["id"] for c in proposed if c["source_kind"] == "testimony.text"))


Body = Callable[[World], Any]
OK = "ok"  # the request succeeds (2xx)

# Expected outcome per role: admin, coordinator, documenter (owner), documenter2 (stranger), researcher.
CASE_READ = (OK, OK, OK, 404, OK)
CASE_WRITE = (OK, OK, OK, 404, 403)
GUARDED_WRITE = (OK, OK, OK, 404, 403)
ADMIN_ONLY = (OK, 403, 403, 403, 403)
EVERYONE = (OK, OK, OK, OK, OK)
PERSON_READ = (OK, OK, OK, 404, OK)
CONSENT_READ = (OK, OK, OK, 404, 403)
ASSIGN = (OK, OK, 403, 403, 403)
CREATE = (OK, OK, OK, OK, 403)
OWN_EXPORT = (OK, 404, 404, 404, 404)  # the admin made it; only its maker (or an admin) may read its record
EVIDENCE_HANDLING = (OK, OK, OK, 404, 403)  # download, verify: documenters of the case, never researchers
RESEARCH = (OK, OK, 403, 403, OK)  # research exports: researchers and coordinators, not documenters
MEDIA_REVIEW = (OK, OK, 403, 403, 403)  # releasing recordings: coordinators and admins


@dataclass(frozen=True)
class Rule:
    expected: tuple[Any, ...]
    body: Body | None = None
    mutates: bool = False
    # Request keyword arguments other than a JSON body: files, raw content, query parameters.
    send: Callable[[World], dict[str, Any]] | None = None


ILO_REQUEST = {
    "complainant": {"name": "BKDP", "type": "national_directly_interested", "permanent_address": "Vilnius"},
    "signatory": {"name": "Chair", "function": "President"},
}
LOCAL_NODE = {
    "labels": {"en": "Detention at the border", "be": "Затрыманне на мяжы", "ru": "Задержание на границе"},
    "definition": {"en": "Stopped and held when crossing the border."},
}


def _retract(_: World) -> dict[str, str]:
    return {"reason": "entered twice"}


RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/auth/me"): Rule(EVERYONE),
    ("GET", "/auth/sessions"): Rule(EVERYONE),
    ("POST", "/auth/2fa/totp"): Rule(EVERYONE, mutates=True),
    ("DELETE", "/users/{user_id}/sessions"): Rule(ADMIN_ONLY, mutates=True),
    ("DELETE", "/users/{user_id}/2fa"): Rule(ADMIN_ONLY, mutates=True),
    ("DELETE", "/users/{user_id}/duress"): Rule(
        (409, 403, 403, 403, 403)
    ),  # 409: the account is not in duress
    ("GET", "/users"): Rule(ADMIN_ONLY),
    ("POST", "/users"): Rule(
        ADMIN_ONLY, lambda w: {"username": f"new{next(_n)}", "role": "researcher"}, True
    ),
    ("PATCH", "/users/{user_id}"): Rule(ADMIN_ONLY, lambda w: {"role": "documenter"}, True),
    ("POST", "/cases"): Rule(
        CREATE, lambda w: {"title": "x", "country": "BY", "occurred_from": "2022"}, True
    ),
    ("GET", "/cases"): Rule(EVERYONE),
    ("GET", "/stats"): Rule(EVERYONE, send=lambda w: {"params": {"group_by": "category"}}),
    ("GET", "/cases/{case_id}"): Rule(CASE_READ),
    ("PATCH", "/cases/{case_id}"): Rule(CASE_WRITE, lambda w: {"title": "Changed"}, True),
    ("POST", "/cases/{case_id}/retract"): Rule(CASE_WRITE, _retract, True),
    ("GET", "/cases/{case_id}/history"): Rule(CASE_READ),
    ("POST", "/cases/{case_id}/assignments"): Rule(ASSIGN, lambda w: {"user_id": w.documenter2}, True),
    ("POST", "/cases/{case_id}/involvements"): Rule(
        GUARDED_WRITE, lambda w: {"organisation_id": w.organisation, "role": "perpetrator"}, True
    ),
    ("GET", "/cases/{case_id}/involvements"): Rule(CASE_READ),
    ("GET", "/cases/{case_id}/involvements/{involvement_id}"): Rule(CASE_READ),
    ("PATCH", "/cases/{case_id}/involvements/{involvement_id}"): Rule(
        GUARDED_WRITE, lambda w: {"description": "seen at the gate"}, True
    ),
    ("POST", "/cases/{case_id}/involvements/{involvement_id}/retract"): Rule(GUARDED_WRITE, _retract, True),
    ("GET", "/cases/{case_id}/involvements/{involvement_id}/history"): Rule(CASE_READ),
    ("POST", "/cases/{case_id}/testimonies"): Rule(
        GUARDED_WRITE,
        lambda w: {"source_person_id": w.person, "language": "ru", "text": "Текст", "taken_at": "2026-01-11"},
        True,
    ),
    ("GET", "/cases/{case_id}/testimonies"): Rule(CASE_READ),
    ("GET", "/cases/{case_id}/testimonies/{testimony_id}"): Rule(CASE_READ),
    ("PATCH", "/cases/{case_id}/testimonies/{testimony_id}"): Rule(
        GUARDED_WRITE, lambda w: {"text": "Змена"}, True
    ),
    ("POST", "/cases/{case_id}/testimonies/{testimony_id}/retract"): Rule(GUARDED_WRITE, _retract, True),
    ("GET", "/cases/{case_id}/testimonies/{testimony_id}/history"): Rule(CASE_READ),
    ("POST", "/people"): Rule(CREATE, lambda w: {"pseudonym": "Source S-1"}, True),
    ("GET", "/people"): Rule(EVERYONE),
    ("GET", "/people/{person_id}"): Rule(PERSON_READ),
    ("PATCH", "/people/{person_id}"): Rule(GUARDED_WRITE, lambda w: {"occupation": "fitter"}, True),
    ("POST", "/people/{person_id}/retract"): Rule(GUARDED_WRITE, _retract, True),
    ("GET", "/people/{person_id}/history"): Rule(PERSON_READ),
    ("GET", "/people/{person_id}/consents"): Rule(CONSENT_READ),
    ("POST", "/people/{person_id}/consents"): Rule(
        CONSENT_READ,
        lambda w: {"audience": "ituc", "granted_at": "2026-01-12", "method": "oral_recorded"},
        True,
    ),
    ("POST", "/people/{person_id}/consents/{consent_id}/withdraw"): Rule(
        CONSENT_READ, lambda w: {"withdrawn_at": "2026-02-01"}, True
    ),
    ("GET", "/people/{person_id}/consents/{consent_id}/history"): Rule(CONSENT_READ),
    ("POST", "/organisations"): Rule(CREATE, lambda w: {"name": "Grodno Azot", "kind": "employer"}, True),
    ("GET", "/organisations"): Rule(EVERYONE),
    ("GET", "/organisations/{organisation_id}"): Rule(EVERYONE),
    ("PATCH", "/organisations/{organisation_id}"): Rule(CREATE, lambda w: {"sector": "chemicals"}, True),
    ("GET", "/organisations/{organisation_id}/history"): Rule(EVERYONE),
    ("GET", "/taxonomy"): Rule(EVERYONE),
    ("GET", "/taxonomy/{code}"): Rule(EVERYONE),
    ("POST", "/taxonomy/{code}/children"): Rule(
        ADMIN_ONLY, lambda w: LOCAL_NODE | {"slug": f"n{next(_n)}"}, True
    ),
    ("GET", "/vocabularies"): Rule(EVERYONE),
    ("POST", "/exports/ilo-cfa"): Rule(
        ASSIGN, lambda w: ILO_REQUEST | {"case_ids": [w.case], "format": "json"}
    ),
    ("GET", "/exports/ituc"): Rule(ASSIGN),
    ("GET", "/exports/research"): Rule(RESEARCH, send=lambda w: {"params": {"format": "csv"}}),
    ("POST", "/exports/huridocs"): Rule(ASSIGN, lambda w: {"case_ids": [w.case], "audience": "partner"}),
    ("POST", "/exports/preview"): Rule(CASE_WRITE, lambda w: {"case_ids": [w.case], "audience": "ilo"}),
    ("GET", "/exports/{export_id}"): Rule(OWN_EXPORT),
    ("GET", "/cases/{case_id}/sheet"): Rule(CASE_WRITE),
    ("GET", "/cases/{case_id}/bundle"): Rule(CASE_WRITE),
    ("POST", "/cases/{case_id}/evidence"): Rule(
        GUARDED_WRITE, mutates=True, send=lambda w: {"files": {"file": ("note.txt", b"a note")}}
    ),
    ("PUT", "/cases/{case_id}/evidence"): Rule(
        GUARDED_WRITE, mutates=True, send=lambda w: {"content": b"raw"}
    ),
    ("POST", "/cases/{case_id}/evidence/sighted"): Rule(
        GUARDED_WRITE,
        lambda w: {
            "description": "Order",
            "sighted_by": "K-7",
            "sighted_on": "2023-01-02",
            "content": "Text",
        },
        True,
    ),
    ("GET", "/cases/{case_id}/evidence"): Rule(CASE_READ),
    ("GET", "/evidence/{evidence_id}"): Rule(CASE_READ),
    ("GET", "/evidence/{evidence_id}/content"): Rule(EVIDENCE_HANDLING),
    ("POST", "/evidence/{evidence_id}/verify"): Rule(EVIDENCE_HANDLING),
    ("GET", "/evidence/{evidence_id}/custody"): Rule(CASE_READ),
    ("POST", "/evidence/{evidence_id}/derivatives"): Rule(
        GUARDED_WRITE, lambda w: {"method": "strip_metadata"}, True
    ),
    ("POST", "/evidence/{evidence_id}/review-copies"): Rule(MEDIA_REVIEW, mutates=True),
    ("GET", "/evidence/{evidence_id}/reviews"): Rule(CASE_READ),
    ("POST", "/evidence/{evidence_id}/reviews"): Rule(
        MEDIA_REVIEW, lambda w: {**(w.copy or {}), "decision": "refused"}, True
    ),
    ("GET", "/audit"): Rule(ADMIN_ONLY),
    # Clearing texts for outside audiences: coordinators change them; identity readers of the case read them.
    ("POST", "/cases/{case_id}/clearings"): Rule(ASSIGN, lambda w: {"audience": "ilo"}, True),
    ("GET", "/cases/{case_id}/clearings"): Rule(CONSENT_READ),
    ("GET", "/clearings/{clearing_id}"): Rule(CONSENT_READ),
    ("PATCH", "/clearings/{clearing_id}"): Rule(ASSIGN, lambda w: {"text": "Cleared."}, True),
    ("POST", "/clearings/{clearing_id}/approve"): Rule(ASSIGN, mutates=True),
    ("GET", "/clearings/{clearing_id}/history"): Rule(CONSENT_READ),
    ("GET", "/custody/key"): Rule(EVERYONE),
    ("GET", "/custody/tree-head"): Rule(EVERYONE),
    ("GET", "/custody/proof/inclusion"): Rule(
        EVERYONE, send=lambda w: {"params": {"leaf_index": 0, "tree_size": 1}}
    ),
    ("GET", "/custody/proof/consistency"): Rule(
        EVERYONE, send=lambda w: {"params": {"first": 1, "second": 1}}
    ),
}
# Routes checked elsewhere: logging in is public (test_auth), logging out revokes the caller's own token; the
# caller's own second factor, sessions and duress password (test_second_factor, test_sessions, test_duress).
UNMATRIXED = {
    ("POST", "/auth/token"),
    ("POST", "/auth/logout"),
    ("POST", "/auth/2fa/totp/confirm"),
    ("DELETE", "/auth/sessions"),
    ("DELETE", "/auth/sessions/{session_id}"),
    ("PUT", "/auth/duress-password"),
}
ROLES = ("admin", "coordinator", "documenter", "documenter2", "researcher")


def api_routes(client: TestClient) -> set[tuple[str, str]]:
    """Every (method, path) under /api/v1, read from the application's own OpenAPI document."""
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return {
        (method.upper(), path.removeprefix(API))
        for path, operations in paths.items()
        if path.startswith(API)
        for method in operations
    }


def fill(path: str, w: World) -> str:
    return API + path.format(
        case_id=w.case,
        involvement_id=w.involvement,
        testimony_id=w.testimony,
        person_id=w.person,
        consent_id=w.consent,
        organisation_id=w.organisation,
        user_id=w.target_user,
        code="A.LIB",
        export_id=w.export,
        evidence_id=w.evidence,
        clearing_id=w.clearing,
        session_id="00000000-0000-4000-8000-000000000000",
    )


def test_every_api_route_has_an_authorization_rule(client: TestClient) -> None:
    served = api_routes(client)
    assert served - set(RULES) - UNMATRIXED == set(), "routes without a rule"
    assert set(RULES) - served == set(), "rules for routes that do not exist"


def test_every_route_refuses_anonymous_callers(client: TestClient, accounts: dict[str, Account]) -> None:
    world = build_world(
        client, accounts["documenter"], accounts["admin"], accounts["documenter2"], with_user=True
    )
    for method, path in sorted(api_routes(client) - {("POST", "/auth/token")}):
        response = client.request(method, fill(path, world), json={})
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("method", "path"), sorted(RULES))
def test_route_admits_exactly_the_roles_it_should(
    client: TestClient, accounts: dict[str, Account], method: str, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rule = RULES[(method, path)]
    # Researchers are served the ledger as of the last full hour (tests/api/test_oracles.py); publish every
    # record at once, so that the proofs asked for exist for every role and only who is let in is tested.
    monkeypatch.setattr(custody_service, "published_hour", lambda: datetime.now(UTC) + timedelta(hours=1))

    def world_() -> World:
        return build_world(
            client,
            accounts["documenter"],
            accounts["admin"],
            accounts["documenter2"],
            with_user="{user_id}" in path,
            with_clearing="{clearing_id}" in path,
            with_recording="/review" in path,
        )

    shared = world_()
    for role, expected in zip(ROLES, rule.expected, strict=True):
        who = accounts[role]
        # A request that changes state gets a world of its own, so one role's success cannot mask another's.
        world = world_() if rule.mutates and expected == OK else shared
        headers = dict(who.headers)
        if method == "PATCH" or path.endswith(("/retract", "/approve")):
            headers["If-Match"] = '"v1"'
        body = rule.body(world) if rule.body else None
        extra = rule.send(world) if rule.send else {"json": body}
        response = client.request(method, fill(path, world), headers=headers, **extra)
        if expected == OK:
            assert 200 <= response.status_code < 300, (
                role,
                method,
                path,
                response.status_code,
                response.text,
            )
        else:
            assert response.status_code == expected, (role, method, path, response.status_code, response.text)
            assert response.headers["content-type"] == "application/problem+json"
        if role == "researcher":
            assert CANARY not in response.text, (method, path)
