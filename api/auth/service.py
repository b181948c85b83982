"""Accounts and tokens: sign in (password, then a second factor; throttled by api.auth.throttle), issue,
check and revoke tokens, create and disable accounts.

Errors: AuthenticationRequired (401; OtpRequired, type `/problems/otp-required`, when only the code is
missing), TooManyRequests (429), ValidationProblem (422, a refused password), Conflict (409), NotFound (404).
"""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn

import sqlalchemy as sa
from sqlmodel import Session, col, select

from api.audit import service as audit_service
from api.auth import duress as duress_service
from api.auth import passwords, second_factor, throttle
from api.auth import sessions as sessions_service
from api.auth.clients import ClientInfo
from api.auth.security import (
    TOKEN_PREFIX,
    Actor,
    generate_password,
    hash_password,
    keyed_hash,
    new_token,
    verify_password,
)
from api.context import AppContext
from api.models import ApiToken, User
from api.models.base import utcnow
from api.problems import AuthenticationRequired, Conflict, NotFound, TooManyRequests, ValidationProblem
from schemas.enums import Role

# A token's last use is written at most this often, so reads do not turn into writes.
LAST_USED_RESOLUTION = timedelta(minutes=10)
log = logging.getLogger("precedent.auth")
# Token kinds a bearer header may carry; "web" tokens live only in the browser's session cookie, so a cookie
# never authenticates an API call and a bearer token never opens a page.
BEARER_KINDS = frozenset({"session", "api"})
WEB_KINDS = frozenset({"web"})


def normalise_username(username: str) -> str:
    return username.strip().lower()


def _token_hash(ctx: AppContext, token: str) -> str:
    return keyed_hash(ctx.secret, "token", token)


# Every request runs this: Core columns, not ORM objects, in one statement built once (building it and its
# cache key took about half of the look-up's time per request).
_TOKEN_LOOKUP: Any = (
    sa.select(
        col(ApiToken.id),
        col(ApiToken.kind),
        col(ApiToken.revoked_at),
        col(ApiToken.expires_at),
        col(ApiToken.last_used_at),
        col(User.id).label("user_id"),
        col(User.username),
        col(User.role),
        col(User.disabled),
        col(User.totp_enabled_at),
        col(User.duress_at),
    )
    .join(User, col(User.id) == col(ApiToken.user_id))
    .where(col(ApiToken.token_hash) == sa.bindparam("token_hash"))
)


