"""Exports: select the cases the caller may see, redact them for the audience, record what left and to whom.

Writers (ilo.py, ituc.py, huridocs.py, sheet.py) are pure functions over the redacted schema objects built
here; nothing else reads the database for an export, so nothing can bypass the redaction.

Restricted cases stay inside unless a coordinator decides otherwise, and says why: ``select_cases``, which every
export (and its preview) goes through, refuses a case marked ``restricted`` for any audience but ``internal``
(RestrictedExport, 409) unless the caller holds ``case:read_restricted`` (else 403) and gives an
``override_reason`` of at least OVERRIDE_MIN_CHARS characters (else 422). The decision is written to the audit
log (``export.restricted_override``) in the export's own transaction, with the reason sealed: it is the
coordinator's own words, kept whole, and words about a decision to release a case may well name the people in
it, which the audit log never carries in the clear. A preview releases nothing: it is not refused, and names
the restricted cases (``Selection.restricted``) so that a page can ask for the override before the export.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from api.audit import service as audit_service
from api.auth.permissions import Permission
from api.auth.security import Actor
from api.cases import service as cases_service
from api.clearing import service as clearing_service
from api.custody import service as custody_service
from api.exports.redaction import ConsentState, PersonFacts, Redactor
from api.models import (
    Case,
    CaseCategory,
    CaseTag,
    Consent,
    EvidenceItem,
    ExportRecord,
    Involvement,
    Organisation,
    Person,
    Testimony,
)
from api.people import service as people_service
from api.problems import Conflict, NotFound, PermissionDenied, ValidationProblem
from api.sealing import Sealer
from api.search.text import Term
from api.taxonomy import service as taxonomy_service
from api.testimonies import texts as testimony_texts
from evidence_store.digest import Digest
from schemas.clearing import SourceKind
from schemas.custody import CustodyAction
from schemas.enums import VICTIM_STATUS_HURIDOCS, Confidentiality, InvolvementRole, VictimStatus
from schemas.evidence import EvidenceForm
from schemas.export import (
    OVERRIDE_MIN_CHARS,
    ExportAudience,
    ExportCase,
    ExportCategory,
    ExportEvidenceRef,
    ExportNorm,
    ExportOrganisation,
    ExportPerson,
    ExportTestimony,
    WithheldItem,
)

GENERATOR = "Precedent 0.1.0"
# Above these sizes an export is refused rather than built synchronously; narrow the selection instead.
LIMITS = {"ilo-cfa": 100, "ituc": 10_000, "huridocs": 5_000, "sheet": 1, "bundle": 1, "preview": 10_000}

_CFA_TITLES = {
    1: "Procedure in respect of the Committee on Freedom of Association and the social partners",
    2: "Trade union and employers organizations rights and civil liberties",
    11: "Dissolution and suspension of organizations",
    13: "Protection against discrimination",
}


@dataclass
class Selection:
    """The redacted cases of one export, and the redactor that produced them."""

    cases: list[ExportCase]
    redactor: Redactor
    gate: TextGate
    audience: ExportAudience
    #: References of the restricted cases that need a coordinator's override for this audience.
    restricted: list[str] = field(default_factory=list)
    #: Set when restricted cases leave on a coordinator's override (its audit record names it).
    override_id: uuid.UUID | None = None

    @property
    def withheld(self) -> list[WithheldItem]:
        return self.gate.report() + self.redactor.report()


def check_selection_size(*, kind: str, count: int) -> None:
    """Refuse an empty selection or one too large for a synchronous export, saying how to narrow it."""
    if count == 0:
        raise ValidationProblem.single(
            "selection", "the selection is empty: choose at least one case", "empty"
        )
    limit = LIMITS[kind]
    if count > limit:
        raise ValidationProblem.single(
            "selection",
            f"{count} cases selected; a {kind} export takes at most {limit}. Narrow it by period, category "
            "or country, and export in parts.",
            "too_large",
            limit=limit,
        )


class RestrictedExport(Conflict):
    """Restricted cases were selected for an audience outside the organisation, without an override."""

    slug, title = "restricted-export", "Restricted cases stay inside the organisation"


def needing_override(cases: list[Case], audience: ExportAudience) -> list[Case]:
    """Return the cases that leave for ``audience`` only on a coordinator's override: restricted ones."""
    if audience is ExportAudience.INTERNAL:
        return []
    return [c for c in cases if c.confidentiality == Confidentiality.RESTRICTED.value]


