"""Clear free text for an outside audience: propose, correct, approve; tell the exports what may leave.

A case's title, summary and narrative, a testimony and each of its translations go to an audience other than
`internal` only as a cleared version a coordinator approved for exactly that audience, made from exactly the
text it stands for: the SHA-256 of its source is kept with it, and a clearing whose source changed since is
stale and counts for nothing (`current_cleared_text` answers None, and the export withholds the text).

The proposal (api.clearing.names) replaces every form of the name of every recorded person, not only of the
people in the case: a witness names colleagues who were never involved. Their identities are opened through
the audited door (api.people.service.open_identities): one `identity.read` audit row per request, listing
the ids of the people (their count), never a name.

What is stored of a change: its offsets into the source, the pseudonym put in, the person's id, a confidence
and reason codes. Never the name form found: whoever may read the source reads it there, and a list of them
kept apart would be a list of identities in clear. Each proposal, correction and approval is a revision
(entity `cleared_text`, kept out of the case's history, which researchers read) naming its author.

Errors: PermissionDenied [403] without `text:clear` (to change) or without it and `person:read_identity`
(to read); NotFound [404] for a case or clearing the caller may not see; Conflict [409] for a retracted
case, a stale clearing, or a proposal made at the same moment by someone else; PreconditionRequired [428] /
PreconditionFailed [412] for a missing or stale If-Match. Services flush; the request commits once.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.cases import service as cases_service
from api.clearing import names
from api.history import service as history_service
from api.models import Case, ClearedText, Person, PersonIdentity, Testimony
from api.models.base import utcnow
from api.people import service as people_service
from api.problems import Conflict, NotFound, PermissionDenied
from api.records import check_if_match, conditional_update, diff, ensure_not_retracted, json_value, reload
from api.sealing import Sealer
from api.testimonies import texts as testimony_texts
from api.testimonies.texts import TestimonyWords
from schemas.clearing import (
    ClearingChange,
    ClearingRead,
    ClearingState,
    ClearingStatus,
    ClearingUpdate,
    SourceClearing,
    SourceKind,
)
from schemas.export import ExportAudience
from schemas.history import RevisionRead

ENTITY = "cleared_text"
_CASE_FIELDS = {
    SourceKind.CASE_TITLE: "title",
    SourceKind.CASE_SUMMARY: "summary",
    SourceKind.CASE_NARRATIVE: "narrative",
}
# The proposer explains a low confidence in words that may quote the name ("also the common word «жук»"):
# only a code is kept, chosen by the words' beginning; anything not known here becomes "other".
_REASON_CODES = (
    ("given name alone", "given_name_alone"),
    ("patronymic alone", "patronymic_alone"),
    ("diminutive", "diminutive"),
    ("also the common word", "common_word"),
    ("also fits", "ambiguous"),
)
_TO_PROPOSE = (ClearingState.MISSING, ClearingState.STALE)
_CONCURRENT = "Someone else proposed clearings for this case at the same moment; reload and try again."


@dataclass(frozen=True)
class Source:
    """One free text of a case as it stands: which one, and its text."""

    kind: SourceKind
    source_id: uuid.UUID
    language: str  # the language of a translation; "" for every other text
    text: str

    @property
    def key(self) -> tuple[str, uuid.UUID, str]:
        return (self.kind.value, self.source_id, self.language)


@dataclass(frozen=True)
class Review:
    """What a coordinator reviews for one source: the text, its clearing (if any) and where it stands."""

    source: Source
    clearing: ClearingRead | None
    state: ClearingState


def digest(text: str) -> str:
    """Return `sha256:<hex>` of the text's UTF-8 bytes, exactly as stored."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---- the free texts of a case -------------------------------------------------------------------------------


