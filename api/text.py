"""Text helpers shared by search code."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Return the case-insensitive search key of `text` (NFKC + casefold: works for Cyrillic and Latin)."""
    return unicodedata.normalize("NFKC", text).casefold()
