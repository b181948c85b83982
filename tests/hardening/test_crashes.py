"""Crashes: SIGKILL the real server at random moments while a client uploads and edits, many times. After each
restart: the store and the ledger verify (no evidence row without its blob, no partial file at a content
address, a gapless signed ledger), leftovers of killed uploads are gone, every acknowledged upload is intact,
and no acknowledged edit is lost. PRECEDENT_CRASH_ROUNDS raises the number of kills (make stress)."""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from pathlib import Path

import httpx

from api.config import Settings
from api.context import AppContext
from api.custody import check
from tests import conftest
from tests.conftest import Account
from tests.servers import Server, server_env

API = "/api/v1"
ROUNDS = int(os.environ.get("PRECEDENT_CRASH_ROUNDS", "4"))
SEED = int(os.environ.get("PRECEDENT_CRASH_SEED", "4242"))


class Worker(threading.Thread):
    """Uploads and edits until the server dies, remembering what the server acknowledged."""

    def __init__(self, base: str, who: Account, case_id: str, rng: random.Random, narrative: str) -> None:
        super().__init__(daemon=True)
        self.base, self.who, self.case_id, self.rng = base, who, case_id, rng
        self.acknowledged: list[tuple[str, str]] = []  # (evidence id, sha256 hex)
        self.narrative = narrative  # the last narrative the server confirmed
        self.pending: str | None = None  # a narrative sent but not confirmed when the server died

    def run(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.who.headers, timeout=30) as http:
            try:
                while True:
                    data = self.rng.randbytes(self.rng.choice([2_000, 200_000, 3_000_000]))
                    digest = hashlib.sha256(data).hexdigest()
                    response = http.put(
                        f"{API}/cases/{self.case_id}/evidence",
                        params={"sha256": digest, "filename": "clip.bin"},
                        content=data,
                        headers={"Content-Type": "application/octet-stream"},
                    )
                    if response.status_code == 201:
                        self.acknowledged.append((response.json()["id"], digest))
                    current = http.get(f"{API}/cases/{self.case_id}")
                    marker = f"[{len(self.acknowledged)}:{self.rng.randrange(10**6)}]"
                    self.pending = current.json()["narrative"] + marker
                    edit = http.patch(
                        f"{API}/cases/{self.case_id}",
                        json={"narrative": self.pending},
                        headers={"If-Match": current.headers["ETag"]},
                    )
                    if edit.status_code == 200:
                        self.narrative, self.pending = self.pending, None
            except httpx.HTTPError:
                return  # the server was killed


def test_sigkill_during_uploads_and_edits_loses_nothing_acknowledged(
    database_url: str, data_dir: Path, accounts: dict[str, Account]
) -> None:
    rng = random.Random(SEED)
    coordinator = accounts["coordinator"]
    env = server_env(database_url, data_dir)
    settings = Settings(database_url=database_url, data_dir=data_dir, secret_key=conftest.TEST_SECRET)
    server = Server(env, "--no-migrate")
    server.wait_ready()
    case = httpx.post(
        f"{server.base}{API}/cases",
        json={"title": "Crash test", "country": "BY", "occurred_from": "2022"},
        headers=coordinator.headers,
    ).json()
    acknowledged: list[tuple[str, str]] = []
    narrative, kills = "", 0
    try:
        for _ in range(ROUNDS):
            worker = Worker(server.base, coordinator, case["id"], rng, narrative)
            worker.start()
            time.sleep(rng.uniform(0.3, 2.0))
            server.kill()
            kills += 1
            worker.join(timeout=60)
            acknowledged += worker.acknowledged
            server = Server(env, "--no-migrate")
            server.wait_ready()
            ctx = AppContext.build(settings)
            try:
                report = check.verify_everything(ctx=ctx)
                assert report.findings == [], [str(f) for f in report.findings]
                leftovers = [p for p in (settings.evidence_dir / "tmp").glob("*") if p.is_file()]
                assert leftovers == [], leftovers
            finally:
                ctx.close()
            with httpx.Client(base_url=server.base, headers=coordinator.headers, timeout=60) as http:
                for evidence_id, digest in acknowledged:
                    content = http.get(f"{API}/evidence/{evidence_id}/content")
                    assert content.status_code == 200, evidence_id
                    assert hashlib.sha256(content.content).hexdigest() == digest
                final = http.get(f"{API}/cases/{case['id']}").json()["narrative"]
                # The last confirmed edit is there; an unconfirmed one may have committed just before the kill.
                assert final in {worker.narrative, worker.pending}, (final, worker.narrative, worker.pending)
                narrative = final
    finally:
        server.stop()
    print(
        f"crashes: {kills} SIGKILLs during uploads and edits, {len(acknowledged)} acknowledged uploads intact"
    )
