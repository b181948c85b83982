"""Opaque keyset cursors: the sort position of the last item, signed so a tampered cursor is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from api.problems import ValidationProblem

_SIG_BYTES = 12


@dataclass(frozen=True)
class Cursor:
    kind: str
    values: list[Any]


def _sign(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, b"cursor\x00" + payload, hashlib.sha256).digest()[:_SIG_BYTES]


def encode_cursor(secret: bytes, cursor: Cursor) -> str:
    """Serialise and sign a cursor."""
    payload = json.dumps([cursor.kind, cursor.values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(_sign(secret, payload) + payload).decode().rstrip("=")


def decode_cursor(secret: bytes, token: str, *, kind: str, field: str = "query.cursor") -> Cursor:
    """Check and parse a cursor made by encode_cursor for the same kind of list, or raise a 422 problem."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        sig, payload = raw[:_SIG_BYTES], raw[_SIG_BYTES:]
        if len(token) > 2048 or not hmac.compare_digest(sig, _sign(secret, payload)):
            raise ValueError("bad signature")
        got_kind, values = json.loads(payload)
        if got_kind != kind or not isinstance(values, list):
            raise ValueError("cursor of another list")
    except (ValueError, TypeError) as exc:
        raise ValidationProblem.single(
            field,
            "invalid cursor: pass back the next_cursor of the previous page unchanged",
            "invalid_cursor",
        ) from exc
    return Cursor(kind=kind, values=values)