def case_sources(*, session: Session, sealer: Sealer, actor: Actor, case: Case) -> list[Source]:
    """The case's free texts that are not empty: its own fields, then each live testimony and translation.

    The testimonies' words are opened through the audited door (purpose "clear"). A second translation into
    one language gets no clearing of its own: it stays withheld (fail closed).
    """
    sources = [
        Source(kind, case.id, "", getattr(case, name))
        for kind, name in _CASE_FIELDS.items()
        if getattr(case, name).strip()
    ]
    testimonies = session.exec(
        select(Testimony)
        .where(Testimony.case_id == case.id, col(Testimony.retracted_at).is_(None))
        .order_by(col(Testimony.taken_at), col(Testimony.created_at))
    ).all()
    said = testimony_texts.open_words(
        session=session, sealer=sealer, actor=actor, rows=testimonies, purpose="clear"
    )
    for testimony in testimonies:
        sources.extend(_testimony_sources(testimony.id, said[testimony.id]))
    return sources


def _testimony_sources(testimony_id: uuid.UUID, words: TestimonyWords) -> list[Source]:
    sources = []
    if words.text.strip():
        sources.append(Source(SourceKind.TESTIMONY_TEXT, testimony_id, "", words.text))
    seen: set[str] = set()
    for translation in words.translations:
        language, text = translation.get("language"), translation.get("text")
        if isinstance(language, str) and isinstance(text, str) and text.strip() and language not in seen:
            seen.add(language)
            sources.append(Source(SourceKind.TESTIMONY_TRANSLATION, testimony_id, language, text))
    return sources


def cleared_words(
    *, session: Session, testimony_id: uuid.UUID, words: TestimonyWords
) -> TestimonyWords | None:
    """The version of a testimony a reader without person:read_identity may see: its text and translations
    as a coordinator cleared them of names (for any audience), or None when its text has no current clearing.
    A translation without one is left out."""
    approved = session.exec(
        select(ClearedText).where(
            ClearedText.source_id == testimony_id, ClearedText.status == ClearingStatus.APPROVED.value
        )
    ).all()
    by_digest = {(row.source_kind, row.source_sha256): row.text for row in approved}
    cleared: dict[tuple[str, str], str] = {}
    for source in _testimony_sources(testimony_id, words):
        text = by_digest.get((source.kind.value, digest(source.text)))
        if text is not None:
            cleared[(source.kind.value, source.language)] = text
    text = cleared.get((SourceKind.TESTIMONY_TEXT.value, ""))
    if text is None:
        return None
    translations = [
        {"language": language, "text": value, "translated_by": None}
        for (kind, language), value in cleared.items()
        if kind == SourceKind.TESTIMONY_TRANSLATION.value
    ]
    return TestimonyWords(text=text, translations=translations)


def _state(row: ClearedText | None, source: Source | None) -> ClearingState:
    if row is None:
        return ClearingState.MISSING
    if source is None or row.source_sha256 != digest(source.text):
        return ClearingState.STALE
    return ClearingState(row.status)


# ---- reading ------------------------------------------------------------------------------------------------


def _require_clear(actor: Actor) -> None:
    if not actor.can(Permission.TEXT_CLEAR):
        raise PermissionDenied("Only a coordinator may propose, correct or approve cleared texts.")


def _require_read(actor: Actor) -> None:
    if not (actor.can(Permission.TEXT_CLEAR) or actor.can(Permission.PERSON_READ_IDENTITY)):
        raise PermissionDenied("Your role may not read cleared texts.")


def _stored_change(change: names.Change) -> dict[str, Any]:
    """A change as stored: where, by whom replaced, how sure; never `change.original`."""
    codes = {next((c for p, c in _REASON_CODES if r.startswith(p)), "other") for r in change.reasons}
    return {
        "start": change.start,
        "end": change.end,
        "person_id": str(change.person_id),
        "replacement": change.replacement,
        "confidence": change.confidence,
        "reasons": sorted(codes),
    }


def to_read(row: ClearedText, *, state: ClearingState, with_changes: bool) -> ClearingRead:
    """Wire form of a clearing; the replaced spans only when `with_changes`."""
    return ClearingRead(
        id=row.id,
        case_id=row.case_id,
        source_kind=SourceKind(row.source_kind),
        source_id=row.source_id,
        source_language=row.source_language or None,
        source_sha256=row.source_sha256,
        stale=state is ClearingState.STALE,
        audience=ExportAudience(row.audience),
        text=row.text,
        status=ClearingStatus(row.status),
        proposed_by=row.proposed_by,
        proposed_at=row.proposed_at,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
        version=row.version,
        changes=[ClearingChange.model_validate(c) for c in row.changes] if with_changes else None,
    )


