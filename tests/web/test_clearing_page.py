"""The clearing page, with JavaScript off: a coordinator proposes, reads the changes marked in the source,
corrects the proposal and approves it, in plain forms that come back with a redirect; nobody else gets in."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.clearing import service as clearing_service
from api.context import AppContext
from tests.conftest import Account
from tests.factories import API, add_testimony, create_case, create_person, involve, ok
from tests.web.conftest import csrf_of, sign_in

OUTSIDER = "Карпец Юрий Анатольевич"
FOUND = "Юрыя Карпца"
SAID = f"Мы бачылі {FOUND} каля прахадной."
_SECTION = re.compile(r'<section class="card" id="c-([0-9a-f-]{36})">(.*?)</section>', re.DOTALL)


@pytest.fixture
def world(client: TestClient, documenter: Account, documenter2: Account) -> dict[str, str]:
    """A case whose witness names, in the genitive, a person recorded by someone else in another case."""
    outsider = create_person(client, documenter2, pseudonym="Worker W-3", identity={"full_name": OUTSIDER})
    witness = create_person(client, documenter, pseudonym="Witness K-7")
    case = create_case(client, documenter, title="Затрыманне на прахадной")
    involve(client, documenter, case["id"], person_id=witness["id"], role="witness")
    testimony = add_testimony(client, documenter, case["id"], witness["id"], text=SAID)
    return {"case": case["id"], "testimony": testimony["id"], "outsider": outsider["id"]}


@pytest.fixture
def browser(client: TestClient) -> TestClient:
    """The browser shares the application of `client`, which built the world through the API."""
    return client


def form_of_testimony(page: str) -> dict[str, Any]:
    """The clearing id, version and text of the testimony's form on the page."""
    for clearing_id, body in _SECTION.findall(page):
        if "Witness K-7" in body and "<textarea" in body:
            version = re.search(r'name="version" value="(\d+)"', body)
            text = re.search(r"<textarea[^>]*>\n(.*?)</textarea>", body, re.DOTALL)
            assert version and text
            return {"id": clearing_id, "version": version.group(1), "text": html.unescape(text.group(1))}
    raise AssertionError("no form for the testimony on the page")


def cleared(ctx: AppContext, testimony_id: str, text: str) -> str | None:
    """What an ILO export may carry in place of the testimony (None: it is withheld)."""
    with ctx.db.session(write=False) as session:
        return clearing_service.current_cleared_text(
            session=session,
            source_kind="testimony.text",
            source_id=uuid.UUID(testimony_id),
            audience="ilo",
            source_text=text,
        )


