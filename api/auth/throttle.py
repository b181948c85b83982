"""Sign-in throttling that slows a guesser without letting them lock anyone else out.

Failures count, inside a window and since the last success:

* per device: a browser or script that signed in to the account before (it shows the device token it was
  given, OWASP "device cookies") counts only its own failures, so nobody else's guessing slows it;
* per (account, address), for every other client;
* per account, for every other client, from all addresses together (a higher limit: a spread-out guess);
* per address across accounts, only for accounts that have not signed in from that address lately, so a
  Tor exit or a shared office full of guessers does not stop the people who work there.

Keys are keyed hashes (api.auth.security.keyed_hash): neither usernames nor addresses are stored in clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from api.auth.clients import ClientInfo
from api.auth.security import keyed_hash
from api.config import Settings
from api.models import LoginAttempt
from api.models.base import utcnow

MAX_BACKOFF_SECONDS = 15 * 60
#: An account that signed in from an address this recently is "known" there (the per-address rule spares it).
KNOWN_ADDRESS_DAYS = 30
#: A device token counts as this account's for this long after its last successful sign-in.
TRUSTED_DEVICE_DAYS = 365


@dataclass(frozen=True)
class AttemptKeys:
    """The keyed hashes one sign-in attempt is counted under."""

    account: str
    client: str
    device: str | None  # of the device token the client showed, trusted or not


def attempt_keys(*, secret: bytes, username: str, client: ClientInfo) -> AttemptKeys:
    """Hash the account, the address and the device token (bound to the account) of an attempt."""
    device = None
    if client.device_token:
        device = keyed_hash(secret, "login-device", f"{username}\x00{client.device_token}")
    return AttemptKeys(
        account=keyed_hash(secret, "login-account", username),
        client=keyed_hash(secret, "login-client", client.address),
        device=device,
    )


def device_key_for(*, secret: bytes, username: str, device_token: str) -> str:
    """The key a device token is recorded under for one account."""
    return keyed_hash(secret, "login-device", f"{username}\x00{device_token}")


def is_trusted_device(*, session: Session, keys: AttemptKeys) -> bool:
    """True when the device token shown signed in to this account within TRUSTED_DEVICE_DAYS."""
    if keys.device is None:
        return False
    found = session.exec(
        select(LoginAttempt.id).where(
            col(LoginAttempt.device_key) == keys.device,
            col(LoginAttempt.account_key) == keys.account,
            col(LoginAttempt.success).is_(True),
            col(LoginAttempt.at) > utcnow() - timedelta(days=TRUSTED_DEVICE_DAYS),
        )
    ).first()
    return found is not None


def wait_seconds(*, session: Session, settings: Settings, keys: AttemptKeys, trusted: bool) -> int:
    """Seconds this attempt must wait (0 = go ahead)."""
    window = settings.login_window_seconds
    if trusted:
        device = col(LoginAttempt.device_key) == keys.device
        return _retry_after(session, [device], [device], settings.login_max_failures, window)
    account = col(LoginAttempt.account_key) == keys.account
    address = col(LoginAttempt.client_key) == keys.client
    untrusted = col(LoginAttempt.device_key).is_(None)
    waits = [
        _retry_after(session, [account, address], [account, address], settings.login_max_failures, window),
        _retry_after(session, [account, untrusted], [account], settings.login_account_max_failures, window),
    ]
    if not _signed_in_from_here(session, keys):
        waits.append(_retry_after(session, [address], [address], settings.login_ip_max_failures, window))
    return max(waits)


def record(*, session: Session, keys: AttemptKeys, success: bool, device_key: str | None) -> None:
    """Add one attempt; `device_key` only for a trusted device's failure or any success (its new token)."""
    session.add(
        LoginAttempt(account_key=keys.account, client_key=keys.client, success=success, device_key=device_key)
    )


def _signed_in_from_here(session: Session, keys: AttemptKeys) -> bool:
    since = utcnow() - timedelta(days=KNOWN_ADDRESS_DAYS)
    found = session.exec(
        select(LoginAttempt.id).where(
            col(LoginAttempt.account_key) == keys.account,
            col(LoginAttempt.client_key) == keys.client,
            col(LoginAttempt.success).is_(True),
            col(LoginAttempt.at) > since,
        )
    ).first()
    return found is not None


def _retry_after(
    session: Session,
    failures_where: list[sa.ColumnElement[bool]],
    success_where: list[sa.ColumnElement[bool]],
    limit: int,
    window: int,
) -> int:
    """Seconds to wait, from the failures since the last success inside the window (0 = go ahead)."""
    since = utcnow() - timedelta(seconds=window)
    last_success = session.exec(
        select(sa.func.max(LoginAttempt.at)).where(*success_where, col(LoginAttempt.success).is_(True))
    ).one()
    if last_success is not None and last_success > since:
        since = last_success
    row: Any = session.exec(
        select(sa.func.count(), sa.func.max(LoginAttempt.at)).where(
            *failures_where, col(LoginAttempt.success).is_(False), col(LoginAttempt.at) > since
        )
    ).one()
    failures, last_failure = row
    if failures < limit or last_failure is None:
        return 0
    backoff = min(MAX_BACKOFF_SECONDS, 2 ** min(failures - limit, 12))
    wait = (last_failure + timedelta(seconds=backoff) - utcnow()).total_seconds()
    return max(0, int(wait + 0.999))
