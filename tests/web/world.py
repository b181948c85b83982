"""Records for page tests, built through the API as users build them, around a canary identity."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.testclient import TestClient

from tests.conftest import Account
from tests.factories import API, add_testimony, create_case, create_person, involve, make_jpeg, ok, upload

# A name that must never appear on a page shown to someone not allowed to read identities.
CANARY = "Канарэйка Сцяпанаўна Тэставая"
CANARY_LATIN = "Kanarejka Sciapanauna Testavaja"


@dataclass
class World:
    case: str
    person: str
    consent: str
    testimony: str
    organisation: str
    evidence: str
    recording: str = ""  # a recording in a case of its own, made only by the tests that need one


def build_world(client: TestClient, documenter: Account) -> World:
    """A case recorded by `documenter` with a victim (the canary), a testimony, a consent, an employer and a
    photo (whose EXIF holds a GPS position and a camera serial number)."""
    org = ok(
        client.post(
            f"{API}/organisations", json={"name": "Naftan", "kind": "employer"}, headers=documenter.headers
        ),
        201,
    )
    person = create_person(
        client,
        documenter,
        pseudonym="Witness K-7",
        identity={
            "full_name": CANARY,
            "name_latin": CANARY_LATIN,
            "contacts": [{"kind": "phone", "value": "+375291112233"}],
        },
    )
    case = create_case(client, documenter, title="Затрыманне старшыні прафсаюза", language="be")
    involve(client, documenter, case["id"], person_id=person["id"], role="victim", victim_status="detained")
    involve(client, documenter, case["id"], organisation_id=org["id"], role="perpetrator")
    testimony = add_testimony(client, documenter, case["id"], person["id"])
    consent = ok(
        client.post(
            f"{API}/people/{person['id']}/consents",
            json={"audience": "ilo", "granted_at": "2026-01-10", "method": "written"},
            headers=documenter.headers,
        ),
        201,
    )
    # Change the identity once, so the history holds sealed identity values too.
    etag = client.get(f"{API}/people/{person['id']}", headers=documenter.headers).headers["ETag"]
    ok(
        client.patch(
            f"{API}/people/{person['id']}",
            json={"identity": {"name_be": CANARY}},
            headers={**documenter.headers, "If-Match": etag},
        )
    )
    photo = upload(
        client, documenter, case["id"], make_jpeg(), filename="photo.jpg", description="Загад аб звальненні"
    )
    return World(case["id"], person["id"], consent["id"], testimony["id"], org["id"], photo["id"])
