"""Whole-store and whole-ledger verification: what `precedent verify` runs.

Checks, each failure reported by item with expected and found values, none stopping the others:

1. every stored blob the database knows is rehashed and must match its SHA-256 (missing or damaged blobs
   are named with every evidence item and case that cites them; blobs found damaged are flagged so the
   API refuses to serve them); blobs in the store that no item cites are noted;
2. every sighted statement still hashes to the digest recorded for it;
3. the ledger: leaf indexes run 0..n-1 without a gap; each stored leaf hashes to its stored leaf hash
   (RFC 6962: SHA-256(0x00 || leaf)); each leaf is a version-1 record whose fields equal the row's
   columns (what the API lists and filters on);
4. every signed tree head: its Ed25519 signature verifies with the service's key, and its root equals the
   Merkle tree hash of the first ``tree_size`` leaves; its RFC 3161 token, if any, covers its signed bytes;
5. binding, read from the leaves (the hashed records), not from the columns: every original file is named
   by a ``received`` record of its item whose object is ``sha256:<its stored digest>``, every working copy
   by a ``derived`` record of its item naming that digest and the original it was made from, every sighted
   document by a ``recorded`` record naming its statement digest; every blob row is the object of a
   ``received`` or ``derived`` record. Without this, a row rewritten to cite other stored bytes (or a row
   added behind the service's back) would pass checks 1-4, each of which is true of the pieces alone.

The ledger is read with plain driver rows (no ORM objects) and verified from the stored leaf bytes, never
re-serialised: hashing is the work, so verification runs close to the speed of hashlib.
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import col, select

from api.custody import service as custody_service
from api.evidence import service as evidence_service
from api.models import Case, CustodyTreeHead, EvidenceBlob, EvidenceItem
from evidence_store.digest import Digest
from evidence_store.errors import BlobCorrupted, BlobNotFound
from evidence_store.merkle import MerkleTree
from evidence_store.treehead import TreeHeadSignatureError, format_timestamp
from evidence_store.tsp import TimestampError, verify_timestamp_token
from evidence_store.verify import Problem as Finding  # one failed check, the same shape for both verifiers
from schemas.custody import CustodyAction
from schemas.evidence import EvidenceForm, IntegrityStatus

if TYPE_CHECKING:
    from api.context import AppContext

#: Ledger rows fetched per round trip.
LEDGER_BATCH = 20_000
# One decoder and one encoder for every record: json.loads()/dumps() with options build new ones per call.
_DECODER = json.JSONDecoder()
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_LEAF_PREFIX = b"\x00"

#: Progress callback: (phase, done, total), called often; ``done`` counts bytes for blobs, records for the ledger.
Progress = Callable[[str, int, int], None]


@dataclass
class IntegrityReport:
    """Findings (failures), notes (caveats) and what was checked."""

    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Return whether no check failed."""
        return not self.findings

    def fail(self, item: str, message: str, expected: str | None = None, found: str | None = None) -> None:
        """Record a failed check."""
        self.findings.append(Finding(item, message, expected, found))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready form of the report."""
        return {
            "ok": self.ok,
            "findings": [asdict(f) for f in self.findings],
            "notes": self.notes,
            "checked": self.checked,
        }


def _quiet(phase: str, done: int, total: int) -> None:
    """Progress callback that reports nothing."""


def verify_everything(*, ctx: AppContext, progress: Progress = _quiet) -> IntegrityReport:
    """Rehash the whole store; check every sighted statement, the ledger, every signed head and every binding."""
    report = IntegrityReport()
    verify_blobs(ctx=ctx, report=report, progress=progress)
    verify_statements(ctx=ctx, report=report)
    tree = verify_ledger(ctx=ctx, report=report, progress=progress)
    verify_tree_heads(ctx=ctx, report=report, tree=tree)
    verify_binding(ctx=ctx, report=report, progress=progress)
    return report


# ---- blobs and statements ---------------------------------------------------------------------------------


def verify_blobs(*, ctx: AppContext, report: IntegrityReport, progress: Progress = _quiet) -> None:
    """Rehash every blob the database records; flag and report each damaged or missing one by item."""
    with ctx.db.session(write=False) as session:
        blobs = session.exec(
            select(EvidenceBlob.sha256, EvidenceBlob.size).order_by(col(EvidenceBlob.sha256))
        ).all()
        citing: dict[str, list[str]] = defaultdict(list)
        for item_id, reference, sha256 in session.exec(
            select(EvidenceItem.id, Case.reference, EvidenceItem.blob_sha256)
            .join(Case, col(Case.id) == col(EvidenceItem.case_id))
            .where(col(EvidenceItem.blob_sha256).is_not(None))
        ):
            citing[sha256 or ""].append(f"evidence {item_id} in case {reference}")
    total = sum(size for _, size in blobs)
    done = 0
    statuses: dict[IntegrityStatus, list[str]] = defaultdict(list)
    for sha256, size in blobs:
        status, found = _rehash(ctx, Digest(sha256), functools.partial(_advance, progress, done, total))
        done += size
        progress("blobs", done, total)
        statuses[status].append(sha256)
        if status is IntegrityStatus.OK:
            continue
        where = "; ".join(citing.get(sha256, [])) or "no evidence item"
        item = f"blob sha256/{sha256[:2]}/{sha256[2:4]}/{sha256} ({where})"
        if status is IntegrityStatus.MISSING:
            report.fail(item, "missing from the store", f"sha256:{sha256}", None)
        else:
            report.fail(item, "stored bytes do not match their SHA-256", f"sha256:{sha256}", found)
    _record_statuses(ctx, statuses)
    report.checked.append(
        f"{len(statuses[IntegrityStatus.OK])} of {len(blobs)} stored files ({total} bytes) match their SHA-256"
    )
    known = {sha256 for sha256, _ in blobs}
    orphans = sum(1 for digest in ctx.blob_store.iter_digests() if digest.hex not in known)
    if orphans:
        report.notes.append(
            f"{orphans} blob(s) in the store are cited by no evidence item (an upload interrupted after its bytes "
            "were stored, before it was recorded); they are kept, as the store is write-once"
        )


def _advance(progress: Progress, base: int, total: int, read: int) -> None:
    progress("blobs", base + read, total)


def _rehash(
    ctx: AppContext, digest: Digest, advance: Callable[[int], None]
) -> tuple[IntegrityStatus, str | None]:
    """Rehash one blob, reporting bytes read; return its status and the digest found."""
    hasher = hashlib.sha256()
    read = 0
    try:
        for chunk in ctx.blob_store.open_range(digest):
            hasher.update(chunk)
            read += len(chunk)
            advance(read)
    except BlobNotFound:
        return IntegrityStatus.MISSING, None
    except BlobCorrupted:
        return IntegrityStatus.MISMATCH, None  # the file changed length while being read
    found = hasher.hexdigest()
    return (IntegrityStatus.OK if found == digest.hex else IntegrityStatus.MISMATCH), f"sha256:{found}"


def _record_statuses(ctx: AppContext, statuses: dict[IntegrityStatus, list[str]]) -> None:
    """Store what the rehash found on the blob rows, so the API never serves a damaged blob as intact."""
    now = datetime.now(UTC)
    with ctx.db.write_session() as session:
        for status, hashes in statuses.items():
            for start in range(0, len(hashes), 500):
                session.execute(
                    sa.update(EvidenceBlob)
                    .where(col(EvidenceBlob.sha256).in_(hashes[start : start + 500]))
                    .values(integrity=status.value, checked_at=now)
                )


def verify_statements(*, ctx: AppContext, report: IntegrityReport) -> None:
    """Check that every sighted statement still hashes to the digest recorded when it was recorded."""
    with ctx.db.session(write=False) as session:
        items = session.exec(
            select(EvidenceItem).where(col(EvidenceItem.form) == EvidenceForm.SIGHTED.value)
        ).all()
    good = 0
    for item in items:
        found = evidence_service.statement_digest(item)
        if found.hex != item.statement_sha256:
            report.fail(
                f"evidence {item.id} (sighted document)",
                "the statement no longer hashes to its recorded digest",
                f"sha256:{item.statement_sha256}",
                str(found),
            )
        else:
            good += 1
    if items:
        report.checked.append(f"{good} of {len(items)} sighted statements match their recorded SHA-256")


# ---- the ledger -------------------------------------------------------------------------------------------


class _Columns:
    """Compare a row's columns with its leaf, whatever form the database driver returns them in."""

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"

    def uuid(self, value: Any) -> str | None:
        """Return a UUID column as the leaf writes it (8-4-4-4-12), or None."""
        if value is None:
            return None
        if self.sqlite:  # SQLAlchemy stores Uuid on SQLite as 32 hex digits
            return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
        return str(value)

    def time(self, value: Any) -> str:
        """Return a timestamp column as the leaf writes it (RFC 3339, milliseconds, Z)."""
        if self.sqlite:  # naive UTC text "YYYY-MM-DD HH:MM:SS.ffffff"
            return f"{value[:10]}T{value[11:23]}Z"
        return format_timestamp(value)

    def details(self, value: Any) -> Any:
        """Return the details column as a Python value."""
        return _DECODER.decode(value) if isinstance(value, str) else value


