"""Canonical JSON bytes for hashing and signing: the integer-only subset of RFC 8785 (JCS).

``canonical_json(obj)`` returns exactly the bytes RFC 8785 produces for the same value, for every
value this module accepts, so any JCS implementation can rebuild a hashed record by hand:

- objects: members sorted by key, comparing keys as sequences of UTF-16 code units (RFC 8785
  §3.2.3; this differs from code-point order only between U+E000..U+FFFF and astral characters);
- no whitespace: ``,`` and ``:`` separators only;
- strings: UTF-8, non-ASCII kept as is; only ``"``, ``\\`` and U+0000..U+001F are escaped, using
  ``\\b \\t \\n \\f \\r`` where they exist and ``\\u00xx`` (lowercase hex) otherwise (RFC 8785
  §3.2.2.2); a lone surrogate is refused because it has no UTF-8 form;
- ``true``, ``false``, ``null``; arrays from ``list`` or ``tuple``;
- integers in decimal, limited to the range where an IEEE 754 double is exact,
  -(2**53 - 1) .. 2**53 - 1 (I-JSON, RFC 7493 §2.2), because JCS serialises every number as a double.

Floats (including NaN and Infinity) are refused: a custody record carries exact values, so a
fractional quantity belongs in a string such as ``"12.50"``. Keys must be strings.

Errors (all ``EvidenceStoreError``)::

    CanonicalEncodingError        value outside the accepted subset      (also ValueError)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from evidence_store.errors import EvidenceStoreError

__all__ = ["MAX_SAFE_INTEGER", "CanonicalEncodingError", "canonical_json"]

#: Largest integer an IEEE 754 double holds exactly; JCS output beyond it would be lossy.
MAX_SAFE_INTEGER = 2**53 - 1


class CanonicalEncodingError(EvidenceStoreError, ValueError):
    """A value that has no canonical encoding in this subset of RFC 8785."""


def canonical_json(obj: Any) -> bytes:
    """Return the canonical (RFC 8785, integer-only) UTF-8 JSON bytes of ``obj``."""
    parts: list[str] = []
    _encode(obj, parts, "$")
    text = "".join(parts)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalEncodingError(f"string contains a lone surrogate: {exc}") from exc


def _encode(value: Any, parts: list[str], where: str) -> None:
    """Append the canonical text of ``value`` to ``parts``; ``where`` locates it for errors."""
    # bool before int: True is an int in Python but must encode as `true`.
    if value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif isinstance(value, str):
        parts.append(_encode_string(value))
    elif isinstance(value, int):
        parts.append(_encode_int(value, where))
    elif isinstance(value, Mapping):
        _encode_object(value, parts, where)
    elif isinstance(value, list | tuple):
        _encode_array(value, parts, where)
    elif isinstance(value, float):
        raise CanonicalEncodingError(
            f"{where}: floats are not accepted ({value!r}); use an integer or a string"
        )
    else:
        raise CanonicalEncodingError(f"{where}: {type(value).__name__} has no canonical JSON form")


def _encode_string(value: str) -> str:
    """Return the JSON string literal with exactly the RFC 8785 escapes."""
    # With ensure_ascii=False the stdlib escapes exactly `"`, `\` and U+0000..U+001F, using the
    # short forms \b \t \n \f \r and lowercase \u00xx otherwise: the same rule as RFC 8785.
    return json.dumps(value, ensure_ascii=False)


def _encode_int(value: int, where: str) -> str:
    """Return the decimal form of an integer that a double represents exactly."""
    if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        raise CanonicalEncodingError(
            f"{where}: integer {value} is outside ±(2**53 - 1); encode it as a string"
        )
    return str(int(value))  # int() drops IntEnum and other subclasses' custom __str__


def _encode_object(value: Mapping[Any, Any], parts: list[str], where: str) -> None:
    """Append an object with members sorted by the UTF-16 code units of their keys."""
    for key in value:
        if not isinstance(key, str):
            raise CanonicalEncodingError(f"{where}: object key {key!r} is not a string")
    # Big-endian UTF-16 bytes compare exactly like sequences of UTF-16 code units.
    keys = sorted(value, key=lambda k: k.encode("utf-16-be", "surrogatepass"))
    parts.append("{")
    for i, key in enumerate(keys):
        if i:
            parts.append(",")
        parts.append(_encode_string(key))
        parts.append(":")
        _encode(value[key], parts, f"{where}.{key}")
    parts.append("}")


def _encode_array(value: list[Any] | tuple[Any, ...], parts: list[str], where: str) -> None:
    """Append an array, keeping element order."""
    parts.append("[")
    for i, item in enumerate(value):
        if i:
            parts.append(",")
        _encode(item, parts, f"{where}[{i}]")
    parts.append("]")
