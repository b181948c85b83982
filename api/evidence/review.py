"""Audio and video leave for an outside audience only as a release copy a person reviewed and approved.

A coordinator (`media:review`) makes the copy (``api.evidence.media``: decoded and re-encoded, nothing of
the original container), downloads it and listens to or watches it, then approves it for named outside
audiences or refuses it, with an optional note. Each decision is a new `MediaReview` row, never changed, and
a `reviewed` custody record of the copy naming the decision and the audiences (never the note, which may
name people: the ledger travels with bundles). The newest decision on a recording is the one that counts.

An approval binds the digest of the copy the reviewer downloaded: it is refused unless the digest sent is the
copy's, and unless the reviewer's own download of that copy is in the ledger; a bundle ships the copy only
while its stored bytes still have that digest (``release_for``).

Errors: PermissionDenied [403] without `media:review` or on a case one may only read; NotFound [404] for an
item one cannot see; Conflict [409] for a copy that is not this recording's release copy, another digest, a
copy not yet downloaded by the reviewer, or a retracted case; ValidationProblem [422] for a file that is not
audio or video, or that does not decode. Services flush; the request commits once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.cases import service as cases_service
from api.custody import service as custody_service
from api.evidence import derive
from api.evidence import service as evidence_service
from api.models import CustodyEvent, EvidenceBlob, EvidenceItem, MediaReview
from api.problems import Conflict, PermissionDenied, ValidationProblem
from evidence_store.digest import Digest
from schemas.custody import CustodyAction
from schemas.evidence import Derivation, EvidenceForm, IntegrityStatus
from schemas.export import ExportAudience
from schemas.media_review import MediaReleaseState, MediaReviewCreate, MediaReviewRead, ReviewDecision

if TYPE_CHECKING:
    from api.context import AppContext


def _require_review(actor: Actor) -> None:
    if not actor.can(Permission.MEDIA_REVIEW):
        raise PermissionDenied("Reviewing audio and video for release needs the media:review permission.")


def get_recording_or_raise(*, session: Session, actor: Actor, evidence_id: uuid.UUID) -> EvidenceItem:
    """Return a visible original audio or video file; 422 for anything else."""
    item = evidence_service.get_item_or_raise(session=session, actor=actor, evidence_id=evidence_id)
    blob = session.get(EvidenceBlob, item.blob_sha256) if item.blob_sha256 else None
    if item.form != EvidenceForm.FILE.value or blob is None or not derive.is_media(blob.media_type):
        raise ValidationProblem.single(
            "path.evidence_id", "only an original audio or video file is reviewed for release", "not_media"
        )
    return item


def make_review_copy(
    *, ctx: AppContext, actor: Actor, evidence_id: uuid.UUID
) -> evidence_service.EvidenceView:
    """Make a release copy of a recording from its decoded sound and pictures, for a person to review."""
    _require_review(actor)
    with ctx.db.session(write=False) as session:
        get_recording_or_raise(session=session, actor=actor, evidence_id=evidence_id)
    return evidence_service.derive_evidence(
        ctx=ctx, actor=actor, evidence_id=evidence_id, method=Derivation.RELEASE
    )


def review_copies(*, session: Session, evidence_id: uuid.UUID) -> list[tuple[EvidenceItem, EvidenceBlob]]:
    """The recording's release copies with their blobs, newest first (the caller checked visibility)."""
    return list(
        session.exec(
            select(EvidenceItem, EvidenceBlob)
            .join(EvidenceBlob, col(EvidenceBlob.sha256) == col(EvidenceItem.blob_sha256))
            .where(
                col(EvidenceItem.derived_from_id) == evidence_id,
                col(EvidenceItem.derivation) == Derivation.RELEASE.value,
            )
            .order_by(col(EvidenceItem.created_at).desc(), col(EvidenceItem.id))
        ).all()
    )


def downloaded_by(*, session: Session, actor: Actor, evidence_id: uuid.UUID) -> bool:
    """Whether the ledger records a download of this item by this actor."""
    found = session.exec(
        select(CustodyEvent.leaf_index).where(
            col(CustodyEvent.evidence_id) == evidence_id,
            col(CustodyEvent.action) == CustodyAction.DOWNLOADED.value,
            col(CustodyEvent.actor_id) == actor.user_id,
        )
    ).first()
    return found is not None


