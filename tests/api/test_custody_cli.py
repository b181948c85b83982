"""`precedent verify` and `precedent custody export-ledger`, run as an operator runs them, in a child process."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.config import Settings
from api.context import AppContext
from tests.api.live import server_env
from tests.api.test_evidence_content import flip_byte
from tests.conftest import Account
from tests.factories import API, create_case, make_jpeg, ok, put_raw, upload


def precedent(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env=server_env(settings),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def offline_verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evidence_store", "verify", *args],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def fill(client: TestClient, who: Account) -> tuple[dict, dict, dict]:
    case = create_case(client, who)
    photo = upload(client, who, case["id"], make_jpeg(), filename="photo.jpg")
    video = put_raw(client, who, case["id"], os.urandom(1_500_000), filename="clip.mp4")
    sighted = {
        "description": "Court order",
        "sighted_by": "K-7",
        "sighted_on": "2023-01-02",
        "content": "Liquidation.",
    }
    ok(client.post(f"{API}/cases/{case['id']}/evidence/sighted", json=sighted, headers=who.headers), 201)
    assert client.get(f"{API}/evidence/{photo['id']}/content", headers=who.headers).status_code == 200
    ok(client.get(f"{API}/custody/tree-head", headers=who.headers))
    return case, photo, video


def test_precedent_verify_passes_then_names_the_item_whose_byte_was_flipped(
    client: TestClient, ctx: AppContext, settings: Settings, documenter: Account
) -> None:
    case, photo, video = fill(client, documenter)
    clean = precedent(settings, "verify")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "VERIFIED" in clean.stdout
    assert "2 of 2 stored files" in clean.stdout and "1 of 1 sighted statements" in clean.stdout
    assert "4 of 4 ledger records" in clean.stdout

    flip_byte(ctx, video["digest"], 1_000_000)
    broken = precedent(settings, "verify", "--json")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    report = json.loads(broken.stdout)
    (finding,) = report["findings"]
    assert video["id"] in finding["item"] and case["reference"] in finding["item"]
    assert finding["message"] == "stored bytes do not match their SHA-256"
    assert finding["expected"] == video["digest"] and finding["found"] != video["digest"]
    assert photo["id"] not in broken.stdout
    # The damage is flagged where the API sees it: the bytes are no longer served.
    refused = client.get(f"{API}/evidence/{video['id']}/content", headers=documenter.headers)
    assert refused.status_code == 500


def _drop_append_only(ctx: AppContext) -> None:
    """Do what an intruder with the database's owner rights could do: remove the triggers."""
    with ctx.db.engine.begin() as conn:
        if ctx.db.is_sqlite:
            conn.execute(sa.text("DROP TRIGGER custody_event_no_update"))
        else:
            conn.execute(sa.text("DROP TRIGGER custody_event_append_only ON custody_event"))


def test_precedent_verify_names_tampered_ledger_records(
    client: TestClient, ctx: AppContext, settings: Settings, documenter: Account
) -> None:
    _, _, video = fill(client, documenter)
    _drop_append_only(ctx)
    with ctx.db.engine.begin() as conn:
        # Record 1: the leaf rewritten, its hash left alone.
        leaf = conn.execute(sa.text("SELECT leaf FROM custody_event WHERE leaf_index = 1")).scalar_one()
        conn.execute(
            sa.text("UPDATE custody_event SET leaf = :leaf WHERE leaf_index = 1"),
            {"leaf": bytes(leaf).replace(b'"received"', b'"recorded"')},
        )
        # Record 3: a column that the API lists, changed behind the leaf's back.
        conn.execute(sa.text("UPDATE custody_event SET action = 'verified' WHERE leaf_index = 3"))
    result = precedent(settings, "verify", "--json")
    assert result.returncode == 1
    findings = {(f["item"], f["message"]) for f in json.loads(result.stdout)["findings"]}
    assert ("leaf 1", "leaf bytes do not hash to the stored leaf hash") in findings
    assert ("leaf 3", "column 'action' differs from the hashed record") in findings
    # The altered leaf also no longer adds up to the root the service signed.
    assert [m for item, m in findings if item.startswith("tree head 4")] == [
        "signed root differs from the Merkle root of the stored leaves"
    ]
    # Record 1 was the video's "received" record: a leaf that does not hash right binds nothing.
    unbound = {item for item, m in findings if m.startswith("not bound to the ledger")}
    hex_ = video["digest"][7:]
    assert unbound == {
        next(item for item, _ in findings if item.startswith(f"evidence {video['id']}")),
        f"blob sha256/{hex_[:2]}/{hex_[2:4]}/{hex_}",
    }
    assert len(findings) == 5

    # Rewriting a leaf and its hash together passes the leaf check, never the signed root.
    with ctx.db.engine.begin() as conn:
        leaf = conn.execute(sa.text("SELECT leaf FROM custody_event WHERE leaf_index = 0")).scalar_one()
        forged = bytes(leaf).replace(b'"received"', b'"recorded"')
        conn.execute(
            sa.text(
                "UPDATE custody_event SET leaf = :leaf, leaf_hash = :hash, action = 'recorded' WHERE leaf_index = 0"
            ),
            {"leaf": forged, "hash": hashlib.sha256(b"\x00" + forged).digest()},
        )
    result = precedent(settings, "verify", "--json")
    findings = {(f["item"], f["message"]) for f in json.loads(result.stdout)["findings"]}
    assert not any(item == "leaf 0" for item, _ in findings)
    assert any(item.startswith("tree head 4") and "signed root differs" in m for item, m in findings)


def test_an_exported_store_copy_verifies_offline_and_a_flipped_byte_is_caught(
    client: TestClient, settings: Settings, documenter: Account, tmp_path: Path
) -> None:
    _, photo, video = fill(client, documenter)
    copy = tmp_path / "copy"
    export = precedent(settings, "custody", "export-ledger", str(copy))
    assert export.returncode == 0, export.stderr
    assert "wrote 4 ledger records; signed tree head covers 4" in export.stdout
    key = tmp_path / "published-key.pem"
    key.write_text(ok(client.get(f"{API}/custody/key", headers=documenter.headers))["public_key_pem"])
    assert len((copy / "custody" / "ledger.jsonl").read_bytes().splitlines()) == 4

    good = offline_verify(str(copy), "--public-key", str(key))
    assert good.returncode == 0, good.stdout + good.stderr
    assert "VERIFIED" in good.stdout

    hex_ = photo["digest"][7:]
    blob = copy / "sha256" / hex_[:2] / hex_[2:4] / hex_
    data = bytearray(blob.read_bytes())
    data[100] ^= 0x01
    blob.write_bytes(bytes(data))
    bad = offline_verify(str(copy), "--public-key", str(key))
    assert bad.returncode == 1
    assert f"sha256/{hex_[:2]}/{hex_[2:4]}/{hex_}: blob content does not match its SHA-256 name" in bad.stdout
    assert video["digest"][7:] not in bad.stdout.split("FAIL", 1)[1]
