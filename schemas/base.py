"""Base of every wire contract: strict input (unknown fields rejected), bounded NUL-free text, cursor pages."""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

T = TypeVar("T")


def _clean_text(value: str) -> str:
    """Reject NUL and other C0 controls except tab/newline; normalise to NFC so Cyrillic compares equal."""
    for ch in value:
        if ch == "\x00":
            raise ValueError("must not contain NUL characters")
        if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r":
            raise ValueError(f"must not contain control character U+{ord(ch):04X}")
    return unicodedata.normalize("NFC", value)


def _iso_date_only(value: object) -> object:
    """Accept dates only as ISO strings (pydantic would also read 0 as 1970-01-01)."""
    if isinstance(value, (str, date)):
        return value
    raise ValueError("give the date as a string, YYYY-MM-DD")


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]


def _clean_line(value: str) -> str:
    value = _clean_text(value)
    if "\n" in value or "\r" in value:
        raise ValueError("must be a single line")
    return value


# The rules below also appear as JSON Schema patterns, so the OpenAPI document says what the server accepts:
# no C0/C1 control characters (tab and line breaks allowed in multi-line text), one visible character in a line.
_LINE_CHAR = r"[^\x00-\x1f\x7f-\x9f]"
_TEXT_CHAR = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
LINE_PATTERN = rf"^{_LINE_CHAR}*[^\s\x00-\x1f\x7f-\x9f]{_LINE_CHAR}*$"
TEXT_PATTERN = rf"^{_TEXT_CHAR}*$"


def _line(max_length: int) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length, pattern=LINE_PATTERN)


# Single-line strings (names, titles, places) and multi-line text (summaries, narratives, testimony).
Name = Annotated[str, _line(200), AfterValidator(_clean_line)]
Title = Annotated[str, _line(500), AfterValidator(_clean_line)]
ShortText = Annotated[
    str, StringConstraints(max_length=2_000, pattern=TEXT_PATTERN), AfterValidator(_clean_text)
]
LongText = Annotated[
    str, StringConstraints(max_length=200_000, pattern=TEXT_PATTERN), AfterValidator(_clean_text)
]
Tag = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, min_length=1, max_length=64, pattern=LINE_PATTERN
    ),
    AfterValidator(_clean_line),
]
# A search string in a query parameter: one line, no control characters (PostgreSQL cannot even compare a NUL).
QueryText = Annotated[str, StringConstraints(max_length=200), AfterValidator(_clean_line)]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$", max_length=16)]
CountryCode = Annotated[str, StringConstraints(to_upper=True, pattern=r"^[A-Za-z]{2}$")]


class Schema(BaseModel):
    """Input and output contract base: unknown fields are rejected, attributes readable from ORM rows."""

    model_config = ConfigDict(extra="forbid", from_attributes=True, populate_by_name=True)


class Page(Schema, Generic[T]):
    """One page of a list, in a stable order, with the total and an opaque cursor for the next page."""

    items: list[T]
    total: int = Field(
        description="Number of records matching the query, over all pages; when total_exact is false, there are more."
    )
    total_exact: bool = Field(
        default=True,
        description="False when counting stopped at `total` (a search with many matches; ask exact_total=true).",
    )
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` to get the next page; null at the end."
    )
