"""Evidence items: record uploads, derived working copies and sighted documents; read, serve and verify them.

Every change of custody is a ledger record appended in the same transaction as the change itself
(``api.custody.service.append_event``): received, recorded (sighted), derived, downloaded, verified.

Long work never holds a database transaction: uploads are received and rehashing runs before the short
write transaction that records the outcome (on SQLite a write transaction holds the database's only
write lock; on PostgreSQL it holds a pooled connection).

Sighted statements are made tamper-evident like files: their digest is SHA-256 over the canonical JSON of
``statement_record(item)``, recorded in the ledger when the statement is recorded.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import logging
import tempfile
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.cases import service as cases_service
from api.custody import service as custody_service
from api.evidence import derive, media
from api.evidence.errors import ReleaseRefused
from api.evidence.metadata import extract_metadata
from api.identity import door
from api.models import Case, EvidenceBlob, EvidenceItem
from api.people import service as people_service
from api.problems import IntegrityFailure, NotFound, RangeNotSatisfiable, ValidationProblem
from api.sealing import Sealer, SealError
from evidence_store.blobstore import StoredBlob
from evidence_store.canonical import canonical_json
from evidence_store.digest import Digest
from evidence_store.errors import BlobCorrupted, BlobNotFound, InvalidRange
from evidence_store.reader import open_blob
from evidence_store.sniff import SNIFF_BYTES, sniff_media_type
from schemas.custody import CustodyAction, CustodyEventRead
from schemas.evidence import (
    Derivation,
    EvidenceForm,
    EvidenceKind,
    EvidenceRead,
    EvidenceResearchRead,
    EvidenceUploadMeta,
    IntegrityRead,
    IntegrityStatus,
    SightedEvidenceCreate,
    SightedRead,
    VerificationRead,
)

if TYPE_CHECKING:
    from api.context import AppContext

log = logging.getLogger("precedent.evidence")

#: What a caller is shown of an item: everything if they may read identities, else the research allow-list.
EvidenceView = EvidenceRead | EvidenceResearchRead

#: Media types served with their own Content-Type; anything else (HTML, SVG, scripts) as octet-stream.
_SERVABLE_PREFIXES = ("image/", "audio/", "video/")
_SERVABLE_TYPES = frozenset({"application/pdf", "text/plain"})
_UNSERVABLE_TYPES = frozenset({"image/svg+xml"})
STATEMENT_VERSION = 1
#: Block size in which a made copy is moved into the blob store.
_COPY_BLOCK = 1 << 20
#: The receiving software, named in every "received" custody record.
TOOL = f"Precedent {importlib.metadata.version('precedent')}"


# ---- finding items ----------------------------------------------------------------------------------------


def get_item_or_raise(*, session: Session, actor: Actor, evidence_id: uuid.UUID) -> EvidenceItem:
    """Return an evidence item in a case the actor may see; anything else is reported as not found."""
    item = session.exec(
        select(EvidenceItem)
        .join(Case, col(Case.id) == col(EvidenceItem.case_id))
        .where(col(EvidenceItem.id) == evidence_id, cases_service.visible_clause(actor))
    ).first()
    if item is None:
        raise NotFound(f"No evidence {evidence_id} that you can see.")
    return item


def _blob_of(session: Session, item: EvidenceItem) -> EvidenceBlob:
    """Return the blob row of a file item; 404 for a sighted document, which has no file."""
    if item.blob_sha256 is None:
        raise NotFound("This evidence has no file: the document was sighted, not copied.")
    blob = session.get(EvidenceBlob, item.blob_sha256)
    if blob is None:
        raise IntegrityFailure(f"The record of stored file {item.blob_sha256} is missing.")
    return blob


# ---- wire forms -------------------------------------------------------------------------------------------


def statement_record(item: EvidenceItem) -> dict[str, Any]:
    """Return the sighted statement whose canonical JSON is hashed (format version 1)."""
    return {
        "v": STATEMENT_VERSION,
        "kind": item.kind,
        "description": item.description,
        "document_date": item.document_date.isoformat() if item.document_date else None,
        "sighted_by": item.sighted_by,
        "sighted_by_person_id": str(item.sighted_by_person_id) if item.sighted_by_person_id else None,
        "sighted_on": item.sighted_on.isoformat() if item.sighted_on else None,
        "sighted_place": item.sighted_place,
        "content": item.sighted_content,
        "source": item.source,
    }


def statement_digest(item: EvidenceItem) -> Digest:
    """Return the SHA-256 of a sighted statement's canonical JSON."""
    return Digest(hashlib.sha256(canonical_json(statement_record(item))).hexdigest())