def _reviewed_copy(
    session: Session, actor: Actor, original: EvidenceItem, review_in: MediaReviewCreate
) -> EvidenceBlob:
    """Check that the copy named is this recording's release copy, with the digest the reviewer sent."""
    copy = session.get(EvidenceItem, review_in.derivative_id)
    if copy is None or copy.derived_from_id != original.id or copy.derivation != Derivation.RELEASE.value:
        raise Conflict("That is not a release copy of this recording; make one and review it.")
    blob = session.get(EvidenceBlob, copy.blob_sha256) if copy.blob_sha256 else None
    if blob is None or blob.integrity != IntegrityStatus.OK.value:
        raise Conflict("The copy's stored bytes failed verification; make a new copy and review it.")
    if blob.sha256 != review_in.derivative_digest:
        raise Conflict(
            f"The copy's digest is sha256:{blob.sha256}, not the one you reviewed: review this copy again."
        )
    if review_in.decision is ReviewDecision.APPROVED and not downloaded_by(
        session=session, actor=actor, evidence_id=copy.id
    ):
        raise Conflict("Download the copy and listen to or watch it before you approve it.")
    return blob


def decide_review(
    *, session: Session, actor: Actor, evidence_id: uuid.UUID, review_in: MediaReviewCreate
) -> MediaReviewRead:
    """Record a decision on a release copy and its `reviewed` custody record; flush."""
    _require_review(actor)
    original = get_recording_or_raise(session=session, actor=actor, evidence_id=evidence_id)
    cases_service.get_editable_case_or_raise(session=session, actor=actor, case_id=original.case_id)
    blob = _reviewed_copy(session, actor, original, review_in)
    review_id = uuid.uuid4()
    audiences = [a.value for a in review_in.audiences]
    event = custody_service.append_event(
        session=session,
        actor=actor,
        action=CustodyAction.REVIEWED,
        evidence_id=review_in.derivative_id,
        object_digest=Digest(blob.sha256),
        details={
            "decision": review_in.decision.value,
            "audiences": audiences,
            "review": str(review_id),
            "source": str(original.id),
        },
    )
    row = MediaReview(
        id=review_id,
        case_id=original.case_id,
        evidence_id=original.id,
        derivative_id=review_in.derivative_id,
        derivative_sha256=blob.sha256,
        decision=review_in.decision.value,
        audiences=audiences,
        note=review_in.note or None,
        decided_by=actor.user_id,
        leaf_index=event.leaf_index,
    )
    session.add(row)
    session.flush()
    return to_read(row, actor=actor)


def to_read(row: MediaReview, *, actor: Actor) -> MediaReviewRead:
    """The wire form of a decision; the note only for roles that may read identities."""
    return MediaReviewRead(
        id=row.id,
        evidence_id=row.evidence_id,
        derivative_id=row.derivative_id,
        derivative_digest=f"sha256:{row.derivative_sha256}",
        decision=ReviewDecision(row.decision),
        audiences=list(row.audiences),
        note=row.note if actor.can(Permission.PERSON_READ_IDENTITY) else None,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        leaf_index=row.leaf_index,
    )


def _decisions(session: Session, evidence_id: uuid.UUID) -> list[MediaReview]:
    return list(
        session.exec(
            select(MediaReview)
            .where(col(MediaReview.evidence_id) == evidence_id)
            .order_by(col(MediaReview.decided_at).desc(), col(MediaReview.leaf_index).desc())
        ).all()
    )


def list_reviews(*, session: Session, actor: Actor, evidence_id: uuid.UUID) -> list[MediaReviewRead]:
    """Every decision on a visible recording's copies, newest (the one that counts) first."""
    item = evidence_service.get_item_or_raise(session=session, actor=actor, evidence_id=evidence_id)
    return [to_read(row, actor=actor) for row in _decisions(session, item.id)]


# ---- what leaves -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    """Where a recording stands for one audience, and the approved copy when there is one to ship."""

    state: MediaReleaseState
    copy: EvidenceItem | None = None
    blob: EvidenceBlob | None = None
    audiences: tuple[str, ...] = ()


def release_for(*, session: Session, evidence_id: uuid.UUID, audience: ExportAudience) -> Release:
    """The newest decision on the recording, read for ``audience`` (the caller checked visibility).

    Approved only if that decision approved this audience and the copy's stored bytes still verify and have
    the digest approved: anything else is a reason to withhold.
    """
    decisions = _decisions(session, evidence_id)
    if not decisions:
        return Release(MediaReleaseState.NOT_REVIEWED)
    newest = decisions[0]
    if newest.decision != ReviewDecision.APPROVED.value:
        return Release(MediaReleaseState.REFUSED)
    if audience.value not in newest.audiences:
        return Release(MediaReleaseState.OTHER_AUDIENCES, audiences=tuple(newest.audiences))
    copy = session.get(EvidenceItem, newest.derivative_id)
    blob = session.get(EvidenceBlob, copy.blob_sha256) if copy and copy.blob_sha256 else None
    if (
        copy is None
        or blob is None
        or blob.sha256 != newest.derivative_sha256
        or blob.integrity != IntegrityStatus.OK.value
    ):
        return Release(MediaReleaseState.COPY_CHANGED)
    return Release(MediaReleaseState.APPROVED, copy, blob, tuple(newest.audiences))
