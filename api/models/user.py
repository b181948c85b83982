"""Accounts, their bearer tokens, and login attempts (for throttling)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from api.models.base import fk_field, str_field, ts_field, uuid_pk


class User(SQLModel, table=True):
    __tablename__ = "user_account"

    id: uuid.UUID = uuid_pk()
    username: str = Field(sa_type=sa.String(64), unique=True, nullable=False)
    role: str = str_field(16)
    password_hash: str = str_field(255)
    disabled: bool = Field(default=False, nullable=False)
    language: str | None = str_field(16, nullable=True)
    created_at: datetime = ts_field()
    password_changed_at: datetime = ts_field()
    # TOTP (RFC 6238): the secret sealed under the identity key (api.sealing), bound to "totp:<user id>"; the
    # pending one while enrolling, until a first code confirms it. The last accepted time step refuses replays.
    totp_sealed: bytes | None = Field(default=None, sa_type=sa.LargeBinary, nullable=True)
    totp_pending_sealed: bytes | None = Field(default=None, sa_type=sa.LargeBinary, nullable=True)
    totp_enabled_at: datetime | None = ts_field(nullable=True)
    totp_last_step: int | None = Field(default=None, sa_type=sa.BigInteger, nullable=True)
    # A second password that signs in to an empty workspace and raises an alert (docs/accounts.md).
    duress_password_hash: str | None = str_field(255, nullable=True)
    # Set when the duress password was used; only an admin clears it.
    duress_at: datetime | None = ts_field(nullable=True)


class ApiToken(SQLModel, table=True):
    """An opaque bearer token, stored only as a keyed hash."""

    __tablename__ = "api_token"

    id: uuid.UUID = uuid_pk()
    user_id: uuid.UUID = fk_field("user_account.id")
    token_hash: str = Field(sa_type=sa.String(64), unique=True, nullable=False)
    # "session" (from /auth/token), "api" (long-lived, from the CLI) or "web" (the browser session cookie)
    kind: str = str_field(16)
    label: str | None = str_field(200, nullable=True)
    created_at: datetime = ts_field()
    expires_at: datetime = ts_field()
    revoked_at: datetime | None = ts_field(nullable=True)
    last_used_at: datetime | None = ts_field(nullable=True)
    # What the holder sees in their list of sessions: the browser or program, and a coarse address (an IPv4
    # /24 or an IPv6 /48), never the full one.
    client: str | None = str_field(200, nullable=True)
    address: str | None = str_field(64, nullable=True)


class LoginAttempt(SQLModel, table=True):
    """A login attempt, keyed by hashes of the username and client address (neither is stored in clear)."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        sa.Index("ix_login_attempt_account_at", "account_key", "at"),
        sa.Index("ix_login_attempt_client_at", "client_key", "at"),
        sa.Index("ix_login_attempt_account_client_at", "account_key", "client_key", "at"),
        sa.Index("ix_login_attempt_device_at", "device_key", "at"),
    )

    id: int | None = Field(
        default=None, primary_key=True, sa_type=sa.BigInteger().with_variant(sa.Integer, "sqlite")
    )
    account_key: str = str_field(64)
    client_key: str = str_field(64)
    success: bool = Field(nullable=False)
    at: datetime = ts_field()
    # A keyed hash of (account, device cookie) when the client showed one: a browser that signed in to the
    # account before counts its failures apart from everyone else's (OWASP "device cookies").
    device_key: str | None = str_field(64, nullable=True)


class RecoveryCode(SQLModel, table=True):
    """A one-time code that stands in for a TOTP code, stored only as a keyed hash."""

    __tablename__ = "recovery_code"

    id: uuid.UUID = uuid_pk()
    user_id: uuid.UUID = fk_field("user_account.id", ondelete="CASCADE")
    code_hash: str = Field(sa_type=sa.String(64), unique=True, nullable=False)
    created_at: datetime = ts_field()
    used_at: datetime | None = ts_field(nullable=True)
