"""Sort keys for names in Cyrillic and Latin scripts, without ICU.

PyICU is not available here, and code point order is wrong for Belarusian and Russian: `ё`, `і` and `ў` sit
outside `а..я`, so "Ўладзімір" would sort after "Яўген". The key below approximates the Unicode Collation
Algorithm (CLDR root order with the Belarusian tailoring) at three levels:

1. primary: letters case- and accent-blind, digits before Latin before Cyrillic; Cyrillic letters in the
   order of the Belarusian and Russian alphabets, with `ё` after `е`, `і` after `и`, `й` after `і`,
   `ў` after `у` (as in Belarusian; Russian readers see `ё` beside `е` too);
2. secondary: the accents of Latin letters (`é` after `e`);
3. tertiary: lower case before upper case, then the text itself, so the order is total and stable.

Other scripts follow by code point. Spaces and punctuation are ignored at the first level, so "Ан-на" and
"Анна" sort together.
"""

from __future__ import annotations

import unicodedata

# Cyrillic letters used in Belarusian, Russian and Ukrainian (and the few Serbian/Macedonian ones), in order.
_CYRILLIC = "абвгґдђѓеёєжзѕиіїйјклљмнњопрстћќуўфхцчџшщъыьэюя"
_CYRILLIC_RANK = {letter: rank for rank, letter in enumerate(_CYRILLIC)}
# Letters that are distinct letters in these alphabets, not base letters with an accent.
_KEEP_WHOLE = frozenset("ёйўїґєѓќ")
# Latin letters with a stroke or ligatures, which Unicode does not decompose, spelled as their base letters.
_LATIN_SPELLED = {"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "ŧ": "t", "ı": "i", "æ": "ae", "œ": "oe", "þ": "th"}

_DIGIT, _LATIN, _CYRILLIC_SCRIPT, _OTHER = 0, 1, 2, 3


def _primary(char: str) -> tuple[int, int] | None:
    if char in _CYRILLIC_RANK:
        return (_CYRILLIC_SCRIPT, _CYRILLIC_RANK[char])
    if char.isdigit():
        return (_DIGIT, int(unicodedata.digit(char, 0)))
    if "a" <= char <= "z":
        return (_LATIN, ord(char))
    if char.isalpha():
        return (_OTHER, ord(char))
    return None  # spaces and punctuation: ignored at the first level


def sort_key(text: str) -> tuple[tuple[tuple[int, int], ...], tuple[str, ...], tuple[bool, ...], str]:
    """Return a key that sorts names in Belarusian, Russian and Latin scripts as a reader expects."""
    primary: list[tuple[int, int]] = []
    accents: list[str] = []
    cases: list[bool] = []
    for char in unicodedata.normalize("NFC", text):
        folded = char.casefold()
        if folded in _LATIN_SPELLED:
            base, marks = _LATIN_SPELLED[folded], "\u0338"
        elif folded not in _KEEP_WHOLE and len(folded) == 1:
            decomposed = unicodedata.normalize("NFD", folded)
            base, marks = decomposed[:1], decomposed[1:]
        else:
            base, marks = folded, ""
        for part in base:
            weight = _primary(part)
            if weight is None:
                continue
            primary.append(weight)
            accents.append(marks)
            cases.append(char != folded)
    return tuple(primary), tuple(accents), tuple(cases), text


def sorted_by_name(items: list[str]) -> list[str]:
    """Return names sorted with `sort_key`."""
    return sorted(items, key=sort_key)
