"""Real server processes for tests that cross process boundaries (first start, crashes, concurrency)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests import conftest
from tests.conftest import free_port


def server_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for `precedent serve` on this test's database and data folder."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PRECEDENT_DATABASE_URL": database_url,
        "PRECEDENT_DATA_DIR": str(data_dir),
        "PRECEDENT_SECRET_KEY": conftest.TEST_SECRET,
        "PRECEDENT_PORT": str(free_port()),
        **extra,
    }


class Server:
    """A `precedent serve` subprocess."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.env = env
        self.base = f"http://127.0.0.1:{env['PRECEDENT_PORT']}"
        self.log = (
            Path(env["PRECEDENT_DATA_DIR"]) / f"server-{env['PRECEDENT_PORT']}-{time.monotonic_ns()}.log"
        )
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", *args],
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited:\n{self.output()}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise AssertionError(f"server not ready:\n{self.output()}")

    def output(self) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        return self.log.read_text()

    def stop(self) -> str:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.output()

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flush, as in a power cut or an OOM kill."""
        self.proc.kill()
        self.proc.wait()


@contextmanager
def running(env: dict[str, str], *args: str) -> Iterator[Server]:
    server = Server(env, *args)
    try:
        server.wait_ready()
        yield server
    finally:
        if server.proc.poll() is None:
            server.stop()
        server._log_file.close()
