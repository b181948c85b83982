"""The duress password: a second password for a person forced to sign in (docs/accounts.md, threat model).

Signing in with it looks like any sign-in and takes as long, but the account enters duress: every other
session and token ends, the workspace is empty (no cases, no people), reading identities, downloading and
exporting are suspended, and an alert is raised (an audit entry; a banner on every admin's next page). Only an
admin lifts it. Errors: ValidationProblem (422) for a weak duress password or one equal to the password,
NotFound (404), Conflict (409) when the account is not in duress. Services flush; the caller commits.
"""

from __future__ import annotations

import uuid

from sqlmodel import Session, col, select

from api.audit import service as audit_service
from api.auth import passwords
from api.auth import sessions as sessions_service
from api.auth.security import Actor, hash_password, verify_password
from api.models import User
from api.models.base import utcnow
from api.problems import Conflict, NotFound, PermissionDenied, ValidationProblem

WRONG_PASSWORD = passwords.N_("The current password is wrong.")
SAME_AS_PASSWORD = passwords.N_("The duress password must differ from your password.")


def set_duress_password(*, session: Session, actor: Actor, password: str, duress_password: str) -> None:
    """Set (or replace) the caller's duress password, after checking their current password."""
    user = session.get(User, actor.user_id)
    if user is None:
        raise NotFound("No such account.")
    if not verify_password(user.password_hash, password):
        raise ValidationProblem.single("password", WRONG_PASSWORD, "wrong_password")
    reason = passwords.password_problem(duress_password, username=user.username)
    if reason is not None:
        raise ValidationProblem.single("duress_password", reason, "weak_password")
    if verify_password(user.password_hash, duress_password):
        raise ValidationProblem.single("duress_password", SAME_AS_PASSWORD, "same_as_password")
    user.duress_password_hash = hash_password(duress_password)
    session.add(user)
    audit_service.record(
        session=session,
        actor_id=user.id,
        action="duress.password_set",
        target_type="user",
        target_id=str(user.id),
    )
    session.flush()


def enter_duress(*, session: Session, user: User) -> None:
    """Put an account in duress: end its sessions and tokens, mark it, raise the alert (audit)."""
    ended = sessions_service.revoke_all(session=session, user_id=user.id)
    if user.duress_at is None:
        user.duress_at = utcnow()
    session.add(user)
    audit_service.record(
        session=session,
        actor_id=user.id,
        action="duress.signed_in",
        target_type="user",
        target_id=str(user.id),
        details={"sessions_ended": ended},
    )
    session.flush()


def accounts_in_duress(*, session: Session) -> list[User]:
    """Every account in duress, the latest first (for the admins' banner)."""
    return list(
        session.exec(
            select(User).where(col(User.duress_at).is_not(None)).order_by(col(User.duress_at).desc())
        )
    )


def lift_duress(*, session: Session, actor: Actor, user_id: uuid.UUID) -> User:
    """(Admin) end an account's duress once the person is safe; the sessions ended stay ended."""
    if actor.duress or actor.user_id == user_id:
        raise PermissionDenied("Another administrator, not in duress, must lift it.")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user {user_id}.")
    if user.duress_at is None:
        raise Conflict("This account is not in duress.")
    user.duress_at = None
    session.add(user)
    audit_service.record(
        session=session,
        actor_id=actor.user_id,
        action="duress.lifted",
        target_type="user",
        target_id=str(user.id),
    )
    session.flush()
    return user
