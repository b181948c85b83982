"""TOTP (RFC 6238, via pyotp): secrets, provisioning URIs, and which time step a code belongs to."""

from __future__ import annotations

import hmac
import time

import pyotp

STEP_SECONDS = 30
DIGITS = 6
#: Steps accepted either side of now: a phone clock a little off, a code typed as it changes.
WINDOW = 1


def new_secret() -> str:
    """Return a fresh base32 secret (160 bits, as RFC 4226 recommends)."""
    return pyotp.random_base32(32)


def provisioning_uri(*, secret: str, username: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=username, issuer_name=issuer
    )


def looks_like_code(value: str) -> bool:
    """True for six digits (spaces ignored): a TOTP code rather than a recovery code."""
    digits = value.replace(" ", "")
    return len(digits) == DIGITS and digits.isascii() and digits.isdigit()


def matching_step(*, secret: str, code: str, at: float | None = None) -> int | None:
    """The time step within the window whose code `code` is, or None; every candidate is compared."""
    code = code.replace(" ", "")
    if not looks_like_code(code):
        return None
    now_step = int((time.time() if at is None else at) // STEP_SECONDS)
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    found = None
    for step in range(now_step - WINDOW, now_step + WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def code_at(secret: str, at: float) -> str:
    """The code of the step `at` falls in (for tests and the enrolment page's self-check)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).at(int(at))
