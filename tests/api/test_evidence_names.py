"""Evidence file names, titles and embedded metadata never reach a researcher; file names are sealed at rest.

The adversary is a researcher account that walks every GET route of the API and every page of the web
interface looking for a file name like "Іваноўская_пашпарт.jpg", a PDF's /Title and XMP title, and the
documenter's free text about the file; then someone holding a copy of the database file.
"""

from __future__ import annotations

import io
import re
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api import migrate
from api.config import Settings
from api.context import AppContext
from api.web import routes as web_routes
from tests.conftest import PG_URL, Account
from tests.factories import API, create_case, make_jpeg, ok, put_raw, upload
from tests.leaks import find
from tests.web.conftest import csrf_of, sign_in

PHOTO_NAME = "Іваноўская_пашпарт.jpg"
PDF_NAME = "Іваноўская_скарга_на_дырэктара.pdf"
NOTE_NAME = "Іваноўская_заява.txt"
NAMES = (PHOTO_NAME, PDF_NAME, NOTE_NAME)
PDF_TITLE = "Загаловак-канарэйка Ганны Іваноўскай"
XMP_TITLE = "XMP-канарэйка Ганна"
DESCRIPTION = "Апісанне-канарэйка: пашпарт Ганны"
SOURCE = "Крыніца-канарэйка"
CAPTURED_BY = "Аўтар-канарэйка"
#: Everything a researcher must never receive, in every form a response might carry it.
SECRETS = (
    *NAMES,
    *(urllib.parse.quote(name) for name in NAMES),  # RFC 6266 filename*=UTF-8''...
    "Іваноўская",
    PDF_TITLE,
    XMP_TITLE,
    DESCRIPTION,
    SOURCE,
    CAPTURED_BY,
)


def _pdf() -> bytes:
    """A one-page PDF whose information dictionary and XMP packet both carry a title naming a person."""
    from pypdf import PdfWriter
    from pypdf.xmp import XmpInformation

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_metadata({"/Title": PDF_TITLE})
    xmp = XmpInformation.create()
    xmp.dc_title = {"x-default": XMP_TITLE}
    writer.xmp_metadata = xmp
    out = io.BytesIO()
    writer.write(out)
    data = out.getvalue()
    assert XMP_TITLE.encode() in data, "the canary must really be in the file"
    return data


def _web_upload(browser: TestClient, case_id: str, data: bytes, filename: str) -> None:
    """Send the case page's upload form as a browser does (text fields first, then the file)."""
    page = browser.get(f"/cases/{case_id}")
    fields = {"csrf_token": csrf_of(page.text), "description": DESCRIPTION, "source": SOURCE}
    files = {"file": (filename, data, "application/octet-stream")}
    response = browser.post(f"/cases/{case_id}/evidence", data=fields, files=files, follow_redirects=False)
    assert response.status_code == 303, response.text


@pytest.fixture
def browsers(client: TestClient) -> Iterator[dict[str, TestClient]]:
    """Cookie jars on the application of `client`, one per role signed in as needed."""
    made: dict[str, TestClient] = {}

    def make(name: str) -> TestClient:
        made[name] = TestClient(client.app, raise_server_exceptions=False)
        return made[name]

    yield {"documenter": make("documenter"), "researcher": make("researcher")}
    for browser in made.values():
        browser.close()


@pytest.fixture
def planted(client: TestClient, browsers: dict[str, TestClient], documenter: Account) -> dict[str, Any]:
    """A case with three files named after a witness: by the web form, API multipart and a raw PUT."""
    case = create_case(client, documenter)
    _web_upload(sign_in(browsers["documenter"], documenter), case["id"], make_jpeg(), PHOTO_NAME)
    upload(
        client,
        documenter,
        case["id"],
        _pdf(),
        filename=PDF_NAME,
        description=DESCRIPTION,
        source=SOURCE,
        captured_by=CAPTURED_BY,
    )
    put_raw(client, documenter, case["id"], "Заява аб звальненні\n".encode(), filename=NOTE_NAME)
    items = ok(client.get(f"{API}/cases/{case['id']}/evidence", headers=documenter.headers))
    assert len(items) == 3
    return {"case": case["id"], "items": {item["original_filename"]: item["id"] for item in items}}


def _fill(path: str, planted: dict[str, Any], evidence_id: str) -> str:
    known = {"case_id": planted["case"], "evidence_id": evidence_id}
    return re.sub(r"\{(\w+)\}", lambda m: known.get(m.group(1), str(uuid.uuid4())), path)


def _exposed(response: Any) -> bytes:
    """What a response hands over: the headers (Content-Disposition among them) and the body."""
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items()).encode()
    return headers + b"\n\n" + response.content


def _api_paths(client: TestClient) -> list[str]:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return [path for path, operations in paths.items() if path.startswith(API) and "get" in operations]


