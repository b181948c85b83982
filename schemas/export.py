"""Exports on the wire: requests, the redacted records the writers consume, and the withheld-items report."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from schemas.base import TEXT_PATTERN, Name, Schema, ShortText
from schemas.case import Country

SCHEMA_VERSION = 1
#: Fewest characters of a coordinator's reason for sending restricted cases outside the organisation.
OVERRIDE_MIN_CHARS = 20

OverrideReason = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=OVERRIDE_MIN_CHARS, max_length=2_000, pattern=TEXT_PATTERN
    ),
    Field(
        description="Restricted cases leave for an audience other than `internal` only with this: a coordinator's "
        f"reason, at least {OVERRIDE_MIN_CHARS} characters, kept sealed in the audit log "
        "(`export.restricted_override`)."
    ),
]


class ExportAudience(StrEnum):
    """Who an export is for. A person is named only with an active consent for exactly this audience."""

    INTERNAL = "internal"
    ILO = "ilo"
    ITUC = "ituc"
    PARTNER = "partner"
    PUBLIC = "public"


class WithheldItem(Schema):
    """Something left out of an export, and why: the coordinator can ask for consent before sending."""

    person_id: uuid.UUID | None = None
    pseudonym: str | None = None
    withheld: list[str] = Field(description="What was left out, e.g. name, contacts, GPS.")
    reason: str
    cases: list[str] = Field(default=[], description="References of the cases concerned.")


class ExportPerson(Schema):
    """A person as an export shows them: a name only with consent, otherwise the pseudonym and a role."""

    ref: str = Field(description="The name (with consent) or the pseudonym.")
    identity_disclosed: bool
    description: str = Field(
        description="A role description that names nobody, e.g. 'a member of the union at X'."
    )
    role: str
    victim_status: str | None = None
    victim_status_huridocs: str | None = None
    detention_type: str | None = Field(default=None, description="HURIDOCS MT 29 code.")
    perpetrator_type: str | None = Field(default=None, description="HURIDOCS MT 24 code.")
    organisation: str | None = None


class ExportOrganisation(Schema):
    name: str
    kind: str
    role: str
    perpetrator_type: str | None = Field(default=None, description="HURIDOCS MT 24 code.")


class ExportNorm(Schema):
    kind: str
    text: str = Field(description="Human form, e.g. 'C87 Art. 4' or 'CFA Compilation ch. 11'.")
    verification: str
    verified: bool
    from_code: str


class ExportCategory(Schema):
    code: str
    label: str
    primary: bool
    norms: list[ExportNorm]
    cfa_chapter: int | None = None
    cfa_chapter_verified: bool = False
    ituc_group: str | None = None
    huridocs_acts: list[str] = []


class ExportTestimony(Schema):
    source: str
    language: str
    taken_at: date
    reliability: str
    text: str


class ExportEvidenceRef(Schema):
    exhibit_id: str
    description: str | None = None
    kind: str | None = None
    sha256: str | None = Field(default=None, description="SHA-256 of the evidentiary original, hex.")
    sighted_not_copied: bool = False


class ExportCase(Schema):
    """One case, redacted for the export's audience."""

    id: uuid.UUID
    reference: str
    title: str
    summary: str
    narrative: str
    occurred_from: date
    occurred_to: date | None
    date_precision: str
    country: str
    region: str | None
    place: str | None
    employer: str | None
    sector: str | None
    status: str
    urgent: bool
    urgency_reason: str | None
    language: str | None
    tags: list[str]
    categories: list[ExportCategory]
    victims: list[ExportPerson]
    perpetrators: list[ExportPerson | ExportOrganisation]
    others: list[ExportPerson | ExportOrganisation]
    testimonies: list[ExportTestimony]
    evidence: list[ExportEvidenceRef]


class ExportManifestFile(Schema):
    name: str
    sha256: str
    size: int


