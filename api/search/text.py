"""Words as the search index sees them: one tokenizer and one case fold for indexing, querying and snippets.

Both databases index the same pre-tokenized text (words case-folded in Python, separated by spaces), so SQLite
FTS5 and PostgreSQL's `simple` configuration match exactly the same words, whatever the database's locale
(PostgreSQL's lower() under the C locale would not fold Cyrillic; SQLite's lower() folds only ASCII).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# A word is a run of letters and digits; apostrophes, hyphens and punctuation separate words.
WORD = re.compile(r"[^\W_]+")
_QUERY_TERM = re.compile(r"([^\W_]+)(\*?)")
MAX_TERMS = 16
MAX_TERM_LENGTH = 64


def fold(text: str) -> str:
    """Case-fold `text` the way the index does (NFC, Unicode case folding, ё read as е)."""
    return unicodedata.normalize("NFC", text).casefold().replace("ё", "е")


def index_body(texts: Iterable[str | None]) -> str:
    """Return the words of `texts`, folded and joined by single spaces: what the index stores."""
    return " ".join(fold(word) for text in texts if text for word in WORD.findall(text))


@dataclass(frozen=True)
class Term:
    word: str
    prefix: bool

    def matches(self, folded_word: str) -> bool:
        return folded_word.startswith(self.word) if self.prefix else folded_word == self.word


def parse_query(q: str) -> list[Term]:
    """Split a search string into folded terms; `word*` is a prefix. Every other character only separates words.

    Operators of either database's query language (quotes, NEAR, AND/OR, parentheses) are read as plain words
    or separators, so a query can only narrow results, never widen them.
    """
    terms: list[Term] = []
    for word, star in _QUERY_TERM.findall(q):
        term = Term(fold(word)[:MAX_TERM_LENGTH], bool(star))
        if term not in terms:
            terms.append(term)
    return terms[:MAX_TERMS]


def fts5_query(terms: list[Term]) -> str:
    """Render terms as an FTS5 expression: every term required, each a quoted string (never an operator)."""
    return " ".join(f'"{t.word}"' + ("*" if t.prefix else "") for t in terms)


def tsquery(terms: list[Term]) -> str:
    """Render terms as a PostgreSQL to_tsquery() string: every term required, `:*` for a prefix."""
    return " & ".join(t.word + (":*" if t.prefix else "") for t in terms)


def snippet(text: str, terms: list[Term], *, width: int = 160) -> str | None:
    """Return an HTML excerpt of `text` around the first matching word, matches in <mark>, or None.

    Everything outside the <mark> tags is HTML-escaped, so the excerpt can be inserted into a page as is.
    """
    spans = [m.span() for m in WORD.finditer(text) if any(t.matches(fold(m.group())) for t in terms)]
    if not spans:
        return None
    first = spans[0][0]
    start = max(0, first - width // 3)
    end = min(len(text), start + width)
    if start > 0:
        space = text.rfind(" ", start - 20, first)
        start = space + 1 if space != -1 and space < first else start
    out: list[str] = ["…" if start > 0 else ""]
    position = start
    for lo, hi in spans:
        if lo < start or hi > end:
            continue
        out += [html.escape(text[position:lo]), "<mark>", html.escape(text[lo:hi]), "</mark>"]
        position = hi
    out.append(html.escape(text[position:end]))
    if end < len(text):
        out.append("…")
    return " ".join("".join(out).split())
