"""Words as the search index sees them: one tokenizer and one case fold for indexing, querying and snippets.

Both databases index the same pre-tokenized text (words case-folded in Python, separated by spaces), so SQLite
FTS5 and PostgreSQL's `simple` configuration match exactly the same words, whatever the database's locale
(PostgreSQL's lower() under the C locale would not fold Cyrillic; SQLite's lower() folds only ASCII).

Sealed texts (testimonies) are indexed by keyed word hashes (`WordSeal`), never by their words: the database
file shows which testimonies share a word, not the word. A query looks for each word in clear in the case
texts and as its hash in the sealed texts. A prefix (`word*`) cannot be hashed, so a query with one searches
the case texts only.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from api.sealing import Sealer

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


#: Letters for the hex digits of a word hash: a hash token is letters only, which both databases' tokenizers
#: keep as one word (a run of digits and letters such as "1e5" could be read as a number by PostgreSQL's).
_HASH_LETTERS = str.maketrans("0123456789abcdef", "abcdefghijklmnop")
_HASH_BYTES = 12  # 96 bits: collisions among a corpus's words are out of reach


class WordSeal:
    """Keyed hashes of folded words (HMAC-SHA256, truncated), for indexing and querying sealed texts."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def token(self, folded_word: str) -> str:
        """The index token of one folded word: "h" and 24 letters, the same for every occurrence."""
        digest = hmac.new(self._key, folded_word.encode(), hashlib.sha256).digest()[:_HASH_BYTES]
        return "h" + digest.hex().translate(_HASH_LETTERS)

    def body(self, texts: Iterable[str | None]) -> str:
        """What the index stores for sealed texts: the tokens of their distinct words, sorted (so neither the
        order of the words nor how often each occurs is kept)."""
        words = {fold(word) for text in texts if text for word in WORD.findall(text)}
        return " ".join(sorted(self.token(word) for word in words))


def word_seal(sealer: Sealer) -> WordSeal:
    """The application's WordSeal: its key derived from the identity key, so a copy of the database without
    the key finds nothing by a name."""
    return WordSeal(sealer.derived_key("precedent search words v1"))


@dataclass(frozen=True)
class Term:
    word: str
    prefix: bool
    # The word's token in sealed texts; None for a prefix, or when no WordSeal was given.
    sealed: str | None = None

    def matches(self, folded_word: str) -> bool:
        return folded_word.startswith(self.word) if self.prefix else folded_word == self.word


def parse_query(q: str, words: WordSeal | None = None) -> list[Term]:
    """Split a search string into folded terms; `word*` is a prefix. Every other character only separates words.

    Operators of either database's query language (quotes, NEAR, AND/OR, parentheses) are read as plain words
    or separators, so a query can only narrow results, never widen them. With `words`, each whole word also
    carries its token in sealed texts.
    """
    terms: list[Term] = []
    for word, star in _QUERY_TERM.findall(q):
        folded = fold(word)[:MAX_TERM_LENGTH]
        sealed = words.token(folded) if words is not None and not star else None
        term = Term(folded, bool(star), sealed)
        if term not in terms:
            terms.append(term)
    return terms[:MAX_TERMS]


def _sealed_tokens(terms: list[Term]) -> list[str] | None:
    tokens = [t.sealed for t in terms]
    return None if None in tokens else [str(t) for t in tokens]


def fts5_query(terms: list[Term]) -> str:
    """Render terms as an FTS5 expression: every term required, each a quoted string (never an operator);
    the words in clear, or all of their tokens (a record holds either words or tokens, never both)."""
    clear = " ".join(f'"{t.word}"' + ("*" if t.prefix else "") for t in terms)
    tokens = _sealed_tokens(terms)
    if tokens is None:
        return clear
    return f"({clear}) OR (" + " ".join(f'"{token}"' for token in tokens) + ")"


def tsquery(terms: list[Term]) -> str:
    """Render terms as a PostgreSQL to_tsquery() string: every term required, `:*` for a prefix; the words
    in clear, or all of their tokens."""
    clear = " & ".join(t.word + (":*" if t.prefix else "") for t in terms)
    tokens = _sealed_tokens(terms)
    if tokens is None:
        return clear
    return f"({clear}) | (" + " & ".join(tokens) + ")"


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
