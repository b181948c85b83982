"""ILO Committee on Freedom of Association complaint: the structure (a pure function of redacted cases) and
its DOCX rendering (python-docx): a cover letter to the ILO Director-General and an annex of allegations
grouped by CFA Compilation chapter. The layout follows standards.md (b1): the ILO prescribes no annex format.
"""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import date
from typing import Any

from docx import Document
from docx.shared import Pt

from schemas.export import (
    ExportCase,
    ExportNorm,
    ExportOrganisation,
    ExportPerson,
    IloAllegation,
    IloChapterGroup,
    IloComplaint,
    IloComplaintRequest,
    WithheldItem,
)

_PRECISION = {"day": "", "month": " (month known)", "year": " (year known)", "approximate": " (approximate)"}
_URGENCY = {
    "life_or_personal_freedom": "human life or personal freedom is at stake",
    "movement_wide_conditions": "new or changing conditions affect the freedom of action of the trade union movement as a whole",
    "state_of_emergency": "a continuing state of emergency",
    "dissolution": "the dissolution of an organization",
}


def _marked(norm: ExportNorm) -> str:
    return norm.text if norm.verified else f"{norm.text} [unverified: {norm.verification}]"


def build_complaint(
    *,
    request: IloComplaintRequest,
    cases: list[ExportCase],
    chapter_titles: dict[int | None, str],
    withheld: list[WithheldItem],
    today: date,
) -> IloComplaint:
    """Group the allegations by the CFA chapter of each case's primary category."""
    details = {a.case_id: a for a in request.allegations}
    groups: dict[int | None, list[IloAllegation]] = defaultdict(list)
    verified: dict[int | None, bool] = {}
    for n, case in enumerate(cases, start=1):
        primary = next(
            (c for c in case.categories if c.primary), case.categories[0] if case.categories else None
        )
        chapter = primary.cfa_chapter if primary else None
        verified[chapter] = bool(primary and primary.cfa_chapter_verified)
        ilo = [norm for c in case.categories for norm in c.norms if norm.kind == "ilo_instrument"]
        seen: set[str] = set()
        ilo = [norm for norm in ilo if not (norm.text in seen or seen.add(norm.text))]  # type: ignore[func-returns-value]
        extra = details.get(case.id)
        groups[chapter].append(
            IloAllegation(
                allegation_id=f"A-{n}",
                case=case,
                cfa_chapter=chapter,
                cfa_chapter_title=chapter_titles.get(chapter),
                cfa_chapter_verified=verified[chapter],
                ilo_provisions=ilo,
                national_law_provisions=extra.national_law_provisions if extra else None,
                remedies_sought=extra.remedies_sought if extra else None,
            )
        )
    ordered = sorted(groups, key=lambda c: (c is None, c or 0))
    return IloComplaint(
        date_of_complaint=today,
        statement_of_intent=(
            f"{request.complainant.name} hereby submits a complaint to the Committee on Freedom of Association "
            f"against the Government of {request.respondent_government} for violations of freedom of association."
        ),
        complainant=request.complainant,
        signatory=request.signatory,
        respondent_government=request.respondent_government,
        urgency_requested=request.urgency_requested,
        urgency_grounds=request.urgency_grounds,
        urgency_justification=request.urgency_justification,
        related_cases=request.related_cases,
        national_tripartite_information=request.national_tripartite_information,
        groups=[
            IloChapterGroup(
                cfa_chapter=chapter,
                title=chapter_titles.get(chapter, ""),
                verified=verified[chapter],
                allegations=groups[chapter],
            )
            for chapter in ordered
        ],
        withheld=withheld,
    )


def _who(person: ExportPerson | ExportOrganisation) -> str:
    if isinstance(person, ExportOrganisation):
        return f"{person.name} ({person.kind.replace('_', ' ')})"
    status = f", now {person.victim_status.replace('_', ' ')}" if person.victim_status else ""
    return f"{person.ref}, {person.description}{status}"


def _dates(case: ExportCase) -> str:
    text = case.occurred_from.isoformat()
    if case.occurred_to:
        text += f" to {case.occurred_to.isoformat()}"
    return text + _PRECISION.get(case.date_precision, "")


