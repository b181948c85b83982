"""Reference servers for bench_upload.py, measured in the same run as Precedent.

``app``: the usual FastAPI way to receive a file (``UploadFile``), doing the same storage work as the evidence
store (SHA-256 while copying, a temporary file inside the store, fsync, rename to ``sha256/ab/cd/<hex>``), and
an ``async`` hello-world endpoint: the per-request floor of the stack.

    BENCH_STORE=var/bench/ref-store uvicorn bench.reference_app:app --loop uvloop --http httptools
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

from fastapi import FastAPI, UploadFile

STORE = Path(os.environ.get("BENCH_STORE", "var/bench/ref-store"))
CHUNK = 1024 * 1024
app = FastAPI()


@app.post("/upload")
async def upload(file: UploadFile) -> dict[str, object]:
    """Receive a multipart file the usual way: Starlette spools it, the handler copies it into the store."""
    (STORE / "tmp").mkdir(parents=True, exist_ok=True)
    tmp = STORE / "tmp" / uuid.uuid4().hex
    hasher = hashlib.sha256()
    size = 0
    with tmp.open("wb", buffering=0) as out:
        while chunk := await file.read(CHUNK):
            hasher.update(chunk)
            out.write(chunk)
            size += len(chunk)
        os.fsync(out.fileno())
    hex_ = hasher.hexdigest()
    target = STORE / "sha256" / hex_[:2] / hex_[2:4] / hex_
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp.replace(target)
    return {"sha256": hex_, "size": size}


@app.get("/hello")
async def hello() -> dict[str, str]:
    """The per-request floor: FastAPI, async, a small JSON answer."""
    return {"message": "hello world"}
