"""Restricted cases stay inside: every export route, API and web, refuses to send one to an outside audience
unless a coordinator overrides with a reason, which is audited, sealed (issue 19).

Written as the careless or hostile exporter: a coordinator who forgets the case is restricted, a documenter who
recorded it and would publish it, a reason too short to mean anything.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi.testclient import TestClient
from sqlmodel import col, select

from api.config import Settings
from api.context import AppContext
from api.models import AuditEvent, CustodyEvent, ExportRecord
from tests.conftest import Account
from tests.factories import API, create_case, create_person, involve, make_jpeg, ok, upload
from tests.web.conftest import browser_factory, csrf_of, sign_in  # noqa: F401 (browser_factory: a fixture)

REASON = "Board decision 2026-03-02: the family asked us to publish; consent letter on file."
COMPLAINANT = {
    "name": "Belarusian Congress of Democratic Trade Unions (in exile)",
    "type": "national_directly_interested",
    "permanent_address": "Vilnius, Lithuania",
}


@dataclass
class World:
    restricted: dict[str, Any]
    open: dict[str, Any]


@pytest.fixture
def world(client: TestClient, documenter: Account) -> World:
    """A restricted case recorded by `documenter` (a victim without consent, a photo), and an open one."""
    restricted = create_case(client, documenter, confidentiality="restricted", title="Затрыманне ў Гродне")
    person = create_person(client, documenter)
    involve(
        client, documenter, restricted["id"], person_id=person["id"], role="victim", victim_status="detained"
    )
    upload(client, documenter, restricted["id"], make_jpeg(), filename="photo.jpg")
    return World(restricted=restricted, open=create_case(client, documenter))


# ---- every API export route ---------------------------------------------------------------------------------

Send = Callable[[TestClient, Account, World, dict[str, str]], Any]


def _ilo(client: TestClient, who: Account, world: World, extra: dict[str, str]) -> Any:
    body = {
        "case_ids": [world.restricted["id"]],
        "complainant": COMPLAINANT,
        "signatory": {"name": "Secretary", "function": "International secretary"},
        "format": "json",
        **extra,
    }
    return client.post(f"{API}/exports/ilo-cfa", json=body, headers=who.headers)


def _ituc(client: TestClient, who: Account, world: World, extra: dict[str, str]) -> Any:
    params = {"case_id": world.restricted["id"], **extra}
    return client.get(f"{API}/exports/ituc", params=params, headers=who.headers)


def _ituc_everything(client: TestClient, who: Account, world: World, extra: dict[str, str]) -> Any:
    return client.get(f"{API}/exports/ituc", params=extra, headers=who.headers)  # "all you may see"


def _huridocs(audience: str) -> Send:
    def send(client: TestClient, who: Account, world: World, extra: dict[str, str]) -> Any:
        body = {"case_ids": [world.open["id"], world.restricted["id"]], "audience": audience, **extra}
        return client.post(f"{API}/exports/huridocs", json=body, headers=who.headers)

    return send


def _case_file(kind: str, audience: str) -> Send:
    def send(client: TestClient, who: Account, world: World, extra: dict[str, str]) -> Any:
        params = {"audience": audience, **extra}
        return client.get(f"{API}/cases/{world.restricted['id']}/{kind}", params=params, headers=who.headers)

    return send


ROUTES: dict[str, tuple[Send, str]] = {
    "ilo-cfa": (_ilo, "body"),
    "ituc": (_ituc, "query"),
    "ituc, every case": (_ituc_everything, "query"),
    "huridocs partner": (_huridocs("partner"), "body"),
    "huridocs public": (_huridocs("public"), "body"),
    "sheet partner": (_case_file("sheet", "partner"), "query"),
    "bundle public": (_case_file("bundle", "public"), "query"),
}


def _reason_field(where: str, reason: str) -> dict[str, str]:
    return {"override_reason": reason}


def _left(ctx: AppContext) -> tuple[int, int, list[str]]:
    """What an export leaves behind: export records, ledger 'exported' records, audit actions of exports."""
    with ctx.db.session(write=False) as session:
        records = len(session.exec(select(ExportRecord)).all())
        exported = len(session.exec(select(CustodyEvent).where(col(CustodyEvent.action) == "exported")).all())
        actions = [e.action for e in session.exec(select(AuditEvent)) if e.action.startswith("export.")]
    return records, exported, actions


def _overrides(ctx: AppContext) -> list[AuditEvent]:
    with ctx.db.session(write=False) as session:
        query = select(AuditEvent).where(col(AuditEvent.action) == "export.restricted_override")
        return list(session.exec(query).all())


def _unseal(settings: Settings, event: AuditEvent) -> str:
    """Open the sealed reason with the identity key, under the context bound to its audit record."""
    key = base64.b64decode((settings.keys_dir / "identity.key").read_text().strip())
    sealed = base64.b64decode(event.details["reason_sealed"])
    context = f"export-override:{event.target_id}".encode()
    return str(json.loads(AESGCM(key).decrypt(sealed[:12], sealed[12:], context))["reason"])


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_restricted_case_is_refused_for_outside_audiences_and_nothing_leaves(
    client: TestClient, ctx: AppContext, coordinator: Account, world: World, route: str
) -> None:
    send, _ = ROUTES[route]
    response = send(client, coordinator, world, {})
    problem = ok(response, 409)
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["type"] == "/problems/restricted-export"
    assert problem["cases"] == [world.restricted["reference"]], "only the restricted case is named"
    assert "override_reason" in problem["detail"]
    assert _left(ctx) == (0, 0, []), "a refused export leaves no file, no record and no ledger entry"


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_coordinator_override_releases_and_is_audited_with_the_reason_sealed(
    client: TestClient, ctx: AppContext, settings: Settings, coordinator: Account, world: World, route: str
) -> None:
    send, where = ROUTES[route]
    response = send(client, coordinator, world, _reason_field(where, f"  {REASON}  "))
    assert response.status_code == 200, response.text
    response.read()  # a bundle is recorded once its last byte is sent
    (override,) = _overrides(ctx)
    assert override.actor_id == coordinator.user_id
    assert override.details["cases"] == [world.restricted["id"]]
    assert override.details["audience"] in ("ilo", "ituc", "partner", "public")
    # The coordinator's words are kept whole, and only sealed: nothing of them is readable in the log.
    assert "Board decision" not in json.dumps(override.details, ensure_ascii=False)
    assert _unseal(settings, override) == REASON
    records, exported, actions = _left(ctx)
    assert records == 1 and exported >= 1
    assert actions.count("export.restricted_override") == 1 and len(actions) == 2


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_reason_too_short_to_mean_anything_is_a_422_naming_the_field(
    client: TestClient, ctx: AppContext, coordinator: Account, world: World, route: str
) -> None:
    send, where = ROUTES[route]
    problem = ok(send(client, coordinator, world, _reason_field(where, "approved, ok   ")), 422)
    assert [e["field"] for e in problem["errors"]] == [f"{where}.override_reason"]
    assert "approved" not in json.dumps(problem), "the rejected text is not echoed"
    assert _left(ctx) == (0, 0, [])


def test_a_documenter_cannot_override_for_a_restricted_case_they_recorded(
    client: TestClient, ctx: AppContext, documenter: Account, world: World
) -> None:
    send = _case_file("bundle", "public")
    assert ok(send(client, documenter, world, {}), 409)["cases"] == [world.restricted["reference"]]
    refused = ok(send(client, documenter, world, {"override_reason": REASON}), 403)
    assert "coordinator" in refused["detail"]
    assert _left(ctx) == (0, 0, []) and _overrides(ctx) == []


def test_internal_exports_of_a_restricted_case_need_no_override(
    client: TestClient, ctx: AppContext, coordinator: Account, world: World
) -> None:
    for kind in ("sheet", "bundle"):
        response = _case_file(kind, "internal")(client, coordinator, world, {})
        assert response.status_code == 200, response.text
        response.read()
    assert _overrides(ctx) == []
    # A reason given where none is needed is not an override: nothing is recorded as one.
    given = _case_file("sheet", "internal")(client, coordinator, world, {"override_reason": REASON})
    assert given.status_code == 200 and _overrides(ctx) == []


def test_a_preview_shows_what_would_be_withheld_and_records_no_override(
    client: TestClient, ctx: AppContext, coordinator: Account, world: World
) -> None:
    body = {"case_ids": [world.restricted["id"]], "audience": "public"}
    withheld = ok(client.post(f"{API}/exports/preview", json=body, headers=coordinator.headers))
    assert "Witness K-7" in [w["pseudonym"] for w in withheld]
    assert _left(ctx) == (0, 0, []) and _overrides(ctx) == []


# ---- the web export page --------------------------------------------------------------------------------------


@pytest.fixture
def web(browser_factory: Callable[[], TestClient]) -> TestClient:  # noqa: F811 (the imported fixture)
    """A browser on the application, not signed in."""
    return browser_factory()


def _web_world(web: TestClient, documenter: Account) -> World:
    restricted = create_case(web, documenter, confidentiality="restricted")
    return World(restricted=restricted, open=create_case(web, documenter))


def test_the_page_asks_a_coordinator_for_a_reason_and_offers_no_plain_download(
    web: TestClient, documenter: Account, coordinator: Account
) -> None:
    world = _web_world(web, documenter)
    sign_in(web, coordinator)
    case = world.restricted["id"]
    page = web.get(f"/cases/{case}/export")
    assert page.status_code == 200
    assert 'name="override_reason"' in page.text and f'action="/cases/{case}/export/release"' in page.text
    assert f"/cases/{case}/export/bundle?" not in page.text, "no download link that would skip the reason"
    # A download link followed anyway leads back to the page, which asks for the reason.
    for path in ("bundle?audience=public", "sheet?audience=partner", "huridocs?audience=partner", "ituc"):
        followed = web.get(f"/cases/{case}/export/{path}", follow_redirects=False)
        assert followed.status_code == 303, path
        assert followed.headers["location"].startswith(f"/cases/{case}/export?audience=")
    internal = web.get(f"/cases/{case}/export", params={"audience": "internal"})
    assert 'name="override_reason"' not in internal.text
    assert f"/cases/{case}/export/bundle?audience=internal" in internal.text


def test_a_short_reason_comes_back_with_the_error_and_the_text_kept(
    web: TestClient, documenter: Account, coordinator: Account
) -> None:
    world = _web_world(web, documenter)
    sign_in(web, coordinator)
    ctx: AppContext = web.app.state.ctx  # type: ignore[attr-defined]
    case = world.restricted["id"]
    page = web.get(f"/cases/{case}/export")
    form = {"csrf_token": csrf_of(page.text), "audience": "partner", "kind": "sheet"}
    answer = web.post(f"/cases/{case}/export/release", data={**form, "override_reason": "they agreed"})
    assert answer.status_code == 422
    assert "Say why in at least 20 characters" in answer.text and ">they agreed</textarea>" in answer.text
    assert _left(ctx) == (0, 0, [])


def test_a_coordinator_releases_from_the_page_and_the_reason_is_audited_sealed(
    web: TestClient, settings: Settings, documenter: Account, coordinator: Account
) -> None:
    world = _web_world(web, documenter)
    sign_in(web, coordinator)
    ctx: AppContext = web.app.state.ctx  # type: ignore[attr-defined]
    case = world.restricted["id"]
    page = web.get(f"/cases/{case}/export", params={"audience": "public"})
    form = {"csrf_token": csrf_of(page.text), "audience": "public", "override_reason": REASON}
    sheet = web.post(f"/cases/{case}/export/release", data={**form, "kind": "sheet"})
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/html")
    bundle = web.post(f"/cases/{case}/export/release", data={**form, "kind": "bundle"})
    assert bundle.status_code == 200 and bundle.headers["content-type"] == "application/zip"
    overrides = _overrides(ctx)
    assert [o.details["audience"] for o in overrides] == ["public", "public"]
    assert all(_unseal(settings, o) == REASON for o in overrides)
    with ctx.db.session(write=False) as session:
        records = session.exec(select(ExportRecord)).all()
    assert sorted((r.kind, r.audience) for r in records) == [("bundle", "public"), ("sheet", "public")]


def test_a_documenter_is_told_only_a_coordinator_can_release_and_cannot_post_one(
    web: TestClient, documenter: Account
) -> None:
    world = _web_world(web, documenter)
    sign_in(web, documenter)
    case = world.restricted["id"]
    page = web.get(f"/cases/{case}/export")
    assert "Only a coordinator can send it outside the organisation" in page.text
    assert 'name="override_reason"' not in page.text
    form = {
        "csrf_token": csrf_of(page.text),
        "audience": "partner",
        "kind": "bundle",
        "override_reason": REASON,
    }
    assert web.post(f"/cases/{case}/export/release", data=form).status_code == 403
