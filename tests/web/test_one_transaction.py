"""One transaction per use case: a request refused at its last step leaves no row of what it wrote.

Services flush, the request commits once (api.routing.SessionRoute). Each flow here writes several rows (the
record, its revision, its search index row, its identity, its custody event...) and is made to fail at its
last step; every table then holds exactly what it held before, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.context import AppContext
from api.problems import Conflict
from tests.conftest import Account
from tests.factories import API, add_testimony, create_case, create_person, ok
from tests.web.conftest import post_form, sign_in

# Written apart on purpose, whatever the request's fate: reading records and refusals (api.identity.door).
_APART = {"audit_event"}


def _counts(ctx: AppContext) -> dict[str, int]:
    with ctx.db.engine.connect() as conn:
        tables = sa.inspect(conn).get_table_names()
        return {
            table: int(conn.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar_one())  # noqa: S608
            for table in tables
            if table not in _APART and not table.startswith(("case_fts", "alembic"))
        }


def _refuse(*_: Any, **__: Any) -> None:
    raise Conflict("refused at the last step (injected by the test)")


Flow = Callable[[TestClient, Account, dict[str, str]], Any]


def _etag(client: TestClient, who: Account, url: str) -> dict[str, str]:
    return {**who.headers, "If-Match": client.get(url, headers=who.headers).headers["ETag"]}


FLOWS: dict[str, Flow] = {
    "create case": lambda c, w, ids: c.post(
        f"{API}/cases", json={"title": "T", "country": "BY", "occurred_from": "2022"}, headers=w.headers
    ),
    "change case": lambda c, w, ids: c.patch(
        f"{API}/cases/{ids['case']}",
        json={"summary": "New words."},
        headers=_etag(c, w, f"{API}/cases/{ids['case']}"),
    ),
    "retract case": lambda c, w, ids: c.post(
        f"{API}/cases/{ids['case']}/retract",
        json={"reason": "duplicate"},
        headers=_etag(c, w, f"{API}/cases/{ids['case']}"),
    ),
    "create person": lambda c, w, ids: c.post(
        f"{API}/people",
        json={"pseudonym": "P-1", "identity": {"full_name": "Ян Канарэйка"}},
        headers=w.headers,
    ),
    "involve": lambda c, w, ids: c.post(
        f"{API}/cases/{ids['case']}/involvements",
        json={"person_id": ids["person"], "role": "victim", "victim_status": "detained"},
        headers=w.headers,
    ),
    "record testimony": lambda c, w, ids: c.post(
        f"{API}/cases/{ids['case']}/testimonies",
        json={
            "source_person_id": ids["person"],
            "language": "be",
            "text": "Словы.",
            "taken_at": "2026-01-10",
        },
        headers=w.headers,
    ),
    "change testimony": lambda c, w, ids: c.patch(
        ids["testimony"], json={"text": "Іншыя словы."}, headers=_etag(c, w, ids["testimony"])
    ),
}


@pytest.mark.parametrize("flow", sorted(FLOWS))
def test_an_api_write_refused_at_its_last_step_leaves_no_row(
    client: TestClient, ctx: AppContext, documenter: Account, monkeypatch: pytest.MonkeyPatch, flow: str
) -> None:
    from api.history import service as history_service

    case = create_case(client, documenter)
    person = create_person(client, documenter)
    testimony = add_testimony(client, documenter, case["id"], person["id"])
    ids = {
        "case": case["id"],
        "person": person["id"],
        "testimony": f"{API}/cases/{case['id']}/testimonies/{testimony['id']}",
    }
    before = _counts(ctx)
    monkeypatch.setattr(history_service, "record_revision", _refuse)
    refused = FLOWS[flow](client, documenter, ids)
    assert refused.status_code == 409, refused.text
    assert _counts(ctx) == before
    monkeypatch.undo()  # the same request, not refused, writes several rows
    assert FLOWS[flow](client, documenter, ids).status_code in (200, 201)
    after = _counts(ctx)
    assert sum(after[t] - before[t] for t in after) >= 2 or flow in _UPDATES, (before, after)
    assert after != before


# Updates change rows in place: one new revision row at least, besides the changed record.
_UPDATES = {"change case", "change testimony", "retract case"}


def test_a_refused_testimony_form_saves_neither_the_new_person_nor_the_involvement(
    browser: TestClient, ctx: AppContext, documenter: Account
) -> None:
    """The form records a new source person, their involvement, then the testimony; a date in the future is
    refused at that last step: nothing of the three is saved, and the corrected form saves each once."""
    doc = sign_in(browser, documenter)
    case = create_case(doc, documenter)
    before = _counts(ctx)
    form = {
        "new_pseudonym": "Source S-9",
        "text": "Мяне выклікалі ў аддзел кадраў.",
        "language": "be",
        "taken_at": (datetime.now(UTC).date() + timedelta(days=30)).isoformat(),
        "reliability": "likely_reliable",
        "action": "submit",
    }
    url = f"/cases/{case['id']}/testimonies/new"
    refused = post_form(doc, url, form)
    assert refused.status_code == 422
    assert _counts(ctx) == before
    saved = post_form(doc, url, {**form, "taken_at": "2026-01-10"})
    assert saved.status_code == 303
    people = ok(doc.get(f"{API}/people", params={"q": "Source S-9"}, headers=documenter.headers))
    assert [p["pseudonym"] for p in people["items"]] == ["Source S-9"]
    involvements = ok(doc.get(f"{API}/cases/{case['id']}/involvements", headers=documenter.headers))
    assert [i["role"] for i in involvements] == ["source"]