def evidence_view(
    *,
    session: Session,
    sealer: Sealer,
    actor: Actor,
    item: EvidenceItem,
    blob: EvidenceBlob | None,
    identifying: dict[str, Any] | None = None,
) -> EvidenceView:
    """Build what the actor may see of an item: all of it with `person:read_identity`, else the allow-list."""
    names = open_filenames(session=session, sealer=sealer, actor=actor, items=[item], purpose="show")
    return _view_of(actor=actor, item=item, blob=blob, filename=names.get(item.id), identifying=identifying)


def evidence_views(
    *,
    session: Session,
    sealer: Sealer,
    actor: Actor,
    rows: Sequence[tuple[EvidenceItem, EvidenceBlob | None]],
) -> list[EvidenceView]:
    """Build what the actor may see of each item, the file names opened together (one audit record)."""
    items = [item for item, _ in rows]
    names = open_filenames(session=session, sealer=sealer, actor=actor, items=items, purpose="show")
    return [_view_of(actor=actor, item=item, blob=blob, filename=names.get(item.id)) for item, blob in rows]


def _view_of(
    *,
    actor: Actor,
    item: EvidenceItem,
    blob: EvidenceBlob | None,
    filename: str | None,
    identifying: dict[str, Any] | None = None,
) -> EvidenceView:
    """Choose the schema by role: the full item only for callers who may read identities."""
    if not actor.can(Permission.PERSON_READ_IDENTITY):
        return evidence_to_research_read(item=item, blob=blob)
    return evidence_to_read(item=item, blob=blob, filename=filename, identifying=identifying)


def evidence_to_research_read(*, item: EvidenceItem, blob: EvidenceBlob | None) -> EvidenceResearchRead:
    """Build the research view of an item from the allow-list alone (see ``EvidenceResearchRead``)."""
    return EvidenceResearchRead(
        id=item.id,
        case_id=item.case_id,
        form=EvidenceForm(item.form),
        kind=EvidenceKind(item.kind),
        media_type=blob.media_type if blob else None,
        size=blob.size if blob else None,
        digest=f"sha256:{blob.sha256}" if blob else None,
        captured_at=item.captured_at,
        created_at=item.created_at,
        integrity=_integrity(item, blob),
        derived_from_id=item.derived_from_id,
        derivation=Derivation(item.derivation) if item.derivation else None,
    )


def evidence_to_read(
    *,
    item: EvidenceItem,
    blob: EvidenceBlob | None,
    filename: str | None,
    identifying: dict[str, Any] | None = None,
) -> EvidenceRead:
    """Build the full wire form of an item, for callers who may read identities (use ``evidence_view``).

    The file name and identifying metadata are what the caller opened and passes in.
    """
    sighted = None
    if item.form == EvidenceForm.SIGHTED.value:
        sighted = SightedRead(
            document_date=item.document_date,
            sighted_by=item.sighted_by or "",
            sighted_by_person_id=item.sighted_by_person_id,
            sighted_on=item.sighted_on or item.created_at.date(),
            sighted_place=item.sighted_place,
            content=item.sighted_content or "",
            statement_digest=f"sha256:{item.statement_sha256}",
        )
    return EvidenceRead(
        id=item.id,
        case_id=item.case_id,
        form=EvidenceForm(item.form),
        kind=EvidenceKind(item.kind),
        description=item.description,
        captured_at=item.captured_at,
        captured_by=item.captured_by,
        source=item.source,
        original_filename=filename,
        digest=f"sha256:{blob.sha256}" if blob else None,
        size=blob.size if blob else None,
        media_type=blob.media_type if blob else None,
        embedded_metadata=dict(blob.embedded) if blob else {},
        identifying_metadata=identifying,
        derived_from_id=item.derived_from_id,
        derivation=Derivation(item.derivation) if item.derivation else None,
        sighted=sighted,
        integrity=_integrity(item, blob),
        created_by=item.created_by,
        created_at=item.created_at,
    )


def _integrity(item: EvidenceItem, blob: EvidenceBlob | None) -> IntegrityRead | None:
    """Return the blob's last rehash as seen from this item.

    A rehash from before the item existed is left out: it would tell the uploader that the same bytes were
    already held (perhaps in a case they cannot see), and confirming that a document is held is a leak.
    """
    if blob is None:
        return None
    checked_at = blob.checked_at if blob.checked_at and blob.checked_at >= item.created_at else None
    return IntegrityRead(status=IntegrityStatus(blob.integrity), checked_at=checked_at)