def _check_release(
    *,
    session: Session,
    actor: Actor,
    sealer: Sealer,
    restricted: list[Case],
    audience: ExportAudience,
    override_reason: str | None,
) -> uuid.UUID | None:
    """Refuse restricted cases for an outside audience unless overridden; audit an override, return its id."""
    if not restricted:
        return None
    references = [c.reference for c in restricted]
    if override_reason is None:
        more = len(references) - 5
        named = ", ".join(references[:5]) + (f" and {more} more" if more > 0 else "")
        raise RestrictedExport(
            f"{named} {'is' if len(references) == 1 else 'are'} restricted: an export for {audience.value} "
            f"needs a coordinator's override_reason (at least {OVERRIDE_MIN_CHARS} characters), or choose the "
            "audience internal.",
            cases=references,
            audience=audience.value,
        )
    if not actor.can(Permission.CASE_READ_RESTRICTED):
        raise PermissionDenied("Only a coordinator may send restricted cases outside the organisation.")
    reason = override_reason.strip()
    if len(reason) < OVERRIDE_MIN_CHARS:
        raise ValidationProblem.single(
            "override_reason", f"say why in at least {OVERRIDE_MIN_CHARS} characters", "string_too_short"
        )
    override_id = uuid.uuid4()
    audit_service.record(
        session=session,
        actor_id=actor.user_id,
        action="export.restricted_override",
        target_type="export_override",
        target_id=str(override_id),
        details={
            "audience": audience.value,
            "cases": [str(c.id) for c in restricted],
            "reason_sealed": base64.b64encode(
                sealer.seal({"reason": reason}, context=override_context(override_id))
            ).decode("ascii"),
            "key_id": sealer.key_id,
        },
    )
    session.flush()
    return override_id


def override_context(override_id: uuid.UUID) -> str:
    """Return the context a coordinator's override reason is sealed under (bound to its audit record)."""
    return f"export-override:{override_id}"


def _visible_cases(session: Session, actor: Actor, case_ids: list[uuid.UUID]) -> list[Case]:
    wanted = list(dict.fromkeys(case_ids))
    rows = session.exec(
        select(Case).where(
            col(Case.id).in_(wanted), cases_service.visible_clause(actor), col(Case.retracted_at).is_(None)
        )
    ).all()
    found = {c.id: c for c in rows}
    missing = [str(i) for i in wanted if i not in found]
    if missing:
        raise NotFound(f"No case that you can see with id {', '.join(missing)}.", missing=missing)
    return [found[i] for i in wanted]


def matching_case_ids(
    *,
    session: Session,
    actor: Actor,
    country: str | None,
    date_from: date | None,
    date_to: date | None,
    limit: int,
) -> list[uuid.UUID]:
    """Ids of the visible, unretracted cases in a country and period (events overlapping it), oldest first."""
    query = select(Case.id).where(cases_service.visible_clause(actor), col(Case.retracted_at).is_(None))
    if country:
        query = query.where(col(Case.country) == country)
    if date_from:
        query = query.where(col(Case.date_hi) >= date_from)
    if date_to:
        query = query.where(col(Case.date_lo) <= date_to)
    return list(session.exec(query.order_by(col(Case.date_lo), col(Case.id)).limit(limit)).all())


def norm_text(norm: dict[str, Any]) -> str:
    """A citation a reader recognises, e.g. 'C87 Art. 4' or 'CFA Compilation (2018) ch. 11'."""
    kind = norm["kind"]
    if kind == "ilo_instrument":
        articles = norm.get("articles") or ([norm["article"]] if norm.get("article") else [])
        suffix = (
            f" Art. {articles[0]}"
            if len(articles) == 1
            else (f" Arts {', '.join(articles)}" if articles else "")
        )
        return f"{norm['instrument']}{suffix}"
    if kind == "cfa_compilation":
        parts = ["CFA Compilation (2018)"]
        if norm.get("chapter"):
            parts.append(f"ch. {norm['chapter']}")
        if norm.get("section"):
            parts.append(f"§ {norm['section']}")
        return " ".join(parts)
    if kind == "cfa_digest":
        where = f"paras {norm['paragraphs']}" if norm.get("paragraphs") else f"§ {norm.get('section')}"
        return f"CFA Digest (2006) {where}"
    if kind == "ituc_group":
        return f"ITUC Global Rights Index group {norm['group']}"
    if kind == "huridocs":
        return f"HURIDOCS MT {norm['thesaurus']} {norm['code']} {norm.get('label') or ''}".rstrip()
    if kind == "cfa_case":
        return f"CFA Case No. {norm['case_no']} ({norm['country']})"
    return f"{norm.get('title', '')} {norm.get('provision') or ''}".strip()


