"""Involvements: a person or organisation in a case, in a HURIDOCS role."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from schemas.base import LongText, Schema
from schemas.case import HuridocsCode
from schemas.enums import InvolvementRole, VictimStatus


class InvolvementCreate(Schema):
    person_id: uuid.UUID | None = None
    organisation_id: uuid.UUID | None = None
    role: InvolvementRole
    victim_status: VictimStatus | None = Field(default=None, description="For victims: their situation now.")
    perpetrator_type: HuridocsCode | None = Field(
        default=None, description="For perpetrators: HURIDOCS MT 24 code."
    )
    detention_type: HuridocsCode | None = Field(
        default=None, description="For detained victims: HURIDOCS MT 29."
    )
    description: LongText | None = None

    @model_validator(mode="after")
    def _one_actor_and_role_fields(self) -> InvolvementCreate:
        if (self.person_id is None) == (self.organisation_id is None):
            raise ValueError("give exactly one of person_id and organisation_id")
        _check_role_fields(self.role, self.victim_status, self.perpetrator_type, self.detention_type)
        return self


def _check_role_fields(
    role: InvolvementRole | None, victim_status: object, perpetrator_type: object, detention_type: object
) -> None:
    if role is None:
        return
    if victim_status is not None and role is not InvolvementRole.VICTIM:
        raise ValueError("victim_status is only for the victim role")
    if detention_type is not None and role is not InvolvementRole.VICTIM:
        raise ValueError("detention_type is only for the victim role")
    if perpetrator_type is not None and role is not InvolvementRole.PERPETRATOR:
        raise ValueError("perpetrator_type is only for the perpetrator role")


class InvolvementUpdate(Schema):
    role: InvolvementRole | None = None
    victim_status: VictimStatus | None = None
    perpetrator_type: HuridocsCode | None = None
    detention_type: HuridocsCode | None = None
    description: LongText | None = None

    @model_validator(mode="after")
    def _role_not_null(self) -> InvolvementUpdate:
        if "role" in self.model_fields_set and self.role is None:
            raise ValueError("role cannot be null")
        return self


class InvolvementRead(Schema):
    id: uuid.UUID
    case_id: uuid.UUID
    person_id: uuid.UUID | None
    person_pseudonym: str | None = None
    organisation_id: uuid.UUID | None
    organisation_name: str | None = None
    role: InvolvementRole
    victim_status: VictimStatus | None
    perpetrator_type: str | None
    detention_type: str | None
    description: str | None
    created_by: uuid.UUID
    created_at: datetime
    updated_at: datetime
    version: int
    retracted_at: datetime | None = None


class RetractionIn(Schema):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]
