"""The custody ledger: append events as RFC 6962 leaves, sign tree heads, prove inclusion and consistency.

Leaf format (version 1). Each record is hashed as the UTF-8 bytes of its canonical JSON (RFC 8785, integers
only; ``evidence_store.canonical``), and those exact bytes are stored in ``custody_event.leaf``::

    {"action":"received","actor":"<user uuid>"|null,"details":{...},"evidence":"<item uuid>"|null,
     "object":"sha256:<hex>"|null,"seq":<leaf index>,"time":"YYYY-MM-DDTHH:MM:SS.mmmZ","v":1}

leaf hash = SHA-256(0x00 || leaf); the tree is RFC 6962 §2.1. ``details`` never carries names, file names or
free text typed by users: the ledger is append-only forever and travels in exports to third parties. Events
are shown from their leaf bytes, never from the columns that repeat them for queries, so what a reader sees
is what was hashed.

Appends are serialised across processes so the log never forks or reorders: on PostgreSQL by a
transaction-level advisory lock, held until the appending transaction ends; on SQLite by the write
transaction itself (``BEGIN IMMEDIATE``, so call ``append_event`` in a write session). The leaf index is
the primary key, so even a broken lock could only fail an append, never fork the ledger.

Hourly heads. The ledger is one log for every case, so its size moves with activity in restricted cases too
(a download of restricted evidence appends a record). Callers who may not see restricted cases and never
write to the ledger themselves (researchers) are served the ledger as it stood at the last full hour (at
least SETTLE_SECONDS ago): its size is the number of records appended before that hour, its head is signed
on demand, dated the first full hour after its last record, with Ed25519, which is deterministic, so every
process serves the same bytes for the same size without storing them; proofs and event lists stop at that
size. Their view then changes only on the hour, never at the moment of an action. Chosen over "the latest
stored head at least an hour old": stored heads are signed when someone asks (each bundle signs one), so
their sizes and times would still trace restricted activity, an hour late. What remains: across hours, the
growth of the ledger minus the records of items a researcher can see is the number of other records
appended in that hour (restricted ones among them). Roles that write to the ledger see it live: every
upload, download and bundle already answers with a position in it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.models import CustodyEvent, CustodyTreeHead
from api.problems import IntegrityFailure, NotFound, ValidationProblem
from evidence_store.canonical import canonical_json
from evidence_store.digest import Digest
from evidence_store.merkle import leaf_hash
from evidence_store.treehead import SignedTreeHead, TreeHead, format_timestamp, key_id, public_key_pem
from evidence_store.tsp import TimestampError, request_timestamp
from schemas.custody import (
    ConsistencyProofRead,
    CustodyAction,
    CustodyEventRead,
    InclusionProofRead,
    PublicKeyRead,
    TreeHeadRead,
)
from schemas.problem import FieldError

if TYPE_CHECKING:
    from api.context import AppContext

log = logging.getLogger("precedent.custody")

LEAF_VERSION = 1
#: Key of the PostgreSQL advisory lock that serialises appends (first 8 bytes of a fixed hash).
LEDGER_LOCK_KEY = int.from_bytes(hashlib.sha256(b"precedent custody ledger").digest()[:8], "big", signed=True)
#: Seconds to wait for one time-stamping authority before trying the next.
TSA_TIMEOUT_SECONDS = 10.0
#: How often the ledger seen by readers of the hourly view moves (see the module docstring).
PUBLISH_EVERY = timedelta(hours=1)
#: An hour is published this long after it ends: a transaction that dated its record just before the hour
#: may commit a moment after it.
SETTLE_SECONDS = 300
#: Holding any of these, a caller sees the live ledger: they see every case, or append to the ledger anyway.
_LIVE_VIEW = (
    Permission.CASE_READ_RESTRICTED,
    Permission.EVIDENCE_UPLOAD,
    Permission.EVIDENCE_DOWNLOAD,
    Permission.EVIDENCE_VERIFY,
    Permission.EXPORT_BUNDLE,
)


def utcnow() -> datetime:
    """Return the time of the ledger's records and of its hourly heads (one clock, so tests move both)."""
    return datetime.now(UTC)


# ---- appending --------------------------------------------------------------------------------------------


