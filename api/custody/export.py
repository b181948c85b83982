"""Store copies for third parties: the blobs and the custody ledger in the layout the offline verifier reads.

The layout is the "store copy" of ``evidence_store.verify`` (its module docstring is the specification)::

    sha256/ab/cd/<hex>       every blob the database records
    custody/ledger.jsonl     every ledger record in leaf order, with its exact leaf bytes (base64)
    custody/tree-head.json   the latest signed tree head (signed here first if the ledger has grown)
    custody/public-key.pem   the key that signed it
    custody/tree-head.tsr    its RFC 3161 time-stamp response, when one was obtained

``python -m evidence_store verify <dir> --public-key <published key>`` then checks it with nothing but
Python and ``cryptography``. Files are written under temporary names and renamed when complete.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import col, select

from api.custody import service as custody_service
from api.models import EvidenceBlob
from evidence_store.digest import Digest
from evidence_store.treehead import public_key_pem
from evidence_store.verify import event_line

if TYPE_CHECKING:
    from api.context import AppContext


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote."""

    records: int
    tree_size: int
    blobs_copied: int
    blobs_present: int
    damaged: list[str]


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_bytes(data)
    tmp.replace(path)


def export_store_copy(
    *,
    ctx: AppContext,
    directory: Path,
    with_blobs: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
) -> ExportSummary:
    """Write the custody files (and, unless told not to, a copy of every blob) under ``directory``."""
    head = custody_service.latest_signed_head(ctx=ctx)
    custody = directory / "custody"
    custody.mkdir(parents=True, exist_ok=True)
    ledger = custody / "ledger.jsonl"
    tmp = ledger.with_name(".ledger.jsonl.part")
    records = 0
    query = sa.text("SELECT leaf_index, leaf FROM custody_event ORDER BY leaf_index")
    with tmp.open("wb") as out, ctx.db.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=20_000).execute(query)
        for index, leaf in result:
            out.write(event_line(index, bytes(leaf)))
            records += 1
    tmp.replace(ledger)
    _write_atomically(custody / "tree-head.json", custody_service.signed_head_of(head).to_json())
    _write_atomically(custody / "public-key.pem", public_key_pem(ctx.signing_key.public_key()))
    token = custody / "tree-head.tsr"
    if head.timestamp_response:
        _write_atomically(token, head.timestamp_response)
    else:
        token.unlink(missing_ok=True)  # a token left from an earlier export would not match this head
    copied = present = 0
    damaged: list[str] = []
    if with_blobs:
        copied, present, damaged = _copy_blobs(ctx, directory, progress)
    return ExportSummary(records, head.tree_size, copied, present, damaged)


def _copy_blobs(
    ctx: AppContext, directory: Path, progress: Callable[[str, int, int], None] | None
) -> tuple[int, int, list[str]]:
    """Copy every recorded blob to ``sha256/ab/cd/<hex>``, as stored (damage is copied, for the verifier to see)."""
    with ctx.db.session(write=False) as session:
        blobs = session.exec(
            select(EvidenceBlob.sha256, EvidenceBlob.size).order_by(col(EvidenceBlob.sha256))
        ).all()
    total = sum(size for _, size in blobs)
    done = copied = present = 0
    damaged: list[str] = []
    for sha256, size in blobs:
        target = directory / "sha256" / sha256[:2] / sha256[2:4] / sha256
        if target.is_file() and target.stat().st_size == size:
            present += 1
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{sha256}.part")
            hasher = hashlib.sha256()
            with tmp.open("wb") as out:
                for chunk in ctx.blob_store.open_range(Digest(sha256)):
                    hasher.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            tmp.replace(target)
            copied += 1
            if hasher.hexdigest() != sha256:
                damaged.append(sha256)
        done += size
        if progress is not None:
            progress("blobs", done, total)
    return copied, present, damaged
