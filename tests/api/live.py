"""A real uvicorn server in a child process, for what only a real socket shows: truncated bodies, killed uploads."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from api.config import Settings
from tests import servers
from tests.conftest import free_port, wait_until_serving


@dataclass
class LiveServer:
    host: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def connect(self) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout=10)


def server_env(settings: Settings) -> dict[str, str]:
    """Return the PRECEDENT_* environment that makes a child process use the test's database and data folder."""
    return servers.server_env(
        settings.resolved_database_url,
        settings.data_dir,
        PRECEDENT_MODE="dev",
        PRECEDENT_MAX_UPLOAD_BYTES=str(settings.max_upload_bytes),
    )


@contextmanager
def serve(settings: Settings) -> Iterator[LiveServer]:
    """Run `uvicorn api.main:app_factory` on a free loopback port until the block ends."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:app_factory", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=server_env(settings),
    )  # fmt: skip
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/healthz", process)
        yield LiveServer("127.0.0.1", port, process)
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=20)


def request_head(method: str, path: str, token: str, *, content_length: int, content_type: str) -> bytes:
    """Return the head of an HTTP/1.1 request with a declared body length."""
    return (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {content_length}\r\n\r\n"
    ).encode()