def actor_for_token(*, ctx: AppContext, token: str, kinds: frozenset[str] = BEARER_KINDS) -> Actor | None:
    """Return the actor a token of one of `kinds` belongs to, or None if unknown, expired, revoked or disabled."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    now = utcnow()
    with ctx.db.single_read() as conn:
        row: Any = conn.execute(_TOKEN_LOOKUP, {"token_hash": _token_hash(ctx, token)}).first()
    if row is None:
        return None
    if row.kind not in kinds or row.revoked_at is not None or row.expires_at <= now or row.disabled:
        return None
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        _record_use(ctx, row.id, now)
    return Actor.for_user(
        row.user_id,
        row.username,
        row.role,
        row.id,
        require_second_factor=ctx.settings.second_factor_required,
        has_second_factor=row.totp_enabled_at is not None,
        duress=row.duress_at is not None,
    )


# A token's last use is bookkeeping: a request waits this long at most for the write lock to record it, and
# goes on without it when a long writer holds the lock (before, it waited up to SQLite's 30 s busy timeout and
# then failed). The next request records it.
RECORD_USE_WAIT_MS = 200


def _record_use(ctx: AppContext, token_id: uuid.UUID, now: Any) -> None:
    try:
        with ctx.db.brief_write_session(RECORD_USE_WAIT_MS) as session:
            session.execute(sa.update(ApiToken).where(col(ApiToken.id) == token_id).values(last_used_at=now))
    except sa.exc.OperationalError as exc:  # the lock is held: SQLite's "database is locked", a lock timeout
        log.info("a token's use was not recorded: the database is busy (%s)", type(exc.orig).__name__)


class OtpRequired(AuthenticationRequired):
    """The password was right; the account has a second factor and no code came with it."""

    slug, title = "otp-required", "Second factor required"


WRONG_CREDENTIALS = "Wrong username, password or code, or the account is disabled."
CHALLENGE_TTL = timedelta(minutes=5)
#: Longer than any password ever accepted (new ones stop at passwords.MAX_LENGTH; the CLI once had no limit).
MAX_SIGN_IN_CHARS = 4096
#: Device tokens are kept by browsers (a cookie) and scripts for this long.
DEVICE_TOKEN_DAYS = 365


@dataclass(frozen=True)
class SignedIn:
    """A finished sign-in: the new token, its row, and the device token to keep for next time."""

    token: str
    row: ApiToken
    device_token: str
    needs_second_factor: bool = False


@dataclass(frozen=True)
class CodeNeeded:
    """The password was right and a code is needed; `challenge` (web only) finishes the sign-in with one."""

    challenge: str | None


def log_in(
    *,
    ctx: AppContext,
    session: Session,
    username: str,
    password: str,
    client: ClientInfo,
    otp: str | None = None,
    kind: str = "session",
) -> SignedIn | CodeNeeded:
    """Check the credentials (and the code, when the account has a second factor); throttle failures.

    Flushes a success; a failure is committed here (it must count although the request fails) and raised.
    """
    username = normalise_username(username)
    keys = throttle.attempt_keys(secret=ctx.secret, username=username, client=client)
    trusted = _check_throttle(ctx=ctx, session=session, keys=keys)
    user = session.exec(select(User).where(User.username == username)).first()
    # Both hashes are always checked, so a duress sign-in takes the time of any other. A password longer than
    # any that could be set is wrong without spending Argon2 time on megabytes.
    normal = duress = False
    if len(password) <= MAX_SIGN_IN_CHARS:
        normal = verify_password(user.password_hash if user else None, password)
        duress = verify_password(user.duress_password_hash if user else None, password)
    if user is None or user.disabled or not (normal or duress):
        _fail(session=session, keys=keys, trusted=trusted, user=user)
    if duress and not normal:
        duress_service.enter_duress(session=session, user=user)
    if second_factor.has_totp(user):
        if not otp:
            challenge = _issue_challenge(ctx=ctx, session=session, user=user) if kind == "web" else None
            return CodeNeeded(challenge)
        if not second_factor.check_second_factor(ctx=ctx, session=session, user=user, code=otp):
            _fail(session=session, keys=keys, trusted=trusted, user=user)
    return _finish(ctx=ctx, session=session, user=user, keys=keys, client=client, kind=kind)


def finish_with_code(
    *, ctx: AppContext, session: Session, challenge: str, otp: str, client: ClientInfo
) -> SignedIn:
    """Finish a web sign-in whose password was right with a TOTP or recovery code; throttled like log_in."""
    row = _live_token(ctx=ctx, session=session, token=challenge, kinds=frozenset({"challenge"}))
    user = session.get(User, row.user_id) if row is not None else None
    if row is None or user is None or user.disabled:
        raise AuthenticationRequired("The sign-in took too long. Start again with your password.")
    keys = throttle.attempt_keys(secret=ctx.secret, username=user.username, client=client)
    trusted = _check_throttle(ctx=ctx, session=session, keys=keys)
    if not second_factor.check_second_factor(ctx=ctx, session=session, user=user, code=otp):
        _fail(session=session, keys=keys, trusted=trusted, user=user)
    row.revoked_at = utcnow()
    session.add(row)
    return _finish(ctx=ctx, session=session, user=user, keys=keys, client=client, kind="web")


def _check_throttle(*, ctx: AppContext, session: Session, keys: throttle.AttemptKeys) -> bool:
    """Raise 429 when this attempt must wait; return whether the client's device is trusted."""
    trusted = throttle.is_trusted_device(session=session, keys=keys)
    wait = throttle.wait_seconds(session=session, settings=ctx.settings, keys=keys, trusted=trusted)
    if wait:
        raise TooManyRequests("Too many failed logins; wait before trying again.", retry_after=wait)
    return trusted


def _fail(*, session: Session, keys: throttle.AttemptKeys, trusted: bool, user: User | None) -> NoReturn:
    # A wrong code changed nothing (a code is used up only when it matches); a duress sign-in's alert, flushed
    # before the code was checked, is kept with the failure.
    throttle.record(session=session, keys=keys, success=False, device_key=keys.device if trusted else None)
    audit_service.record(session=session, actor_id=user.id if user else None, action="login.failed")
    session.commit()
    raise AuthenticationRequired(WRONG_CREDENTIALS)


def _finish(
    *,
    ctx: AppContext,
    session: Session,
    user: User,
    keys: throttle.AttemptKeys,
    client: ClientInfo,
    kind: str,
) -> SignedIn:
    device_token = client.device_token
    if not device_token or len(device_token) < 32:
        device_token = secrets.token_urlsafe(32)
    device_key = throttle.device_key_for(secret=ctx.secret, username=user.username, device_token=device_token)
    throttle.record(session=session, keys=keys, success=True, device_key=device_key)
    token, row = _issue_token(
        ctx=ctx,
        session=session,
        user=user,
        kind=kind,
        ttl=timedelta(minutes=ctx.settings.token_ttl_minutes),
        client=client,
    )
    audit_service.record(session=session, actor_id=user.id, action="login.succeeded")
    session.flush()
    actor = Actor.for_user(
        user.id,
        user.username,
        user.role,
        row.id,
        require_second_factor=ctx.settings.second_factor_required,
        has_second_factor=second_factor.has_totp(user),
    )
    return SignedIn(token, row, device_token, actor.needs_second_factor)


def _issue_challenge(*, ctx: AppContext, session: Session, user: User) -> str:
    token, _ = _issue_token(ctx=ctx, session=session, user=user, kind="challenge", ttl=CHALLENGE_TTL)
    session.flush()
    return token


def _live_token(*, ctx: AppContext, session: Session, token: str, kinds: frozenset[str]) -> ApiToken | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == _token_hash(ctx, token))).first()
    if row is None or row.kind not in kinds or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    return row