def _category(snapshot: taxonomy_service.Snapshot, code: str, primary: bool) -> ExportCategory:
    node = snapshot.nodes.get(code)
    if node is None:
        return ExportCategory(code=code, label=code, primary=primary, norms=[])
    chain = [snapshot.nodes[c] for c in node.path.split("/") if c in snapshot.nodes]
    norms = [
        ExportNorm(
            kind=n["kind"],
            text=norm_text(n),
            verification=n["verification"],
            verified=n["verification"] == "seen",
            from_code=owner.code,
        )
        for owner in chain
        for n in owner.norms
    ]
    # The most specific CFA chapter wins: the leaf's, else its category's, else its area's.
    cfa = next(
        (
            n
            for owner in reversed(chain)
            for n in owner.norms
            if n["kind"] == "cfa_compilation" and n.get("chapter")
        ),
        None,
    )
    ituc = next(
        (n["group"] for owner in reversed(chain) for n in owner.norms if n["kind"] == "ituc_group"), None
    )
    acts = [n["code"] for n in node.norms if n["kind"] == "huridocs" and n.get("thesaurus") == 4]
    return ExportCategory(
        code=code,
        label=node.labels.get("en", code),
        primary=primary,
        norms=norms,
        cfa_chapter=cfa["chapter"] if cfa else None,
        cfa_chapter_verified=bool(cfa and cfa["verification"] == "seen"),
        ituc_group=ituc,
        huridocs_acts=acts,
    )


def cfa_chapter_title(snapshot: taxonomy_service.Snapshot, chapter: int | None) -> str:
    """The chapter's title from the taxonomy's references (or the verified list), else a plain label."""
    if chapter is None:
        return "Allegations not yet tied to a CFA Compilation chapter"
    if chapter in _CFA_TITLES:
        return _CFA_TITLES[chapter]
    for node in snapshot.nodes.values():
        for n in node.norms:
            if n["kind"] == "cfa_compilation" and n.get("chapter") == chapter and n.get("chapter_title"):
                return str(n["chapter_title"])
    return f"Chapter {chapter}"


