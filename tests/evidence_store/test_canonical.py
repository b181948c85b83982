"""Canonical JSON: the integer-only subset of RFC 8785 (JCS), byte for byte."""

from __future__ import annotations

import enum
import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidence_store.canonical import MAX_SAFE_INTEGER, CanonicalEncodingError, canonical_json


def test_keys_are_sorted_and_separators_compact() -> None:
    assert canonical_json({"b": [1, 2, {"z": None, "a": True}], "a": "x"}) == (
        b'{"a":"x","b":[1,2,{"a":true,"z":null}]}'
    )


def test_non_ascii_is_kept_as_utf8() -> None:
    encoded = canonical_json({"профсоюз": "Беларускі кангрэс"})
    assert encoded == '{"профсоюз":"Беларускі кангрэс"}'.encode()


def test_keys_sort_by_utf16_code_units_as_rfc8785_example() -> None:
    # RFC 8785 §3.2.3 sorting example: the emoji (a surrogate pair, D83D...) sorts before U+FB33.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    order = list(json.loads(canonical_json(value)).values())
    assert order == [
        "Carriage Return",
        "One",
        "Control",
        "Latin Small Letter O With Diaeresis",
        "Euro Sign",
        "Emoji: Grinning Face",
        "Hebrew Letter Dalet With Dagesh",
    ]


def test_string_escapes_follow_rfc8785() -> None:
    # RFC 8785 §3.2.2.2 example input "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/".
    text = "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/"
    assert canonical_json(text) == '"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"'.encode()


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, b"0"),
        (-1, b"-1"),
        (MAX_SAFE_INTEGER, b"9007199254740991"),
        (-MAX_SAFE_INTEGER, b"-9007199254740991"),
        (True, b"true"),
        (False, b"false"),
        (None, b"null"),
        ((1, "a"), b'[1,"a"]'),
        ("", b'""'),
        ({}, b"{}"),
        ([], b"[]"),
    ],
)
def test_scalars_and_arrays(value: Any, encoded: bytes) -> None:
    assert canonical_json(value) == encoded


def test_int_enum_encodes_as_its_number() -> None:
    class Level(enum.IntEnum):
        HIGH = 3

    assert canonical_json({"level": Level.HIGH}) == b'{"level":3}'


@pytest.mark.parametrize("value", [1.0, 0.5, math.nan, math.inf, -math.inf])
def test_floats_are_refused(value: float) -> None:
    with pytest.raises(CanonicalEncodingError, match="floats are not accepted"):
        canonical_json({"amount": value})


@pytest.mark.parametrize("value", [MAX_SAFE_INTEGER + 1, -MAX_SAFE_INTEGER - 1, 10**30])
def test_integers_beyond_double_precision_are_refused(value: int) -> None:
    with pytest.raises(CanonicalEncodingError, match="outside"):
        canonical_json(value)


@pytest.mark.parametrize("value", [{1: "x"}, {None: "x"}, b"bytes", {1, 2}, object()])
def test_values_without_json_form_are_refused(value: Any) -> None:
    with pytest.raises(CanonicalEncodingError):
        canonical_json(value)


def test_lone_surrogate_is_refused() -> None:
    with pytest.raises(CanonicalEncodingError, match="surrogate"):
        canonical_json({"k": "\ud800"})


def test_error_names_the_location_of_the_bad_value() -> None:
    with pytest.raises(CanonicalEncodingError, match=r"\$\.items\[1\]\.price"):
        canonical_json({"items": [{}, {"price": 1.5}]})


def test_error_is_also_a_value_error() -> None:
    with pytest.raises(ValueError, match="floats"):
        canonical_json(1.5)


_bmp_keys = st.text(alphabet=st.characters(max_codepoint=0xD7FF), max_size=8)
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_bmp_keys, children, max_size=4),
    max_leaves=20,
)


@given(_json_values)
def test_matches_sorted_compact_stdlib_json_for_bmp_keys(value: Any) -> None:
    # Below U+D800 code-point order equals UTF-16 order, so the stdlib's sort_keys agrees with JCS.
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert canonical_json(value) == expected


@given(_json_values)
def test_round_trips_through_a_json_parser(value: Any) -> None:
    assert json.loads(canonical_json(value)) == value