_LEDGER_COLUMNS = "leaf_index, leaf, leaf_hash"
_RECORD_COLUMNS = ", recorded_at, actor_id, action, evidence_id, object_digest, details"


def _ledger_rows(ctx: AppContext, columns: str) -> Iterator[Sequence[Any]]:
    """Yield the ledger in leaf order, in batches of plain driver tuples (a server-side cursor on PostgreSQL)."""
    query = f"SELECT {columns} FROM custody_event ORDER BY leaf_index"  # noqa: S608 - fixed text
    with ctx.db.engine.connect() as conn:
        # The driver's own cursor: SQLAlchemy's row objects would cost more than hashing the leaves.
        raw: Any = conn.connection.dbapi_connection
        postgres = ctx.db.engine.dialect.name == "postgresql"
        cursor = raw.cursor(name="precedent_ledger_check") if postgres else raw.cursor()
        try:
            cursor.execute(query)
            while rows := cursor.fetchmany(LEDGER_BATCH):
                yield rows
        finally:
            cursor.close()


def verify_ledger(
    *, ctx: AppContext, report: IntegrityReport, progress: Progress = _quiet, check_columns: bool = True
) -> MerkleTree:
    """Check every ledger record against its leaf bytes; return the Merkle tree of the leaves as stored.

    With ``check_columns`` each leaf is also parsed and compared with its row's columns (what the API lists
    and filters on); without it only what a third party can check: indexes, leaf hashes, the tree.
    """
    with ctx.db.engine.connect() as conn:
        total = conn.execute(sa.text("SELECT count(*) FROM custody_event")).scalar_one()
    columns = _Columns(ctx.db.engine.dialect.name)
    sha256 = hashlib.sha256
    leaf_hashes: list[bytes] = []
    broken = 0
    for rows in _ledger_rows(ctx, _LEDGER_COLUMNS + (_RECORD_COLUMNS if check_columns else "")):
        start = len(leaf_hashes)
        # The common case in bulk: hash the batch, then compare whole lists; single rows only on a mismatch.
        computed = [sha256(_LEAF_PREFIX + row[1]).digest() for row in rows]
        indexes_ok = rows[0][0] == start and rows[-1][0] == start + len(rows) - 1  # unique keys, in order
        hashes_ok = [bytes(row[2]) for row in rows] == computed
        if not (indexes_ok and hashes_ok):
            broken += _report_batch(rows, computed, start, report)
        if check_columns:
            for row, digest, stored in zip(rows, computed, (bytes(row[2]) for row in rows), strict=True):
                if digest == stored and not _leaf_matches_columns(
                    bytes(row[1]), row[0], row[3:], columns, report
                ):
                    broken += 1
        leaf_hashes.extend(computed)
        progress("ledger", len(leaf_hashes), total)
    tree = MerkleTree.from_leaf_hashes(leaf_hashes)
    report.checked.append(
        f"{len(leaf_hashes) - broken} of {len(leaf_hashes)} ledger records hash and read correctly"
    )
    return tree


