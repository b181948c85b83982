"""The second factor: TOTP enrolment and checks, one-time recovery codes, and an admin's reset.

Errors: Conflict (409) when enrolling while a second factor is on; ValidationProblem (422) for a wrong code
at confirmation; NotFound (404) for an unknown account. Services flush; the caller commits.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, delete

from api.audit import service as audit_service
from api.auth import totp
from api.auth.security import Actor, keyed_hash
from api.context import AppContext
from api.identity import door
from api.models import RecoveryCode, User
from api.models.base import utcnow
from api.problems import Conflict, NotFound, ValidationProblem

RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper
_RECOVERY_GROUPS = 3
_RECOVERY_GROUP_CHARS = 4


def _context(user_id: uuid.UUID) -> str:
    return f"totp:{user_id}"


def has_totp(user: User) -> bool:
    return user.totp_enabled_at is not None and user.totp_sealed is not None


def start_totp_enrolment(*, ctx: AppContext, session: Session, actor: Actor) -> tuple[str, str]:
    """Make a new TOTP secret waiting for confirmation; return it and its otpauth:// URI."""
    user = session.get(User, actor.user_id)
    if user is None:
        raise NotFound("No such account.")
    if has_totp(user):
        raise Conflict("A second factor is already on for this account. An administrator can reset it.")
    secret = totp.new_secret()
    user.totp_pending_sealed = ctx.sealer.seal({"secret": secret}, context=_context(user.id))
    session.add(user)
    session.flush()
    uri = totp.provisioning_uri(secret=secret, username=user.username, issuer=ctx.settings.organisation_name)
    return secret, uri


def pending_secret(*, ctx: AppContext, session: Session, actor: Actor) -> str | None:
    """The secret being enrolled, to show again on the enrolment page; None when none is waiting."""
    user = session.get(User, actor.user_id)
    if user is None or user.totp_pending_sealed is None or has_totp(user):
        return None
    return door.open_own_totp_secret(sealer=ctx.sealer, user_id=user.id, sealed=user.totp_pending_sealed)


def confirm_totp(*, ctx: AppContext, session: Session, actor: Actor, code: str) -> list[str]:
    """Turn TOTP on once a code from the pending secret checks; return ten fresh recovery codes (shown once)."""
    user = session.get(User, actor.user_id)
    if user is None:
        raise NotFound("No such account.")
    if has_totp(user):
        raise Conflict("A second factor is already on for this account.")
    if user.totp_pending_sealed is None:
        raise Conflict("Start the enrolment first: POST /api/v1/auth/2fa/totp.")
    secret = door.open_own_totp_secret(sealer=ctx.sealer, user_id=user.id, sealed=user.totp_pending_sealed)
    step = totp.matching_step(secret=secret, code=code)
    if step is None:
        raise ValidationProblem.single(
            "code", "the code does not match; check the phone's clock", "wrong_code"
        )
    user.totp_sealed, user.totp_pending_sealed = user.totp_pending_sealed, None
    user.totp_enabled_at = utcnow()
    user.totp_last_step = step
    session.add(user)
    codes = _replace_recovery_codes(ctx=ctx, session=session, user_id=user.id)
    audit_service.record(
        session=session,
        actor_id=actor.user_id,
        action="second_factor.enabled",
        target_type="user",
        target_id=str(user.id),
    )
    session.flush()
    return codes


def _replace_recovery_codes(*, ctx: AppContext, session: Session, user_id: uuid.UUID) -> list[str]:
    session.execute(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user_id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    for code in codes:
        session.add(RecoveryCode(user_id=user_id, code_hash=_recovery_hash(ctx, user_id, code)))
    return codes


def _new_recovery_code() -> str:
    groups = (
        "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_GROUP_CHARS))
        for _ in range(_RECOVERY_GROUPS)
    )
    return "-".join(groups)


def _recovery_hash(ctx: AppContext, user_id: uuid.UUID, code: str) -> str:
    normalised = "".join(code.lower().split()).replace("-", "")
    return keyed_hash(ctx.secret, "recovery-code", f"{user_id}\x00{normalised}")


def check_second_factor(*, ctx: AppContext, session: Session, user: User, code: str) -> bool:
    """True when `code` is a TOTP code of a step not used before, or an unused recovery code (used up now)."""
    if not has_totp(user) or user.totp_sealed is None or len(code) > 64:
        return False
    if totp.looks_like_code(code):
        secret = door.open_own_totp_secret(sealer=ctx.sealer, user_id=user.id, sealed=user.totp_sealed)
        step = totp.matching_step(secret=secret, code=code)
        if step is None:
            return False
        # One conditional write: of two requests racing with one code, only one moves the step on.
        moved = session.execute(
            sa.update(User)
            .where(
                col(User.id) == user.id,
                sa.or_(col(User.totp_last_step).is_(None), col(User.totp_last_step) < step),
            )
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)
        )
        return bool(moved.rowcount == 1)  # type: ignore[attr-defined]
    used = session.execute(
        sa.update(RecoveryCode)
        .where(
            col(RecoveryCode.user_id) == user.id,
            col(RecoveryCode.code_hash) == _recovery_hash(ctx, user.id, code),
            col(RecoveryCode.used_at).is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if used.rowcount == 1:  # type: ignore[attr-defined]
        audit_service.record(
            session=session,
            actor_id=user.id,
            action="second_factor.recovery_code_used",
            target_type="user",
            target_id=str(user.id),
        )
        return True
    return False


def recovery_codes_left(*, session: Session, user_id: uuid.UUID) -> int:
    """How many unused recovery codes the account has."""
    count = session.execute(
        sa.select(sa.func.count())
        .select_from(RecoveryCode)
        .where(col(RecoveryCode.user_id) == user_id, col(RecoveryCode.used_at).is_(None))
    ).scalar_one()
    return int(count)


def reset_second_factor(*, session: Session, actor: Actor, user_id: uuid.UUID) -> User:
    """Turn an account's second factor off (after the admin checked who asks); the user must enrol again."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user {user_id}.")
    had = has_totp(user)
    user.totp_sealed = user.totp_pending_sealed = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    session.add(user)
    session.execute(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user.id))
    audit_service.record(
        session=session,
        actor_id=actor.user_id,
        action="second_factor.reset",
        target_type="user",
        target_id=str(user.id),
        details={"had_second_factor": had},
    )
    session.flush()
    return user


@dataclass(frozen=True)
class SecondFactorStatus:
    """What the account's own page shows: on since when, recovery codes left, an enrolment in progress."""

    enabled_at: datetime | None
    codes_left: int
    pending_secret: str | None
    pending_uri: str | None


def status(*, ctx: AppContext, session: Session, actor: Actor) -> SecondFactorStatus:
    """The caller's second factor, with the secret being enrolled (to show again) if any."""
    user = session.get(User, actor.user_id)
    if user is None:
        raise NotFound("No such account.")
    secret = pending_secret(ctx=ctx, session=session, actor=actor)
    uri = None
    if secret is not None:
        uri = totp.provisioning_uri(
            secret=secret, username=user.username, issuer=ctx.settings.organisation_name
        )
    return SecondFactorStatus(
        enabled_at=user.totp_enabled_at if has_totp(user) else None,
        codes_left=recovery_codes_left(session=session, user_id=user.id),
        pending_secret=secret,
        pending_uri=uri,
    )