def test_a_coordinator_proposes_corrects_and_approves_in_plain_forms(
    browser: TestClient, ctx: AppContext, coordinator: Account, world: dict[str, str]
) -> None:
    sign_in(browser, coordinator)
    page_url = f"/cases/{world['case']}/clearing?audience=ilo"
    assert f'href="/cases/{world["case"]}/clearing"' in browser.get(f"/cases/{world['case']}").text
    page = browser.get(page_url)
    assert page.status_code == 200 and "<script" not in page.text
    assert "No proposal yet" in page.text and "<textarea" not in page.text
    proposed = browser.post(
        f"/cases/{world['case']}/clearing/propose",
        data={"audience": "ilo", "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert proposed.status_code == 303 and proposed.headers["location"].endswith("notice=proposed")
    page = browser.get(proposed.headers["location"])
    assert f'<mark title="Worker W-3">{FOUND}</mark>' in page.text, "the change is marked in the source"
    form = form_of_testimony(page.text)
    assert form["text"] == "Мы бачылі Worker W-3 каля прахадной."
    # A correction, typed as a browser sends it (CR LF), saved without approving.
    corrected = "Мы бачылі Worker W-3\r\nкаля прахадной."
    data = {
        "audience": "ilo",
        "version": form["version"],
        "text": corrected,
        "csrf_token": csrf_of(page.text),
    }
    saved = browser.post(
        f"/cases/{world['case']}/clearing/{form['id']}",
        data=data | {"action": "save"},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and "notice=saved" in saved.headers["location"]
    assert cleared(ctx, world["testimony"], SAID) is None, "saved is not approved"
    page = browser.get(saved.headers["location"])
    form = form_of_testimony(page.text)
    assert form["text"] == "Мы бачылі Worker W-3\nкаля прахадной."
    data |= {"version": form["version"], "text": form["text"]}
    approved = browser.post(
        f"/cases/{world['case']}/clearing/{form['id']}",
        data=data | {"action": "approve"},
        follow_redirects=False,
    )
    assert approved.status_code == 303 and "notice=approved" in approved.headers["location"]
    assert cleared(ctx, world["testimony"], SAID) == "Мы бачылі Worker W-3\nкаля прахадной."
    page = browser.get(approved.headers["location"])
    assert "Approved by coordinator" in page.text
    history = ok(browser.get(f"{API}/clearings/{form['id']}/history", headers=coordinator.headers))
    assert [r["action"] for r in history] == ["propose", "update", "approve"]


def test_a_form_sent_over_another_change_comes_back_with_the_text_typed(
    browser: TestClient, ctx: AppContext, coordinator: Account, admin: Account, world: dict[str, str]
) -> None:
    sign_in(browser, coordinator)
    page_url = f"/cases/{world['case']}/clearing?audience=ilo"
    page = browser.get(page_url)
    browser.post(
        f"/cases/{world['case']}/clearing/propose", data={"audience": "ilo", "csrf_token": csrf_of(page.text)}
    )
    page = browser.get(page_url)
    form = form_of_testimony(page.text)
    # Meanwhile an administrator corrects it through the API.
    ok(
        browser.patch(
            f"{API}/clearings/{form['id']}",
            json={"text": "Яго бачылі."},
            headers={**admin.headers, "If-Match": f'"v{form["version"]}"'},
        )
    )
    mine = "Мы бачылі яго каля прахадной."
    response = browser.post(
        f"/cases/{world['case']}/clearing/{form['id']}",
        data={
            "audience": "ilo",
            "version": form["version"],
            "text": mine,
            "action": "approve",
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert response.status_code == 409
    assert "Someone else changed this proposal" in response.text
    assert form_of_testimony(response.text)["text"] == mine, "nothing typed is lost"
    assert cleared(ctx, world["testimony"], SAID) is None, "nothing was approved"


@pytest.mark.parametrize("role", ["documenter", "researcher"])
def test_only_coordinators_reach_the_page_or_its_forms(
    role: str,
    browser_factory: Callable[[], TestClient],
    accounts: dict[str, Account],
    coordinator: Account,
    client: TestClient,
    world: dict[str, str],
) -> None:
    proposed = client.post(
        f"{API}/cases/{world['case']}/clearings", json={"audience": "ilo"}, headers=coordinator.headers
    )
    clearing = next(c for c in ok(proposed, 201) if c["source_kind"] == "testimony.text")
    browser = sign_in(browser_factory(), accounts[role])
    case_page = browser.get(f"/cases/{world['case']}").text
    assert "/clearing" not in case_page
    page = browser.get(f"/cases/{world['case']}/clearing")
    assert page.status_code == 403 and "Worker W-3" not in page.text
    token = csrf_of(case_page)
    refused = [
        browser.post(f"/cases/{world['case']}/clearing/propose", data={"csrf_token": token}),
        browser.post(
            f"/cases/{world['case']}/clearing/{clearing['id']}",
            data={"csrf_token": token, "version": "1", "text": "x", "action": "approve"},
        ),
    ]
    assert [r.status_code for r in refused] == [403, 403]
    still = ok(client.get(f"{API}/clearings/{clearing['id']}", headers=coordinator.headers))
    assert (still["status"], still["version"]) == ("proposed", 1)
