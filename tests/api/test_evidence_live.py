"""Uploads against a real uvicorn server: bodies cut short, a server killed mid-upload, several server processes."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.config import Settings
from api.context import AppContext
from api.main import create_app
from tests.api.live import LiveServer, request_head, serve
from tests.conftest import Account
from tests.factories import API, create_case, ok

MiB = 1024 * 1024


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def temporary_files(settings: Settings) -> list[Path]:
    return list((settings.evidence_dir / "tmp").glob("upload-*.part"))


def blob_files(settings: Settings) -> list[Path]:
    return [p for p in (settings.evidence_dir / "sha256").rglob("*") if p.is_file()]


def evidence_rows(ctx: AppContext) -> int:
    with ctx.db.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM evidence_item")).scalar_one())


def start_upload(
    server: LiveServer, token: str, case_id: str, *, multipart: bool, declared: int
) -> socket.socket:
    """Open a connection and send the head of an upload declaring `declared` body bytes."""
    sock = server.connect()
    if multipart:
        head = request_head(
            "POST", f"{API}/cases/{case_id}/evidence", token,
            content_length=declared, content_type="multipart/form-data; boundary=cut",
        )  # fmt: skip
        sock.sendall(head + b'--cut\r\nContent-Disposition: form-data; name="file"; filename="v.mp4"\r\n\r\n')
    else:
        head = request_head(
            "PUT", f"{API}/cases/{case_id}/evidence", token,
            content_length=declared, content_type="application/octet-stream",
        )  # fmt: skip
        sock.sendall(head)
    return sock


def send_until_writing(sock: socket.socket, settings: Settings, amount: int) -> None:
    """Send `amount` body bytes, then wait until the server is writing them into a temporary file."""
    sock.sendall(os.urandom(amount))
    wait_for(lambda: any(p.stat().st_size > 0 for p in temporary_files(settings)))


def test_a_body_cut_short_stores_nothing(
    client: TestClient, ctx: AppContext, settings: Settings, documenter: Account
) -> None:
    case = create_case(client, documenter)
    with serve(settings) as server:
        for multipart in (False, True):
            sock = start_upload(server, documenter.token, case["id"], multipart=multipart, declared=8 * MiB)
            send_until_writing(sock, settings, 3 * MiB)
            sock.shutdown(socket.SHUT_WR)  # the client goes away with 5 MiB still owed
            sock.close()
            wait_for(lambda: not temporary_files(settings))
        assert httpx.get(f"{server.url}/healthz").status_code == 200
    assert blob_files(settings) == []
    assert evidence_rows(ctx) == 0


def test_a_server_killed_mid_upload_leaves_no_evidence_and_its_leftover_is_removed_at_start(
    client: TestClient, ctx: AppContext, settings: Settings, documenter: Account
) -> None:
    case = create_case(client, documenter)
    with serve(settings) as server:
        sock = start_upload(server, documenter.token, case["id"], multipart=False, declared=64 * MiB)
        send_until_writing(sock, settings, 4 * MiB)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
        sock.close()
    (leftover,) = temporary_files(settings)
    assert leftover.stat().st_size > 0
    assert blob_files(settings) == []
    assert evidence_rows(ctx) == 0
    # The next start removes what the killed process left (its lock died with it).
    with TestClient(create_app(settings)) as restarted:
        assert not leftover.exists()
        assert ok(restarted.get(f"{API}/cases/{case['id']}/evidence", headers=documenter.headers)) == []


def test_uploads_through_two_server_processes_keep_one_gapless_ledger(
    client: TestClient, ctx: AppContext, settings: Settings, documenter: Account
) -> None:
    case = create_case(client, documenter)
    with serve(settings) as first, serve(settings) as second:

        def send(i: int) -> dict:
            server = (first, second)[i % 2]
            response = httpx.put(
                f"{server.url}{API}/cases/{case['id']}/evidence",
                params={"description": f"part {i}"},
                content=os.urandom(256 * 1024),
                headers={**documenter.headers, "Content-Type": "application/octet-stream"},
                timeout=60,
            )
            return ok(response, 201)

        with ThreadPoolExecutor(6) as pool:
            items = list(pool.map(send, range(18)))
        heads = [
            ok(httpx.get(f"{s.url}{API}/custody/tree-head", headers=documenter.headers))
            for s in (first, second)
        ]
    with ctx.db.engine.connect() as conn:
        indexes = (
            conn.execute(sa.text("SELECT leaf_index FROM custody_event ORDER BY leaf_index")).scalars().all()
        )
    assert indexes == list(range(18))
    assert len({i["id"] for i in items}) == 18
    # Both processes' in-memory trees agree with each other (one of them signed, the other reused).
    assert heads[0]["tree_size"] == heads[1]["tree_size"] == 18
    assert heads[0]["root_hash"] == heads[1]["root_hash"]
