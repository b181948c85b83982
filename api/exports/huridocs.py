"""HURIDOCS formats: ESF-shaped JSON ("who did what to whom": events, acts, involvements, information) and a
CSV that Uwazi's CSV import accepts (title first, one column per property, multiselect values joined by |).
Codes are the HURIDOCS micro-thesauri codes shipped in api/taxonomy/data/vocabularies.v1.yaml.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from api.exports.cells import spreadsheet_safe
from schemas.export import ExportCase, ExportOrganisation, ExportPerson

# MT 48 types of dates for each precision (an exact day has no type).
DATE_TYPES = {"day": None, "month": "020000000000", "year": "030000000000", "approximate": "010000000000"}
# MT 16 types of source material: a victim's own testimony or a witness's.
VICTIM_TESTIMONY, WITNESS_TESTIMONY = "220903200901", "230920140501"
RELIABILITY = {
    "highly_reliable": "010000000000",
    "likely_reliable": "020000000000",
    "unsure": "030000000000",
    "likely_unreliable": "040000000000",
    "highly_unreliable": "050000000000",
    "unknown": "990000000000",
}


def _event(case: ExportCase) -> dict[str, Any]:
    primary = next((c for c in case.categories if c.primary), None)
    act_types: list[str | None] = [code for c in case.categories for code in c.huridocs_acts] or [None]
    acts = []
    for n, victim in enumerate(case.victims, start=1):
        acts.append(
            {
                "act_record_number": f"{case.reference}-A{n}",
                "victim": victim.ref,
                "type_of_act": act_types[0],
                "initial_date": case.occurred_from.isoformat(),
                "initial_date_type": DATE_TYPES.get(case.date_precision),
                "status_at_end_of_act": victim.victim_status_huridocs,
                "type_of_detention": victim.detention_type,
            }
        )
    involvements = [
        {
            "involvement_record_number": f"{case.reference}-I{n}",
            "perpetrator": p.name if isinstance(p, ExportOrganisation) else p.ref,
            "acts": [a["act_record_number"] for a in acts],
            "type_of_perpetrator": p.perpetrator_type,
        }
        for n, p in enumerate(case.perpetrators, start=1)
    ]
    victims = {v.ref for v in case.victims}
    information = [
        {
            "information_record_number": f"{case.reference}-S{n}",
            "source": t.source,
            "date_of_source_material": t.taken_at.isoformat(),
            "language_of_source_material": t.language,
            "type_of_source_material": VICTIM_TESTIMONY if t.source in victims else WITNESS_TESTIMONY,
            "reliability_of_information": RELIABILITY.get(t.reliability),
        }
        for n, t in enumerate(case.testimonies, start=1)
    ]
    return {
        "event_record_number": case.reference,
        "event_title": case.title,
        "geographical_term": case.country,
        "local_geographical_area": ", ".join(p for p in (case.region, case.place) if p) or None,
        "initial_date": case.occurred_from.isoformat(),
        "initial_date_type": DATE_TYPES.get(case.date_precision),
        "final_date": case.occurred_to.isoformat() if case.occurred_to else None,
        "final_date_type": DATE_TYPES.get(case.date_precision) if case.occurred_to else None,
        "event_description": "\n\n".join(t for t in (case.summary, case.narrative) if t),
        "violation_index": [c.code for c in case.categories],
        "huridocs_index_terms": sorted({code for c in case.categories for code in c.huridocs_acts}),
        "primary_category": primary.code if primary else None,
        "employer": case.employer,
        "acts": acts,
        "involvements": involvements,
        "information": information,
    }


def _persons(cases: list[ExportCase]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for case in cases:
        for p in [*case.victims, *case.perpetrators, *case.others]:
            if isinstance(p, ExportPerson) and p.ref not in seen:
                seen[p.ref] = {
                    "person_record_number": p.ref,
                    "name": p.ref if p.identity_disclosed else None,
                    "pseudonym": None if p.identity_disclosed else p.ref,
                    "counting_unit": "010000000000",
                    "description": p.description,
                }
    return list(seen.values())


def esf_document(cases: list[ExportCase], *, audience: str) -> dict[str, Any]:
    """The ESF-shaped document for the selected cases."""
    return {
        "format": "HURIDOCS Events Standard Formats, Precedent profile",
        "schema_version": 1,
        "audience": audience,
        "events": [_event(c) for c in cases],
        "persons": _persons(cases),
    }


def write_esf_json(cases: list[ExportCase], *, audience: str) -> bytes:
    return json.dumps(esf_document(cases, audience=audience), ensure_ascii=False, indent=2).encode()


UWAZI_COLUMNS = [
    "title",
    "reference",
    "date",
    "country",
    "region",
    "place",
    "employer",
    "sector",
    "categories",
    "victims",
    "victim status",
    "perpetrators",
    "summary",
]


def write_uwazi_csv(cases: list[ExportCase]) -> Iterator[bytes]:
    """Yield a CSV for Uwazi's import: thesaurus properties hold labels, several values joined by |."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(UWAZI_COLUMNS)
    for case in cases:
        writer.writerow(
            spreadsheet_safe(cell)
            for cell in [
                case.title,
                case.reference,
                case.occurred_from.isoformat(),
                case.country,
                case.region or "",
                case.place or "",
                case.employer or "",
                case.sector or "",
                "|".join(c.label for c in case.categories),
                "|".join(v.ref for v in case.victims),
                "|".join(
                    sorted({v.victim_status.replace("_", " ") for v in case.victims if v.victim_status})
                ),
                "|".join(p.name if isinstance(p, ExportOrganisation) else p.ref for p in case.perpetrators),
                case.summary,
            ]
        )
    yield buffer.getvalue().encode()
