"""Accounts and tokens: log in (throttled per account and per client), issue, check and revoke tokens."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from api.audit import service as audit_service
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
from api.models import ApiToken, LoginAttempt, User
from api.models.base import utcnow
from api.problems import AuthenticationRequired, Conflict, NotFound, TooManyRequests, ValidationProblem
from schemas.enums import Role

# A token's last use is written at most this often, so reads do not turn into writes.
LAST_USED_RESOLUTION = timedelta(minutes=10)
log = logging.getLogger("precedent.auth")

MAX_BACKOFF_SECONDS = 15 * 60
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
    return Actor.for_user(row.user_id, row.username, row.role, row.id)


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


def _retry_after(
    session: Session, *, key_column: sa.ColumnElement[str], key: str, limit: int, window: int
) -> int:
    """Seconds the caller must wait, from failures since the last success inside the window (0 = go ahead)."""
    since = utcnow() - timedelta(seconds=window)
    last_success = session.exec(
        select(sa.func.max(LoginAttempt.at)).where(key_column == key, LoginAttempt.success.is_(True))  # type: ignore[attr-defined]
    ).one()
    if last_success is not None and last_success > since:
        since = last_success
    failures, last_failure = session.exec(
        select(sa.func.count(), sa.func.max(LoginAttempt.at)).where(
            key_column == key,
            LoginAttempt.success.is_(False),  # type: ignore[attr-defined]
            LoginAttempt.at > since,
        )
    ).one()
    if failures < limit or last_failure is None:
        return 0
    backoff = min(MAX_BACKOFF_SECONDS, 2 ** min(failures - limit, 12))
    wait = (last_failure + timedelta(seconds=backoff) - utcnow()).total_seconds()
    return max(0, int(wait + 0.999))


def log_in(
    *, ctx: AppContext, session: Session, username: str, password: str, client: str, kind: str = "session"
) -> tuple[str, ApiToken]:
    """Check the credentials and issue a token of `kind` ("session" or "web"); throttle repeated failures."""
    settings = ctx.settings
    username = normalise_username(username)
    account_key = keyed_hash(ctx.secret, "login-account", username)
    client_key = keyed_hash(ctx.secret, "login-client", client)
    wait = max(
        _retry_after(
            session,
            key_column=LoginAttempt.account_key,  # type: ignore[arg-type]
            key=account_key,
            limit=settings.login_max_failures,
            window=settings.login_window_seconds,
        ),
        _retry_after(
            session,
            key_column=LoginAttempt.client_key,  # type: ignore[arg-type]
            key=client_key,
            limit=settings.login_ip_max_failures,
            window=settings.login_window_seconds,
        ),
    )
    if wait:
        raise TooManyRequests("Too many failed logins; wait before trying again.", retry_after=wait)
    user = session.exec(select(User).where(User.username == username)).first()
    ok = (
        verify_password(user.password_hash if user else None, password)
        and user is not None
        and not user.disabled
    )
    session.add(LoginAttempt(account_key=account_key, client_key=client_key, success=ok))
    if not ok or user is None:
        audit_service.record(session=session, actor_id=user.id if user else None, action="login.failed")
        session.commit()
        raise AuthenticationRequired("Wrong username or password, or the account is disabled.")
    token, row = _issue_token(
        ctx=ctx, session=session, user=user, kind=kind, ttl=timedelta(minutes=settings.token_ttl_minutes)
    )
    audit_service.record(session=session, actor_id=user.id, action="login.succeeded")
    session.commit()
    return token, row


def _issue_token(
    *, ctx: AppContext, session: Session, user: User, kind: str, ttl: timedelta, label: str | None = None
) -> tuple[str, ApiToken]:
    token = new_token()
    row = ApiToken(
        user_id=user.id,
        token_hash=_token_hash(ctx, token),
        kind=kind,
        label=label,
        expires_at=utcnow() + ttl,
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
    session.commit()


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
    if len(password) < 12:
        raise ValidationProblem.single("password", "must be at least 12 characters")
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
    session.commit()
    return user, password


def disable_user(*, session: Session, username: str, actor_id: uuid.UUID | None = None) -> User:
    """Disable an account; its tokens stop working at once."""
    user = session.exec(select(User).where(User.username == normalise_username(username))).first()
    if user is None:
        raise NotFound(f"No user named {username!r}.")
    user.disabled = True
    session.add(user)
    audit_service.record(
        session=session, actor_id=actor_id, action="user.disabled", target_type="user", target_id=str(user.id)
    )
    session.commit()
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
    session.commit()
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
        session.commit()
    return user