def leaf_record(
    *,
    seq: int,
    time: str,
    actor_id: uuid.UUID | None,
    action: CustodyAction,
    evidence_id: uuid.UUID | None,
    object_digest: Digest | None,
    details: dict[str, Any],
) -> dict[str, Any]:
    """Return the ledger record (format version 1) whose canonical JSON is the leaf."""
    return {
        "v": LEAF_VERSION,
        "seq": seq,
        "time": time,
        "actor": str(actor_id) if actor_id else None,
        "action": action.value,
        "evidence": str(evidence_id) if evidence_id else None,
        "object": str(object_digest) if object_digest else None,
        "details": details,
    }


def _lock_ledger(session: Session) -> None:
    """Serialise appends until this transaction ends (PostgreSQL; SQLite writers are already serial)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": LEDGER_LOCK_KEY})


def append_event(
    *,
    session: Session,
    actor: Actor | None,
    action: CustodyAction,
    evidence_id: uuid.UUID | None,
    object_digest: Digest | None,
    details: dict[str, Any] | None = None,
) -> CustodyEventRead:
    """Append a custody event to the session's write transaction; it is proven once committed."""
    _lock_ledger(session)
    last = session.exec(select(sa.func.max(col(CustodyEvent.leaf_index)))).one()
    index = 0 if last is None else last + 1
    now = utcnow()
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # the leaf states milliseconds
    details = dict(details or {})
    actor_id = actor.user_id if actor else None
    leaf = canonical_json(
        leaf_record(
            seq=index,
            time=format_timestamp(now),
            actor_id=actor_id,
            action=action,
            evidence_id=evidence_id,
            object_digest=object_digest,
            details=details,
        )
    )
    row = CustodyEvent(
        leaf_index=index,
        recorded_at=now,
        actor_id=actor_id,
        action=action.value,
        evidence_id=evidence_id,
        object_digest=str(object_digest) if object_digest else None,
        details=details,
        leaf=leaf,
        leaf_hash=leaf_hash(leaf),
    )
    session.add(row)
    session.flush()
    return event_to_read(row)


