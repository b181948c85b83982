"""Accounts and tokens on the wire."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StrictBool, StringConstraints

from schemas.base import Schema
from schemas.enums import Role

# Letters are stored in lower case, so "Maryna" and "maryna" are one account.
Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$"), AfterValidator(str.lower)]


class TokenRead(Schema):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 (the OAuth2 token type, not a secret)
    expires_at: datetime


class UserRead(Schema):
    id: uuid.UUID
    username: str
    role: Role
    disabled: bool
    created_at: datetime


class UserCreate(Schema):
    username: Username
    role: Role
    password: Annotated[str | None, Field(min_length=12, max_length=256)] = Field(
        default=None, description="Leave out to have a strong password generated and returned once."
    )


class UserCreated(UserRead):
    password: str | None = Field(default=None, description="The generated password, shown once.")


class UserUpdate(Schema):
    role: Role | None = None
    disabled: StrictBool | None = None


class MeRead(Schema):
    id: uuid.UUID
    username: str
    role: Role
    permissions: list[str]
