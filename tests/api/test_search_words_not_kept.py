"""A search's words are kept nowhere in clear: not in the audit log, not anywhere in the database, not in the logs.
The audit log keeps a keyed hash of them, which only the holder of the server's secret can test words against."""

from __future__ import annotations

import hashlib
import logging
import subprocess
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.context import AppContext
from api.exports.service import search_words_hmac
from api.models import AuditEvent
from api.search.text import parse_query
from tests import conftest
from tests.conftest import Account
from tests.factories import API, create_case
from tests.leaks import find

CANARY = "Канарэйкашукальная"  # a word a researcher searches for; no case holds it
MARKER = "Маркерзахаваны"  # a word a case holds: shows the scan reads what the database keeps


def database_bytes(database_url: str) -> bytes:
    """The whole database as bytes: the SQLite file and its write-ahead log, or a plain pg_dump."""
    url = sa.engine.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return subprocess.run(["pg_dump", "--format=plain", plain], capture_output=True, check=True).stdout


def test_a_researchers_searches_and_exports_keep_no_search_word(
    client: TestClient,
    ctx: AppContext,
    coordinator: Account,
    researcher: Account,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    create_case(client, coordinator, title=f"Dismissal of {MARKER}")
    searches = [{"q": CANARY}, {"q": f"strike* {CANARY}", "country": "BY"}]
    for search in searches:
        assert client.get(f"{API}/cases", params=search, headers=researcher.headers).status_code == 200
        export = client.get(
            f"{API}/exports/research", params={**search, "format": "csv"}, headers=researcher.headers
        )
        assert export.status_code == 200, export.text

    with ctx.db.engine.connect() as conn:
        audited = (
            conn.execute(
                sa.select(AuditEvent.details)
                .where(AuditEvent.action == "export.research")
                .order_by(AuditEvent.id)
            )
            .scalars()
            .all()
        )
    assert len(audited) == 2
    assert find(repr(audited).encode(), [CANARY]) == []
    # Whoever holds the server's secret can still tell which words were searched, in any order or letter case.
    assert audited[0]["filters"] == {
        "q_hmac": search_words_hmac(terms=parse_query(CANARY.upper()), secret=ctx.secret)
    }
    assert audited[1]["filters"]["country"] == ["BY"]
    assert audited[1]["filters"]["q_hmac"] == search_words_hmac(
        terms=parse_query(f"{CANARY} STRIKE*"), secret=ctx.secret
    )

    stored = database_bytes(database_url)
    assert find(stored, [MARKER]) != []
    assert find(stored, [CANARY]) == []
    # The server's log lines (the test's own HTTP client logs the URLs it asks for: that is the researcher's side).
    server_lines = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert "GET /api/v1/exports/research 200" in server_lines
    assert find(server_lines.encode(), [CANARY, quote(CANARY), quote_plus(CANARY)]) == []


def test_the_keyed_hash_of_search_words_cannot_be_tested_without_the_secret() -> None:
    terms = parse_query(CANARY)
    tag = search_words_hmac(terms=terms, secret=conftest.TEST_SECRET.encode())
    assert tag == search_words_hmac(
        terms=parse_query(f"  {CANARY.upper()}  "), secret=conftest.TEST_SECRET.encode()
    )
    assert tag != search_words_hmac(terms=terms, secret=b"another server's secret, 32 chars long")
    assert tag != search_words_hmac(terms=parse_query(f"{CANARY}*"), secret=conftest.TEST_SECRET.encode())
    # Not a plain hash that a dictionary of names could be run against.
    unkeyed = {hashlib.sha256(form.encode()).hexdigest() for form in (CANARY, CANARY.lower(), terms[0].word)}
    assert tag.startswith("hmac-sha256:") and tag.removeprefix("hmac-sha256:") not in unkeyed