def write_docx(complaint: IloComplaint) -> bytes:
    """Render the complaint as a Word document; unverified norm references are marked as such."""
    doc = Document()
    doc.styles["Normal"].font.name = "Liberation Serif"
    doc.styles["Normal"].font.size = Pt(11)
    c = complaint.complainant
    doc.add_paragraph(c.name)
    doc.add_paragraph(c.permanent_address)
    if c.contact:
        doc.add_paragraph(c.contact)
    doc.add_paragraph(complaint.date_of_complaint.strftime("%d %B %Y"))
    doc.add_paragraph(complaint.addressee)
    doc.add_heading("Complaint to the Committee on Freedom of Association", level=1)
    doc.add_paragraph("Dear Director-General,")
    doc.add_paragraph(complaint.statement_of_intent)
    body = (
        f"{c.name} is a workers' organisation ({c.type.value.replace('_', ' ')})"
        + (f" with about {c.membership_size} members" if c.membership_size else "")
        + (f", affiliated to {', '.join(c.affiliations)}" if c.affiliations else "")
        + "."
    )
    if c.registration_status:
        body += f" {c.registration_status}"
    doc.add_paragraph(body)
    total = sum(len(g.allegations) for g in complaint.groups)
    doc.add_paragraph(
        f"The annex sets out {total} allegation(s) in detail, grouped by chapter of the Compilation of decisions "
        "of the Committee on Freedom of Association (2018), with the evidence supporting each."
    )
    if complaint.urgency_requested:
        grounds = (
            "; ".join(_URGENCY[g.value] for g in complaint.urgency_grounds) or "see the justification below"
        )
        doc.add_heading("Request for urgent examination", level=2)
        doc.add_paragraph(f"We ask the Committee to treat this complaint as urgent: {grounds}.")
        if complaint.urgency_justification:
            doc.add_paragraph(complaint.urgency_justification)
    if complaint.related_cases:
        doc.add_paragraph("Related cases: " + ", ".join(complaint.related_cases) + ".")
    if complaint.national_tripartite_information:
        doc.add_paragraph(complaint.national_tripartite_information)
    doc.add_paragraph("Yours faithfully,")
    doc.add_paragraph(f"{complaint.signatory.name}, {complaint.signatory.function}")

    doc.add_page_break()  # type: ignore[no-untyped-call]
    doc.add_heading("Annex: allegations", level=1)
    for group in complaint.groups:
        label = f"Chapter {group.cfa_chapter}: {group.title}" if group.cfa_chapter else group.title
        if group.cfa_chapter and not group.verified:
            label += " [chapter number unverified]"
        doc.add_heading(label, level=2)
        for allegation in group.allegations:
            _write_allegation(doc, allegation)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _write_allegation(doc: Any, allegation: IloAllegation) -> None:
    case = allegation.case
    doc.add_heading(f"{allegation.allegation_id}. {case.title} ({case.reference})", level=3)
    place = ", ".join(p for p in (case.place, case.region, case.country) if p)
    rows = [
        ("Dates", _dates(case)),
        ("Place", place),
        ("Employer", case.employer or "—"),
        ("Categories", "; ".join(f"{c.code} {c.label}" for c in case.categories) or "—"),
    ]
    table = doc.add_table(rows=0, cols=2)
    for label, value in rows:
        cells = table.add_row().cells
        cells[0].text, cells[1].text = label, value
    doc.add_heading("Facts", level=4)
    for text in (case.summary, case.narrative):
        if text:
            doc.add_paragraph(text)
    if case.urgent and case.urgency_reason:
        doc.add_paragraph(f"Urgency: {case.urgency_reason}")
    doc.add_heading("Victims", level=4)
    for victim in case.victims or []:
        doc.add_paragraph(_who(victim), style="List Bullet")
    if not case.victims:
        doc.add_paragraph("—")
    doc.add_heading("Perpetrators", level=4)
    for perpetrator in case.perpetrators or []:
        doc.add_paragraph(_who(perpetrator), style="List Bullet")
    if not case.perpetrators:
        doc.add_paragraph("—")
    doc.add_heading("National law provisions", level=4)
    doc.add_paragraph(allegation.national_law_provisions or "—")
    doc.add_heading("ILO provisions", level=4)
    for norm in allegation.ilo_provisions:
        doc.add_paragraph(_marked(norm), style="List Bullet")
    cfa = [n for c in case.categories for n in c.norms if n.kind == "cfa_compilation"]
    for norm in {n.text: n for n in cfa}.values():
        doc.add_paragraph(_marked(norm), style="List Bullet")
    doc.add_heading("Remedies sought", level=4)
    doc.add_paragraph(allegation.remedies_sought or "—")
    doc.add_heading("Evidence", level=4)
    for ref in case.evidence:
        digest = f", SHA-256 {ref.sha256}" if ref.sha256 else ""
        sighted = " (document sighted, not copied)" if ref.sighted_not_copied else ""
        doc.add_paragraph(
            f"Exhibit {ref.exhibit_id}: {ref.description or ref.kind}{sighted}{digest}", style="List Bullet"
        )
    if not case.evidence:
        doc.add_paragraph("—")
    if case.testimonies:
        doc.add_heading("Testimonies", level=4)
        for n, t in enumerate(case.testimonies, start=1):
            doc.add_paragraph(
                f"T-{n}. {t.source}, {t.taken_at.isoformat()}, reliability: {t.reliability.replace('_', ' ')}"
            )
            doc.add_paragraph(t.text)