def _blob_context(sha256: str) -> str:
    return f"evidence-blob:{sha256}"


# ---- original file names ----------------------------------------------------------------------------------


def _filename_context(item_id: uuid.UUID) -> str:
    # Migration 0014 seals the names stored before it with this context and document: keep them equal.
    return f"evidence-filename:{item_id}"


def seal_filename(*, sealer: Sealer, item_id: uuid.UUID, name: str | None) -> bytes | None:
    """Seal an original file name to its item, as identities are sealed (None stays None)."""
    if not name:
        return None
    return sealer.seal({"name": name}, context=_filename_context(item_id))


def open_filenames(
    *,
    session: Session,
    sealer: Sealer,
    actor: Actor,
    items: Sequence[EvidenceItem],
    purpose: door.Purpose,
) -> dict[uuid.UUID, str]:
    """Open the original file names of items, by item id, for a caller who may read identities ({} otherwise).

    The one place sealed file names are opened: through the audited identity door (api.identity.door), one
    audit record per request naming the items, never the names. A name that does not open (another key, a
    value copied from another item, altered bytes) is withheld and logged, never guessed at.
    """
    if not actor.can(Permission.PERSON_READ_IDENTITY):
        return {}
    values = [
        door.SealedValue(item.id, item.sealed_filename, _filename_context(item.id))
        for item in items
        if item.sealed_filename is not None
    ]
    kind = door.SealedKind.EVIDENCE_FILENAME
    try:
        documents = door.open_identities(
            session=session, sealer=sealer, actor=actor, kind=kind, values=values, purpose=purpose
        )
    except SealError:
        documents = [_open_one(session, sealer, actor, value, purpose) for value in values]
    pairs = zip(values, documents, strict=True)
    return {
        value.subject_id: name for value, document in pairs if isinstance(name := document.get("name"), str)
    }


def _open_one(
    session: Session, sealer: Sealer, actor: Actor, value: door.SealedValue, purpose: door.Purpose
) -> dict[str, Any]:
    """Open one sealed name, or withhold it ({}) when it does not open."""
    try:
        return door.open_identity(
            session=session,
            sealer=sealer,
            actor=actor,
            kind=door.SealedKind.EVIDENCE_FILENAME,
            object_id=value.subject_id,
            sealed=value.sealed,
            context=value.context,
            purpose=purpose,
        )
    except SealError:
        log.warning("evidence %s: its sealed file name does not open; withheld", value.subject_id)
        return {}


def open_filename(
    *, session: Session, sealer: Sealer, actor: Actor, item: EvidenceItem, purpose: door.Purpose
) -> str | None:
    """Open one item's original file name (see ``open_filenames``); None if withheld or there is none."""
    names = open_filenames(session=session, sealer=sealer, actor=actor, items=[item], purpose=purpose)
    return names.get(item.id)


def filename_extension(*, session: Session, sealer: Sealer, actor: Actor, item: EvidenceItem) -> str:
    """Return the extension of an item's original file name (at most 8 characters) for an export, or ""."""
    name = open_filename(session=session, sealer=sealer, actor=actor, item=item, purpose="export") or ""
    return name.rpartition(".")[2][:8] if "." in name else ""


def get_evidence(*, ctx: AppContext, session: Session, actor: Actor, evidence_id: uuid.UUID) -> EvidenceView:
    """Return one item; GPS and device identifiers only to callers who may read identities (audited)."""
    item = get_item_or_raise(session=session, actor=actor, evidence_id=evidence_id)
    blob = session.get(EvidenceBlob, item.blob_sha256) if item.blob_sha256 else None
    identifying = None
    if blob is not None and blob.sealed_identifiers and actor.can(Permission.PERSON_READ_IDENTITY):
        identifying = door.open_identity(
            session=session,
            sealer=ctx.sealer,
            actor=actor,
            kind=door.SealedKind.EVIDENCE_IDENTIFIERS,
            object_id=item.id,
            sealed=blob.sealed_identifiers,
            context=_blob_context(blob.sha256),
            purpose="show",
        )
    return evidence_view(
        session=session, sealer=ctx.sealer, actor=actor, item=item, blob=blob, identifying=identifying
    )


