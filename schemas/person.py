"""People, their identities, organisations and consents on the wire.

A person is shown everywhere by pseudonym. `identity` is returned only to callers holding
`person:read_identity`; for everyone else it is null.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StrictBool, StrictInt, computed_field, model_validator

from schemas.base import IsoDate, LanguageCode, LongText, Name, Schema, ShortText
from schemas.case import Country
from schemas.enums import Audience, ConsentMethod, CountingUnit, OrganisationKind, RiskStatus


class ContactKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    MESSENGER = "messenger"
    ADDRESS = "address"
    OTHER = "other"


class Contact(Schema):
    kind: ContactKind
    value: Name
    note: ShortText | None = None


class Identity(Schema):
    """Who the person really is. Sealed at rest; never in exports without consent."""

    full_name: Name | None = None
    name_be: Name | None = Field(default=None, description="Name in Belarusian Cyrillic.")
    name_ru: Name | None = Field(default=None, description="Name in Russian Cyrillic.")
    name_latin: Name | None = Field(
        default=None, description="Name in Latin script (passport transliteration)."
    )
    other_names: Annotated[list[Name], Field(max_length=20)] = []
    date_of_birth: IsoDate | None = None
    contacts: Annotated[list[Contact], Field(max_length=20)] = []
    address: ShortText | None = None
    notes: LongText | None = None

    @model_validator(mode="after")
    def _birth_in_the_past(self) -> Identity:
        if self.date_of_birth is not None and not date(1900, 1, 1) <= self.date_of_birth <= date.today():  # noqa: DTZ011
            raise ValueError("date_of_birth must be between 1900-01-01 and today")
        return self


class IdentityUpdate(Identity):
    """Identity fields to change; leave out what stays."""


class PersonCreate(Schema):
    pseudonym: Name = Field(
        description="How the person appears in every record and export, e.g. 'Witness K-7'."
    )
    counting_unit: CountingUnit = CountingUnit.INDIVIDUAL
    group_size: Annotated[StrictInt, Field(ge=1, le=1_000_000)] | None = None
    risk_status: RiskStatus = RiskStatus.UNKNOWN
    relatives_in_country: StrictBool | None = None
    risk_reviewed_on: IsoDate | None = None
    organisation_id: uuid.UUID | None = None
    occupation: Name | None = None
    identity: Identity | None = None


class PersonUpdate(Schema):
    pseudonym: Name | None = None
    counting_unit: CountingUnit | None = None
    group_size: Annotated[StrictInt, Field(ge=1, le=1_000_000)] | None = None
    risk_status: RiskStatus | None = None
    relatives_in_country: StrictBool | None = None
    risk_reviewed_on: IsoDate | None = None
    organisation_id: uuid.UUID | None = None
    occupation: Name | None = None
    identity: IdentityUpdate | None = None

    @model_validator(mode="after")
    def _required_not_null(self) -> PersonUpdate:
        for name in ("pseudonym", "counting_unit", "risk_status"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class PersonRead(Schema):
    id: uuid.UUID
    pseudonym: str
    counting_unit: CountingUnit
    group_size: int | None
    risk_status: RiskStatus
    relatives_in_country: bool | None
    risk_reviewed_on: date | None
    organisation_id: uuid.UUID | None
    occupation: str | None
    identity: Identity | None = Field(default=None, description="Only for callers with person:read_identity.")
    created_by: uuid.UUID
    created_at: datetime
    updated_at: datetime
    version: int
    retracted_at: datetime | None = None


class OrganisationCreate(Schema):
    name: Name
    kind: OrganisationKind
    country: Country | None = None
    sector: Name | None = None
    notes: LongText | None = None


class OrganisationUpdate(Schema):
    name: Name | None = None
    kind: OrganisationKind | None = None
    country: Country | None = None
    sector: Name | None = None
    notes: LongText | None = None


class OrganisationRead(Schema):
    id: uuid.UUID
    name: str
    kind: OrganisationKind
    country: str | None
    sector: str | None
    notes: str | None
    created_at: datetime
    updated_at: datetime
    version: int


class ConsentCreate(Schema):
    audience: Audience
    granted_at: IsoDate
    method: ConsentMethod
    purpose: ShortText | None = Field(default=None, description="What the person agreed to, in a sentence.")
    text_version: Name | None = Field(
        default=None, description="Version of the consent text the person was shown."
    )
    language: LanguageCode | None = Field(default=None, description="Language the consent was given in.")
    notes: ShortText | None = None


class ConsentWithdrawal(Schema):
    withdrawn_at: IsoDate
    reason: ShortText | None = None


class ConsentRead(Schema):
    id: uuid.UUID
    person_id: uuid.UUID
    audience: Audience
    purpose: str | None
    granted_at: date
    method: ConsentMethod
    text_version: str | None
    language: str | None
    notes: str | None
    recorded_by: uuid.UUID
    recorded_at: datetime
    withdrawn_at: date | None
    withdrawal_reason: str | None
    version: int

    @computed_field(description="Granted and not withdrawn: counts for exports to its audience.")  # type: ignore[prop-decorator]
    @property
    def active(self) -> bool:
        return self.withdrawn_at is None
