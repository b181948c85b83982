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
    device_token: str | None = Field(
        default=None,
        description="Send it back as the `device_token` form field next time: this client's failures then count "
        "apart from everyone else's, so guessing from the same address does not slow it down.",
    )


class TotpEnrolment(Schema):
    secret: str = Field(
        description="Base32; type it into the authenticator app if it cannot read the QR code."
    )
    otpauth_uri: str


class TotpConfirm(Schema):
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=6, max_length=8)]


class RecoveryCodes(Schema):
    recovery_codes: list[str] = Field(description="Ten one-time codes, shown once: print or write them down.")


class SessionRead(Schema):
    id: uuid.UUID
    kind: str = Field(
        description='"web" (a browser), "session" (from /auth/token) or "api" (a script\'s token).'
    )
    label: str | None
    client: str | None = Field(description="The browser or program (its User-Agent).")
    address: str | None = Field(description="The network it signed in from (IPv4 /24, IPv6 /48).")
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime
    current: bool = Field(description="The session of this request.")


class SessionsEnded(Schema):
    ended: int


class DuressPasswordSet(Schema):
    password: Annotated[str, Field(max_length=256, description="Your current password.")]
    duress_password: Annotated[str, Field(max_length=256)]


class UserRead(Schema):
    id: uuid.UUID
    username: str
    role: Role
    disabled: bool
    created_at: datetime
    totp_enabled_at: datetime | None = None
    duress_at: datetime | None = Field(default=None, description="Set while the account is in duress.")


class UserCreate(Schema):
    username: Username
    role: Role
    password: Annotated[str | None, Field(max_length=256)] = Field(
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
    needs_second_factor: bool = Field(
        default=False, description="Enrol a second factor to read identities, download or export."
    )
