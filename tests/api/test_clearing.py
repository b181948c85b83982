"""Free text for an outside audience is cleared by a person: the software proposes (every form of every
recorded person's name replaced by the pseudonym), a coordinator corrects and approves, and only an approved
clearing of exactly the text as it stands counts.

Written as the adversary: a researcher trying to read proposals, a documenter trying to approve one, a
source edited after approval, and someone reading the database file for the names the proposer found.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.clearing import service as clearing_service
from api.context import AppContext
from api.models import AuditEvent, ClearedText, Revision
from tests import leaks
from tests.api.test_identity_door import events_since, last_event_id
from tests.conftest import PG_URL, Account
from tests.factories import API, add_testimony, create_case, create_person, involve, ok, patch

# A person recorded in another case entirely, by another documenter; the witness names him in Belarusian, in
# the genitive ("Юрыя Карпца"), and his identity is recorded in Russian, in the nominative.
OUTSIDER = "Карпец Юрий Анатольевич"
FOUND = "Юрыя Карпца"
SAID = f"Мы бачылі {FOUND} каля прахадной, пасля яго забралі."
# What only the identity holds: never in the source, so never anywhere in the database in clear.
IDENTITY_ONLY = ["Карпец Юрий", "Анатольевич", "Юрий Анатольевич"]


@pytest.fixture
def world(
    client: TestClient, documenter: Account, documenter2: Account, coordinator: Account
) -> dict[str, Any]:
    """A case by `documenter` with a witness's testimony naming a person recorded elsewhere by documenter2."""
    outsider = create_person(client, documenter2, pseudonym="Worker W-3", identity={"full_name": OUTSIDER})
    elsewhere = create_case(client, documenter2, title="Another case")
    involve(client, documenter2, elsewhere["id"], person_id=outsider["id"], role="victim")
    witness = create_person(
        client, documenter, pseudonym="Witness K-7", identity={"full_name": "Аляксандр Ярашук"}
    )
    case = create_case(client, documenter, title="Затрыманне на прахадной")
    involve(client, documenter, case["id"], person_id=witness["id"], role="witness")
    testimony = add_testimony(client, documenter, case["id"], witness["id"], text=SAID)
    return {
        "case": case["id"],
        "testimony": testimony["id"],
        "outsider": outsider["id"],
        "witness": witness["id"],
    }


def propose(client: TestClient, who: Account, case_id: str, audience: str = "ilo") -> list[dict[str, Any]]:
    response = client.post(
        f"{API}/cases/{case_id}/clearings", json={"audience": audience}, headers=who.headers
    )
    return ok(response, 201)  # type: ignore[return-value]


def of_testimony(clearings: list[dict[str, Any]], testimony_id: str) -> dict[str, Any]:
    return next(
        c for c in clearings if c["source_kind"] == "testimony.text" and c["source_id"] == testimony_id
    )


def approve(client: TestClient, who: Account, clearing: dict[str, Any]) -> Any:
    return client.post(
        f"{API}/clearings/{clearing['id']}/approve",
        headers={**who.headers, "If-Match": f'"v{clearing["version"]}"'},
    )


def cleared(ctx: AppContext, source_id: str, text: str, audience: str = "ilo") -> str | None:
    """What an export for `audience` may carry in place of the testimony's `text` (None: withhold it)."""
    with ctx.db.session(write=False) as session:
        return clearing_service.current_cleared_text(
            session=session,
            source_kind="testimony.text",
            source_id=uuid.UUID(source_id),
            audience=audience,
            source_text=text,
        )


# ---- the proposal -------------------------------------------------------------------------------------------


