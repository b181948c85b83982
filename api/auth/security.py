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


#: What a second factor guards when PRECEDENT_REQUIRE_2FA is on, and what a duress sign-in suspends: reading
#: identities, downloading originals, exporting.
GUARDED_PERMISSIONS = frozenset(
    {
        Permission.PERSON_READ_IDENTITY,
        Permission.EVIDENCE_DOWNLOAD,
        Permission.EXPORT_RESEARCH,
        Permission.EXPORT_ILO,
        Permission.EXPORT_ITUC,
        Permission.EXPORT_HURIDOCS,
        Permission.EXPORT_BUNDLE,
    }
)


#: What a duress sign-in suspends besides: an admin forced to sign in reads no audit log, manages no account.
DURESS_WITHHELD = GUARDED_PERMISSIONS | {Permission.AUDIT_READ, Permission.USER_MANAGE}


@dataclass(frozen=True)
class Actor:
    """The authenticated caller of a request.

    `needs_second_factor`: the role may read identities, a second factor is required and the account has none
    (the guarded permissions are withheld until it enrols). `duress`: the account signed in with its duress
    password and an admin has not lifted it (an empty workspace, the guarded permissions suspended).
    """

    user_id: uuid.UUID
    username: str
    role: Role
    token_id: uuid.UUID | None = None
    permissions: frozenset[Permission] = field(default_factory=frozenset)
    needs_second_factor: bool = False
    duress: bool = False

    @classmethod
    def for_user(
        cls,
        user_id: uuid.UUID,
        username: str,
        role: str,
        token_id: uuid.UUID | None = None,
        *,
        require_second_factor: bool = False,
        has_second_factor: bool = False,
        duress: bool = False,
    ) -> Actor:
        permissions = permissions_for(role)
        needs = (
            require_second_factor and not has_second_factor and Permission.PERSON_READ_IDENTITY in permissions
        )
        if needs:
            permissions = permissions - GUARDED_PERMISSIONS
        if duress:
            permissions = permissions - DURESS_WITHHELD
        return cls(user_id, username, Role(role), token_id, permissions, needs, duress)

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions
