"""Forged bundles, made as a recipient without the key would make them: change what they like, recompute
every BagIt manifest (no key is needed for that), and hand it on. Each must be refused with the member
named; an honest bundle must verify against the published key only."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import bagit
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from api.main import create_app
from evidence_store.binding import MANIFEST_PATH
from evidence_store.canonical import canonical_json
from evidence_store.treehead import SignedTreeHead, load_public_key, public_key_pem
from evidence_store.verify import VerificationReport, verify_bag_dir, verify_bag_zip
from tests.conftest import Account
from tests.evidence_store.conftest_ledger import make_tsa, requires_openssl, serve_tsa
from tests.factories import API, create_case, make_jpeg, ok, upload


@pytest.fixture
def published_key(client: TestClient, coordinator: Account, tmp_path: Path) -> Path:
    path = tmp_path / "published.pem"
    path.write_text(ok(client.get(f"{API}/custody/key", headers=coordinator.headers))["public_key_pem"])
    return path


def _case(client: TestClient, who: Account, label: str) -> dict:
    case = create_case(client, who, categories=["A.LIB.ARREST"], summary=f"Case {label}.")
    upload(client, who, case["id"], make_jpeg(), filename=f"{label}.jpg")
    upload(client, who, case["id"], f"Order of {label}\n".encode(), filename=f"{label}.txt")
    return case


def _bundle(client: TestClient, who: Account, case_id: str, audience: str = "internal") -> bytes:
    response = client.get(f"{API}/cases/{case_id}/bundle", params={"audience": audience}, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.content


def _unpack(blob: bytes, where: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        archive.extractall(where)
    (bag,) = list(where.iterdir())
    return bag


def _rebag(bag: Path) -> None:
    """Recompute every BagIt manifest, tag manifest and Payload-Oxum, as anyone can."""
    bagit.Bag(str(bag)).save(manifests=True)
    bagit.Bag(str(bag)).validate()  # the forgery is a valid bag: only the binding can catch it


def _verify(bag: Path, key: Path) -> VerificationReport:
    return verify_bag_dir(bag, public_key=load_public_key(key.read_bytes()))


def _named(report: VerificationReport) -> set[str]:
    return {p.item for p in report.problems}


def _exhibit(bag: Path, suffix: str) -> Path:
    return next(p for p in sorted((bag / "data/exhibits").iterdir()) if p.name.endswith(suffix))


def _events(bag: Path) -> list[dict]:
    return [json.loads(line) for line in (bag / "data/custody/events.jsonl").read_text().splitlines()]


@pytest.fixture
def honest(client: TestClient, coordinator: Account, tmp_path: Path) -> dict:
    case = _case(client, coordinator, "alpha")
    return {"case": case, "zip": _bundle(client, coordinator, case["id"]), "dir": tmp_path}


def test_an_honest_bundle_verifies_and_every_member_is_bound(
    honest: dict, published_key: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "honest.zip"
    archive.write_bytes(honest["zip"])
    report = verify_bag_zip(archive, public_key=load_public_key(published_key.read_bytes()))
    assert report.ok, report.problems
    assert "2 of 2 exhibits and statements bound to proven custody events" in "\n".join(report.checked)
    result = subprocess.run(
        [sys.executable, "-m", "evidence_store", "verify", str(archive), "--public-key", str(published_key)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout
    assert "VERIFIED" in result.stdout


def test_a_swapped_exhibit_with_recomputed_manifests_is_refused(
    honest: dict, published_key: Path, tmp_path: Path
) -> None:
    bag = _unpack(honest["zip"], tmp_path / "x")
    exhibit = _exhibit(bag, ".jpg")
    exhibit.write_bytes(make_jpeg(color=(0, 200, 0)))
    _rebag(bag)
    report = _verify(bag, published_key)
    assert _named(report) == {f"data/exhibits/{exhibit.name}"}
    assert "not the ones the signed manifest lists" in report.problems[0].message


def test_an_exhibit_list_edited_to_the_new_hash_is_refused(
    honest: dict, published_key: Path, tmp_path: Path
) -> None:
    bag = _unpack(honest["zip"], tmp_path / "x")
    exhibit = _exhibit(bag, ".txt")
    forged = b"Order of nobody\n"
    exhibit.write_bytes(forged)
    listing = bag / "data/records/exhibits.json"
    entries = json.loads(listing.read_text())
    for entry in entries:
        if entry["path"].endswith(exhibit.name):
            entry["sha256"], entry["size"] = hashlib.sha256(forged).hexdigest(), len(forged)
    listing.write_text(json.dumps(entries, indent=2))
    _rebag(bag)
    assert _named(_verify(bag, published_key)) == {
        f"data/exhibits/{exhibit.name}",
        "data/records/exhibits.json",
    }


def test_a_manifest_edited_to_the_new_hash_is_refused(
    honest: dict, published_key: Path, tmp_path: Path
) -> None:
    bag = _unpack(honest["zip"], tmp_path / "x")
    exhibit = _exhibit(bag, ".txt")
    forged = b"Order of nobody\n"
    exhibit.write_bytes(forged)
    manifest = json.loads((bag / MANIFEST_PATH).read_text())
    for member in manifest["members"]:
        if member["path"].endswith(exhibit.name):
            member["sha256"], member["size"] = hashlib.sha256(forged).hexdigest(), len(forged)
    (bag / MANIFEST_PATH).write_bytes(canonical_json(manifest))
    _rebag(bag)
    report = _verify(bag, published_key)
    assert MANIFEST_PATH in _named(report)
    assert any("no proven 'exported' custody event names this manifest" in p.message for p in report.problems)
    assert f"data/exhibits/{exhibit.name}" in _named(report)  # and no event of the item names the new bytes


def test_removed_custody_events_leave_the_exhibit_unbound(
    honest: dict, published_key: Path, tmp_path: Path
) -> None:
    bag = _unpack(honest["zip"], tmp_path / "x")
    exhibit = _exhibit(bag, ".jpg")
    evidence_id = next(
        e["evidence_id"]
        for e in json.loads((bag / "data/records/exhibits.json").read_text())
        if e["path"].endswith(".jpg")
    )
    kept = [e for e in _events(bag) if e.get("evidence") != evidence_id]
    (bag / "data/custody/events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in kept))
    _rebag(bag)
    report = _verify(bag, published_key)
    assert _named(report) == {f"data/exhibits/{exhibit.name}"}
    assert "no proven custody event of this exhibit names these bytes" in report.problems[0].message


def test_an_added_payload_file_is_refused(honest: dict, published_key: Path, tmp_path: Path) -> None:
    bag = _unpack(honest["zip"], tmp_path / "x")
    (bag / "data/exhibits/E-9-confession.pdf").write_bytes(b"%PDF-1.4 planted")
    (bag / "data/custody/extra-proof.json").write_bytes(b"{}")
    _rebag(bag)
    report = _verify(bag, published_key)
    assert _named(report) == {"data/exhibits/E-9-confession.pdf", "data/custody/extra-proof.json"}
    assert all("not in the signed manifest" in p.message for p in report.problems)


def test_an_altered_case_record_is_refused(honest: dict, published_key: Path, tmp_path: Path) -> None:
    bag = _unpack(honest["zip"], tmp_path / "x")
    record = bag / "data/records/case.json"
    record.write_text(record.read_text().replace("Case alpha.", "Nothing happened."))
    _rebag(bag)
    assert _named(_verify(bag, published_key)) == {"data/records/case.json"}


def test_a_removed_exhibit_is_refused(honest: dict, published_key: Path, tmp_path: Path) -> None:
    bag = _unpack(honest["zip"], tmp_path / "x")
    exhibit = _exhibit(bag, ".jpg")
    exhibit.unlink()
    _rebag(bag)
    report = _verify(bag, published_key)
    assert _named(report) == {f"data/exhibits/{exhibit.name}"}
    assert "missing from the bundle" in report.problems[0].message


def test_an_exhibit_swapped_in_from_another_cases_bundle_is_refused(
    client: TestClient, coordinator: Account, honest: dict, published_key: Path, tmp_path: Path
) -> None:
    other = _case(client, coordinator, "beta")
    theirs = _unpack(_bundle(client, coordinator, other["id"]), tmp_path / "beta")
    ours = _unpack(honest["zip"], tmp_path / "alpha")
    target = _exhibit(ours, ".txt")
    shutil.copy(_exhibit(theirs, ".txt"), target)
    # Bring the other bundle's custody events along too: they are genuine and proven, but name the other item.
    (ours / "data/custody/events.jsonl").write_bytes((theirs / "data/custody/events.jsonl").read_bytes())
    (ours / "data/custody/proofs.json").write_bytes((theirs / "data/custody/proofs.json").read_bytes())
    (ours / "data/custody/tree-head.json").write_bytes((theirs / "data/custody/tree-head.json").read_bytes())
    _rebag(ours)
    report = _verify(ours, published_key)
    assert f"data/exhibits/{target.name}" in _named(report)
    assert MANIFEST_PATH in _named(report)  # our manifest's event is not among theirs


def test_an_old_manifest_replayed_with_new_files_is_refused(
    client: TestClient, coordinator: Account, honest: dict, published_key: Path, tmp_path: Path
) -> None:
    old = _unpack(honest["zip"], tmp_path / "old")
    upload(client, coordinator, honest["case"]["id"], b"A later document\n", filename="later.txt")
    new = _unpack(_bundle(client, coordinator, honest["case"]["id"]), tmp_path / "new")
    (new / MANIFEST_PATH).write_bytes((old / MANIFEST_PATH).read_bytes())
    for name in ("events.jsonl", "proofs.json", "tree-head.json"):
        (new / "data/custody" / name).write_bytes((old / "data/custody" / name).read_bytes())
    _rebag(new)
    report = _verify(new, published_key)
    assert not report.ok
    later = {f"data/exhibits/{p.name}" for p in (new / "data/exhibits").iterdir()} - {
        f"data/exhibits/{p.name}" for p in (old / "data/exhibits").iterdir()
    }
    assert len(later) == 1
    assert later | {"data/records/exhibits.json", "data/records/export.json"} <= _named(report)


def test_a_head_signed_by_another_key_is_refused(honest: dict, published_key: Path, tmp_path: Path) -> None:
    bag = _unpack(honest["zip"], tmp_path / "x")
    head_file = bag / "data/custody/tree-head.json"
    forger = Ed25519PrivateKey.generate()
    resigned = SignedTreeHead.sign(SignedTreeHead.from_json(head_file.read_bytes()).head, forger)
    head_file.write_bytes(resigned.to_json())
    (bag / "data/custody/tree-head.sig").write_bytes(resigned.signature)
    (bag / "data/custody/public-key.pem").write_bytes(public_key_pem(forger.public_key()))
    _rebag(bag)
    assert verify_bag_dir(bag).ok  # self-consistent against the key it ships...
    named = _named(_verify(bag, published_key))  # ...but not the organisation's
    assert "data/custody/tree-head.json" in named
    assert MANIFEST_PATH in named


def test_bag_info_claiming_another_audience_is_refused(
    client: TestClient, coordinator: Account, published_key: Path, tmp_path: Path
) -> None:
    case = _case(client, coordinator, "gamma")
    bag = _unpack(_bundle(client, coordinator, case["id"], "ilo"), tmp_path / "x")
    assert _verify(bag, published_key).ok  # the working copy made on the fly travels with its events
    info = bag / "bag-info.txt"
    info.write_text(info.read_text().replace("Export-Audience: ilo", "Export-Audience: internal"))
    _rebag(bag)
    report = _verify(bag, published_key)
    assert _named(report) == {"bag-info.txt"}
    assert "Export-Audience differs from the signed manifest" in report.problems[0].message


def test_a_working_copy_proves_which_original_it_was_made_from(
    client: TestClient, coordinator: Account, published_key: Path, tmp_path: Path
) -> None:
    case = _case(client, coordinator, "delta")
    bag = _unpack(_bundle(client, coordinator, case["id"], "partner"), tmp_path / "x")
    manifest = json.loads((bag / MANIFEST_PATH).read_text())
    copies = [m for m in manifest["members"] if m["role"] == "exhibit" and m["derived_from"]]
    assert copies, manifest["members"]
    assert _verify(bag, published_key).ok
    # Claim the copy came from another original: the derived event says otherwise.
    raw = (bag / MANIFEST_PATH).read_text()
    forged = raw.replace(copies[0]["derived_from"]["sha256"], "0" * 64)
    (bag / MANIFEST_PATH).write_text(forged)
    _rebag(bag)
    assert MANIFEST_PATH in _named(_verify(bag, published_key))


def test_a_sighted_statement_travels_with_its_proof_in_an_internal_bundle(
    client: TestClient, coordinator: Account, published_key: Path, tmp_path: Path
) -> None:
    case = create_case(client, coordinator, categories=["A.LIB.ARREST"], summary="Seen, not copied.")
    response = client.post(
        f"{API}/cases/{case['id']}/evidence/sighted",
        json={
            "kind": "document",
            "description": "Dismissal order",
            "sighted_by": "K-7",
            "sighted_on": "2023-01-02",
            "content": "Order no. 5: dismissed for union membership.",
        },
        headers=coordinator.headers,
    )
    assert response.status_code == 201, response.text
    bag = _unpack(_bundle(client, coordinator, case["id"]), tmp_path / "x")
    statement = bag / "data/sighted/S-1.json"
    assert b"union membership" in statement.read_bytes()
    assert _verify(bag, published_key).ok
    statement.write_bytes(statement.read_bytes().replace(b"Order no. 5", b"Order no. 6"))
    _rebag(bag)
    assert _named(_verify(bag, published_key)) == {"data/sighted/S-1.json"}
    public = _unpack(_bundle(client, coordinator, case["id"], "public"), tmp_path / "public")
    assert not (public / "data/sighted").exists()


BOMB = b"[" * 200_000 + b"]" * 200_000


@pytest.mark.parametrize(
    "target",
    [MANIFEST_PATH, "data/custody/tree-head.json", "data/custody/proofs.json", "data/custody/events.jsonl"],
)
def test_a_json_bomb_anywhere_is_refused_by_name_never_a_traceback(
    honest: dict, published_key: Path, tmp_path: Path, target: str
) -> None:
    bag = _unpack(honest["zip"], tmp_path / "x")
    (bag / target).write_bytes(BOMB)
    _rebag(bag)
    result = subprocess.run(
        [sys.executable, "-m", "evidence_store", "verify", str(bag), "--public-key", str(published_key)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"FAIL  {target}" in result.stdout or f"FAIL  {target} line 1" in result.stdout


@pytest.mark.parametrize("damage", ["truncate", "escape", "nesting"])
def test_a_malformed_zip_is_refused_by_name(
    honest: dict, published_key: Path, tmp_path: Path, damage: str
) -> None:
    path = tmp_path / "bad.zip"
    if damage == "truncate":
        path.write_bytes(honest["zip"][: len(honest["zip"]) // 2])
        named, message = "bad.zip", "not a readable zip"
    else:
        with zipfile.ZipFile(io.BytesIO(honest["zip"])) as old, zipfile.ZipFile(path, "w") as new:
            for info in old.infolist():
                new.writestr(info, old.read(info))
            bag_name = old.infolist()[0].filename.split("/")[0]
            if damage == "escape":
                named, message = f"{bag_name}/data/../../../etc/cron.d/x", "unsafe zip entry"
            else:  # 10,000 folders deep: read as a name, never walked
                named, message = "data/" + "a/" * 10_000 + "x", "not in the signed manifest"
            new.writestr(named if damage == "escape" else f"{bag_name}/{named}", b"* * * * * root true\n")
    report = verify_bag_zip(path, public_key=load_public_key(published_key.read_bytes()))
    assert any(p.item == named and message in p.message for p in report.problems), report.problems


def _leaf_of(event: dict) -> dict:
    return json.loads(base64.b64decode(event["leaf"]))


def test_the_manifest_event_is_in_the_signed_ledger_and_names_the_export(
    client: TestClient, coordinator: Account, honest: dict, tmp_path: Path
) -> None:
    bag = _unpack(honest["zip"], tmp_path / "x")
    digest = hashlib.sha256((bag / MANIFEST_PATH).read_bytes()).hexdigest()
    manifest = json.loads((bag / MANIFEST_PATH).read_text())
    [event] = [e for e in _events(bag) if _leaf_of(e)["object"] == f"sha256:{digest}"]
    assert _leaf_of(event)["action"] == "exported"
    assert _leaf_of(event)["details"]["export"] == manifest["export_id"]
    head = json.loads((bag / "data/custody/tree-head.json").read_text())
    assert event["leaf_index"] < head["tree_size"]


# --------------------------------------------------------------------------- when each exhibit's record existed


@requires_openssl
def test_an_exhibit_is_dated_by_the_earliest_time_stamped_head_tied_to_the_bundles_head(
    make_settings, coordinator: Account, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    tsa_dir = tmp_path / "tsa"
    tsa_dir.mkdir()
    tsa = make_tsa(tsa_dir)
    with (
        serve_tsa(tsa) as tsa_url,
        TestClient(create_app(make_settings(tsa_urls=[f"{tsa_url}/rsa"]))) as client,
    ):
        case = create_case(client, coordinator, categories=["A.LIB.ARREST"], summary="Dated.")
        first = upload(client, coordinator, case["id"], b"Received early\n", filename="early.txt")
        early = ok(client.get(f"{API}/custody/tree-head", headers=coordinator.headers))  # signed and stamped
        upload(client, coordinator, case["id"], b"Received later\n", filename="later.txt")
        blob = _bundle(client, coordinator, case["id"])
        key = load_public_key(
            ok(client.get(f"{API}/custody/key", headers=coordinator.headers))["public_key_pem"].encode()
        )
    bag = _unpack(blob, tmp_path / "x")
    heads = json.loads((bag / "data/custody/earlier-heads.json").read_text())["heads"]
    assert [h["tree_head"]["tree_size"] for h in heads] == [early["tree_size"]]
    report = verify_bag_dir(bag, public_key=key, tsa_roots=[tsa.ca_file.read_bytes()])
    assert report.ok, report.problems
    dated = next(line for line in report.checked if line.startswith("earlier head"))
    assert f"evidence {first['id']}" in dated and "(chain checked)" in dated
    # A rebuilt ledger: the earlier head no longer extends to the bundle's.
    heads[0]["consistency_path"] = ["00" * 32 for _ in heads[0]["consistency_path"]] or ["00" * 32]
    (bag / "data/custody/earlier-heads.json").write_text(json.dumps({"heads": heads}))
    _rebag(bag)
    report = verify_bag_dir(bag, public_key=key)
    assert _named(report) == {"data/custody/earlier-heads.json head #0"}
    assert "not consistent with the bundle's head" in report.problems[0].message