def select_cases(
    *,
    session: Session,
    actor: Actor,
    sealer: Sealer,
    case_ids: list[uuid.UUID],
    audience: ExportAudience,
    override_reason: str | None = None,
    preview: bool = False,
) -> Selection:
    """Load the cases the actor may see and redact everything about them for `audience`.

    Restricted cases leave for an outside audience only on a coordinator's override (module docstring); a
    ``preview`` is never refused and records nothing.
    """
    cases = _visible_cases(session, actor, case_ids)
    restricted = needing_override(cases, audience)
    override_id = None
    if not preview:
        override_id = _check_release(
            session=session,
            actor=actor,
            sealer=sealer,
            restricted=restricted,
            audience=audience,
            override_reason=override_reason,
        )
    ids = [c.id for c in cases]
    refs = {c.id: c.reference for c in cases}
    involvements = session.exec(
        select(Involvement).where(col(Involvement.case_id).in_(ids), col(Involvement.retracted_at).is_(None))
    ).all()
    testimonies = session.exec(
        select(Testimony)
        .where(col(Testimony.case_id).in_(ids), col(Testimony.retracted_at).is_(None))
        .order_by(col(Testimony.taken_at), col(Testimony.created_at))
    ).all()
    person_ids = {i.person_id for i in involvements if i.person_id} | {
        t.source_person_id for t in testimonies
    }
    persons = {p.id: p for p in session.exec(select(Person).where(col(Person.id).in_(person_ids))).all()}
    org_ids = {i.organisation_id for i in involvements if i.organisation_id} | {
        p.organisation_id for p in persons.values() if p.organisation_id
    }
    orgs = {
        o.id: o for o in session.exec(select(Organisation).where(col(Organisation.id).in_(org_ids))).all()
    }
    consents: dict[uuid.UUID, list[ConsentState]] = defaultdict(list)
    for consent in session.exec(select(Consent).where(col(Consent.person_id).in_(person_ids))):
        consents[consent.person_id].append(
            ConsentState(consent.audience, consent.granted_at, consent.withdrawn_at)
        )
    # Opened (and recorded, one audit event for them all) even for callers who may not read identities: the
    # redactor needs the names to find them in free text, and to name those who consented to this audience.
    identities = people_service.open_identities(
        session=session, sealer=sealer, actor=actor, person_ids=sorted(person_ids), purpose="export"
    )
    facts = {
        pid: PersonFacts(pid, persons[pid].pseudonym, identities.get(pid), consents[pid]) for pid in persons
    }
    for inv in involvements:
        if inv.person_id in facts:
            facts[inv.person_id].cases.add(refs[inv.case_id])
    for tes in testimonies:
        facts[tes.source_person_id].cases.add(refs[tes.case_id])
    said = testimony_texts.open_words(
        session=session, sealer=sealer, actor=actor, rows=testimonies, purpose="export"
    )
    redactor = Redactor(audience=audience, people=list(facts.values()))

    categories: dict[uuid.UUID, list[tuple[str, bool]]] = defaultdict(list)
    for row in session.exec(select(CaseCategory).where(col(CaseCategory.case_id).in_(ids))):
        categories[row.case_id].append((row.code, row.is_primary))
    tags: dict[uuid.UUID, list[str]] = defaultdict(list)
    for tag in session.exec(select(CaseTag).where(col(CaseTag.case_id).in_(ids)).order_by(col(CaseTag.tag))):
        tags[tag.case_id].append(tag.tag)
    snapshot = taxonomy_service.snapshot(session)
    by_case: dict[uuid.UUID, list[Involvement]] = defaultdict(list)
    for inv in involvements:
        by_case[inv.case_id].append(inv)
    testimonies_by_case: dict[uuid.UUID, list[Testimony]] = defaultdict(list)
    for tes in testimonies:
        testimonies_by_case[tes.case_id].append(tes)
    items_by_case: dict[uuid.UUID, list[EvidenceItem]] = defaultdict(list)
    for item in session.exec(
        select(EvidenceItem)
        .where(col(EvidenceItem.case_id).in_(ids))
        .order_by(col(EvidenceItem.created_at), col(EvidenceItem.id))
    ):
        items_by_case[item.case_id].append(item)

    gate = TextGate(session=session, audience=audience, redactor=redactor)
    out = []
    for case in cases:
        victims: list[ExportPerson] = []
        perpetrators: list[ExportPerson | ExportOrganisation] = []
        others: list[ExportPerson | ExportOrganisation] = []
        for inv in by_case[case.id]:
            actor_view = _actor_view(inv, case, persons, orgs, redactor)
            role = InvolvementRole(inv.role)
            if role is InvolvementRole.VICTIM and isinstance(actor_view, ExportPerson):
                victims.append(actor_view)
            elif role is InvolvementRole.PERPETRATOR:
                perpetrators.append(actor_view)
            else:
                others.append(actor_view)
        cats = sorted(categories[case.id], key=lambda c: (not c[1], c[0]))
        out.append(
            ExportCase(
                id=case.id,
                reference=case.reference,
                title=gate.text(
                    case=case, kind=SourceKind.CASE_TITLE, source_id=case.id, value=case.title, label="title"
                ),
                summary=gate.text(
                    case=case,
                    kind=SourceKind.CASE_SUMMARY,
                    source_id=case.id,
                    value=case.summary,
                    label="summary",
                ),
                narrative=gate.text(
                    case=case,
                    kind=SourceKind.CASE_NARRATIVE,
                    source_id=case.id,
                    value=case.narrative,
                    label="narrative",
                ),
                occurred_from=case.occurred_from,
                occurred_to=case.occurred_to,
                date_precision=case.date_precision,
                country=case.country,
                region=case.region,
                place=case.place,
                employer=case.employer,
                sector=case.sector,
                status=case.status,
                urgent=case.urgent,
                urgency_reason=gate.uncleared(case.urgency_reason),
                language=case.language,
                tags=tags[case.id],
                categories=[_category(snapshot, code, primary) for code, primary in cats],
                victims=victims,
                perpetrators=perpetrators,
                others=others,
                testimonies=[
                    ExportTestimony(
                        source=redactor.disclosure(t.source_person_id).ref,
                        language=t.language,
                        taken_at=t.taken_at,
                        reliability=t.reliability,
                        text=gate.text(
                            case=case,
                            kind=SourceKind.TESTIMONY_TEXT,
                            source_id=t.id,
                            value=said[t.id].text,
                            label=f"testimony T-{n}",
                        ),
                    )
                    for n, t in enumerate(testimonies_by_case[case.id], start=1)
                ],
                evidence=evidence_refs(
                    items=items_by_case[case.id], testimonies=testimonies_by_case[case.id], gate=gate
                ),
            )
        )
    return Selection(
        cases=out,
        redactor=redactor,
        gate=gate,
        audience=audience,
        restricted=[c.reference for c in restricted],
        override_id=override_id,
    )