def _report_batch(rows: Sequence[Any], computed: list[bytes], start: int, report: IntegrityReport) -> int:
    """Report each record of a batch that is out of place or whose leaf does not hash to its stored hash."""
    broken = 0
    for position, (row, digest) in enumerate(zip(rows, computed, strict=True), start):
        index, stored = row[0], bytes(row[2])
        if index != position:
            report.fail(
                f"leaf {position}", "ledger record missing or out of order", str(position), str(index)
            )
            broken += 1
        if digest != stored:
            report.fail(
                f"leaf {index}", "leaf bytes do not hash to the stored leaf hash", stored.hex(), digest.hex()
            )
            broken += 1
    return broken


def _leaf_matches_columns(
    leaf: bytes, index: int, rest: list[Any], columns: _Columns, report: IntegrityReport
) -> bool:
    """Check that the hashed record says what the row's columns say; report each field that differs."""
    recorded_at, actor_id, action, evidence_id, object_digest, details = rest
    expected = {
        "v": custody_service.LEAF_VERSION,
        "seq": index,
        "time": columns.time(recorded_at),
        "actor": columns.uuid(actor_id),
        "action": action,
        "evidence": columns.uuid(evidence_id),
        "object": object_digest,
        "details": columns.details(details),
    }
    # Fast path: the columns, encoded canonically, are the leaf itself. For these values (integer-only,
    # ASCII keys) the sorted compact encoding is RFC 8785's, and the C encoder is several times quicker
    # than parsing the leaf.
    if _CANONICAL.encode(expected).encode("utf-8") == leaf:
        return True
    try:
        record = _DECODER.decode(leaf.decode("utf-8"))
    except ValueError:
        report.fail(f"leaf {index}", "the hashed record is not JSON")
        return False
    if record == expected:
        return True
    for key in sorted(expected.keys() | (record.keys() if isinstance(record, dict) else set())):
        found = record.get(key) if isinstance(record, dict) else None
        if found != expected.get(key):
            report.fail(
                f"leaf {index}",
                f"column {key!r} differs from the hashed record",
                json.dumps(found),
                json.dumps(expected.get(key)),
            )
    return False