def _rows(session: Session, case_id: uuid.UUID, audience: ExportAudience | None) -> list[ClearedText]:
    query = select(ClearedText).where(ClearedText.case_id == case_id)
    if audience is not None:
        query = query.where(ClearedText.audience == audience.value)
    return list(session.exec(query.order_by(col(ClearedText.proposed_at), col(ClearedText.id))).all())


def _current_source(session: Session, sealer: Sealer, actor: Actor, row: ClearedText) -> Source | None:
    """The source a clearing was made for, as it stands now (None when it is gone: retracted, removed)."""
    case = session.get(Case, row.case_id)
    if case is None:
        return None
    key = (row.source_kind, row.source_id, row.source_language)
    return next(
        (s for s in case_sources(session=session, sealer=sealer, actor=actor, case=case) if s.key == key),
        None,
    )


def list_clearings(
    *, session: Session, sealer: Sealer, actor: Actor, case_id: uuid.UUID, audience: ExportAudience | None
) -> list[ClearingRead]:
    """Return the case's clearings (for one audience, or all), each with its status and staleness."""
    _require_read(actor)
    case = cases_service.get_case_or_raise(session=session, actor=actor, case_id=case_id)
    sources = {s.key: s for s in case_sources(session=session, sealer=sealer, actor=actor, case=case)}
    return [
        to_read(row, state=_state(row, sources.get(_key(row))), with_changes=False)
        for row in _rows(session, case_id, audience)
    ]


def _key(row: ClearedText) -> tuple[str, uuid.UUID, str]:
    return (row.source_kind, row.source_id, row.source_language)


def get_clearing_or_raise(*, session: Session, actor: Actor, clearing_id: uuid.UUID) -> ClearedText:
    """Return a clearing of a case the caller may see (404 otherwise), for a role that may read them (403)."""
    _require_read(actor)
    row = session.get(ClearedText, clearing_id)
    if row is None:
        raise NotFound(f"No cleared text {clearing_id} that you can see.")
    try:
        cases_service.get_case_or_raise(session=session, actor=actor, case_id=row.case_id)
    except NotFound:
        raise NotFound(f"No cleared text {clearing_id} that you can see.") from None
    return row


def get_clearing(*, session: Session, sealer: Sealer, actor: Actor, clearing_id: uuid.UUID) -> ClearingRead:
    """Return one clearing; its replaced spans for roles that may read identities."""
    row = get_clearing_or_raise(session=session, actor=actor, clearing_id=clearing_id)
    state = _state(row, _current_source(session, sealer, actor, row))
    return to_read(row, state=state, with_changes=actor.can(Permission.PERSON_READ_IDENTITY))


def review_case(
    *, session: Session, sealer: Sealer, actor: Actor, case_id: uuid.UUID, audience: ExportAudience
) -> list[Review]:
    """Every free text of the case with its clearing for `audience`, for a coordinator to review."""
    _require_clear(actor)
    case = cases_service.get_case_or_raise(session=session, actor=actor, case_id=case_id)
    rows = {_key(r): r for r in _rows(session, case_id, audience)}
    reviews = []
    for source in case_sources(session=session, sealer=sealer, actor=actor, case=case):
        row = rows.get(source.key)
        state = _state(row, source)
        read = to_read(row, state=state, with_changes=True) if row is not None else None
        reviews.append(Review(source, read, state))
    return reviews


# ---- what the exports may send ------------------------------------------------------------------------------


def current_cleared_text(
    *,
    session: Session,
    source_kind: SourceKind | str,
    source_id: uuid.UUID,
    audience: ExportAudience | str,
    source_text: str,
) -> str | None:
    """Return the approved clearing of exactly `source_text` for `audience`, or None: then withhold the text.

    `internal` exports carry texts as they are, and an empty text names nobody: both come back unchanged.
    A translation is found by its text's digest, so the caller need not say which language it is.
    """
    if ExportAudience(audience) is ExportAudience.INTERNAL or not source_text.strip():
        return source_text
    row = session.exec(
        select(ClearedText).where(
            ClearedText.source_kind == SourceKind(source_kind).value,
            ClearedText.source_id == source_id,
            ClearedText.audience == ExportAudience(audience).value,
            ClearedText.status == ClearingStatus.APPROVED.value,
            ClearedText.source_sha256 == digest(source_text),
        )
    ).first()
    return row.text if row is not None else None