def list_case_evidence(
    *, sealer: Sealer, session: Session, actor: Actor, case_id: uuid.UUID
) -> list[EvidenceView]:
    """Return a visible case's evidence as the actor may see it, oldest first, without identifying metadata."""
    cases_service.get_case_or_raise(session=session, actor=actor, case_id=case_id)
    rows = session.exec(
        select(EvidenceItem, EvidenceBlob)
        .join(EvidenceBlob, col(EvidenceBlob.sha256) == col(EvidenceItem.blob_sha256), isouter=True)
        .where(col(EvidenceItem.case_id) == case_id)
        .order_by(col(EvidenceItem.created_at), col(EvidenceItem.id))
    ).all()
    return evidence_views(session=session, sealer=sealer, actor=actor, rows=rows)


def list_custody(*, session: Session, actor: Actor, evidence_id: uuid.UUID) -> list[CustodyEventRead]:
    """Return the custody events of a visible item, in ledger order (hourly view: up to its latest head)."""
    item = get_item_or_raise(session=session, actor=actor, evidence_id=evidence_id)
    return custody_service.list_events(session=session, evidence_id=item.id, actor=actor)


# ---- receiving files --------------------------------------------------------------------------------------


def check_upload_allowed(*, ctx: AppContext, actor: Actor, case_id: uuid.UUID) -> None:
    """Refuse before any byte is read: 404 for a case the actor cannot see, 403 if read-only, 409 if retracted."""
    with ctx.db.session(write=False) as session:
        cases_service.get_editable_case_or_raise(session=session, actor=actor, case_id=case_id)


@dataclass(frozen=True)
class _BlobFacts:
    media_type: str
    embedded: dict[str, Any]
    identifying: dict[str, Any]


def _inspect_blob(*, ctx: AppContext, stored: StoredBlob, head: bytes) -> _BlobFacts:
    """Sniff and extract the metadata of received bytes, whether or not identical bytes were stored before.

    The work is the same either way (and ``_ensure_blob`` then runs the same statements), so an upload's
    answer and its time do not tell the uploader that the organisation already holds these bytes, perhaps
    in a case they cannot see. A row already there wins; the facts found again are dropped.
    """
    with ctx.db.session(write=False) as session:
        known = session.get(EvidenceBlob, stored.digest.hex)
    if known is not None and known.integrity != IntegrityStatus.OK.value:
        _recheck_damaged(ctx=ctx, blob=known)
    media_type = sniff_media_type(head)
    with open_blob(ctx.blob_store, stored.digest, stored.size) as file:
        embedded, identifying = extract_metadata(file, media_type)
    return _BlobFacts(media_type, embedded, identifying)


def _recheck_damaged(*, ctx: AppContext, blob: EvidenceBlob) -> None:
    """Refuse to file new evidence under a stored copy known to be damaged, unless it was restored."""
    result = ctx.blob_store.verify(Digest(blob.sha256))
    _set_integrity(ctx=ctx, sha256=blob.sha256, status=IntegrityStatus(result.status.value))
    if not result.ok:
        raise IntegrityFailure(
            "The stored copy of these bytes is damaged and cannot be replaced by an upload; "
            "an administrator must restore it from backup."
        )


def _ensure_blob(session: Session, stored: StoredBlob, facts: _BlobFacts, ctx: AppContext) -> EvidenceBlob:
    """Insert the blob's row unless an earlier upload of the same bytes did; return the row.

    The insert is sent (and the identifiers sealed) in both cases: the same statements, whatever exists.
    """
    sealed = None
    if facts.identifying:
        sealed = ctx.sealer.seal(facts.identifying, context=_blob_context(stored.digest.hex))
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(EvidenceBlob)
        .values(
            sha256=stored.digest.hex,
            size=stored.size,
            media_type=facts.media_type,
            received_at=datetime.now(UTC),
            embedded=facts.embedded,
            sealed_identifiers=sealed,
            identifiers_key_id=ctx.sealer.key_id if sealed else None,
            integrity=IntegrityStatus.OK.value,
        )
        .on_conflict_do_nothing(index_elements=["sha256"])
    )
    blob = session.get(EvidenceBlob, stored.digest.hex)
    if blob is None:
        raise RuntimeError(f"blob row {stored.digest} vanished after insert")
    return blob


def _kind_for(media_type: str) -> EvidenceKind:
    """Return the evidence kind a media type suggests, for uploads that do not say."""
    if media_type.startswith("image/"):
        return EvidenceKind.PHOTO
    if media_type.startswith("video/"):
        return EvidenceKind.VIDEO
    if media_type.startswith("audio/"):
        return EvidenceKind.AUDIO
    if media_type.startswith(("application/pdf", "application/vnd.", "text/", "application/rtf")):
        return EvidenceKind.DOCUMENT
    return EvidenceKind.OTHER