def _walk(router: Any) -> Iterator[APIRoute]:
    for route in router.routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _walk(route.original_router)


def _page_paths() -> list[str]:
    """Every GET page of the web interface but the sign-in form (which would sign the researcher out)."""
    return sorted({r.path for r in _walk(web_routes.router) if "GET" in r.methods and r.path != "/login"})


# ---- the hostile researcher --------------------------------------------------------------------------------


def test_a_researcher_walking_every_api_route_finds_no_file_name_title_or_description(
    client: TestClient, planted: dict[str, Any], researcher: Account
) -> None:
    leaks: list[str] = []
    walked = 0
    for evidence_id in planted["items"].values():
        for path in _api_paths(client):
            url = _fill(path, planted, evidence_id)
            response = client.get(url, headers=researcher.headers)
            assert response.status_code < 500, f"GET {url}: {response.status_code}"
            walked += response.status_code == 200
            leaks += find(_exposed(response), SECRETS, where=f"GET {url} ({response.status_code})")
    for fmt in ("csv", "ndjson"):
        export = client.get(f"{API}/exports/research", params={"format": fmt}, headers=researcher.headers)
        assert export.status_code == 200
        leaks += find(_exposed(export), SECRETS, where=f"research export {fmt}")
    assert leaks == []
    assert walked > 20, "the walk must read real answers, not only refusals"
    # The walk saw the items themselves, each from the allow-list and nothing else.
    listed = ok(client.get(f"{API}/cases/{planted['case']}/evidence", headers=researcher.headers))
    assert {item["id"] for item in listed} == set(planted["items"].values())
    allowed = {"id", "case_id", "form", "kind", "media_type", "size", "digest", "captured_at", "created_at"}
    allowed |= {"integrity", "derived_from_id", "derivation"}
    for item in listed:
        assert set(item) == allowed
        assert item["digest"].startswith("sha256:") and item["size"] > 0


def test_a_researcher_cannot_download_so_no_content_disposition_names_the_file(
    client: TestClient, browsers: dict[str, TestClient], planted: dict[str, Any], researcher: Account
) -> None:
    reader = sign_in(browsers["researcher"], researcher)
    for evidence_id in planted["items"].values():
        api = client.get(f"{API}/evidence/{evidence_id}/content", headers=researcher.headers)
        page = reader.get(f"/evidence/{evidence_id}/content")
        for response in (api, page):
            assert response.status_code == 403
            assert "content-disposition" not in response.headers
            assert find(_exposed(response), SECRETS) == []


def test_a_researcher_browsing_every_page_finds_no_file_name_title_or_description(
    browsers: dict[str, TestClient], planted: dict[str, Any], researcher: Account
) -> None:
    reader = sign_in(browsers["researcher"], researcher)
    leaks: list[str] = []
    for evidence_id in planted["items"].values():
        for path in _page_paths():
            url = _fill(path, planted, evidence_id)
            response = reader.get(url)
            assert response.status_code < 500, f"GET {url}: {response.status_code}"
            leaks += find(_exposed(response), SECRETS, where=f"GET {url} ({response.status_code})")
    assert leaks == []
    # Not a walk of sign-in redirects: the case page shows the researcher every file, digest and size.
    case_page = reader.get(f"/cases/{planted['case']}")
    assert case_page.status_code == 200
    for evidence_id in planted["items"].values():
        assert f'id="evidence-{evidence_id}"' in case_page.text
    assert case_page.text.count("sha256:") >= 3


# ---- those who may read identities still see the names -----------------------------------------------------


def test_a_documenter_still_sees_the_file_names_titles_and_descriptions(
    client: TestClient, browsers: dict[str, TestClient], planted: dict[str, Any], documenter: Account
) -> None:
    assert set(planted["items"]) == set(NAMES)
    pdf = ok(client.get(f"{API}/evidence/{planted['items'][PDF_NAME]}", headers=documenter.headers))
    assert pdf["original_filename"] == PDF_NAME
    assert pdf["identifying_metadata"]["pdf"]["title"] == PDF_TITLE  # sealed at rest, like the author
    assert "title" not in pdf["embedded_metadata"]["pdf"]
    assert (pdf["description"], pdf["source"], pdf["captured_by"]) == (DESCRIPTION, SOURCE, CAPTURED_BY)
    download = client.get(
        f"{API}/evidence/{planted['items'][PHOTO_NAME]}/content", headers=documenter.headers
    )
    assert download.status_code == 200
    assert download.headers["content-disposition"].endswith(
        f"filename*=UTF-8''{urllib.parse.quote(PHOTO_NAME)}"
    )
    page = sign_in(browsers["documenter"], documenter).get(f"/cases/{planted['case']}").text
    for name in NAMES:
        assert name in page
    assert DESCRIPTION in page