def clearing_status(
    *, session: Session, sealer: Sealer, actor: Actor, case_id: uuid.UUID, audience: ExportAudience | str
) -> list[SourceClearing]:
    """Where each free text of the case stands for `audience` (no text, no name: for the export page).

    The caller has checked that the case is one its user may see; only `approved` texts may leave.
    """
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"No case {case_id}.")
    rows = {_key(r): r for r in _rows(session, case_id, ExportAudience(audience))}
    out = []
    for source in case_sources(session=session, sealer=sealer, actor=actor, case=case):
        row = rows.get(source.key)
        out.append(
            SourceClearing(
                source_kind=source.kind,
                source_id=source.source_id,
                source_language=source.language or None,
                state=_state(row, source),
                clearing_id=row.id if row is not None else None,
            )
        )
    return out


# ---- proposing ----------------------------------------------------------------------------------------------


def recorded_people(*, session: Session, actor: Actor, sealer: Sealer) -> list[names.PersonName]:
    """Every recorded person who has an identity (retracted ones too), opened in one audited read."""
    pseudonyms = dict(
        session.exec(
            select(Person.id, Person.pseudonym).join(
                PersonIdentity, col(PersonIdentity.person_id) == Person.id
            )
        ).all()
    )
    opened = people_service.open_identities(
        session=session, sealer=sealer, actor=actor, person_ids=sorted(pseudonyms), purpose="export"
    )
    return [
        names.PersonName.from_identity(person_id=pid, pseudonym=pseudonyms[pid], identity=identity)
        for pid, identity in opened.items()
    ]


def propose_clearings(
    *, session: Session, actor: Actor, sealer: Sealer, case_id: uuid.UUID, audience: ExportAudience
) -> list[ClearingRead]:
    """Propose a clearing for `audience` of every free text of the case that has no current one; flush.

    A stale clearing (its source changed) is proposed again in place, back to `proposed`.
    """
    _require_clear(actor)
    case = cases_service.get_case_or_raise(session=session, actor=actor, case_id=case_id)
    ensure_not_retracted(case, "case")
    rows = {_key(r): r for r in _rows(session, case_id, audience)}
    sources = case_sources(session=session, sealer=sealer, actor=actor, case=case)
    todo = [s for s in sources if _state(rows.get(s.key), s) in _TO_PROPOSE]
    if not todo:
        return []
    # One proposer for every text: building each person's name forms is the costly part.
    proposer = names.Proposer(recorded_people(session=session, actor=actor, sealer=sealer))
    written = [
        _write_proposal(
            session, actor, case, audience, source, proposer.propose(source.text), rows.get(source.key)
        )
        for source in todo
    ]
    _flush(session)
    return [to_read(row, state=ClearingState.PROPOSED, with_changes=True) for row in written]


def _write_proposal(
    session: Session,
    actor: Actor,
    case: Case,
    audience: ExportAudience,
    source: Source,
    proposal: names.Proposal,
    row: ClearedText | None,
) -> ClearedText:
    values: dict[str, Any] = {
        "source_sha256": digest(source.text),
        "text": proposal.text,
        "status": ClearingStatus.PROPOSED.value,
        "proposed_by": actor.user_id,
        "proposed_at": utcnow(),
        "approved_by": None,
        "approved_at": None,
    }
    changes = [_stored_change(c) for c in proposal.changes]
    if row is None:
        row = ClearedText(
            case_id=case.id,
            source_kind=source.kind.value,
            source_id=source.source_id,
            source_language=source.language,
            audience=audience.value,
            changes=changes,
            updated_by=actor.user_id,
            **values,
        )
        recorded = {"source_kind": source.kind.value, "source_language": source.language} | values
        _record(
            session, actor, row, 1, "propose", {k: {"before": None, "after": v} for k, v in recorded.items()}
        )
        session.add(row)
        return row
    recorded_diff = diff(row, values)
    version = conditional_update(
        session=session,
        model=ClearedText,
        row_id=row.id,
        expected_version=row.version,
        values=values | {"changes": changes},
        actor=actor,
    )
    _record(session, actor, row, version, "propose", recorded_diff)
    fresh: ClearedText = reload(session, ClearedText, row.id)
    return fresh