def _issue_token(
    *,
    ctx: AppContext,
    session: Session,
    user: User,
    kind: str,
    ttl: timedelta,
    label: str | None = None,
    client: ClientInfo | None = None,
) -> tuple[str, ApiToken]:
    token = new_token()
    row = ApiToken(
        user_id=user.id,
        token_hash=_token_hash(ctx, token),
        kind=kind,
        label=label,
        expires_at=utcnow() + ttl,
        client=client.program if client else None,
        address=client.coarse_address if client else None,
    )
    session.add(row)
    return token, row


def revoke_token(*, session: Session, actor: Actor) -> None:
    """Revoke the token the actor authenticated with."""
    if actor.token_id is None:
        return
    session.execute(
        sa.update(ApiToken)
        .where(ApiToken.id == actor.token_id, ApiToken.revoked_at.is_(None))  # type: ignore[arg-type, union-attr]
        .values(revoked_at=utcnow())
    )
    audit_service.record(session=session, actor_id=actor.user_id, action="logout")
    session.flush()


def create_user(
    *,
    session: Session,
    username: str,
    role: Role,
    password: str | None = None,
    actor_id: uuid.UUID | None = None,
) -> tuple[User, str]:
    """Create an account; generate a password when none is given. Returns the user and the password."""
    username = normalise_username(username)
    if not username or len(username) > 64 or not all(c.isalnum() or c in "._-" for c in username):
        raise ValidationProblem.single("username", "use 1-64 letters, digits, '.', '_' or '-'")
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise Conflict(f"A user named {username!r} already exists.")
    password = password or generate_password()
    refuse_weak_password(password, username=username)
    user = User(username=username, role=role.value, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    audit_service.record(
        session=session,
        actor_id=actor_id,
        action="user.created",
        target_type="user",
        target_id=str(user.id),
        details={"role": role.value},
    )
    session.flush()
    return user, password


def disable_user(*, session: Session, username: str, actor_id: uuid.UUID | None = None) -> User:
    """Disable an account; its tokens stop working at once."""
    user = session.exec(select(User).where(User.username == normalise_username(username))).first()
    if user is None:
        raise NotFound(f"No user named {username!r}.")
    user.disabled = True
    session.add(user)
    sessions_service.revoke_all(session=session, user_id=user.id)
    audit_service.record(
        session=session, actor_id=actor_id, action="user.disabled", target_type="user", target_id=str(user.id)
    )
    session.flush()
    return user


def create_api_token(
    *, ctx: AppContext, session: Session, username: str, days: int, label: str | None = None
) -> tuple[str, ApiToken]:
    """Issue a long-lived API token for scripts."""
    user = session.exec(select(User).where(User.username == normalise_username(username))).first()
    if user is None or user.disabled:
        raise NotFound(f"No active user named {username!r}.")
    token, row = _issue_token(
        ctx=ctx, session=session, user=user, kind="api", ttl=timedelta(days=days), label=label
    )
    session.flush()
    audit_service.record(
        session=session, actor_id=None, action="token.created", target_type="user", target_id=str(user.id)
    )
    session.flush()
    return token, row


def ensure_first_admin(*, session: Session) -> str | None:
    """Create the `admin` account when no user exists; return its generated password (once) or None."""
    if session.exec(select(sa.func.count()).select_from(User)).one() > 0:
        return None
    try:
        _, password = create_user(session=session, username="admin", role=Role.ADMIN)
    except Conflict:
        return None  # another process created it first
    return password


def refuse_weak_password(password: str, *, username: str) -> None:
    """Raise a 422 problem naming why the password is refused (its `type` is `weak_password`)."""
    reason = passwords.password_problem(password, username=username)
    if reason is not None:
        raise ValidationProblem.single("password", reason, "weak_password")


def list_users(*, session: Session) -> list[User]:
    """Return every account, by username."""
    return list(session.exec(select(User).order_by(User.username)).all())


def update_user(
    *, session: Session, actor_id: uuid.UUID, user_id: uuid.UUID, role: Role | None, disabled: bool | None
) -> User:
    """Change an account's role or disable/enable it; an admin cannot lock themselves out."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user {user_id}.")
    if user.id == actor_id and (disabled or (role is not None and role is not Role.ADMIN)):
        raise Conflict("You cannot disable yourself or take away your own admin role.")
    details: dict[str, dict[str, object]] = {}
    if role is not None and role.value != user.role:
        details["role"] = {"before": user.role, "after": role.value}
        user.role = role.value
    if disabled is not None and disabled != user.disabled:
        details["disabled"] = {"before": user.disabled, "after": disabled}
        user.disabled = disabled
        if disabled:
            # For good: enabling the account again brings none of these back.
            sessions_service.revoke_all(session=session, user_id=user.id)
    if details:
        session.add(user)
        audit_service.record(
            session=session,
            actor_id=actor_id,
            action="user.updated",
            target_type="user",
            target_id=str(user.id),
            details=details,
        )
        session.flush()
    return user
