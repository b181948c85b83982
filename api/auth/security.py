"""Password hashing (Argon2id), opaque bearer tokens stored only as keyed hashes, and the request's actor."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from api.auth.permissions import Permission, permissions_for
from schemas.enums import Role

TOKEN_PREFIX = "prc_"  # noqa: S105 (a prefix, not a secret)
_hasher = PasswordHasher()
# Verified against when the username is unknown, so a miss costs as much time as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """Hash a password with Argon2id."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password in constant time relative to whether the account exists."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """Return a random password for a new account (about 120 bits)."""
    return secrets.token_urlsafe(15)


def new_token() -> str:
    """Return a fresh opaque bearer token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def keyed_hash(secret: bytes, purpose: str, value: str) -> str:
    """HMAC-SHA256 of `value`, domain-separated by `purpose`; used for tokens and throttling keys."""
    return hmac.new(secret, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Actor:
    """The authenticated caller of a request."""

    user_id: uuid.UUID
    username: str
    role: Role
    token_id: uuid.UUID | None = None
    permissions: frozenset[Permission] = field(default_factory=frozenset)

    @classmethod
    def for_user(
        cls, user_id: uuid.UUID, username: str, role: str, token_id: uuid.UUID | None = None
    ) -> Actor:
        return cls(user_id, username, Role(role), token_id, permissions_for(role))

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions
