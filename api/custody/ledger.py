"""The custody ledger's RFC 6962 Merkle tree, held in memory and extended from the database.

Each process keeps one ``LedgerTree``. It never rebuilds: every call first appends the leaf hashes
committed since the last call (one indexed range query), so roots and proofs cost O(log n). Appends
are serialised in the database (see ``api.custody.service.append_event``), so committed records
always form a gapless prefix 0..n-1; a gap means the ledger is broken and is reported, not skipped.
"""

from __future__ import annotations

import threading

import sqlalchemy as sa
from sqlmodel import col

from api.db import Database
from api.models import CustodyEvent
from api.problems import IntegrityFailure
from evidence_store.merkle import MerkleTree

#: Rows fetched per round trip when catching up (a fresh process loads the whole ledger once).
_FETCH_BATCH = 10_000


class LedgerTree:
    """The in-process Merkle tree over the committed custody ledger; thread-safe."""

    def __init__(self) -> None:
        self._tree = MerkleTree()
        self._lock = threading.Lock()

    def sync(self, db: Database) -> int:
        """Append the records committed since the last call; return the tree size."""
        with self._lock:
            start = self._tree.size
            query = (
                sa.select(col(CustodyEvent.leaf_index), col(CustodyEvent.leaf_hash))
                .where(col(CustodyEvent.leaf_index) >= start)
                .order_by(col(CustodyEvent.leaf_index))
            )
            fresh: list[bytes] = []
            with db.engine.connect() as conn:
                result = conn.execution_options(stream_results=True, yield_per=_FETCH_BATCH).execute(query)
                for index, leaf_hash in result:
                    if index != start + len(fresh):
                        raise IntegrityFailure(
                            f"The custody ledger has a gap: record {start + len(fresh)} is missing "
                            f"(the next one stored is {index})."
                        )
                    fresh.append(bytes(leaf_hash))
            if start == 0:
                self._tree = MerkleTree.from_leaf_hashes(fresh)  # a fresh process: one pass, level by level
            else:
                self._tree.extend(fresh)
            return self._tree.size

    @property
    def size(self) -> int:
        """Return the number of records in the tree (as of the last sync)."""
        with self._lock:
            return self._tree.size

    def root(self, size: int) -> bytes:
        """Return the Merkle tree hash of the first ``size`` records."""
        with self._lock:
            return self._tree.root(size)

    def leaf_hash(self, index: int) -> bytes:
        """Return the leaf hash of record ``index``."""
        with self._lock:
            return self._tree.leaf_hash(index)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """Return the RFC 6962 audit path of record ``index`` in the tree of ``size`` records."""
        with self._lock:
            return self._tree.inclusion_proof(index, size)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """Return the RFC 6962 consistency proof between tree sizes ``first`` and ``second``."""
        with self._lock:
            return self._tree.consistency_proof(first, second)
