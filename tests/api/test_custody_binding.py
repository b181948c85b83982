"""`precedent verify` checks binding: every stored file and statement the database knows is named by the ledger."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, date, datetime

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col

from api.config import Settings
from api.context import AppContext
from api.evidence import service as evidence_service
from api.models import EvidenceBlob, EvidenceItem
from tests.api.test_custody_cli import fill, precedent
from tests.conftest import Account
from tests.factories import API, ok


def findings_of(settings: Settings) -> list[dict]:
    result = precedent(settings, "verify", "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    return json.loads(result.stdout)["findings"]  # type: ignore[no-any-return]


def test_an_honest_database_with_a_working_copy_is_bound_throughout(
    client: TestClient, settings: Settings, documenter: Account
) -> None:
    _, photo, _ = fill(client, documenter)
    ok(
        client.post(
            f"{API}/evidence/{photo['id']}/derivatives",
            json={"method": "strip_metadata"},
            headers=documenter.headers,
        ),
        201,
    )
    result = precedent(settings, "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VERIFIED" in result.stdout
    assert "4 of 4 evidence items and 3 of 3 stored files are bound to ledger records" in result.stdout
    # The copy was made after the last signed head: bound, but by records not yet signed.
    assert "1 evidence item(s) are bound only by ledger records after the latest signed head" in result.stdout


def test_an_item_rewritten_to_cite_other_stored_bytes_is_named(
    client: TestClient, ctx: AppContext, settings: Settings, documenter: Account
) -> None:
    case, photo, video = fill(client, documenter)
    # Every piece stays true on its own: both blobs hash right, the ledger and its signed head are intact.
    with ctx.db.engine.begin() as conn:
        conn.execute(
            sa.update(EvidenceItem)
            .where(col(EvidenceItem.id) == uuid.UUID(photo["id"]))
            .values(blob_sha256=video["digest"][7:])
        )
    (finding,) = findings_of(settings)
    assert photo["id"] in finding["item"] and case["reference"] in finding["item"]
    assert "not bound to the ledger" in finding["message"]
    assert finding["expected"] == f"received {video['digest']}"
    assert finding["found"] == f"received {photo['digest']}"


def test_rows_added_behind_the_services_back_are_named(
    client: TestClient, ctx: AppContext, settings: Settings, documenter: Account
) -> None:
    case, photo, _ = fill(client, documenter)
    with ctx.blob_store.begin_write() as writer:
        writer.write(os.urandom(10_000))
        planted = writer.commit()
    case_id, now = uuid.UUID(case["id"]), datetime.now(UTC)

    def item(**fields: object) -> EvidenceItem:
        return EvidenceItem(case_id=case_id, kind="document", created_by=documenter.user_id, **fields)

    copied = item(form="file", blob_sha256=photo["digest"][7:])
    new_file = item(form="file", blob_sha256=planted.digest.hex)
    sighted = item(form="sighted", sighted_by="K-9", sighted_on=date(2023, 5, 6), sighted_content="Forged.")
    sighted.statement_sha256 = evidence_service.statement_digest(sighted).hex  # the statement check passes
    with ctx.db.write_session() as session:
        session.add(
            EvidenceBlob(
                sha256=planted.digest.hex,
                size=planted.size,
                media_type="application/octet-stream",
                received_at=now,
                integrity="ok",
            )
        )
        session.flush()
        session.add_all([copied, new_file, sighted])
    findings = {(f["item"], f["expected"], f["found"]) for f in findings_of(settings)}
    assert findings == {
        (f"evidence {copied.id} in case {case['reference']}", f"received {photo['digest']}", None),
        (f"evidence {new_file.id} in case {case['reference']}", f"received {planted.digest}", None),
        (
            f"evidence {sighted.id} in case {case['reference']}",
            f"recorded sha256:{sighted.statement_sha256}",
            None,
        ),
        (
            f"blob sha256/{planted.digest.hex[:2]}/{planted.digest.hex[2:4]}/{planted.digest.hex}",
            f"received or derived {planted.digest}",
            None,
        ),
    }