def record_upload(
    *,
    ctx: AppContext,
    actor: Actor,
    case_id: uuid.UUID,
    stored: StoredBlob,
    head: bytes,
    meta: EvidenceUploadMeta,
    filename: str | None,
    via: str,
) -> EvidenceView:
    """File received bytes (already at their content address) as a new evidence item of the case.

    ``via`` names how the bytes arrived (``multipart`` or ``raw``), recorded with the custody event as ISO/IEC
    27037 asks of an acquisition (who, when, how, with which tool). ``filename`` is stored sealed only.
    """
    facts = _inspect_blob(ctx=ctx, stored=stored, head=head)
    with ctx.db.write_session() as session:
        # Checked again: the case may have been retracted or reassigned while the body arrived.
        cases_service.get_editable_case_or_raise(session=session, actor=actor, case_id=case_id)
        blob = _ensure_blob(session, stored, facts, ctx)
        item_id = uuid.uuid4()
        item = EvidenceItem(
            id=item_id,
            case_id=case_id,
            form=EvidenceForm.FILE.value,
            kind=(meta.kind or _kind_for(blob.media_type)).value,
            description=meta.description,
            captured_at=meta.captured_at.astimezone(UTC) if meta.captured_at else None,
            captured_by=meta.captured_by,
            source=meta.source,
            sealed_filename=seal_filename(sealer=ctx.sealer, item_id=item_id, name=filename),
            blob_sha256=blob.sha256,
            created_by=actor.user_id,
        )
        session.add(item)
        session.flush()
        custody_service.append_event(
            session=session,
            actor=actor,
            action=CustodyAction.RECEIVED,
            evidence_id=item.id,
            object_digest=stored.digest,
            details={"size": stored.size, "media_type": blob.media_type, "via": via, "tool": TOOL},
        )
    # The name just received is shown as sent, to a caller who may see it: nothing sealed is opened.
    return _view_of(actor=actor, item=item, blob=blob, filename=filename)


def record_sighted(
    *, sealer: Sealer, session: Session, actor: Actor, case_id: uuid.UUID, sighted_in: SightedEvidenceCreate
) -> EvidenceView:
    """Record a document that was seen but not copied, its statement digest entered in the ledger."""
    cases_service.get_editable_case_or_raise(session=session, actor=actor, case_id=case_id)
    if sighted_in.sighted_by_person_id is not None:
        try:
            people_service.get_person_or_raise(
                session=session, actor=actor, person_id=sighted_in.sighted_by_person_id
            )
        except NotFound:
            raise ValidationProblem.single(
                "body.sighted_by_person_id", "no person with this id that you can see", "not_found"
            ) from None
    item = EvidenceItem(
        case_id=case_id,
        form=EvidenceForm.SIGHTED.value,
        kind=sighted_in.kind.value,
        description=sighted_in.description,
        source=sighted_in.source,
        document_date=sighted_in.document_date,
        sighted_by=sighted_in.sighted_by,
        sighted_by_person_id=sighted_in.sighted_by_person_id,
        sighted_on=sighted_in.sighted_on,
        sighted_place=sighted_in.sighted_place,
        sighted_content=sighted_in.content,
        created_by=actor.user_id,
    )
    digest = statement_digest(item)
    item.statement_sha256 = digest.hex
    session.add(item)
    session.flush()
    custody_service.append_event(
        session=session,
        actor=actor,
        action=CustodyAction.RECORDED,
        evidence_id=item.id,
        object_digest=digest,
        details={"form": EvidenceForm.SIGHTED.value},
    )
    session.flush()
    return evidence_view(session=session, sealer=sealer, actor=actor, item=item, blob=None)


# ---- integrity --------------------------------------------------------------------------------------------


def _set_integrity(*, ctx: AppContext, sha256: str, status: IntegrityStatus) -> None:
    """Store the outcome of a rehash on the blob row."""
    with ctx.db.write_session() as session:
        session.execute(
            sa.update(EvidenceBlob)
            .where(col(EvidenceBlob.sha256) == sha256)
            .values(integrity=status.value, checked_at=datetime.now(UTC))
        )


