"""Helpers for account tests: a phone that reads the secret, sign-ins through the API."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from api.auth import totp
from tests.conftest import PASSWORD, Account
from tests.factories import API, ok


class Phone:
    """An authenticator app: it reads the otpauth URI and shows the code of any moment."""

    def __init__(self, otpauth_uri: str) -> None:
        query = parse_qs(urlsplit(otpauth_uri).query)
        self.secret = query["secret"][0]

    def code(self, *, steps: int = 0) -> str:
        return totp.code_at(self.secret, time.time() + steps * totp.STEP_SECONDS)


def token_for(
    client: TestClient,
    username: str,
    password: str = PASSWORD,
    *,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> Any:
    """POST /auth/token as the OAuth2 password form."""
    return client.post(
        f"{API}/auth/token", data={"username": username, "password": password, **fields}, headers=headers
    )


def enrol(client: TestClient, who: Account) -> tuple[Phone, list[str]]:
    """Turn TOTP on for `who` through the API; return their phone and recovery codes."""
    started = ok(client.post(f"{API}/auth/2fa/totp", headers=who.headers))
    phone = Phone(started["otpauth_uri"])
    codes = ok(client.post(f"{API}/auth/2fa/totp/confirm", json={"code": phone.code()}, headers=who.headers))
    return phone, codes["recovery_codes"]