def verify_tree_heads(*, ctx: AppContext, report: IntegrityReport, tree: MerkleTree) -> None:
    """Check every signed tree head's signature, root and time-stamp token against the leaves as stored."""
    public_key = ctx.signing_key.public_key()
    with ctx.db.session(write=False) as session:
        heads = session.exec(select(CustodyTreeHead).order_by(col(CustodyTreeHead.tree_size))).all()
    good = 0
    for row in heads:
        item = f"tree head {row.tree_size} ({row.timestamp})"
        signed = custody_service.signed_head_of(row)
        ok = True
        try:
            signed.verify(public_key)
        except TreeHeadSignatureError as exc:
            report.fail(item, f"signature does not verify: {exc}")
            ok = False
        if row.tree_size > tree.size:
            report.fail(
                item, "signs more records than the ledger holds", f"<= {tree.size}", str(row.tree_size)
            )
            continue
        root = tree.root(row.tree_size)
        if root != bytes(row.root_hash):
            report.fail(
                item,
                "signed root differs from the Merkle root of the stored leaves",
                bytes(row.root_hash).hex(),
                root.hex(),
            )
            ok = False
        if row.timestamp_response:
            try:
                verify_timestamp_token(
                    row.timestamp_response, hashlib.sha256(signed.head.signed_bytes()).digest()
                )
            except TimestampError as exc:
                report.fail(item, f"RFC 3161 time-stamp token does not verify: {exc}")
                ok = False
        good += ok
    if heads:
        latest = heads[-1].tree_size
        report.checked.append(
            f"{good} of {len(heads)} signed tree heads verify; the latest covers {latest} records"
        )
        if tree.size > latest:
            report.notes.append(
                f"{tree.size - latest} ledger record(s) after the latest signed head are not yet signed"
            )
    elif tree.size:
        report.notes.append("no tree head has been signed yet: the ledger's root is not yet committed to")


# ---- binding: every stored file and statement named by the ledger ---------------------------------------

#: Actions whose record binds an item to the bytes (or statement) it was filed with.
_BINDING_ACTIONS = frozenset(
    {CustodyAction.RECEIVED.value, CustodyAction.DERIVED.value, CustodyAction.RECORDED.value}
)
#: How those actions appear in a leaf: a cheap test that spares parsing every other record.
_BINDING_MARKS = tuple(f'"{action}"'.encode("ascii") for action in sorted(_BINDING_ACTIONS))
_FILE_ACTIONS = frozenset({CustodyAction.RECEIVED.value, CustodyAction.DERIVED.value})


@dataclass(frozen=True)
class _Binding:
    """What a ledger record binds: action, object digest and, for a working copy, the item it came from."""

    action: str
    object: str | None
    source: str | None = None

    def __str__(self) -> str:
        return f"{self.action} {self.object}" + (f" from evidence {self.source}" if self.source else "")


@dataclass(frozen=True)
class _BindingRecord:
    """A binding as a leaf states it, with the leaf's position in the ledger."""

    leaf_index: int
    binding: _Binding


