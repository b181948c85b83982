"""ITUC Survey / Global Rights Index entries: one row per violation (a case's category), grouped by indicator
group (I-V), law or practice. Fields follow standards.md (b2); the 97 indicator ids were not found, so the
row carries the group only (with its verification), never an invented indicator id.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from openpyxl import Workbook
from openpyxl.styles import Font

from api.exports.cells import as_text_cells, spreadsheet_safe
from schemas.export import ExportCase, ExportOrganisation, ExportPerson

COLUMNS = [
    "ituc_group",
    "ituc_group_verified",
    "law_or_practice",
    "country",
    "reporting_year",
    "category_heading",
    "category_code",
    "date",
    "date_precision",
    "description",
    "union_affected",
    "persons_affected",
    "perpetrator",
    "legal_provision",
    "sources",
    "submitted_by",
    "case_reference",
]
_GROUP_HEADINGS = {
    "I": "Civil liberties",
    "II": "Right to establish or join unions",
    "III": "Trade union activities",
    "IV": "Right to collective bargaining",
    "V": "Right to strike",
}
_GROUP_ORDER = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5}
# Categories about legislation rather than acts are "law" entries of the Survey.
_LAW_CODES = ("E.STR.LAW", "D.CB.ANNULMENT", "B.EST.UNREGISTERED_CRIME", "B.EST.THRESHOLD")


def rows(cases: list[ExportCase], *, submitted_by: str) -> list[dict[str, str]]:
    """One row per (case, category), sorted by ITUC group, then law before practice, then date."""
    out = []
    for case in cases:
        unions = [
            p.name
            for p in case.others + case.perpetrators
            if isinstance(p, ExportOrganisation) and p.kind == "union"
        ] + sorted({v.organisation for v in case.victims if v.organisation})
        perpetrators = [
            p.name if isinstance(p, ExportOrganisation) else p.description for p in case.perpetrators
        ]
        sources = [
            f"testimony of {t.source}, {t.taken_at.isoformat()} ({t.reliability})" for t in case.testimonies
        ]
        sources += [
            f"exhibit {e.exhibit_id}" + (f" sha256:{e.sha256}" if e.sha256 else "")
            for e in case.evidence
            if e.kind != "testimony"
        ]
        for category in case.categories:
            group = category.ituc_group or ""
            verified = any(n.kind == "ituc_group" and n.verified for n in category.norms)
            out.append(
                {
                    "ituc_group": group,
                    "ituc_group_verified": "yes" if verified else ("no" if group else ""),
                    "law_or_practice": "law" if category.code.startswith(_LAW_CODES) else "practice",
                    "country": case.country,
                    "reporting_year": str(case.occurred_from.year),
                    "category_heading": _GROUP_HEADINGS.get(group, "Outside the ITUC indicator groups"),
                    "category_code": f"{category.code} {category.label}",
                    "date": case.occurred_from.isoformat()
                    + (f"/{case.occurred_to.isoformat()}" if case.occurred_to else ""),
                    "date_precision": case.date_precision,
                    "description": " ".join(t for t in (case.title + ".", case.summary) if t),
                    "union_affected": "; ".join(dict.fromkeys(unions)),
                    "persons_affected": "; ".join(_person(v) for v in case.victims),
                    "perpetrator": "; ".join(perpetrators),
                    "legal_provision": "; ".join(
                        n.text for n in category.norms if n.kind == "ilo_instrument"
                    ),
                    "sources": "; ".join(sources),
                    "submitted_by": submitted_by,
                    "case_reference": case.reference,
                }
            )
    out.sort(key=lambda r: (_GROUP_ORDER.get(r["ituc_group"], 9), r["law_or_practice"] != "law", r["date"]))
    return out


def _person(person: ExportPerson) -> str:
    status = f" ({person.victim_status.replace('_', ' ')})" if person.victim_status else ""
    return f"{person.ref}{status}"


def write_csv(table: list[dict[str, str]]) -> Iterator[bytes]:
    """Yield the rows as UTF-8 CSV (with a BOM, so spreadsheet programs read Cyrillic right)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    yield ("\ufeff" + buffer.getvalue()).encode()
    for row in table:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow({key: spreadsheet_safe(value) for key, value in row.items()})
        yield buffer.getvalue().encode()


def write_xlsx(table: list[dict[str, str]]) -> bytes:
    """Render the rows as a workbook with one sheet per ITUC group."""
    book = Workbook()
    book.remove(book.active)
    by_group: dict[str, list[dict[str, str]]] = {}
    for row in table:
        by_group.setdefault(row["ituc_group"] or "other", []).append(row)
    for group, group_rows in by_group.items():
        sheet = book.create_sheet(title=f"Group {group}" if group != "other" else "Other")
        sheet.append(COLUMNS)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in group_rows:
            sheet.append([row[c] for c in COLUMNS])
            as_text_cells(sheet[sheet.max_row])
    if not book.worksheets:
        book.create_sheet("Entries").append(COLUMNS)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