def test_a_declined_name_of_a_person_outside_the_case_is_replaced_by_the_pseudonym(
    client: TestClient, ctx: AppContext, coordinator: Account, world: dict[str, Any]
) -> None:
    before = last_event_id(ctx)
    clearing = of_testimony(propose(client, coordinator, world["case"]), world["testimony"])
    assert clearing["text"] == "Мы бачылі Worker W-3 каля прахадной, пасля яго забралі."
    assert clearing["status"] == "proposed" and clearing["stale"] is False
    [change] = clearing["changes"]
    assert (change["person_id"], change["replacement"]) == (world["outsider"], "Worker W-3")
    assert SAID[change["start"] : change["end"]] == FOUND, "the span points at the name in the source"
    # Every recorded identity was opened for this, in one audited read that lists ids, never names.
    [read] = events_since(ctx, before, action="identity.read", actor_id=coordinator.user_id)
    assert read.details["purpose"] == "export"
    assert set(read.details["ids"]) == {world["outsider"], world["witness"]}
    assert leaks.find(str(read.details).encode(), [FOUND, *IDENTITY_ONLY, "Ярашук"]) == []


def test_a_second_proposal_leaves_current_clearings_alone(
    client: TestClient, coordinator: Account, world: dict[str, Any]
) -> None:
    first = propose(client, coordinator, world["case"])
    assert {c["source_kind"] for c in first} == {"case.title", "case.summary", "testimony.text"}
    assert propose(client, coordinator, world["case"]) == []
    assert len(propose(client, coordinator, world["case"], "ituc")) == 3, "each audience is cleared apart"