#: What stands in an export where a free text is withheld because no cleared version was approved.
NOT_CLEARED = "[withheld: not cleared for this audience]"


@dataclass
class TextGate:
    """Free text for one export: inside, as recorded (names redacted by consent); outside, only the version
    of exactly that text a coordinator cleared for this audience, else withheld and listed.

    Made, never filtered: the redactor still runs over a cleared text, but no text leaves on its say alone.
    Free text no one can clear yet (urgency reasons, evidence descriptions) never leaves for an outside audience.
    """

    session: Session
    audience: ExportAudience
    redactor: Redactor
    withheld: dict[str, list[str]] = field(default_factory=dict)

    @property
    def internal(self) -> bool:
        return self.audience is ExportAudience.INTERNAL

    def text(self, *, case: Case, kind: SourceKind, source_id: uuid.UUID, value: str, label: str) -> str:
        """The text that may leave, or NOT_CLEARED (noted for the case's withheld report)."""
        if self.internal or not value.strip():
            return self.redactor.text(value)
        cleared = clearing_service.current_cleared_text(
            session=self.session,
            source_kind=kind,
            source_id=source_id,
            audience=self.audience,
            source_text=value,
        )
        if cleared is None:
            self.withheld.setdefault(case.reference, []).append(label)
            return NOT_CLEARED
        return self.redactor.text(cleared)

    def uncleared(self, value: str | None) -> str | None:
        """A free text that has no clearing workflow: inside only."""
        return (self.redactor.text(value) or None) if self.internal else None

    def report(self) -> list[WithheldItem]:
        """One withheld entry per case whose texts were not cleared."""
        return [
            WithheldItem(
                withheld=[f"{reference}: {label}" for label in labels],
                reason=(
                    f"free text not cleared for the {self.audience.value} audience: a coordinator must approve "
                    "a cleared version (the case's Clearing page) before it leaves"
                ),
            )
            for reference, labels in self.withheld.items()
        ]


def evidence_refs(
    *, items: list[EvidenceItem], testimonies: list[Testimony], gate: TextGate
) -> list[ExportEvidenceRef]:
    """A case's exhibits: files E-n (with the SHA-256 taken on receipt), documents sighted but not copied S-n,
    and testimonies T-n. Numbering matches the case's evidence bundle."""
    files = [i for i in items if i.form == EvidenceForm.FILE.value]
    sighted = [i for i in items if i.form == EvidenceForm.SIGHTED.value]
    refs = [
        ExportEvidenceRef(
            exhibit_id=f"E-{n}",
            description=gate.uncleared(item.description),
            kind=item.kind,
            sha256=item.blob_sha256,
        )
        for n, item in enumerate(files, start=1)
    ]
    refs += [
        ExportEvidenceRef(
            exhibit_id=f"S-{n}",
            description=gate.uncleared(item.description),
            kind=item.kind,
            sha256=item.statement_sha256,
            sighted_not_copied=True,
        )
        for n, item in enumerate(sighted, start=1)
    ]
    refs += [
        ExportEvidenceRef(
            exhibit_id=f"T-{n}",
            description=f"Testimony taken on {t.taken_at.isoformat()} ({t.language})",
            kind="testimony",
        )
        for n, t in enumerate(testimonies, start=1)
    ]
    return refs


def _actor_view(
    inv: Involvement,
    case: Case,
    persons: dict[uuid.UUID, Person],
    orgs: dict[uuid.UUID, Organisation],
    redactor: Redactor,
) -> ExportPerson | ExportOrganisation:
    if inv.organisation_id is not None:
        org = orgs[inv.organisation_id]
        return ExportOrganisation(
            name=org.name, kind=org.kind, role=inv.role, perpetrator_type=inv.perpetrator_type
        )
    # The database's check constraint guarantees exactly one of person and organisation.
    person = persons[inv.person_id]  # type: ignore[index]
    disclosure = redactor.disclosure(person.id)
    organisation = orgs.get(person.organisation_id) if person.organisation_id else None
    status = VictimStatus(inv.victim_status) if inv.victim_status else None
    return ExportPerson(
        ref=disclosure.ref,
        identity_disclosed=disclosure.identity_disclosed,
        description=role_description(role=inv.role, organisation=organisation, employer=case.employer),
        role=inv.role,
        victim_status=status.value if status else None,
        victim_status_huridocs=VICTIM_STATUS_HURIDOCS[status] if status else None,
        detention_type=inv.detention_type,
        perpetrator_type=inv.perpetrator_type,
        organisation=organisation.name if organisation else None,
    )


