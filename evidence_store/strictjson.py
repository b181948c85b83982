"""Strict JSON for files a hostile party may have written: one reading, whoever reads it.

UTF-8 only; a member name that appears twice is refused (two readers could each see another value); NaN and
Infinity, which are not JSON, are refused; nesting too deep for the parser is a ValueError, not a crash.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["load_json"]


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build a JSON object, refusing duplicate member names (a reader might see the other value)."""
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate member {key!r}")
        obj[key] = value
    return obj


def _refuse_constant(name: str) -> Any:
    """Refuse NaN and Infinity, which are not JSON."""
    raise ValueError(f"{name} is not valid JSON")


# Built once: json.loads() with options builds a new decoder per call, which dominates on big ledgers.
_DECODER = json.JSONDecoder(object_pairs_hook=_unique_object, parse_constant=_refuse_constant)


def load_json(data: bytes | str) -> Any:
    """Parse strict UTF-8 JSON; raise ValueError on duplicates, NaN, bad encoding or absurd nesting."""
    try:
        return _DECODER.decode(data.decode("utf-8") if isinstance(data, bytes) else data)
    except RecursionError:
        # A crafted file of nested brackets must fail its check, not crash the verifier.
        raise ValueError("JSON nested too deeply") from None