def test_internal_is_not_an_audience_to_clear_for(
    client: TestClient, coordinator: Account, world: dict[str, Any]
) -> None:
    response = client.post(
        f"{API}/cases/{world['case']}/clearings", json={"audience": "internal"}, headers=coordinator.headers
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "body.audience"
    listed = client.get(
        f"{API}/cases/{world['case']}/clearings?audience=ilo&x=1", headers=coordinator.headers
    )
    assert listed.status_code == 422, "unknown query parameters are refused"


# ---- what counts ----------------------------------------------------------------------------------------------


def test_only_an_approved_clearing_of_the_text_as_it_stands_counts(
    client: TestClient, ctx: AppContext, coordinator: Account, documenter: Account, world: dict[str, Any]
) -> None:
    clearing = of_testimony(propose(client, coordinator, world["case"]), world["testimony"])
    assert cleared(ctx, world["testimony"], SAID) is None, "a proposal does not leave"
    ok(approve(client, coordinator, clearing))
    assert cleared(ctx, world["testimony"], SAID) == clearing["text"]
    assert cleared(ctx, world["testimony"], SAID, "public") is None, "approved for the ILO only"
    # The documenter adds a sentence after approval: the approved version no longer stands for the text.
    url = f"{API}/cases/{world['case']}/testimonies/{world['testimony']}"
    edited = SAID + " Юрый быў старшынёй."
    ok(
        patch(
            client, documenter, url, client.get(url, headers=documenter.headers).headers["ETag"], text=edited
        )
    )
    assert cleared(ctx, world["testimony"], edited) is None
    [listed] = [
        c
        for c in ok(client.get(f"{API}/cases/{world['case']}/clearings", headers=coordinator.headers))
        if c["source_id"] == world["testimony"]
    ]
    assert listed["stale"] is True and listed["status"] == "approved"
    fresh = ok(client.get(f"{API}/clearings/{clearing['id']}", headers=coordinator.headers))
    refused = approve(client, coordinator, fresh)
    assert refused.status_code == 409, "a stale clearing cannot be approved"
    # Proposed again in place, from the new text; approved, it counts again.
    again = of_testimony(propose(client, coordinator, world["case"]), world["testimony"])
    assert again["id"] == clearing["id"] and again["status"] == "proposed" and again["stale"] is False
    assert "Юрый" not in again["text"] and again["text"].endswith("Worker W-3 быў старшынёй.")
    ok(approve(client, coordinator, again))
    assert cleared(ctx, world["testimony"], edited) == again["text"]


def test_a_correction_goes_back_to_proposed_and_the_approval_to_the_corrected_text(
    client: TestClient, ctx: AppContext, coordinator: Account, world: dict[str, Any]
) -> None:
    clearing = of_testimony(propose(client, coordinator, world["case"]), world["testimony"])
    approved = ok(approve(client, coordinator, clearing))
    corrected = "Мы бачылі Worker W-3 каля прахадной."
    response = patch(
        client, coordinator, f"{API}/clearings/{clearing['id']}", f'"v{approved["version"]}"', text=corrected
    )
    edited = ok(response)
    assert edited["status"] == "proposed" and edited["approved_by"] is None
    assert response.headers["ETag"] == f'"v{edited["version"]}"'
    assert cleared(ctx, world["testimony"], SAID) is None, "a correction must be approved again"
    ok(approve(client, coordinator, edited))
    assert cleared(ctx, world["testimony"], SAID) == corrected


# ---- who may do what ------------------------------------------------------------------------------------------


def test_documenters_and_researchers_cannot_propose_correct_or_approve(
    client: TestClient, coordinator: Account, documenter: Account, researcher: Account, world: dict[str, Any]
) -> None:
    clearing = of_testimony(propose(client, coordinator, world["case"]), world["testimony"])
    etag = {"If-Match": f'"v{clearing["version"]}"'}
    for who in (documenter, researcher):
        assert approve(client, who, clearing).status_code == 403, who.username
        edit = client.patch(
            f"{API}/clearings/{clearing['id']}", json={"text": "x"}, headers={**who.headers, **etag}
        )
        assert edit.status_code == 403, who.username
        proposal = client.post(
            f"{API}/cases/{world['case']}/clearings", json={"audience": "ilo"}, headers=who.headers
        )
        assert proposal.status_code == 403, who.username
    assert (
        ok(client.get(f"{API}/clearings/{clearing['id']}", headers=coordinator.headers))["status"]
        == "proposed"
    )


def test_a_researcher_never_sees_a_proposal_or_its_history(
    client: TestClient, coordinator: Account, researcher: Account, world: dict[str, Any]
) -> None:
    clearing = of_testimony(propose(client, coordinator, world["case"]), world["testimony"])
    for url in (
        f"{API}/cases/{world['case']}/clearings",
        f"{API}/clearings/{clearing['id']}",
        f"{API}/clearings/{clearing['id']}/history",
    ):
        response = client.get(url, headers=researcher.headers)
        assert response.status_code == 403, url
        assert "Worker W-3" not in response.text
    case_history = ok(client.get(f"{API}/cases/{world['case']}/history", headers=researcher.headers))
    assert all(r["entity_type"] != "cleared_text" for r in case_history), "proposals stay out of case history"


def test_a_documenter_of_the_case_reads_the_spans_and_a_stranger_finds_nothing(
    client: TestClient, coordinator: Account, documenter: Account, documenter2: Account, world: dict[str, Any]
) -> None:
    clearing = of_testimony(propose(client, coordinator, world["case"]), world["testimony"])
    read = ok(client.get(f"{API}/clearings/{clearing['id']}", headers=documenter.headers))
    assert [c["person_id"] for c in read["changes"]] == [world["outsider"]]
    listed = ok(client.get(f"{API}/cases/{world['case']}/clearings", headers=documenter.headers))
    assert {c["changes"] is None for c in listed} == {True}, "lists carry no spans"
    assert client.get(f"{API}/clearings/{clearing['id']}", headers=documenter2.headers).status_code == 404


# ---- If-Match and history -------------------------------------------------------------------------------------


def test_approving_needs_the_current_etag(
    client: TestClient, ctx: AppContext, coordinator: Account, world: dict[str, Any]
) -> None:
    clearing = of_testimony(propose(client, coordinator, world["case"]), world["testimony"])
    url = f"{API}/clearings/{clearing['id']}/approve"
    assert client.post(url, headers=coordinator.headers).status_code == 428
    assert client.post(url, headers={**coordinator.headers, "If-Match": '"v9"'}).status_code == 412
    assert cleared(ctx, world["testimony"], SAID) is None
    response = approve(client, coordinator, clearing)
    assert ok(response)["status"] == "approved"
    assert response.headers["ETag"] == f'"v{clearing["version"] + 1}"'


def test_the_history_names_who_proposed_corrected_and_approved(
    client: TestClient, admin: Account, coordinator: Account, world: dict[str, Any]
) -> None:
    clearing = of_testimony(propose(client, admin, world["case"]), world["testimony"])
    edited = ok(
        patch(
            client,
            coordinator,
            f"{API}/clearings/{clearing['id']}",
            f'"v{clearing["version"]}"',
            text="Мы бачылі.",
        )
    )
    ok(approve(client, admin, edited))
    history = ok(client.get(f"{API}/clearings/{clearing['id']}/history", headers=coordinator.headers))
    assert [(r["action"], r["actor_id"]) for r in history] == [
        ("propose", str(admin.user_id)),
        ("update", str(coordinator.user_id)),
        ("approve", str(admin.user_id)),
    ]
    assert history[1]["changes"]["text"]["after"] == "Мы бачылі."
    assert history[2]["changes"]["status"] == {"before": "proposed", "after": "approved"}


# ---- what is stored -------------------------------------------------------------------------------------------


def _stored(ctx: AppContext) -> bytes:
    """Every clearing row, its revisions and the audit rows, as stored (JSON decoded), in UTF-8 and escaped."""
    with ctx.db.engine.connect() as conn:
        rows = [
            *conn.execute(sa.select(ClearedText.__table__)).mappings(),  # type: ignore[attr-defined]
            *conn.execute(
                sa.select(Revision.__table__).where(Revision.entity_type == "cleared_text")
            ).mappings(),  # type: ignore[attr-defined]
            *conn.execute(sa.select(AuditEvent.__table__)).mappings(),  # type: ignore[attr-defined]
        ]
    dumped = json.dumps([dict(r) for r in rows], default=str, ensure_ascii=False)
    return dumped.encode() + json.dumps(dumped).encode()


def _name_count(path: Path, copy: Path, name: str) -> int:
    """Occurrences of `name` in the live data of the SQLite database (a compacted copy: no freed pages)."""
    with sqlite3.connect(path) as conn:
        conn.execute("VACUUM INTO ?", (str(copy),))
    data = copy.read_bytes()
    return sum(data.count(form) for form in (name.encode(), name.encode("unicode_escape")))


def test_neither_the_row_nor_the_database_file_keeps_the_names_found(
    client: TestClient,
    ctx: AppContext,
    coordinator: Account,
    world: dict[str, Any],
    database_url: str,
    tmp_path: Path,
) -> None:
    sqlite_file = None if PG_URL else Path(database_url.removeprefix("sqlite:///"))
    before = _name_count(sqlite_file, tmp_path / "before.sqlite3", "Карпца") if sqlite_file else 0
    clearing = of_testimony(propose(client, coordinator, world["case"]), world["testimony"])
    edited = ok(
        patch(client, coordinator, f"{API}/clearings/{clearing['id']}", '"v1"', text=clearing["text"] + " ")
    )
    ok(approve(client, coordinator, edited))
    stored = _stored(ctx)
    assert b"Worker W-3" in stored, "the scan reads the stored clearing"
    assert leaks.find(stored, [FOUND, "Карпца", "Юрыя", *IDENTITY_ONLY]) == []
    with ctx.db.engine.connect() as conn:
        changes = conn.execute(
            sa.text("SELECT changes FROM cleared_text WHERE source_kind = 'testimony.text'")
        ).scalar_one()
    assert "original" not in str(changes) and "Карпц" not in str(changes)
    if sqlite_file is None:
        return
    # The found form is nowhere in the database, before or after: the testimony and its history are sealed,
    # and its search index holds keyed hashes of its words...
    assert _name_count(sqlite_file, tmp_path / "after.sqlite3", "Карпца") == before == 0
    # ...and what only the sealed identity holds is nowhere in the file or its write-ahead log.
    raw = sqlite_file.read_bytes() + (
        Path(f"{sqlite_file}-wal").read_bytes() if Path(f"{sqlite_file}-wal").exists() else b""
    )
    assert leaks.find(raw, IDENTITY_ONLY) == []