def verify_binding(*, ctx: AppContext, report: IntegrityReport, progress: Progress = _quiet) -> None:
    """Check that every item and every blob row is bound, by digest, to a record of the ledger."""
    records = _binding_records(ctx, progress)
    with ctx.db.session(write=False) as session:
        items = session.execute(
            sa.select(
                col(EvidenceItem.id),
                col(Case.reference),
                col(EvidenceItem.form),
                col(EvidenceItem.blob_sha256),
                col(EvidenceItem.statement_sha256),
                col(EvidenceItem.derived_from_id),
            )
            .join(Case, col(Case.id) == col(EvidenceItem.case_id))
            .order_by(col(EvidenceItem.created_at), col(EvidenceItem.id))
        ).all()
        blobs = session.exec(select(EvidenceBlob.sha256).order_by(col(EvidenceBlob.sha256))).all()
        signed = session.exec(select(sa.func.max(col(CustodyTreeHead.tree_size)))).one() or 0
    bound = unsigned = 0
    for item_id, reference, form, blob_sha256, statement_sha256, source in items:
        want = _required_binding(form, blob_sha256, statement_sha256, source)
        found = records.get(str(item_id), [])
        match = [r.leaf_index for r in found if r.binding == want and want.object is not None]
        if match:
            bound += 1
            unsigned += min(match) >= signed
            continue
        expected = str(want) if want.object else f"{want.action} of a recorded digest (none is recorded)"
        report.fail(
            f"evidence {item_id} in case {reference}",
            f"not bound to the ledger: no {want.action} record names this item with its digest",
            expected,
            "; ".join(str(r.binding) for r in found) or None,
        )
    cited = _verify_blobs_cited(report, blobs, records)
    report.checked.append(
        f"{bound} of {len(items)} evidence items and {cited} of {len(blobs)} stored files are bound to "
        "ledger records by their digest"
    )
    if unsigned:
        report.notes.append(
            f"{unsigned} evidence item(s) are bound only by ledger records after the latest signed head"
        )


def _required_binding(
    form: str, blob_sha256: str | None, statement_sha256: str | None, source: uuid.UUID | None
) -> _Binding:
    """Return the record that must bind an item: received, derived (from its original) or recorded."""
    if form == EvidenceForm.SIGHTED.value:
        return _Binding(
            CustodyAction.RECORDED.value, f"sha256:{statement_sha256}" if statement_sha256 else None
        )
    blob = f"sha256:{blob_sha256}" if blob_sha256 else None
    if form == EvidenceForm.WORKING_COPY.value:
        return _Binding(CustodyAction.DERIVED.value, blob, str(source) if source else None)
    return _Binding(CustodyAction.RECEIVED.value, blob)


def _verify_blobs_cited(
    report: IntegrityReport, blobs: Sequence[str], records: dict[str, list[_BindingRecord]]
) -> int:
    """Report each blob row that no received or derived record names as its object; return how many are."""
    objects = {
        r.binding.object for found in records.values() for r in found if r.binding.action in _FILE_ACTIONS
    }
    cited = 0
    for sha256 in blobs:
        if f"sha256:{sha256}" in objects:
            cited += 1
            continue
        report.fail(
            f"blob sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}",
            "not bound to the ledger: no received or derived record names this stored file",
            f"received or derived sha256:{sha256}",
            None,
        )
    return cited


def _binding_records(ctx: AppContext, progress: Progress) -> dict[str, list[_BindingRecord]]:
    """Return, by evidence id, each received, derived and recorded record as its leaf (not its row) says.

    Only leaves that hash to their stored leaf hash count; one that does not, or does not parse, binds
    nothing (the ledger check reports it).
    """
    with ctx.db.engine.connect() as conn:
        total = conn.execute(sa.text("SELECT count(*) FROM custody_event")).scalar_one()
    records: dict[str, list[_BindingRecord]] = defaultdict(list)
    done = 0
    for rows in _ledger_rows(ctx, _LEDGER_COLUMNS):
        for index, stored, stored_hash in rows:
            leaf = bytes(stored)
            if any(mark in leaf for mark in _BINDING_MARKS) and (
                hashlib.sha256(_LEAF_PREFIX + leaf).digest() == bytes(stored_hash)
            ):
                _collect_binding(records, index, leaf)
        done += len(rows)
        progress("binding", done, total)
    return records


def _collect_binding(records: dict[str, list[_BindingRecord]], index: int, leaf: bytes) -> None:
    """Add the binding a leaf states, if it is a received, derived or recorded record of an item."""
    try:
        record = _DECODER.decode(leaf.decode("utf-8"))
    except ValueError:
        return
    if not isinstance(record, dict) or record.get("action") not in _BINDING_ACTIONS:
        return
    evidence, details = record.get("evidence"), record.get("details")
    if not isinstance(evidence, str):
        return
    source = details.get("source") if isinstance(details, dict) else None
    binding = _Binding(
        record["action"],
        record.get("object") if isinstance(record.get("object"), str) else None,
        source if isinstance(source, str) and record["action"] == CustodyAction.DERIVED.value else None,
    )
    records[evidence].append(_BindingRecord(index, binding))
