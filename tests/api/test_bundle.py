"""Evidence bundles: BagIt bags an outsider validates with the Library of Congress tool and our offline verifier,
with originals only for internal audiences and nothing identifying in the others."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import bagit
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account
from tests.factories import API, PHOTO_SERIAL, create_case, create_person, involve, make_jpeg, ok, upload
from tests.leaks import find

CANARY = "Канарэйка Бандлавая"


@pytest.fixture
def case_with_evidence(client: TestClient, coordinator: Account) -> dict:
    case = create_case(client, coordinator, categories=["A.LIB.ARREST"], summary=f"{CANARY} was detained.")
    person = create_person(client, coordinator, pseudonym="Victim B-1", identity={"full_name": CANARY})
    involve(client, coordinator, case["id"], person_id=person["id"], role="victim", victim_status="detained")
    photo = make_jpeg()
    items = {
        "photo": (
            upload(
                client,
                coordinator,
                case["id"],
                photo,
                filename="arrest.jpg",
                description="Photo of the arrest",
            ),
            photo,
        ),
        "note": (
            upload(client, coordinator, case["id"], b"Order no. 17 of 2022-04-19\n", filename="order.txt"),
            None,
        ),
        "blob": (
            upload(client, coordinator, case["id"], bytes(range(256)) * 40, filename="capture.dat"),
            None,
        ),
    }
    return {"case": case, "items": items}


def download(client: TestClient, who: Account, case_id: str, audience: str) -> tuple[bytes, dict]:
    response = client.get(f"{API}/cases/{case_id}/bundle", params={"audience": audience}, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.content, dict(response.headers)


def extract(blob: bytes, where: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        archive.extractall(where)
    (bag,) = list(where.iterdir())
    return bag


def offline_verify(path: Path, key: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evidence_store", "verify", str(path), "--public-key", str(key)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_internal_bundle_carries_originals_and_validates_with_bagit_and_our_verifier(
    client: TestClient, coordinator: Account, case_with_evidence: dict, tmp_path: Path
) -> None:
    blob, headers = download(client, coordinator, case_with_evidence["case"]["id"], "internal")
    bag = extract(blob, tmp_path / "x")
    bagit.Bag(str(bag)).validate()
    exhibits = json.loads((bag / "data/records/exhibits.json").read_text())
    photo, photo_bytes = case_with_evidence["items"]["photo"]
    by_item = {e["evidence_id"]: e for e in exhibits}
    assert by_item[photo["id"]]["sha256"] == hashlib.sha256(photo_bytes).hexdigest()
    assert len(exhibits) == 3
    assert all(e["custody_leaves"] for e in exhibits)
    key = tmp_path / "published.pem"
    key.write_text(ok(client.get(f"{API}/custody/key", headers=coordinator.headers))["public_key_pem"])
    archive = tmp_path / "bundle.zip"
    archive.write_bytes(blob)
    result = offline_verify(archive, key)
    assert result.returncode == 0, result.stdout + result.stderr
    record = ok(client.get(f"{API}/exports/{headers['x-export-id']}", headers=coordinator.headers))
    assert record["sha256"] == hashlib.sha256(blob).hexdigest()
    custody = ok(client.get(f"{API}/evidence/{photo['id']}/custody", headers=coordinator.headers))
    assert custody[-1]["action"] == "exported"


def test_ilo_bundle_ships_a_copy_made_from_pixels_withholds_the_rest_and_names_nobody(
    client: TestClient, coordinator: Account, case_with_evidence: dict, tmp_path: Path
) -> None:
    blob, headers = download(client, coordinator, case_with_evidence["case"]["id"], "ilo")
    assert find(blob, [CANARY, "Канарэйка", PHOTO_SERIAL]) == []
    bag = extract(blob, tmp_path / "x")
    bagit.Bag(str(bag)).validate()
    exhibits = json.loads((bag / "data/records/exhibits.json").read_text())
    _, photo_bytes = case_with_evidence["items"]["photo"]
    copy = next(e for e in exhibits if e["derived_from_sha256"] == hashlib.sha256(photo_bytes).hexdigest())
    assert copy["form"] == "working_copy"
    assert (bag / copy["path"]).read_bytes() != photo_bytes
    assert b"GPS" not in (bag / copy["path"]).read_bytes()
    # Made, never filtered: the text note and the unreadable .dat file have no release copy, so stay home.
    assert {e["kind"] for e in exhibits} == {"photo"}
    manifest = json.loads((bag / "data/records/export.json").read_text())
    reasons = [w["reason"] for w in manifest["withheld"]]
    assert any("no copy free of hidden data can be made of text/plain" in r for r in reasons), reasons
    assert any("application/octet-stream" in r for r in reasons), reasons
    assert int(headers["x-withheld-count"]) >= 3  # the canary's name, the note and the .dat exhibit


def test_a_flipped_byte_in_a_bundle_is_caught_and_named(
    client: TestClient, coordinator: Account, case_with_evidence: dict, tmp_path: Path
) -> None:
    blob, _ = download(client, coordinator, case_with_evidence["case"]["id"], "internal")
    key = tmp_path / "published.pem"
    key.write_text(ok(client.get(f"{API}/custody/key", headers=coordinator.headers))["public_key_pem"])
    bag = extract(blob, tmp_path / "x")
    exhibit = sorted((bag / "data/exhibits").iterdir())[0]
    data = bytearray(exhibit.read_bytes())
    data[len(data) // 2] ^= 0x40
    exhibit.write_bytes(bytes(data))
    result = offline_verify(bag, key)
    assert result.returncode == 1
    assert exhibit.name in result.stdout + result.stderr
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(bag)).validate()


def test_who_may_take_a_bundle(
    client: TestClient, case_with_evidence: dict, researcher: Account, documenter2: Account
) -> None:
    case_id = case_with_evidence["case"]["id"]
    assert client.get(f"{API}/cases/{case_id}/bundle", headers=researcher.headers).status_code == 403
    assert client.get(f"{API}/cases/{case_id}/bundle", headers=documenter2.headers).status_code == 404
    assert (
        client.get(
            f"{API}/cases/{case_id}/bundle", params={"audience": "press"}, headers=documenter2.headers
        ).status_code
        == 422
    )


def test_the_ilo_complaint_cites_every_exhibit_with_its_sha256(
    client: TestClient, coordinator: Account, case_with_evidence: dict
) -> None:
    body = {
        "case_ids": [case_with_evidence["case"]["id"]],
        "complainant": {
            "name": "BKDP",
            "type": "national_directly_interested",
            "permanent_address": "Vilnius",
        },
        "signatory": {"name": "Chair", "function": "President"},
        "format": "json",
    }
    complaint = ok(client.post(f"{API}/exports/ilo-cfa", json=body, headers=coordinator.headers))
    refs = complaint["groups"][0]["allegations"][0]["case"]["evidence"]
    _, photo_bytes = case_with_evidence["items"]["photo"]
    assert {"exhibit_id": "E-1", "sha256": hashlib.sha256(photo_bytes).hexdigest()}.items() <= refs[0].items()
    assert [r["exhibit_id"] for r in refs] == ["E-1", "E-2", "E-3"]
    docx = client.post(
        f"{API}/exports/ilo-cfa", json={**body, "format": "docx"}, headers=coordinator.headers
    ).content
    assert find(docx, [hashlib.sha256(photo_bytes).hexdigest()]) != []


def test_a_damaged_stored_exhibit_never_leaves_as_a_complete_bundle(
    client: TestClient, coordinator: Account, case_with_evidence: dict, data_dir: Path
) -> None:
    item, _ = case_with_evidence["items"]["blob"]
    digest = item["digest"].removeprefix("sha256:")
    [stored] = [p for p in data_dir.rglob(f"*{digest}*") if p.is_file()]
    stored.chmod(0o600)
    damaged = bytearray(stored.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    stored.write_bytes(bytes(damaged))
    response = client.get(
        f"{API}/cases/{case_with_evidence['case']['id']}/bundle",
        params={"audience": "internal"},
        headers=coordinator.headers,
    )
    # The stream ends before the zip's central directory: the client is left with an unreadable file.
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(response.content))
    custody = ok(client.get(f"{API}/evidence/{item['id']}/custody", headers=coordinator.headers))
    assert "exported" not in [event["action"] for event in custody]
