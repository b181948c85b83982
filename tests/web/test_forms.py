"""Intake without JavaScript: forms record through the services, keep the input on every error with the
message next to its field, and drafts keep half-filled forms on the server, sealed."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.context import AppContext
from tests.conftest import Account
from tests.factories import API, create_case, create_person
from tests.web.conftest import csrf_of, post_form, sign_in

CASE_FORM = {
    "title": "Затрыманне старшыні ППА «Гродна Азот»",
    "summary": "Старшыню затрымалі пасля сходу.",
    "narrative": "19 красавіка 2022 года…",
    "occurred_from": "2022-04",
    "date_precision": "",
    "country": "BY",
    "region": "Гродзенская вобласць",
    "status": "draft",
    "confidentiality": "internal",
    "language": "be",
    "tags": "затрыманне, прафсаюз",
    "categories": "A.LIB.ARREST",
    "action": "submit",
}


def _field_error(html: str, name: str) -> str:
    match = re.search(rf'<p class="error" id="e-{re.escape(name)}">(.*?)</p>', html, re.S)
    assert match, f"no error next to {name}"
    visible = re.sub(r'<span class="visually-hidden">.*?</span>', "", match.group(1))
    return re.sub(r"<[^>]+>", "", visible).strip()


@pytest.fixture
def doc(browser: TestClient, documenter: Account) -> TestClient:
    return sign_in(browser, documenter)


class TestCaseForm:
    def test_a_case_recorded_through_the_form_is_the_same_record_the_api_returns(
        self, doc: TestClient, documenter: Account
    ) -> None:
        response = post_form(doc, "/cases/new", CASE_FORM)
        assert response.status_code == 303
        case_id = response.headers["location"].split("/")[2].split("?")[0]
        case = doc.get(f"{API}/cases/{case_id}", headers=documenter.headers).json()
        assert case["title"] == CASE_FORM["title"]
        assert (case["date_precision"], case["earliest"], case["latest"]) == (
            "month",
            "2022-04-01",
            "2022-04-30",
        )
        assert case["tags"] == ["затрыманне", "прафсаюз"] and case["categories"] == ["A.LIB.ARREST"]
        page = doc.get(response.headers["location"]).text
        assert "The case was recorded." in page and "April 2022" in page

    def test_a_missing_title_keeps_everything_else_and_says_so_next_to_the_field(
        self, doc: TestClient
    ) -> None:
        response = post_form(doc, "/cases/new", {**CASE_FORM, "title": "  "})
        assert response.status_code == 422
        assert _field_error(response.text, "title") == "Please fill this in."
        assert 'value="Гродзенская вобласць"' in response.text
        assert "19 красавіка 2022 года…</textarea>" in response.text
        assert 'value="затрыманне, прафсаюз"' in response.text
        assert 'href="#f-title"' in response.text  # the summary links to the field

    def test_a_date_the_service_refuses_is_marked_on_its_field(self, doc: TestClient) -> None:
        future = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
        response = post_form(doc, "/cases/new", {**CASE_FORM, "occurred_from": future})
        assert response.status_code == 422
        assert _field_error(response.text, "occurred_from") == "must not be in the future"
        impossible = post_form(doc, "/cases/new", {**CASE_FORM, "occurred_from": "31.04.2022"})
        assert _field_error(impossible.text, "occurred_from").startswith("Write a real date")
        assert 'value="31.04.2022"' in impossible.text

    def test_dates_are_understood_as_people_here_write_them(
        self, doc: TestClient, documenter: Account
    ) -> None:
        for typed, earliest, latest in (
            ("19.04.2022", "2022-04-19", "2022-04-19"),
            ("4.2022", "2022-04-01", "2022-04-30"),
        ):
            response = post_form(doc, "/cases/new", {**CASE_FORM, "occurred_from": typed})
            case_id = response.headers["location"].split("/")[2].split("?")[0]
            case = doc.get(f"{API}/cases/{case_id}", headers=documenter.headers).json()
            assert (case["earliest"], case["latest"]) == (earliest, latest), typed

    def test_an_urgent_case_without_a_reason_is_marked_on_the_reason(self, doc: TestClient) -> None:
        response = post_form(doc, "/cases/new", {**CASE_FORM, "urgent": "on"})
        assert response.status_code == 422
        assert "urgent case needs its justification" in _field_error(response.text, "urgency_reason")
        assert 'name="urgent" type="checkbox" checked' in response.text

    def test_errors_are_explained_in_the_users_language(self, doc: TestClient) -> None:
        post_form(doc, "/language", {"lang": "be", "next": "/"}, form_url="/")
        response = post_form(doc, "/cases/new", {**CASE_FORM, "title": ""})
        assert _field_error(response.text, "title") == "Запоўніце, калі ласка, гэтае поле."

    def test_editing_with_a_stale_version_keeps_the_edit_and_explains(
        self, doc: TestClient, documenter: Account
    ) -> None:
        case = create_case(doc, documenter)
        form_page = doc.get(f"/cases/{case['id']}/edit").text
        token = csrf_of(form_page)
        assert 'name="version" value="1"' in form_page
        # Someone changes the case meanwhile, through the API.
        doc.patch(
            f"{API}/cases/{case['id']}",
            json={"region": "Мінск"},
            headers={**documenter.headers, "If-Match": '"v1"'},
        )
        mine = {**CASE_FORM, "title": "My better title", "version": "1", "csrf_token": token}
        response = doc.post(f"/cases/{case['id']}/edit", data=mine)
        assert response.status_code == 409
        assert "Someone else changed this record" in response.text
        assert 'value="My better title"' in response.text
        assert 'name="version" value="2"' in response.text
        again = doc.post(f"/cases/{case['id']}/edit", data={**mine, "version": "2"}, follow_redirects=False)
        assert again.status_code == 303
        assert (
            doc.get(f"{API}/cases/{case['id']}", headers=documenter.headers).json()["title"]
            == "My better title"
        )

    def test_retracting_needs_a_reason_and_keeps_the_case_readable(
        self, doc: TestClient, documenter: Account
    ) -> None:
        case = create_case(doc, documenter)
        short = post_form(doc, f"/cases/{case['id']}/retract", {"reason": "x", "version": "1"})
        assert short.status_code == 422 and _field_error(short.text, "reason")
        done = post_form(
            doc, f"/cases/{case['id']}/retract", {"reason": "Duplicate of PR-2026-000002", "version": "1"}
        )
        assert done.status_code == 303
        page = doc.get(f"/cases/{case['id']}").text
        assert "This case was retracted" in page and "Duplicate of PR-2026-000002" in page
        assert case["reference"] not in doc.get("/cases").text


class TestHistory:
    def test_the_history_says_who_changed_what_in_words(self, doc: TestClient, documenter: Account) -> None:
        created = post_form(doc, "/cases/new", CASE_FORM)
        case_url = created.headers["location"].split("?")[0]
        edited = post_form(doc, f"{case_url}/edit", {**CASE_FORM, "status": "submitted", "version": "1"})
        assert edited.status_code == 303
        html = doc.get(f"{case_url}/history").text
        changed = html.split("<tbody>")[1]  # newest first
        assert "Status" in changed and "In preparation" in changed and "Submitted" in changed
        assert "documenter" in html and "Belarus" in html


class TestPeopleInTheCase:
    def test_a_new_person_is_recorded_and_added_in_one_form(
        self, doc: TestClient, documenter: Account
    ) -> None:
        case = create_case(doc, documenter)
        response = post_form(
            doc,
            f"/cases/{case['id']}/involvements/new",
            {
                "new_pseudonym": "Victim V-1",
                "new_full_name": "Іван Іванавіч",
                "role": "victim",
                "victim_status": "detained",
                "action": "submit",
            },
        )
        assert response.status_code == 303
        page = doc.get(f"/cases/{case['id']}").text
        assert "Victim V-1" in page and "Detained" in page and "Іван Іванавіч" not in page

    def test_a_role_rule_is_marked_on_its_field_and_nobody_is_recorded(
        self, doc: TestClient, documenter: Account, ctx: AppContext
    ) -> None:
        case = create_case(doc, documenter)
        response = post_form(
            doc,
            f"/cases/{case['id']}/involvements/new",
            {
                "new_pseudonym": "Witness W-2",
                "role": "witness",
                "victim_status": "detained",
                "action": "submit",
            },
        )
        assert response.status_code == 422
        assert "only for the victim role" in _field_error(response.text, "victim_status")
        assert 'value="Witness W-2"' in response.text
        with ctx.db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM person")).scalar_one() == 0

    def test_choosing_nobody_says_what_to_do(self, doc: TestClient, documenter: Account) -> None:
        case = create_case(doc, documenter)
        response = post_form(
            doc, f"/cases/{case['id']}/involvements/new", {"role": "victim", "action": "submit"}
        )
        assert response.status_code == 422
        assert "Choose a person or an organisation" in _field_error(response.text, "person_id")


class TestTestimonyForm:
    def test_a_testimony_from_a_new_source_records_both(self, doc: TestClient, documenter: Account) -> None:
        case = create_case(doc, documenter)
        response = post_form(
            doc,
            f"/cases/{case['id']}/testimonies/new",
            {
                "new_pseudonym": "Source S-3",
                "text": "Мяне выклікалі ў аддзел кадраў і паведамілі аб звальненні.",
                "language": "be",
                "taken_at": "2026-01-10",
                "reliability": "likely_reliable",
                "action": "submit",
            },
        )
        assert response.status_code == 303
        page = doc.get(f"/cases/{case['id']}").text
        assert "Мяне выклікалі ў аддзел кадраў" in page and 'lang="be"' in page
        assert "Source S-3" in page and "Likely reliable" in page

    def test_without_a_source_or_text_the_form_comes_back_filled(
        self, doc: TestClient, documenter: Account
    ) -> None:
        case = create_case(doc, documenter)
        response = post_form(
            doc,
            f"/cases/{case['id']}/testimonies/new",
            {"text": "", "language": "be", "taken_at": "2026-01-10", "place": "Вільня", "action": "submit"},
        )
        assert response.status_code == 422
        assert "Choose the person who gave the testimony" in _field_error(response.text, "source_person_id")
        assert _field_error(response.text, "text") == "Please fill this in."
        assert 'value="Вільня"' in response.text


class TestPersonAndConsent:
    def test_a_person_with_names_in_three_scripts(self, doc: TestClient) -> None:
        response = post_form(
            doc,
            "/people/new",
            {
                "pseudonym": "Witness Ж-9",
                "counting_unit": "individual",
                "risk_status": "exiled",
                "identity.full_name": "Алесь Ўладзімiравіч",
                "identity.name_ru": "Алесь Владимирович",
                "identity.name_latin": "Ales Uladzimiravič",
                "identity.contacts.0.kind": "messenger",
                "identity.contacts.0.value": "@ales",
                "action": "submit",
            },
        )
        assert response.status_code == 303
        page = doc.get(response.headers["location"]).text
        assert "Ales Uladzimiravič" in page and 'lang="ru">Алесь Владимирович' in page and "@ales" in page

    def test_a_birth_date_in_the_future_is_marked_on_the_identity_field(self, doc: TestClient) -> None:
        response = post_form(
            doc,
            "/people/new",
            {
                "pseudonym": "P-1",
                "counting_unit": "individual",
                "risk_status": "unknown",
                "identity.date_of_birth": "2999-01-01",
                "action": "submit",
            },
        )
        assert response.status_code == 422
        assert "date_of_birth must be between" in response.text
        assert 'value="P-1"' in response.text

    def test_consent_is_recorded_and_withdrawn_but_never_deleted(
        self, doc: TestClient, documenter: Account
    ) -> None:
        person = create_person(doc, documenter)
        bad = post_form(
            doc,
            f"/people/{person['id']}/consents/new",
            {"audience": "", "granted_at": "2026-01-10", "method": "written"},
        )
        assert bad.status_code == 422 and _field_error(bad.text, "audience")
        ok = post_form(
            doc,
            f"/people/{person['id']}/consents/new",
            {"audience": "ilo", "granted_at": "2026-01-10", "method": "written", "purpose": "CFA complaint"},
        )
        assert ok.status_code == 303
        consent_id = doc.get(f"{API}/people/{person['id']}/consents", headers=documenter.headers).json()[0][
            "id"
        ]
        early = post_form(
            doc, f"/people/{person['id']}/consents/{consent_id}/withdraw", {"withdrawn_at": "2025-01-01"}
        )
        assert "must not be before the consent was granted" in _field_error(early.text, "withdrawn_at")
        done = post_form(
            doc,
            f"/people/{person['id']}/consents/{consent_id}/withdraw",
            {"withdrawn_at": "2026-02-01", "reason": "Moved back"},
        )
        assert done.status_code == 303
        page = doc.get(f"/people/{person['id']}").text
        assert "withdrawn on" in page and "CFA complaint" in page


class TestDrafts:
    def test_a_draft_keeps_a_half_filled_case_sealed_on_the_server(
        self, doc: TestClient, ctx: AppContext
    ) -> None:
        response = post_form(
            doc,
            "/cases/new",
            {**CASE_FORM, "title": "Палова справы", "occurred_from": "", "action": "save_draft"},
        )
        assert response.status_code == 303
        assert "notice=draft_saved" in response.headers["location"]
        with ctx.db.engine.connect() as conn:
            sealed = conn.execute(sa.text("SELECT sealed FROM web_draft")).scalar_one()
        assert "Палова".encode() not in bytes(sealed) and "Гродзенская".encode() not in bytes(sealed)
        dashboard = doc.get("/").text
        assert "Палова справы" in dashboard
        draft_link = re.search(r'href="(/drafts/[0-9a-f-]+)"', dashboard).group(1)  # type: ignore[union-attr]
        opened = doc.get(draft_link)
        assert 'value="Палова справы"' in opened.text and 'value="Гродзенская вобласць"' in opened.text
        draft_id = draft_link.rsplit("/", 1)[1]
        finished = doc.post(
            "/cases/new",
            data={
                **CASE_FORM,
                "title": "Палова справы",
                "draft_id": draft_id,
                "csrf_token": csrf_of(opened.text),
            },
            follow_redirects=False,
        )
        assert finished.status_code == 303
        assert "Палова справы" not in doc.get("/").text.split('id="drafts"')[1].split("</section>")[0]

    def test_a_draft_is_private_to_its_author(
        self, doc: TestClient, browser_factory: Callable[[], TestClient], documenter2: Account
    ) -> None:
        post_form(
            doc,
            "/people/new",
            {"pseudonym": "Draft person", "identity.full_name": "Тайнае Імя", "action": "save_draft"},
        )
        link = re.search(r'href="(/drafts/[0-9a-f-]+)"', doc.get("/").text).group(1)  # type: ignore[union-attr]
        other = sign_in(browser_factory(), documenter2)
        assert other.get(link, follow_redirects=False).status_code == 404
        assert other.get(f"/people/new?draft={link.rsplit('/', 1)[1]}").status_code == 404

    def test_a_draft_can_be_thrown_away(self, doc: TestClient) -> None:
        post_form(doc, "/cases/new", {**CASE_FORM, "title": "Throw me away", "action": "save_draft"})
        dashboard = doc.get("/").text
        draft_id = re.search(r'href="/drafts/([0-9a-f-]+)"', dashboard).group(1)  # type: ignore[union-attr]
        response = doc.post(
            f"/drafts/{draft_id}/discard", data={"csrf_token": csrf_of(dashboard)}, follow_redirects=False
        )
        assert response.status_code == 303
        assert "Throw me away" not in doc.get("/").text


class TestAssignment:
    def test_a_coordinator_lets_a_second_documenter_work_on_a_case(
        self,
        browser_factory: Callable[[], TestClient],
        documenter: Account,
        documenter2: Account,
        coordinator: Account,
    ) -> None:
        owner = sign_in(browser_factory(), documenter)
        case = create_case(owner, documenter)
        helper = sign_in(browser_factory(), documenter2)
        assert helper.get(f"/cases/{case['id']}").status_code == 404
        boss = sign_in(browser_factory(), coordinator)
        data = {"user_id": str(documenter2.user_id)}
        response = post_form(boss, f"/cases/{case['id']}/assign", data, form_url=f"/cases/{case['id']}")
        assert response.status_code == 303
        assert helper.get(f"/cases/{case['id']}/edit").status_code == 200
        again = post_form(boss, f"/cases/{case['id']}/assign", data, form_url=f"/cases/{case['id']}")
        assert again.status_code == 422 and "already works on this case" in again.text

    def test_documenters_cannot_assign(
        self, doc: TestClient, documenter: Account, documenter2: Account
    ) -> None:
        case = create_case(doc, documenter)
        page = doc.get(f"/cases/{case['id']}").text
        assert 'action="/cases/' + case["id"] + '/assign"' not in page
        response = doc.post(
            f"/cases/{case['id']}/assign",
            data={"user_id": str(documenter2.user_id), "csrf_token": csrf_of(page)},
        )
        assert response.status_code == 403


class TestAdministration:
    def test_an_admin_creates_an_account_and_sees_its_password_once(
        self, browser: TestClient, admin: Account
    ) -> None:
        sign_in(browser, admin)
        response = post_form(browser, "/admin/users", {"username": "new.documenter", "role": "documenter"})
        assert response.status_code == 200
        password = re.search(r"<code>([^<]+)</code>", response.text).group(1)  # type: ignore[union-attr]
        assert len(password) >= 16
        assert password not in browser.get("/admin/users").text

    def test_bad_usernames_and_duplicates_are_marked_on_the_field(
        self, browser: TestClient, admin: Account
    ) -> None:
        sign_in(browser, admin)
        bad = post_form(browser, "/admin/users", {"username": "Ня лацінка", "role": "documenter"})
        assert bad.status_code == 422 and _field_error(bad.text, "username")
        dup = post_form(browser, "/admin/users", {"username": "documenter", "role": "documenter"})
        assert _field_error(dup.text, "username") == "An account with this username already exists."

    def test_an_admin_cannot_lock_themselves_out(self, browser: TestClient, admin: Account) -> None:
        sign_in(browser, admin)
        response = post_form(
            browser, f"/admin/users/{admin.user_id}", {"role": "researcher"}, form_url="/admin/users"
        )
        assert response.status_code == 422
        assert "You cannot disable yourself" in response.text