def _record(
    session: Session,
    actor: Actor,
    row: ClearedText,
    version: int,
    action: str,
    changes: dict[str, dict[str, Any]],
) -> None:
    """A revision of the clearing: who did what. The spans are counted, not listed (they are in the row)."""
    history_service.record_revision(
        session=session,
        actor=actor,
        entity_type=ENTITY,
        entity_id=row.id,
        version=version,
        action=action,
        changes={
            k: {"before": json_value(v["before"]), "after": json_value(v["after"])}
            for k, v in changes.items()
        },
    )


def _flush(session: Session) -> None:
    try:
        session.flush()
    except sa.exc.IntegrityError:
        raise Conflict(_CONCURRENT) from None


# ---- correcting and approving -------------------------------------------------------------------------------


def _changeable(
    session: Session, sealer: Sealer, actor: Actor, clearing_id: uuid.UUID, if_match: str | None
) -> ClearedText:
    _require_clear(actor)
    row = get_clearing_or_raise(session=session, actor=actor, clearing_id=clearing_id)
    check_if_match(if_match, row.version)
    case = session.get(Case, row.case_id)
    ensure_not_retracted(case, "case")
    if _state(row, _current_source(session, sealer, actor, row)) is ClearingState.STALE:
        raise Conflict("The text changed since this clearing was proposed: propose it again.")
    return row


def edit_clearing(
    *,
    session: Session,
    sealer: Sealer,
    actor: Actor,
    clearing_id: uuid.UUID,
    update: ClearingUpdate,
    if_match: str | None,
) -> ClearingRead:
    """Replace the cleared text with a coordinator's correction (back to `proposed`); flush."""
    row = _changeable(session, sealer, actor, clearing_id, if_match)
    if update.text != row.text:
        changes = diff(row, {"text": update.text, "status": ClearingStatus.PROPOSED.value})
        row = _update(session, actor, row, changes, {"approved_by": None, "approved_at": None}, "update")
    return to_read(row, state=ClearingState(row.status), with_changes=True)


def approve_clearing(
    *, session: Session, sealer: Sealer, actor: Actor, clearing_id: uuid.UUID, if_match: str | None
) -> ClearingRead:
    """Approve the cleared text for its audience: from now on the exports send it; flush."""
    row = _changeable(session, sealer, actor, clearing_id, if_match)
    if row.status != ClearingStatus.APPROVED.value:
        changes = diff(row, {"status": ClearingStatus.APPROVED.value})
        extra = {"approved_by": actor.user_id, "approved_at": utcnow()}
        row = _update(session, actor, row, changes, extra, "approve")
    return to_read(row, state=ClearingState.APPROVED, with_changes=True)


def _update(
    session: Session,
    actor: Actor,
    row: ClearedText,
    changes: dict[str, dict[str, Any]],
    extra: dict[str, Any],
    action: str,
) -> ClearedText:
    values = {k: v["after"] for k, v in changes.items()} | extra
    version = conditional_update(
        session=session,
        model=ClearedText,
        row_id=row.id,
        expected_version=row.version,
        values=values,
        actor=actor,
    )
    _record(session, actor, row, version, action, changes)
    fresh: ClearedText = reload(session, ClearedText, row.id)
    return fresh


def history(*, session: Session, actor: Actor, sealer: Sealer, clearing_id: uuid.UUID) -> list[RevisionRead]:
    """Every proposal, correction and approval of the clearing, oldest first, with its author."""
    get_clearing_or_raise(session=session, actor=actor, clearing_id=clearing_id)
    return history_service.list_revisions(
        session=session, actor=actor, entity_type=ENTITY, entity_id=clearing_id, sealer=sealer
    )
