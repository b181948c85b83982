"""A testimony's words are sealed at rest: not in its row, its history or the search index in clear; every
reading is audited; researchers get only a version a coordinator cleared of names; and the upgrade that
introduced this seals what was stored before, leaving no word behind in the database file."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from api import migrate
from api.context import AppContext
from api.models import AuditEvent
from tests.conftest import PG_URL, Account
from tests.factories import API, add_testimony, create_case, create_person, ok, patch
from tests.web.conftest import sign_in

# Words that appear only in the testimony: never anywhere in the database in clear.
SECRET = "Карпцоў"
SAID = f"Нас затрымалі разам з Юрыем {SECRET} каля прахадной."
LATER = f"Пасля допыту {SECRET} вызвалілі."
TRANSLATION = "Kartsou was detained with us at the gate."


def _database_bytes(database_url: str, tmp_path: Path) -> bytes:
    """The SQLite database's live data (a compacted copy) and its file and write-ahead log as they are."""
    path = Path(database_url.removeprefix("sqlite:///"))
    copy = tmp_path / f"copy-{uuid.uuid4().hex}.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM INTO ?", (str(copy),))
    wal = Path(f"{path}-wal")
    return copy.read_bytes() + path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def _reads(ctx: AppContext, after: int, actor: uuid.UUID) -> list[Any]:
    with ctx.db.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(AuditEvent).where(
                    AuditEvent.id > after,  # type: ignore[operator]
                    AuditEvent.action == "testimony.read",
                    AuditEvent.actor_id == actor,
                )
            ).all()
        )


def _last_event(ctx: AppContext) -> int:
    with ctx.db.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(AuditEvent.id), 0))).scalar_one())


def _testimony(client: TestClient, who: Account) -> tuple[str, str, str]:
    witness = create_person(client, who, pseudonym="Witness K-9")
    case = create_case(client, who, title="Затрыманне на прахадной")
    made = add_testimony(
        client,
        who,
        case["id"],
        witness["id"],
        text=SAID,
        translations=[{"language": "en", "text": TRANSLATION}],
    )
    return case["id"], made["id"], f"{API}/cases/{case['id']}/testimonies/{made['id']}"


def test_the_row_history_and_index_hold_no_word_of_a_testimony(
    client: TestClient, ctx: AppContext, documenter: Account, database_url: str, tmp_path: Path
) -> None:
    _, testimony_id, url = _testimony(client, documenter)
    etag = client.get(url, headers=documenter.headers).headers["ETag"]
    ok(patch(client, documenter, url, etag, text=LATER))
    with ctx.db.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM testimony")).mappings().one()
        revisions = conn.execute(
            sa.text("SELECT changes FROM revision WHERE entity_type = 'testimony'")
        ).all()
        body = conn.execute(sa.text("SELECT body FROM case_text WHERE kind = 'testimony'")).scalar_one()
    assert "text" not in row and "translations" not in row
    assert all(SECRET not in str(r) and "Kartsou" not in str(r) for r in [*row.values(), *revisions])
    words = body.split()
    assert words and all(w.startswith("h") and len(w) == 25 for w in words)
    assert words == sorted(set(words)), "no order or count of words is kept"
    if not PG_URL:
        data = _database_bytes(database_url, tmp_path)
        for word in (SECRET, "Kartsou", "затрымалі", "допыту"):
            assert word.encode() not in data and word.lower().encode() not in data, word
    # Those who may read identities see the words and their history, each reading in the audit log.
    after = _last_event(ctx)
    shown = ok(client.get(url, headers=documenter.headers))
    assert shown["text"] == LATER and shown["text_withheld"] is False
    assert shown["translations"][0]["text"] == TRANSLATION
    history = ok(client.get(f"{url}/history", headers=documenter.headers))
    assert [r["changes"]["text"]["after"] for r in history] == [SAID, LATER]
    assert {r.target_id for r in _reads(ctx, after, documenter.user_id)} == {testimony_id}
    found = ok(client.get(f"{API}/cases", params={"q": SECRET}, headers=documenter.headers))
    assert found["total"] == 1 and f"<mark>{SECRET}</mark>" in found["items"][0]["snippet"]