def test_opening_file_names_is_audited_by_item_never_by_name(
    client: TestClient, ctx: Any, planted: dict[str, Any], coordinator: Account
) -> None:
    ok(client.get(f"{API}/cases/{planted['case']}/evidence", headers=coordinator.headers))
    with ctx.db.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT actor_id, details FROM audit_event WHERE action = 'evidence.filename.read'")
        ).all()
    mine = [
        str(details)
        for actor_id, details in rows
        if str(actor_id).replace("-", "") == coordinator.user_id.hex
    ]
    assert len(mine) == 1, "one record for the list, naming its items"
    assert all(evidence_id in mine[0] for evidence_id in planted["items"].values())
    assert find(str(rows).encode(), SECRETS) == []


# ---- at rest -----------------------------------------------------------------------------------------------


def _stored_bytes(database_url: str) -> bytes:
    """What someone holding the database would read: the SQLite files, or every evidence row on PostgreSQL."""
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            if PG_URL:
                rows = (
                    conn.execute(sa.text("SELECT row_to_json(e)::text FROM evidence_item e")).scalars().all()
                )
                return "\n".join(rows).encode()
            conn.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
    finally:
        engine.dispose()
    path = Path(sa.engine.make_url(database_url).database or "")
    files = [path, path.with_name(path.name + "-wal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


def _sealed_names(database_url: str) -> list[bytes | None]:
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT sealed_filename FROM evidence_item")).scalars())
    finally:
        engine.dispose()


def test_file_names_are_stored_only_sealed(database_url: str, planted: dict[str, Any]) -> None:
    stored = _stored_bytes(database_url)
    assert len(stored) > 1000
    assert find(stored, NAMES) == []
    sealed = _sealed_names(database_url)
    assert len(sealed) == 3 and all(sealed)


def _plant_clear_name(database_url: str, evidence_id: str, name: str) -> None:
    """Go back to revision 0013 and store a file name in clear, as it was before names were sealed."""
    migrate.downgrade(database_url, "0013")
    items = sa.table("evidence_item", sa.column("id", sa.Uuid()), sa.column("original_filename", sa.String()))
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.update(items).where(items.c.id == uuid.UUID(evidence_id)).values(original_filename=name)
            )
    finally:
        engine.dispose()


def test_upgrading_seals_the_names_stored_in_clear_and_keeps_them_readable(
    client: TestClient,
    database_url: str,
    data_dir: Path,
    documenter: Account,
    researcher: Account,
    key_environment: Callable[[Path], None],
) -> None:
    case = create_case(client, documenter)
    item = upload(client, documenter, case["id"], b"Order no. 17\n", filename="order.txt")
    _plant_clear_name(database_url, item["id"], PHOTO_NAME)
    assert find(_stored_bytes(database_url), [PHOTO_NAME]), "the clear name must be there to begin with"
    # The migration reads the identity key as the application does: from the settings of the environment.
    key_environment(data_dir)
    migrate.upgrade(database_url)
    assert find(_stored_bytes(database_url), [PHOTO_NAME]) == []
    seen = ok(client.get(f"{API}/evidence/{item['id']}", headers=documenter.headers))
    assert seen["original_filename"] == PHOTO_NAME
    hidden = client.get(f"{API}/evidence/{item['id']}", headers=researcher.headers)
    assert hidden.status_code == 200 and find(_exposed(hidden), SECRETS) == []


def test_upgrading_without_the_identity_key_stops_and_changes_nothing(
    client: TestClient,
    database_url: str,
    tmp_path: Path,
    documenter: Account,
    key_environment: Callable[[Path], None],
) -> None:
    case = create_case(client, documenter)
    item = upload(client, documenter, case["id"], b"Order no. 17\n", filename="order.txt")
    _plant_clear_name(database_url, item["id"], PHOTO_NAME)
    key_environment(tmp_path / "elsewhere")
    with pytest.raises(RuntimeError, match="identity key"):
        migrate.upgrade(database_url)
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            assert migrate.current_revision(conn) == "0013"
            names = conn.execute(sa.text("SELECT original_filename FROM evidence_item")).scalars().all()
    finally:
        engine.dispose()
    assert names == [PHOTO_NAME], "nothing sealed with a new key, nothing lost"
    assert not (tmp_path / "elsewhere" / "keys" / "identity.key").exists(), "no key was made up"


def test_a_lost_identity_key_is_never_replaced_while_sealed_file_names_exist(
    client: TestClient, documenter: Account, settings: Settings
) -> None:
    case = create_case(client, documenter)
    upload(client, documenter, case["id"], b"a letter", filename="Іваноўская_ліст.txt")
    (settings.keys_dir / "identity.key").unlink()  # no person has an identity: only the file name is sealed
    with pytest.raises(RuntimeError, match="identity key"):
        AppContext.build(settings)
    assert not (settings.keys_dir / "identity.key").exists(), "no new key was made up"