def verify_evidence(*, ctx: AppContext, actor: Actor, evidence_id: uuid.UUID) -> VerificationRead:
    """Rehash an item's stored bytes (or its sighted statement) and record the result in the ledger."""
    with ctx.db.session(write=False) as session:
        item = get_item_or_raise(session=session, actor=actor, evidence_id=evidence_id)
        blob = session.get(EvidenceBlob, item.blob_sha256) if item.blob_sha256 else None
    size: int | None = None
    if blob is None:
        if item.statement_sha256 is None:
            raise IntegrityFailure("No digest was recorded for this sighted statement.")
        expected = Digest(item.statement_sha256)
        found: Digest | None = statement_digest(item)
        status = IntegrityStatus.OK if found == expected else IntegrityStatus.MISMATCH
    else:
        expected = Digest(blob.sha256)
        result = ctx.blob_store.verify(expected)
        found, size = result.found, result.size
        status = IntegrityStatus(result.status.value)
    checked_at = datetime.now(UTC)
    details: dict[str, Any] = {"result": status.value}
    if status is not IntegrityStatus.OK and found is not None:
        details["found"] = str(found)
    with ctx.db.write_session() as session:
        if blob is not None:
            session.execute(
                sa.update(EvidenceBlob)
                .where(col(EvidenceBlob.sha256) == blob.sha256)
                .values(integrity=status.value, checked_at=checked_at)
            )
        event = custody_service.append_event(
            session=session,
            actor=actor,
            action=CustodyAction.VERIFIED,
            evidence_id=item.id,
            object_digest=expected,
            details=details,
        )
    return VerificationRead(
        evidence_id=item.id,
        digest=str(expected),
        status=status,
        found=str(found) if found else None,
        size=size,
        checked_at=checked_at,
        leaf_index=event.leaf_index,
    )


def _record_damage(
    *,
    ctx: AppContext,
    actor: Actor | None,
    item: EvidenceItem,
    found: str | None,
    status: IntegrityStatus = IntegrityStatus.MISMATCH,
) -> None:
    """Flag a blob found damaged (or missing) while being read, and enter the finding in the ledger."""
    sha256 = item.blob_sha256 or ""
    details: dict[str, Any] = {"result": status.value, "during": "download"}
    if found:
        details["found"] = found
    with ctx.db.write_session() as session:
        session.execute(
            sa.update(EvidenceBlob)
            .where(col(EvidenceBlob.sha256) == sha256)
            .values(integrity=status.value, checked_at=datetime.now(UTC))
        )
        custody_service.append_event(
            session=session,
            actor=actor,
            action=CustodyAction.VERIFIED,
            evidence_id=item.id,
            object_digest=Digest(sha256),
            details=details,
        )