def event_to_read(row: CustodyEvent) -> CustodyEventRead:
    """Build the wire form of a ledger record from its leaf: what a reader sees is exactly what was hashed."""
    try:
        record = json.loads(row.leaf)
        read = CustodyEventRead(
            leaf_index=row.leaf_index,
            recorded_at=datetime.strptime(record["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC),
            actor_id=record["actor"],
            action=record["action"],
            evidence_id=record["evidence"],
            object_digest=record["object"],
            details=record["details"],
            leaf=base64.b64encode(row.leaf).decode("ascii"),
            leaf_hash=bytes(row.leaf_hash).hex(),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise IntegrityFailure(
            f"Custody record {row.leaf_index} is damaged: run `precedent verify`."
        ) from exc
    if record.get("seq") != row.leaf_index:
        raise IntegrityFailure(f"Custody record {row.leaf_index} says it is record {record.get('seq')}.")
    return read


def list_events(
    *, session: Session, evidence_id: uuid.UUID, actor: Actor | None = None
) -> list[CustodyEventRead]:
    """Return the ledger records about one evidence item, in ledger order (the caller checked visibility).

    For an ``actor`` served the hourly view, only the records its latest head covers.
    """
    query = select(CustodyEvent).where(col(CustodyEvent.evidence_id) == evidence_id)
    if actor is not None and not sees_live_ledger(actor):
        query = query.where(col(CustodyEvent.leaf_index) < published_size(session=session))
    rows = session.exec(query.order_by(col(CustodyEvent.leaf_index))).all()
    events = [event_to_read(row) for row in rows]
    for event in events:
        # The column only finds the records; the hashed record must name the same item.
        if event.evidence_id != evidence_id:
            raise IntegrityFailure(
                f"Custody record {event.leaf_index} is filed under another item than it names."
            )
    return events


# ---- the hourly view ---------------------------------------------------------------------------------------


def sees_live_ledger(actor: Actor) -> bool:
    """Return True for callers served the live ledger; the others get the hourly view (module docstring)."""
    return any(actor.can(permission) for permission in _LIVE_VIEW)


def _hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def published_hour() -> datetime:
    """Return the last full hour that ended at least SETTLE_SECONDS ago: the moment the hourly view shows."""
    return _hour_of(utcnow() - timedelta(seconds=SETTLE_SECONDS))


def _recorded_at(session: Session, index: int) -> datetime:
    return session.exec(select(CustodyEvent.recorded_at).where(col(CustodyEvent.leaf_index) == index)).one()


def published_size(*, session: Session) -> int:
    """Return the number of records appended before the published hour.

    Records are dated in ledger order (each append takes the time under the ledger lock), so this is a
    binary search on the primary key: about 20 lookups at a million records, no index on the time needed.
    """
    last = session.exec(select(sa.func.max(col(CustodyEvent.leaf_index)))).one()
    low, high, hour = 0, (-1 if last is None else last) + 1, published_hour()
    while low < high:
        middle = (low + high) // 2
        if _recorded_at(session, middle) < hour:
            low = middle + 1
        else:
            high = middle
    return low


def _is_published(session: Session, size: int, latest: int) -> bool:
    """Return True if ``size`` was the size of the ledger at some full hour up to the published one."""
    if size in (0, latest):
        return True
    if size > latest:
        return False
    return _hour_of(_recorded_at(session, size - 1)) < _hour_of(_recorded_at(session, size))


def _hourly_head(*, ctx: AppContext, session: Session, size: int) -> TreeHeadRead:
    """Sign the head of the first ``size`` records, dated the first full hour after the last of them.

    Ed25519 signatures are deterministic (RFC 8032 §5.1.6), so the same size gets the same bytes every time.
    """
    hour = published_hour()
    if size:
        hour = min(hour, _hour_of(_recorded_at(session, size - 1)) + PUBLISH_EVERY)
    ctx.ledger.sync(ctx.db)
    signed = SignedTreeHead.sign(
        TreeHead(size, ctx.ledger.root(size), format_timestamp(hour)), ctx.signing_key
    )
    return TreeHeadRead(
        tree_size=size,
        root_hash=signed.head.root_hash.hex(),
        timestamp=signed.head.timestamp,
        signature=signed.signature.hex(),
        key_id=signed.key_id,
    )


def _hourly_tree_head(*, ctx: AppContext, tree_size: int | None) -> TreeHeadRead:
    """Return the hourly view's latest head, or its head for ``tree_size`` (404 if it has none)."""
    with ctx.db.session(write=False) as session:
        latest = published_size(session=session)
        if tree_size is None:
            return _hourly_head(ctx=ctx, session=session, size=latest)
        if not _is_published(session, tree_size, latest):
            raise NotFound(f"No tree head was signed for tree size {tree_size}.")
        return _hourly_head(ctx=ctx, session=session, size=tree_size)


# ---- the key and signed tree heads ------------------------------------------------------------------------


def get_public_key(*, ctx: AppContext) -> PublicKeyRead:
    """Return the Ed25519 key that signs tree heads."""
    public = ctx.signing_key.public_key()
    return PublicKeyRead(
        algorithm="Ed25519",
        key_id=key_id(public),
        public_key=public.public_bytes_raw().hex(),
        public_key_pem=public_key_pem(public).decode("ascii"),
    )


def head_to_read(row: CustodyTreeHead) -> TreeHeadRead:
    """Build the wire form of a signed tree head."""
    token = row.timestamp_response
    return TreeHeadRead(
        tree_size=row.tree_size,
        root_hash=bytes(row.root_hash).hex(),
        timestamp=row.timestamp,
        signature=bytes(row.signature).hex(),
        key_id=row.key_id,
        timestamp_token=base64.b64encode(token).decode("ascii") if token else None,
        tsa_url=row.tsa_url,
    )


def signed_head_of(row: CustodyTreeHead) -> SignedTreeHead:
    """Return the evidence_store form of a stored signed tree head."""
    return SignedTreeHead(
        TreeHead(row.tree_size, bytes(row.root_hash), row.timestamp), bytes(row.signature), row.key_id
    )


def latest_signed_head(*, ctx: AppContext) -> CustodyTreeHead:
    """Return a signed head covering every committed record, signing (and time-stamping) one if needed."""
    size = ctx.ledger.sync(ctx.db)
    with ctx.db.session(write=False) as session:
        latest = session.exec(
            select(CustodyTreeHead).order_by(col(CustodyTreeHead.tree_size).desc()).limit(1)
        ).first()
    if latest is not None and latest.tree_size >= size:
        return latest
    return _sign_head(ctx=ctx, size=size)


def _sign_head(*, ctx: AppContext, size: int) -> CustodyTreeHead:
    """Sign the tree of ``size`` records, ask the configured TSAs for a token, and store the head."""
    head = TreeHead.now(size, ctx.ledger.root(size))
    signed = SignedTreeHead.sign(head, ctx.signing_key)
    tsa_url, response = _timestamp(ctx.settings.tsa_urls, head)
    values = {
        "tree_size": size,
        "root_hash": head.root_hash,
        "timestamp": head.timestamp,
        "signature": signed.signature,
        "key_id": signed.key_id,
        "tsa_url": tsa_url,
        "timestamp_response": response,
    }
    with ctx.db.write_session() as session:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        # Another process may have signed this size meanwhile: the first head stored stands.
        session.execute(
            insert(CustodyTreeHead).values(**values).on_conflict_do_nothing(index_elements=["tree_size"])
        )
    with ctx.db.session(write=False) as session:
        row = session.get(CustodyTreeHead, size)
    if row is None:
        raise RuntimeError(f"signed tree head of size {size} vanished after insert")
    return row


def _timestamp(urls: list[str], head: TreeHead) -> tuple[str | None, bytes | None]:
    """Return (TSA URL, DER TimeStampResp) over SHA-256 of the head's signed bytes, or (None, None)."""
    digest = hashlib.sha256(head.signed_bytes()).digest()
    for url in urls:
        try:
            return url, request_timestamp(url, digest, timeout=TSA_TIMEOUT_SECONDS).response_der
        except TimestampError as exc:
            # A head without a token is still signed; the next head will try again.
            log.warning("time-stamping authority %s failed: %s", url, exc)
    return None, None


def get_tree_head(*, ctx: AppContext, actor: Actor, tree_size: int | None) -> TreeHeadRead:
    """Return the latest signed head, or the head signed for ``tree_size`` (404 if none was)."""
    if not sees_live_ledger(actor):
        return _hourly_tree_head(ctx=ctx, tree_size=tree_size)
    if tree_size is None:
        return head_to_read(latest_signed_head(ctx=ctx))
    with ctx.db.session(write=False) as session:
        row = session.get(CustodyTreeHead, tree_size)
    if row is None:
        raise NotFound(f"No tree head was signed for tree size {tree_size}.")
    return head_to_read(row)


# ---- proofs -----------------------------------------------------------------------------------------------


def _check_size(ctx: AppContext, actor: Actor, name: str, size: int) -> None:
    """Refuse a tree size beyond the committed ledger, or beyond the hourly view's latest head."""
    current = ctx.ledger.sync(ctx.db)
    message = f"the ledger has {current} records"
    if not sees_live_ledger(actor):
        with ctx.db.session(write=False) as session:
            current = published_size(session=session)
        message = f"the latest head you are served (signed hourly) covers {current} records"
    if size > current:
        raise ValidationProblem([FieldError(field=f"query.{name}", message=message, type="too_large")])


def inclusion_proof(*, ctx: AppContext, actor: Actor, leaf_index: int, tree_size: int) -> InclusionProofRead:
    """Return the RFC 6962 audit path of a record in the tree of ``tree_size`` records."""
    _check_size(ctx, actor, "tree_size", tree_size)
    if leaf_index >= tree_size:
        raise ValidationProblem.single("query.leaf_index", "must be smaller than tree_size", "out_of_range")
    return InclusionProofRead(
        leaf_index=leaf_index,
        tree_size=tree_size,
        leaf_hash=ctx.ledger.leaf_hash(leaf_index).hex(),
        audit_path=[h.hex() for h in ctx.ledger.inclusion_proof(leaf_index, tree_size)],
    )


def consistency_proof(*, ctx: AppContext, actor: Actor, first: int, second: int) -> ConsistencyProofRead:
    """Return the RFC 6962 proof that the tree of ``second`` records extends the tree of ``first``."""
    _check_size(ctx, actor, "second", second)
    if first > second:
        raise ValidationProblem.single("query.first", "must not be larger than second", "out_of_range")
    return ConsistencyProofRead(
        first=first,
        second=second,
        consistency_path=[h.hex() for h in ctx.ledger.consistency_proof(first, second)],
    )
