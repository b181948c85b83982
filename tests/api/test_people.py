"""People: pseudonyms everywhere, identities sealed at rest and shown only with person:read_identity."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.models import AuditEvent, PersonIdentity, Revision
from tests.conftest import Account
from tests.factories import API, create_case, create_person, involve, ok, patch

NAME = "Аляксандр Ярашук"


class TestIdentity:
    def test_minimal_request_from_the_issue_is_accepted(
        self, client: TestClient, documenter: Account
    ) -> None:
        person = ok(
            client.post(
                f"{API}/people",
                json={"pseudonym": "Witness K-7", "identity": {"full_name": "..."}},
                headers=documenter.headers,
            ),
            201,
        )
        assert person["pseudonym"] == "Witness K-7"
        assert person["identity"]["full_name"] == "..."

    def test_identity_is_sealed_at_rest(self, client: TestClient, ctx, documenter: Account) -> None:
        create_person(
            client,
            documenter,
            identity={"full_name": NAME, "contacts": [{"kind": "phone", "value": "+375291234567"}]},
        )
        with ctx.db.engine.connect() as conn:
            sealed = conn.execute(sa.select(PersonIdentity.sealed)).scalar_one()
            revisions = conn.execute(sa.select(Revision.changes, Revision.sealed_identity)).all()
        assert NAME.encode() not in sealed
        assert b"375291234567" not in sealed
        for changes, sealed_rev in revisions:
            assert NAME not in str(changes)
            assert sealed_rev is None or NAME.encode() not in sealed_rev

    def test_researcher_never_receives_an_identity(
        self, client: TestClient, documenter: Account, researcher: Account
    ) -> None:
        person = create_person(
            client, documenter, identity={"full_name": NAME, "name_latin": "Aliaksandr Yarashuk"}
        )
        case = create_case(client, documenter)
        involve(
            client, documenter, case["id"], person_id=person["id"], role="victim", victim_status="detained"
        )
        for url in (
            f"{API}/people/{person['id']}",
            f"{API}/people",
            f"{API}/people/{person['id']}/history",
            f"{API}/cases/{case['id']}/involvements",
            f"{API}/cases/{case['id']}/history",
        ):
            response = client.get(url, headers=researcher.headers)
            assert response.status_code == 200, url
            assert NAME not in response.text and "Yarashuk" not in response.text, url
        assert ok(client.get(f"{API}/people/{person['id']}", headers=researcher.headers))["identity"] is None

    def test_coordinator_reads_identities_and_the_read_is_audited(
        self, client: TestClient, ctx, documenter: Account, coordinator: Account
    ) -> None:
        person = create_person(client, documenter, identity={"full_name": NAME})
        got = ok(client.get(f"{API}/people/{person['id']}", headers=coordinator.headers))
        assert got["identity"]["full_name"] == NAME
        with ctx.db.engine.connect() as conn:
            events = conn.execute(
                sa.select(AuditEvent.action, AuditEvent.target_id).where(
                    AuditEvent.actor_id == coordinator.user_id
                )
            ).all()
        assert ("identity.read", person["id"]) in events
        assert all(NAME not in str(e) for e in events)

    def test_identity_fields_merge_and_their_history_is_hidden_from_researchers(
        self, client: TestClient, documenter: Account, researcher: Account, coordinator: Account
    ) -> None:
        person = create_person(client, documenter, identity={"full_name": NAME})
        url = f"{API}/people/{person['id']}"
        updated = ok(
            patch(
                client,
                documenter,
                url,
                '"v1"',
                identity={"name_ru": "Александр Ярошук"},
                risk_status="detained",
            )
        )
        assert updated["identity"]["full_name"] == NAME
        assert updated["identity"]["name_ru"] == "Александр Ярошук"
        for_coordinator = ok(client.get(f"{url}/history", headers=coordinator.headers))
        assert for_coordinator[1]["changes"]["identity.name_ru"]["after"] == "Александр Ярошук"
        # researchers do not see the person's history here: the person is in no case they can see
        assert client.get(f"{url}/history", headers=researcher.headers).status_code == 404

    def test_researcher_sees_that_an_identity_changed_but_not_to_what(
        self, client: TestClient, documenter: Account, researcher: Account
    ) -> None:
        person = create_person(client, documenter, identity={"full_name": NAME})
        case = create_case(client, documenter)
        involve(client, documenter, case["id"], person_id=person["id"], role="witness")
        ok(
            patch(
                client,
                documenter,
                f"{API}/people/{person['id']}",
                '"v1"',
                identity={"full_name": "Іван Іванавіч"},
            )
        )
        history = ok(client.get(f"{API}/people/{person['id']}/history", headers=researcher.headers))
        assert history[1]["identity_changed"] is True
        assert not any(k.startswith("identity.") for k in history[1]["changes"])
        assert "Іван" not in str(history)


class TestPeopleVisibility:
    def test_documenter_cannot_see_another_documenters_person(
        self, client: TestClient, documenter: Account, documenter2: Account
    ) -> None:
        person = create_person(client, documenter)
        assert client.get(f"{API}/people/{person['id']}", headers=documenter2.headers).status_code == 404
        assert ok(client.get(f"{API}/people", headers=documenter2.headers))["total"] == 0

    def test_pseudonym_search_and_cursor_paging(self, client: TestClient, documenter: Account) -> None:
        for name in ("Witness K-1", "Witness K-2", "Victim V-1", "Сведка С-1"):
            create_person(client, documenter, pseudonym=name, identity=None)
        page = ok(client.get(f"{API}/people?q=witness&limit=1", headers=documenter.headers))
        assert page["total"] == 2
        second = ok(
            client.get(
                f"{API}/people?q=witness&limit=1&cursor={page['next_cursor']}", headers=documenter.headers
            )
        )
        assert {page["items"][0]["pseudonym"], second["items"][0]["pseudonym"]} == {
            "Witness K-1",
            "Witness K-2",
        }
        assert ok(client.get(f"{API}/people?q=сведка", headers=documenter.headers))["total"] == 1

    def test_date_of_birth_in_the_future_is_refused(self, client: TestClient, documenter: Account) -> None:
        response = client.post(
            f"{API}/people",
            json={"pseudonym": "P", "identity": {"date_of_birth": "2999-01-01"}},
            headers=documenter.headers,
        )
        assert response.status_code == 422


class TestConsents:
    def test_minimal_request_from_the_issue_is_accepted(
        self, client: TestClient, documenter: Account
    ) -> None:
        person = create_person(client, documenter)
        consent = ok(
            client.post(
                f"{API}/people/{person['id']}/consents",
                json={"audience": "ilo", "granted_at": "2026-01-10", "method": "written"},
                headers=documenter.headers,
            ),
            201,
        )
        assert consent["active"] is True
        assert consent["recorded_by"] == str(documenter.user_id)

    def test_withdrawal_keeps_the_consent_record(self, client: TestClient, documenter: Account) -> None:
        person = create_person(client, documenter)
        base = f"{API}/people/{person['id']}/consents"
        consent = ok(
            client.post(
                base,
                json={
                    "audience": "ituc",
                    "granted_at": "2026-01-10",
                    "method": "oral_recorded",
                    "text_version": "v2-be",
                },
                headers=documenter.headers,
            ),
            201,
        )
        withdrawn = ok(
            client.post(
                f"{base}/{consent['id']}/withdraw",
                json={"withdrawn_at": "2026-02-01", "reason": "family pressure"},
                headers=documenter.headers,
            )
        )
        assert withdrawn["active"] is False
        listed = ok(client.get(base, headers=documenter.headers))
        assert [c["id"] for c in listed] == [consent["id"]]
        assert listed[0]["text_version"] == "v2-be"
        again = client.post(
            f"{base}/{consent['id']}/withdraw",
            json={"withdrawn_at": "2026-02-02"},
            headers=documenter.headers,
        )
        assert again.status_code == 409
        history = ok(client.get(f"{base}/{consent['id']}/history", headers=documenter.headers))
        assert [h["action"] for h in history] == ["create", "withdraw"]

    def test_withdrawal_before_the_grant_is_refused(self, client: TestClient, documenter: Account) -> None:
        person = create_person(client, documenter)
        base = f"{API}/people/{person['id']}/consents"
        consent = ok(
            client.post(
                base,
                json={"audience": "ilo", "granted_at": "2026-01-10", "method": "written"},
                headers=documenter.headers,
            ),
            201,
        )
        response = client.post(
            f"{base}/{consent['id']}/withdraw",
            json={"withdrawn_at": "2025-12-31"},
            headers=documenter.headers,
        )
        assert response.status_code == 422

    def test_unknown_audience_is_a_422(self, client: TestClient, documenter: Account) -> None:
        person = create_person(client, documenter)
        response = client.post(
            f"{API}/people/{person['id']}/consents",
            json={"audience": "everyone", "granted_at": "2026-01-10", "method": "written"},
            headers=documenter.headers,
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "body.audience"

    def test_researchers_do_not_see_consents(
        self, client: TestClient, documenter: Account, researcher: Account
    ) -> None:
        person = create_person(client, documenter)
        assert (
            client.get(f"{API}/people/{person['id']}/consents", headers=researcher.headers).status_code == 403
        )


class TestOrganisations:
    def test_organisations_are_actors_with_history(
        self, client: TestClient, documenter: Account, researcher: Account
    ) -> None:
        org = ok(
            client.post(
                f"{API}/organisations",
                json={"name": "Belaruskali", "kind": "employer", "country": "BY"},
                headers=documenter.headers,
            ),
            201,
        )
        ok(patch(client, documenter, f"{API}/organisations/{org['id']}", '"v1"', sector="mining"))
        assert ok(client.get(f"{API}/organisations?q=belarus", headers=researcher.headers))["total"] == 1
        history = ok(client.get(f"{API}/organisations/{org['id']}/history", headers=researcher.headers))
        assert history[1]["changes"]["sector"] == {"before": None, "after": "mining"}
        person = create_person(client, documenter, organisation_id=org["id"])
        assert person["organisation_id"] == org["id"]