# ---- serving files ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Download:
    """What the content route streams: chunks, status (200 or 206), headers and media type."""

    chunks: Iterator[bytes]
    status: int
    headers: dict[str, str]
    media_type: str


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Return [start, end) of a single `bytes=` range, None to serve everything; raise 416 if unsatisfiable."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    spec = spec.strip()
    # RFC 9110 §14.2: a server may ignore a Range it does not support (other units, several ranges).
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.partition("-")
    first, last = first.strip(), last.strip()
    if not dash or not (first.isdigit() or (not first and last.isdigit())) or (last and not last.isdigit()):
        return None
    if not first:
        suffix = int(last)
        start, end = max(size - suffix, 0), size if suffix else 0
    else:
        start = int(first)
        end = min(int(last) + 1, size) if last else size
    if start >= size or end <= start:
        raise RangeNotSatisfiable(
            f"The file has {size} bytes; the range asked for lies outside it.",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return start, end


def _content_disposition(item: EvidenceItem, filename: str | None) -> str:
    """Return an attachment disposition naming the original file (RFC 6266, with an ASCII fallback)."""
    name = filename or f"evidence-{item.id}"
    fallback = "".join(ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\%' else "_" for ch in name)
    quoted = urllib.parse.quote(name, safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quoted}"


def _served_type(media_type: str) -> str:
    """Return the Content-Type to serve: the sniffed type if it cannot run in a browser, else octet-stream."""
    if media_type in _UNSERVABLE_TYPES:
        return "application/octet-stream"
    if media_type.startswith(_SERVABLE_PREFIXES) or media_type in _SERVABLE_TYPES:
        return media_type
    return "application/octet-stream"


def prepare_download(
    *,
    ctx: AppContext,
    actor: Actor,
    evidence_id: uuid.UUID,
    range_header: str | None,
    if_range: str | None,
) -> Download:
    """Check, record and open an item's bytes; a blob known or found to be damaged is refused, never served."""
    with ctx.db.session(write=False) as session:
        item = get_item_or_raise(session=session, actor=actor, evidence_id=evidence_id)
        blob = _blob_of(session, item)
    if blob.integrity != IntegrityStatus.OK.value:
        raise IntegrityFailure(
            f"The stored bytes of this evidence failed verification ({blob.integrity}); they are not served."
        )
    etag = f'"sha256:{blob.sha256}"'
    # If-Range (RFC 9110 §13.1.5): a range only if the client's copy is still this representation.
    requested = _parse_range(range_header, blob.size) if (if_range is None or if_range == etag) else None
    digest = Digest(blob.sha256)
    chunks = _open_served_bytes(ctx=ctx, actor=actor, item=item, digest=digest, requested=requested)
    details: dict[str, Any] = {}
    if requested is not None:
        details = {"first_byte": requested[0], "last_byte": requested[1] - 1}
    with ctx.db.write_session() as session:
        custody_service.append_event(
            session=session,
            actor=actor,
            action=CustodyAction.DOWNLOADED,
            evidence_id=item.id,
            object_digest=digest,
            details=details,
        )
        filename = open_filename(session=session, sealer=ctx.sealer, actor=actor, item=item, purpose="show")

    def on_damage(exc: BlobCorrupted) -> None:
        _record_damage(ctx=ctx, actor=actor, item=item, found=str(exc.found) if exc.found else None)

    return Download(
        chunks=_guarded(chunks, on_damage),
        status=206 if requested is not None else 200,
        headers=_download_headers(item=item, blob=blob, etag=etag, requested=requested, filename=filename),
        media_type=_served_type(blob.media_type),
    )


def _open_served_bytes(
    *, ctx: AppContext, actor: Actor, item: EvidenceItem, digest: Digest, requested: tuple[int, int] | None
) -> Iterator[bytes]:
    """Open the bytes a download serves; if they are missing or fail verification, flag the blob and refuse.

    A whole file is rehashed while it streams, its last chunk held back until the hash is known, so damage
    cuts the transfer before the client holds a complete-looking copy. A range cannot be judged that way: a
    206 asserts its bytes are part of the evidence, and its client cannot check them against Repr-Digest.
    So the whole blob is rehashed before the status line is sent, and a blob that fails is refused as one
    already known to be damaged is (IntegrityFailure), never with a 206. Cost: every range request, however
    small, reads and hashes the whole stored blob (seconds for a large video), then the range's blocks again.

    Why again: the stored bytes may change between that check and the serving (a file rewritten in place,
    an S3 object overwritten). Reading from the file handle that was hashed would miss an in-place write and
    does not exist on S3, so the served blocks are rehashed instead, each one sent only if it matches its
    hash from the verified read (``BlobStore.open_verified_range``); a block that changed cuts the transfer.
    """
    try:
        if requested is None:
            return ctx.blob_store.open_range(digest, verify=True)
        return ctx.blob_store.open_verified_range(digest, *requested)
    except BlobNotFound:
        _record_damage(ctx=ctx, actor=actor, item=item, found=None, status=IntegrityStatus.MISSING)
        raise IntegrityFailure("The stored bytes of this evidence are missing.") from None
    except BlobCorrupted as exc:
        _record_damage(ctx=ctx, actor=actor, item=item, found=str(exc.found) if exc.found else None)
        raise IntegrityFailure(
            "The stored bytes of this evidence failed verification (mismatch); they are not served."
        ) from None
    except InvalidRange:
        # The stored bytes verified, so the recorded size is what is wrong: nothing to flag on the blob.
        raise IntegrityFailure("The recorded size of this evidence differs from its stored bytes.") from None


def _download_headers(
    *,
    item: EvidenceItem,
    blob: EvidenceBlob,
    etag: str,
    requested: tuple[int, int] | None,
    filename: str | None,
) -> dict[str, str]:
    """Return the headers of a download: length, digests, disposition, and the range served if partial."""
    start, end = requested or (0, blob.size)
    b64 = base64.b64encode(Digest(blob.sha256).bytes).decode("ascii")
    headers = {
        "Content-Length": str(end - start),
        "Accept-Ranges": "bytes",
        "ETag": etag,
        # RFC 9530: the digest of the whole representation, also on partial responses.
        "Repr-Digest": f"sha-256=:{b64}:",
        "Digest": f"SHA-256={b64}",  # RFC 3230, for older tools
        "Content-Disposition": _content_disposition(item, filename),
        "Content-Security-Policy": "sandbox; default-src 'none'",
    }
    if requested is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{blob.size}"
    return headers


def _guarded(chunks: Iterator[bytes], on_damage: Callable[[BlobCorrupted], None]) -> Iterator[bytes]:
    """Pass chunks through; on damage found mid-stream, record it and abort the transfer."""
    try:
        yield from chunks
    except BlobCorrupted as exc:
        on_damage(exc)
        # Re-raised so the server cuts the connection: the client sees a broken transfer, and the
        # held-back chunk (a whole file's last, a range's changed block) means it never holds a
        # complete-looking copy.
        raise


# ---- working copies ---------------------------------------------------------------------------------------


def _make_copy(file: BinaryIO, media_type: str, method: Derivation, out: BinaryIO) -> str:
    """Write the copy's bytes for ``method`` to ``out`` and return the tool that made them; 422 if it cannot."""
    if method is Derivation.STRIP_METADATA:
        out.write(derive.strip_metadata(file, media_type))
        return derive.TOOL
    try:
        if derive.is_media(media_type):
            made_type = media.release_copy(file, out)
            out.seek(0)
            media.check_release_copy(out, made_type)
            return media.TOOL
        data, _ = derive.release_copy(file, media_type)
    except ReleaseRefused as exc:
        raise ValidationProblem.single("body.method", str(exc), "not_releasable") from exc
    out.write(data)
    return derive.PDF_TOOL if media_type == "application/pdf" else derive.TOOL


def _store_copy(ctx: AppContext, made: BinaryIO) -> tuple[StoredBlob, bytes]:
    """Copy a made file into the blob store in blocks; return it with its first bytes (for sniffing)."""
    made.seek(0)
    head = made.read(SNIFF_BYTES)
    made.seek(0)
    with ctx.blob_store.begin_write(max_bytes=ctx.settings.max_upload_bytes) as writer:
        while block := made.read(_COPY_BLOCK):
            writer.write(block)
        return writer.commit(), head


def derive_evidence(
    *, ctx: AppContext, actor: Actor, evidence_id: uuid.UUID, method: Derivation
) -> EvidenceView:
    """Store a working copy derived from an item's bytes, linked to it; the original is not touched.

    A recording's release copy can be long: it is made in a temporary file, never whole in memory.
    """
    with ctx.db.session(write=False) as session:
        original = get_item_or_raise(session=session, actor=actor, evidence_id=evidence_id)
        cases_service.get_editable_case_or_raise(session=session, actor=actor, case_id=original.case_id)
        source = _blob_of(session, original)
    source_digest = Digest(source.sha256)
    check = ctx.blob_store.verify(source_digest)
    if not check.ok:
        _set_integrity(ctx=ctx, sha256=source.sha256, status=IntegrityStatus(check.status.value))
        raise IntegrityFailure("The original's stored bytes failed verification; no copy was made.")
    with tempfile.TemporaryFile() as made:
        with open_blob(ctx.blob_store, source_digest, source.size) as file:
            tool = _make_copy(file, source.media_type, method, made)
        stored, head = _store_copy(ctx, made)
    facts = _inspect_blob(ctx=ctx, stored=stored, head=head)
    method_details = {"method": method.value, "tool": tool}
    with ctx.db.write_session() as session:
        cases_service.get_editable_case_or_raise(session=session, actor=actor, case_id=original.case_id)
        blob = _ensure_blob(session, stored, facts, ctx)
        copy = EvidenceItem(
            case_id=original.case_id,
            form=EvidenceForm.WORKING_COPY.value,
            kind=original.kind,
            description=original.description,
            captured_at=original.captured_at,
            captured_by=original.captured_by,
            source=original.source,
            blob_sha256=blob.sha256,
            derived_from_id=original.id,
            derivation=method.value,
            created_by=actor.user_id,
        )
        name = open_filename(session=session, sealer=ctx.sealer, actor=actor, item=original, purpose="update")
        copy.sealed_filename = seal_filename(sealer=ctx.sealer, item_id=copy.id, name=name)
        session.add(copy)
        session.flush()
        custody_service.append_event(
            session=session,
            actor=actor,
            action=CustodyAction.DERIVED,
            evidence_id=original.id,
            object_digest=source_digest,
            details={**method_details, "derivative": str(copy.id), "derivative_digest": str(stored.digest)},
        )
        custody_service.append_event(
            session=session,
            actor=actor,
            action=CustodyAction.DERIVED,
            evidence_id=copy.id,
            object_digest=stored.digest,
            details={**method_details, "source": str(original.id), "source_digest": str(source_digest)},
        )
    return _view_of(actor=actor, item=copy, blob=blob, filename=name)