def role_description(*, role: str, organisation: Organisation | None, employer: str | None) -> str:
    """Describe a person by role and affiliation only, e.g. 'a member of the union BNP at Naftan'."""
    noun = {
        "victim": "a worker",
        "witness": "a witness",
        "source": "a source",
        "perpetrator": "an official",
    }.get(role, "a person")
    if organisation is not None and organisation.kind == "union":
        noun = f"a member of the union {organisation.name}"
    elif organisation is not None:
        noun = f"{noun} of {organisation.name}"
    return f"{noun} at {employer}" if employer else noun


def record_export(
    *,
    session: Session,
    actor: Actor,
    kind: str,
    fmt: str,
    audience: ExportAudience,
    selection: dict[str, Any],
    withheld: list[WithheldItem],
    data: bytes | None = None,
    digest: tuple[str, int] | None = None,
    export_id: uuid.UUID | None = None,
    exhibits: list[tuple[uuid.UUID, str]] | None = None,
) -> ExportRecord:
    """Record who exported what, for whom, and the SHA-256 of the file: in the export records, the audit log
    and the custody ledger (one event for the file, and one per evidence item it carries)."""
    if digest is None:
        if data is None:
            raise ValueError("record_export needs the file's bytes or its digest")
        digest = (hashlib.sha256(data).hexdigest(), len(data))
    sha256, size = digest
    record = ExportRecord(
        id=export_id or uuid.uuid4(),
        actor_id=actor.user_id,
        kind=kind,
        format=fmt,
        audience=audience.value,
        selection=selection,
        sha256=sha256,
        size=size,
        withheld=[w.model_dump(mode="json") for w in withheld],
    )
    session.add(record)
    audit_service.record(
        session=session,
        actor_id=actor.user_id,
        action=f"export.{kind}",
        target_type="export",
        target_id=str(record.id),
        details={
            "audience": audience.value,
            "format": fmt,
            "sha256": sha256,
            "cases": selection.get("case_ids"),
        },
    )
    # The ledger carries identifiers and digests only: it travels to third parties and is never redacted.
    details = {"export": str(record.id), "kind": kind, "audience": audience.value, "format": fmt}
    custody_service.append_event(
        session=session,
        actor=actor,
        action=CustodyAction.EXPORTED,
        evidence_id=None,
        object_digest=Digest(sha256),
        details={**details, "cases": len(selection.get("case_ids") or [])},
    )
    for evidence_id, evidence_sha256 in exhibits or []:
        custody_service.append_event(
            session=session,
            actor=actor,
            action=CustodyAction.EXPORTED,
            evidence_id=evidence_id,
            object_digest=Digest(evidence_sha256),
            details={**details, "file": f"sha256:{sha256}"},
        )
    session.flush()
    return record


def search_words_hmac(*, terms: Iterable[Term], secret: bytes) -> str:
    """Return the keyed hash under which the audit log keeps a search's words: `hmac-sha256:<hex>`.

    Never the words themselves: a database copied without the server's secret tells nothing of what was
    searched, while whoever holds the secret can still check whether given words were searched (the same
    words in any order or letter case give the same hash). HMAC-SHA256 (RFC 2104) under a key derived from
    the secret for this use alone.
    """
    key = hmac.new(secret, b"precedent/audit/search-words/v1", hashlib.sha256).digest()
    canonical = " ".join(sorted({t.word + ("*" if t.prefix else "") for t in terms}))
    return "hmac-sha256:" + hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def get_export_record(*, session: Session, actor: Actor, export_id: uuid.UUID) -> ExportRecord:
    """Return an export record made by the actor (admins see all)."""
    record = session.get(ExportRecord, export_id)
    if record is None or (record.actor_id != actor.user_id and actor.role.value != "admin"):
        raise NotFound(f"No export {export_id}.")
    return record