class ExportManifest(Schema):
    """What an export contains, for whom, made by whom, and what was withheld."""

    schema_version: int = SCHEMA_VERSION
    generator: str
    generated_at: datetime
    export_id: uuid.UUID
    format: str
    audience: ExportAudience
    requested_by: str
    selection: dict[str, Any]
    withheld: list[WithheldItem]
    files: list[ExportManifestFile] = []


# ---- ILO CFA complaint -------------------------------------------------------------------------------------


class ComplainantType(StrEnum):
    """Organisations receivable by the CFA (ILO FOA workers' guide; FIDH guide)."""

    NATIONAL_DIRECTLY_INTERESTED = "national_directly_interested"
    INTERNATIONAL_CONSULTATIVE_STATUS = "international_consultative_status"
    INTERNATIONAL_AFFILIATES_AFFECTED = "international_affiliates_affected"


class UrgencyGround(StrEnum):
    LIFE_OR_PERSONAL_FREEDOM = "life_or_personal_freedom"
    MOVEMENT_WIDE_CONDITIONS = "movement_wide_conditions"
    STATE_OF_EMERGENCY = "state_of_emergency"
    DISSOLUTION = "dissolution"


class Complainant(Schema):
    name: Name
    type: ComplainantType
    permanent_address: ShortText = Field(min_length=3)
    contact: Name | None = None
    membership_size: Annotated[int, Field(ge=1)] | None = None
    affiliations: list[Name] = []
    registration_status: ShortText | None = Field(
        default=None, description="E.g. 'dissolved by the Supreme Court on 18 July 2022; operating in exile'."
    )


class Signatory(Schema):
    name: Name
    function: Name


class AllegationDetails(Schema):
    """What the record does not hold and the complaint needs, per case."""

    case_id: uuid.UUID
    national_law_provisions: ShortText | None = None
    remedies_sought: ShortText | None = None


class IloComplaintRequest(Schema):
    case_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=100)]
    complainant: Complainant
    signatory: Signatory
    respondent_government: Country = "BY"
    urgency_requested: bool = False
    urgency_grounds: list[UrgencyGround] = []
    urgency_justification: ShortText | None = None
    related_cases: list[Annotated[str, StringConstraints(max_length=100)]] = []
    national_tripartite_information: ShortText | None = None
    allegations: list[AllegationDetails] = []
    format: Literal["docx", "json"] = "docx"
    override_reason: OverrideReason | None = None


class IloAllegation(Schema):
    allegation_id: str
    case: ExportCase
    cfa_chapter: int | None
    cfa_chapter_title: str | None
    cfa_chapter_verified: bool
    ilo_provisions: list[ExportNorm]
    national_law_provisions: str | None
    remedies_sought: str | None


class IloChapterGroup(Schema):
    cfa_chapter: int | None
    title: str
    verified: bool
    allegations: list[IloAllegation]


class IloComplaint(Schema):
    """The machine-readable mirror of the DOCX complaint."""

    schema_version: int = SCHEMA_VERSION
    addressee: str = (
        "The Director-General, International Labour Office, 4 route des Morillons, CH-1211 Geneva 22"
    )
    date_of_complaint: date
    statement_of_intent: str
    complainant: Complainant
    signatory: Signatory
    respondent_government: str
    urgency_requested: bool
    urgency_grounds: list[UrgencyGround]
    urgency_justification: str | None
    related_cases: list[str]
    national_tripartite_information: str | None
    groups: list[IloChapterGroup]
    withheld: list[WithheldItem]


class ExportSummary(Schema):
    """What a JSON export response carries besides its document."""

    export_id: uuid.UUID
    sha256: str
    withheld: list[WithheldItem]


class CaseSelection(Schema):
    case_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=10_000)]


class HuridocsExportRequest(CaseSelection):
    audience: ExportAudience = ExportAudience.PARTNER
    format: Literal["esf_json", "uwazi_csv"] = "esf_json"
    override_reason: OverrideReason | None = None


class WithheldPreviewRequest(CaseSelection):
    audience: ExportAudience
