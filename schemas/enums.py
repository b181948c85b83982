"""Closed vocabularies of the wire contract. Values are stable identifiers; labels live in the UI catalogs."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    DOCUMENTER = "documenter"
    RESEARCHER = "researcher"


class DatePrecision(StrEnum):
    """How much of an event date is known (EDTF-style; HURIDOCS MT 48 'types of dates')."""

    DAY = "day"
    MONTH = "month"
    YEAR = "year"
    APPROXIMATE = "approximate"


class CaseStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    VERIFIED = "verified"
    ARCHIVED = "archived"


class Confidentiality(StrEnum):
    """Who inside the organisation may see a record.

    `public` and `internal` cases are visible to researchers; `restricted` ones only to coordinators, admins,
    their creator and the documenters assigned to them.
    """

    PUBLIC = "public"
    INTERNAL = "internal"
    RESTRICTED = "restricted"


class Audience(StrEnum):
    """Recipients a person may consent to be named to (one consent record per audience)."""

    INTERNAL = "internal"
    ILO = "ilo"
    ITUC = "ituc"
    UN = "un"
    PARTNER = "partner"
    MEDIA = "media"
    PUBLIC = "public"
    COURT = "court"


class ConsentMethod(StrEnum):
    WRITTEN = "written"
    ORAL_RECORDED = "oral_recorded"
    ORAL_WITNESSED = "oral_witnessed"
    ELECTRONIC = "electronic"
    THROUGH_REPRESENTATIVE = "through_representative"


class CountingUnit(StrEnum):
    """HURIDOCS MT 7 counting units (the subset relevant here)."""

    INDIVIDUAL = "individual"
    FAMILY = "family"
    GROUP = "group"


class RiskStatus(StrEnum):
    """Where a cooperating person stands, for the do-no-harm review before any export (OHCHR ch. 14)."""

    IN_COUNTRY = "in_country"
    EXILED = "exiled"
    DETAINED = "detained"
    UNKNOWN = "unknown"


class OrganisationKind(StrEnum):
    UNION = "union"
    EMPLOYER = "employer"
    STATE_BODY = "state_body"
    COURT = "court"
    NGO = "ngo"
    OTHER = "other"


class InvolvementRole(StrEnum):
    """HURIDOCS person roles in an event ("who did what to whom")."""

    VICTIM = "victim"
    PERPETRATOR = "perpetrator"
    WITNESS = "witness"
    SOURCE = "source"
    REPRESENTATIVE = "representative"
    INTERVENING_PARTY = "intervening_party"


class VictimStatus(StrEnum):
    """A victim's current situation; each maps to a HURIDOCS MT 25 'status as victim' code."""

    DETAINED = "detained"
    ON_TRIAL = "on_trial"
    SENTENCED = "sentenced"
    UNDER_INVESTIGATION = "under_investigation"
    RELEASED = "released"
    FINED = "fined"
    DISMISSED = "dismissed"
    FORBIDDEN_WORKPLACE = "forbidden_workplace"
    REINSTATED = "reinstated"
    EXILED = "exiled"
    RESTRICTED_MOVEMENT = "restricted_movement"
    MISSING = "missing"
    INJURED = "injured"
    DEAD = "dead"
    OTHER = "other"
    UNKNOWN = "unknown"


# HURIDOCS MT 25 codes (standards.md Appendix B). FINED has no MT 25 term: it maps to "Other".
VICTIM_STATUS_HURIDOCS: dict[VictimStatus, str] = {
    VictimStatus.DETAINED: "020201000000",
    VictimStatus.ON_TRIAL: "020202000000",
    VictimStatus.SENTENCED: "020203000000",
    VictimStatus.UNDER_INVESTIGATION: "020101000000",
    VictimStatus.RELEASED: "020100000000",
    VictimStatus.FINED: "900000000000",
    VictimStatus.DISMISSED: "200200000000",
    VictimStatus.FORBIDDEN_WORKPLACE: "200400000000",
    VictimStatus.REINSTATED: "200500000000",
    VictimStatus.EXILED: "030200000000",
    VictimStatus.RESTRICTED_MOVEMENT: "030100000000",
    VictimStatus.MISSING: "010300000000",
    VictimStatus.INJURED: "010200000000",
    VictimStatus.DEAD: "010100000000",
    VictimStatus.OTHER: "900000000000",
    VictimStatus.UNKNOWN: "990000000000",
}

# Statuses in which the victim is deprived of liberty right now ("still detained" in a researcher's query).
HELD_STATUSES: frozenset[VictimStatus] = frozenset(
    {VictimStatus.DETAINED, VictimStatus.ON_TRIAL, VictimStatus.SENTENCED}
)


class Reliability(StrEnum):
    """HURIDOCS MT 42 reliability scale."""

    HIGHLY_RELIABLE = "highly_reliable"
    LIKELY_RELIABLE = "likely_reliable"
    UNSURE = "unsure"
    LIKELY_UNRELIABLE = "likely_unreliable"
    HIGHLY_UNRELIABLE = "highly_unreliable"
    UNKNOWN = "unknown"


RELIABILITY_HURIDOCS: dict[Reliability, str] = {
    Reliability.HIGHLY_RELIABLE: "010000000000",
    Reliability.LIKELY_RELIABLE: "020000000000",
    Reliability.UNSURE: "030000000000",
    Reliability.LIKELY_UNRELIABLE: "040000000000",
    Reliability.HIGHLY_UNRELIABLE: "050000000000",
    Reliability.UNKNOWN: "990000000000",
}