def test_a_researcher_reads_a_testimony_only_as_a_coordinator_cleared_it(
    client: TestClient, ctx: AppContext, documenter: Account, coordinator: Account, researcher: Account
) -> None:
    create_person(client, documenter, pseudonym="Worker W-4", identity={"full_name": f"Юрый {SECRET}"})
    case_id, _, url = _testimony(client, documenter)
    withheld = ok(client.get(url, headers=researcher.headers))
    assert withheld["text"] is None and withheld["text_withheld"] is True and withheld["translations"] == []
    history = ok(client.get(f"{url}/history", headers=researcher.headers))
    assert all("text" not in r["changes"] for r in history) and history[0]["identity_changed"] is True
    proposed = ok(
        client.post(
            f"{API}/cases/{case_id}/clearings", json={"audience": "partner"}, headers=coordinator.headers
        ),
        201,
    )
    for clearing in proposed:
        ok(
            client.post(
                f"{API}/clearings/{clearing['id']}/approve",
                headers={**coordinator.headers, "If-Match": f'"v{clearing["version"]}"'},
            )
        )
    cleared = ok(client.get(url, headers=researcher.headers))
    assert (
        cleared["text_withheld"] is False
        and "Worker W-4" in cleared["text"]
        and SECRET not in cleared["text"]
    )
    assert [t["language"] for t in cleared["translations"]] == ["en"]
    listed = ok(client.get(f"{API}/cases/{case_id}/testimonies", headers=researcher.headers))
    assert [t["text"] for t in listed] == [cleared["text"]]
    # The documenter changes the testimony: the clearing no longer fits it, and the researcher sees nothing.
    etag = client.get(url, headers=documenter.headers).headers["ETag"]
    ok(patch(client, documenter, url, etag, text=LATER))
    assert ok(client.get(url, headers=researcher.headers))["text"] is None
    page = sign_in(client, researcher).get(f"/cases/{case_id}")
    assert page.status_code == 200 and "withheld from your role" in page.text
    assert SECRET not in page.text and "допыту" not in page.text


def test_upgrading_seals_testimonies_and_their_history_stored_in_clear(
    client: TestClient,
    ctx: AppContext,
    documenter: Account,
    database_url: str,
    data_dir: Path,
    tmp_path: Path,
    key_environment: Callable[[Path], None],
) -> None:
    case_id, testimony_id, url = _testimony(client, documenter)
    ctx.db.dispose()
    migrate.downgrade(database_url, "0015")  # the words are dropped going down, never opened into clear
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:  # as a database written before 0016 held them
            conn.execute(
                sa.text("UPDATE testimony SET text = :text, translations = :tr WHERE id = :id"),
                {
                    "text": SAID,
                    "tr": f'[{{"language": "en", "text": "{TRANSLATION}"}}]',
                    "id": _db_id(testimony_id),
                },
            )
            conn.execute(
                sa.text(
                    "INSERT INTO revision (entity_type, entity_id, case_id, version, action, actor_id, at, changes) "
                    "VALUES ('testimony', :id, :case, 2, 'update', :actor, :at, :changes)"
                ),
                {
                    "id": _db_id(testimony_id),
                    "case": _db_id(case_id),
                    "actor": _db_id(str(documenter.user_id)),
                    "at": "2026-12-01 10:00:00",
                    "changes": f'{{"text": {{"before": "", "after": "{SAID}"}}, "place": {{"before": null, "after": "Гродна"}}}}',
                },
            )
            conn.execute(
                sa.text("UPDATE case_text SET body = :body WHERE source_id = :id"),
                {"body": SAID.casefold(), "id": _db_id(testimony_id)},
            )
    finally:
        engine.dispose()
    key_environment(data_dir)
    migrate.upgrade(database_url)
    shown = ok(client.get(url, headers=documenter.headers))
    assert shown["text"] == SAID and shown["translations"][0]["text"] == TRANSLATION
    history = ok(client.get(f"{url}/history", headers=documenter.headers))
    assert (
        history[-1]["changes"]["text"]["after"] == SAID
        and history[-1]["changes"]["place"]["after"] == "Гродна"
    )
    found = ok(client.get(f"{API}/cases", params={"q": "затрымалі"}, headers=documenter.headers))
    assert [i["id"] for i in found["items"]] == [case_id]
    if not PG_URL:
        data = _database_bytes(database_url, tmp_path)
        assert SECRET.encode() not in data and "затрымалі".encode() not in data


def _db_id(value: str) -> str:
    """A UUID as the database stores it: hex without dashes on SQLite, the usual form on PostgreSQL."""
    return str(uuid.UUID(value)) if PG_URL else uuid.UUID(value).hex
