"""Base of every wire contract: strict input (unknown fields rejected), bounded NUL-free text, cursor pages."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

T = TypeVar("T")


def _clean_text(value: str) -> str:
    """Reject NUL and other C0 controls except tab/newline; normalise to NFC so Cyrillic compares equal."""
    for ch in value:
        if ch == "\x00":
            raise ValueError("must not contain NUL characters")
        if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r":
            raise ValueError(f"must not contain control character U+{ord(ch):04X}")
    return unicodedata.normalize("NFC", value)


def _clean_line(value: str) -> str:
    value = _clean_text(value)
    if "\n" in value or "\r" in value:
        raise ValueError("must be a single line")
    return value


# Single-line strings (names, titles, places) and multi-line text (summaries, narratives, testimony).
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_clean_line)
]
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), AfterValidator(_clean_line)
]
ShortText = Annotated[str, StringConstraints(max_length=2_000), AfterValidator(_clean_text)]
LongText = Annotated[str, StringConstraints(max_length=200_000), AfterValidator(_clean_text)]
Tag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64),
    AfterValidator(_clean_line),
]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$", max_length=16)]
CountryCode = Annotated[str, StringConstraints(to_upper=True, pattern=r"^[A-Za-z]{2}$")]


class Schema(BaseModel):
    """Input and output contract base: unknown fields are rejected, attributes readable from ORM rows."""

    model_config = ConfigDict(extra="forbid", from_attributes=True, populate_by_name=True)


class Page(Schema, Generic[T]):
    """One page of a list, in a stable order, with the total and an opaque cursor for the next page."""

    items: list[T]
    total: int = Field(description="Number of records matching the query, over all pages.")
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` to get the next page; null at the end."
    )
