"""Cut text into words and fold each word to the key that names are matched on.

Folding makes the spellings one name takes in real testimonies meet: letter case (casefold), Unicode forms
(NFC), stress marks, ё/е, Belarusian and Ukrainian і/ї/ы/и, ў/у, э/є/е, ґ/г, щ/шч, apostrophes inside a word,
the classic Belarusian soft sign before a consonant (Тацьцяна = Таццяна),
Latin diacritics (Ščerba = Scerba, Łukašenka = Lukasenka), and Latin look-alike letters typed inside a
Cyrillic word ("Iлля" with a Latin I) or the reverse. Invisible characters inside a word (soft hyphen,
zero-width space) are skipped, so they cannot split or hide a name.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
_APOSTROPHES = "'’ʼ‘`´ʹ"
_LETTER = rf"(?:[^\W\d_]|[\u0300-\u036f{_INVISIBLE}])"
# A word: letters (with stress marks and invisibles), joined by apostrophes (Belarusian Дар'я, Il'ya).
_WORD = re.compile(rf"{_LETTER}+(?:[{_APOSTROPHES}]{_LETTER}+)*")
_POSSESSIVE = re.compile(rf"[{_APOSTROPHES}][sS]$")
_SOFT_SIGN_BEFORE_CONSONANT = re.compile(r"ь(?=[бвгджзйклмнпрстфхцчшщ])")

_FOLD = {
    "ё": "е",
    "і": "и",
    "ї": "и",
    "ы": "и",
    "ў": "у",
    "э": "е",
    "є": "е",
    "ґ": "г",
    "щ": "шч",
    "ъ": "",
    "ł": "l",
    "đ": "d",
    "ø": "o",
    "ħ": "h",
    **dict.fromkeys(_APOSTROPHES + _INVISIBLE, ""),
}
_FOLD_TABLE = str.maketrans(_FOLD)
_PLAIN = re.compile(r"[\u0000-\u007f\u0400-\u04ff]*")
_HAS_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
_HAS_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN_LOOKALIKES = "ABCEHIKMOPTXYaceiopxyk"
_CYRILLIC_LOOKALIKES = "АВСЕНІКМОРТХУасеіорхук"
_TO_CYRILLIC = str.maketrans(_LATIN_LOOKALIKES, _CYRILLIC_LOOKALIKES)
_TO_LATIN = str.maketrans(_CYRILLIC_LOOKALIKES, _LATIN_LOOKALIKES)


@dataclass(frozen=True)
class Word:
    """One word of a text: its folded key and where it stands in the original."""

    key: str
    start: int
    end: int
    dotted: bool


def _is_cyrillic(ch: str) -> bool:
    return "\u0400" <= ch <= "\u04ff"


def _is_latin(ch: str) -> bool:
    return (ch.isascii() and ch.isalpha()) or "\u00c0" <= ch <= "\u024f" or "\u1e00" <= ch <= "\u1eff"


def _one_script(word: str) -> str:
    """Rewrite look-alike letters of the minority script, so a mixed-keyboard word reads as one script."""
    if not (_HAS_LATIN.search(word) and _HAS_CYRILLIC.search(word)):
        return word
    cyrillic = sum(map(_is_cyrillic, word))
    latin = sum(map(_is_latin, word))
    if not cyrillic or not latin:
        return word
    return word.translate(_TO_CYRILLIC if cyrillic >= latin else _TO_LATIN)


def _strip_marks(ch: str) -> str:
    if unicodedata.combining(ch):
        return ""
    if _is_latin(ch) and not ch.isascii():
        return "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    return ch


def fold(word: str) -> str:
    """Return the matching key of one word (see the module docstring for what it makes equal)."""
    folded = _one_script(unicodedata.normalize("NFC", word)).casefold().translate(_FOLD_TABLE)
    if not _PLAIN.fullmatch(folded):
        folded = "".join(map(_strip_marks, folded))
    # Classic Belarusian spelling marks a consonant softened by the next one: Тацьцяна, Зьміцер, сьнег.
    return _SOFT_SIGN_BEFORE_CONSONANT.sub("", folded)


def words(text: str) -> list[Word]:
    """Cut `text` into words with their keys and places; an English possessive 's is not part of a word."""
    found = []
    for match in _WORD.finditer(text):
        start, end = match.span()
        if _POSSESSIVE.search(match.group()) and _is_latin(text[start]):
            end -= 2
        key = fold(text[start:end])
        if key:
            found.append(Word(key, start, end, text[end : end + 1] == "."))
    return found
