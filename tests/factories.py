"""Builders for records through the public API, so tests set up state the way users do."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Account

API = "/api/v1"


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    """Assert the status (showing the problem body on failure) and return the JSON."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json()  # type: ignore[no-any-return]


def create_case(client: TestClient, who: Account, **fields: Any) -> dict[str, Any]:
    body = {
        "title": "Arrest of the union chair at Grodno Azot",
        "summary": "The chair of the primary organisation was detained after a meeting.",
        "country": "BY",
        "occurred_from": "2022-04-19",
        "date_precision": "day",
    }
    body.update(fields)
    return ok(client.post(f"{API}/cases", json=body, headers=who.headers), 201)


def create_person(client: TestClient, who: Account, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"pseudonym": "Witness K-7", "identity": {"full_name": "Аляксандр Ярашук"}}
    body.update(fields)
    return ok(client.post(f"{API}/people", json=body, headers=who.headers), 201)


def involve(client: TestClient, who: Account, case_id: str, **fields: Any) -> dict[str, Any]:
    return ok(client.post(f"{API}/cases/{case_id}/involvements", json=fields, headers=who.headers), 201)


def add_testimony(
    client: TestClient, who: Account, case_id: str, person_id: str, **fields: Any
) -> dict[str, Any]:
    body = {
        "source_person_id": person_id,
        "language": "be",
        "text": "Яго затрымалі пасля сходу.",
        "taken_at": "2026-01-10",
    }
    body.update(fields)
    return ok(client.post(f"{API}/cases/{case_id}/testimonies", json=body, headers=who.headers), 201)


def patch(client: TestClient, who: Account, url: str, etag: str, **fields: Any) -> Any:
    return client.patch(url, json=fields, headers={**who.headers, "If-Match": etag})


# ---- evidence ---------------------------------------------------------------------------------------------

#: What make_jpeg writes into the EXIF: identity-level values must never reach a researcher.
PHOTO_SERIAL = "SN-4411-BODY"
PHOTO_POSITION = "53.901167,27.550000"


def make_jpeg(
    *, gps: bool = True, color: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (64, 48)
) -> bytes:
    """Return a small JPEG with camera EXIF, a body serial number and (by default) a GPS position in Minsk."""
    import io

    from PIL import Image, TiffImagePlugin

    rational = TiffImagePlugin.IFDRational
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "EOS 5D"
    details = exif.get_ifd(0x8769)
    details[0x9003] = "2022:04:19 10:30:00"
    details[0xA431] = PHOTO_SERIAL
    if gps:
        position = exif.get_ifd(0x8825)
        position[1], position[2] = "N", (rational(53, 1), rational(54, 1), rational(42, 10))
        position[3], position[4] = "E", (rational(27, 1), rational(33, 1), rational(0, 1))
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG", exif=exif)
    return out.getvalue()


def upload(
    client: TestClient,
    who: Account,
    case_id: str,
    data: bytes,
    *,
    filename: str = "evidence.bin",
    status: int = 201,
    **fields: Any,
) -> dict[str, Any]:
    """Upload a file with multipart/form-data, as a browser does."""
    response = client.post(
        f"{API}/cases/{case_id}/evidence",
        files={"file": (filename, data, "application/octet-stream")},
        data={k: str(v) for k, v in fields.items()},
        headers=who.headers,
    )
    return ok(response, status)


def put_raw(
    client: TestClient, who: Account, case_id: str, data: bytes, *, status: int = 201, **params: Any
) -> dict[str, Any]:
    """Upload a file as a raw body, as a script or phone does."""
    response = client.put(
        f"{API}/cases/{case_id}/evidence",
        params=params,
        content=data,
        headers={**who.headers, "Content-Type": "application/octet-stream"},
    )
    return ok(response, status)
