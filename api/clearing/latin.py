"""Latin spellings of a Cyrillic name, the ways passports, the press and Belarusians themselves write it.

Russian spellings go through every scheme of `iuliia` (BGN/PCGN, ISO 9 / GOST 7.79, ICAO Doc 9303 and the
older Russian passport rules, Library of Congress, the French passport rules, Wikipedia's ...). Belarusian
spellings go through `latynkatar` (Łacinka, modern Ščerba and classic Szczerba) and three tables kept here,
as no maintained package implements them: the Belarusian national romanisation (2007, adopted by the UN in
2012: Ščerba, Karpiec), BGN/PCGN 1979 for Belarusian (Shcherba, Karpyets) and Belarusian passport practice
(Shcherba, Karpets, Siarhei). German and Polish press spellings of Russian names (Schtscherba, Szczerba) are
two more small tables. Each table maps a letter, and е ё ю я by whether a consonant precedes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import iuliia
import latynkatar

_VOWELS = "аеёиоуыэюяіїє"
_NOT_CONSONANT = _VOWELS + "ьъйў'’"


@dataclass(frozen=True)
class _Table:
    letters: dict[str, str]
    iotated: dict[str, tuple[str, str]]  # letter -> (after a consonant, elsewhere)


def _table(spec: str, iotated: dict[str, tuple[str, str]]) -> _Table:
    letters = dict(pair.split("=", 1) for pair in spec.split())
    return _Table({k: ("" if v == "-" else v) for k, v in letters.items()}, iotated)


_BE_COMMON = "а=a б=b в=v г=h ґ=g д=d з=z і=i к=k л=l м=m н=n о=o п=p р=r с=s т=t у=u ф=f ы=y ь=- э=e '=- ’=-"
_BE_NATIONAL = _table(
    _BE_COMMON + " ж=ž й=j ў=ŭ х=ch ц=c ч=č ш=š",
    {"е": ("ie", "je"), "ё": ("io", "jo"), "ю": ("iu", "ju"), "я": ("ia", "ja")},
)
_BE_BGN = _table(
    _BE_COMMON + " ж=zh й=y ў=w х=kh ц=ts ч=ch ш=sh",
    {"е": ("e", "ye"), "ё": ("ë", "yë"), "ю": ("yu", "yu"), "я": ("ya", "ya")},
)
_BE_PASSPORT = _table(
    _BE_COMMON + " ж=zh й=i ў=u х=kh ц=ts ч=ch ш=sh",
    {"е": ("e", "ye"), "ё": ("io", "yo"), "ю": ("iu", "yu"), "я": ("ia", "ya")},
)
_RU_COMMON = "а=a б=b г=g д=d з=z и=i к=k л=l м=m н=n о=o п=p р=r т=t у=u ф=f ъ=- ы=y ь=- э=e"
_RU_GERMAN = _table(
    _RU_COMMON + " в=w ж=sch й=i с=s х=ch ц=z ч=tsch ш=sch щ=schtsch",
    {"е": ("e", "je"), "ё": ("jo", "jo"), "ю": ("ju", "ju"), "я": ("ja", "ja")},
)
_RU_POLISH = _table(
    _RU_COMMON + " в=w ж=ż й=j с=s х=ch ц=c ч=cz ш=sz щ=szcz",
    {"е": ("ie", "je"), "ё": ("io", "jo"), "ю": ("iu", "ju"), "я": ("ia", "ja")},
)
_BELARUSIAN_TABLES = (_BE_NATIONAL, _BE_BGN, _BE_PASSPORT)
_RUSSIAN_TABLES = (_RU_GERMAN, _RU_POLISH)
_IULIIA = tuple(
    getattr(iuliia, name)
    for name in (
        "ALA_LC", "ALA_LC_ALT", "BGN_PCGN", "BGN_PCGN_ALT", "BS_2979", "BS_2979_ALT", "GOST_16876", "GOST_7034",
        "GOST_779", "GOST_779_ALT", "ICAO_DOC_9303", "ISO_9_1954", "ISO_9_1968", "ISO_9_1968_ALT", "MOSMETRO",
        "MVD_310", "MVD_310_FR", "MVD_782", "SCIENTIFIC", "TELEGRAM", "UNGEGN_1987", "WIKIPEDIA", "YANDEX_MAPS",
    )
)  # fmt: skip
# How the -ий/-ый/-ій of a given name ends in Latin, in one scheme or another (Yuriy, Yurii, Yuri, Yury, Jurij).
_DOUBLED = re.compile(r"(ts|ch|sh|zh|kh|[a-z])\1", re.IGNORECASE)
_Y_ENDINGS = ("iy", "yy", "ii", "ij", "yj", "yi", "iĭ", "y", "i")


def _romanise(word: str, table: _Table) -> str | None:
    out = []
    for i, ch in enumerate(word):
        if ch in table.iotated:
            after_consonant = i > 0 and word[i - 1] not in _NOT_CONSONANT
            out.append(table.iotated[ch][0 if after_consonant else 1])
        elif ch in table.letters:
            out.append(table.letters[ch])
        else:
            return None
    return "".join(out)


def _is_belarusian(word: str) -> bool:
    return any(ch in "іўэ'’" for ch in word) or "шч" in word or "дз" in word


def _y_variants(forms: set[str], word: str) -> set[str]:
    if not word.endswith(("ий", "ый", "ій", "і", "ы")):
        return forms
    out = set(forms)
    for form in forms:
        low = form.lower()
        ending = next((e for e in _Y_ENDINGS if low.endswith(e)), None)
        if ending is not None:
            out |= {form[: len(form) - len(ending)] + e for e in (*_Y_ENDINGS[:-3], "y", "i")}
    return out


@lru_cache(maxsize=65536)
def latin_forms(word: str, *, inflected: bool = False) -> frozenset[str]:
    """Latin spellings of one Cyrillic word; an inflected (oblique) form gets only Łacinka, where words decline."""
    w = word.lower()
    forms: set[str] = set()
    if _is_belarusian(w) or not inflected:
        forms |= {latynkatar.CyrLatConverter(w).convert(old_rules=old) for old in (False, True)}
    if inflected:
        return frozenset(f for f in forms if f.isascii() or not any("\u0400" <= c <= "\u04ff" for c in f))
    tables = _BELARUSIAN_TABLES + (() if _is_belarusian(w) else _RUSSIAN_TABLES)
    forms |= {f for table in tables if (f := _romanise(w, table)) is not None}
    if not _is_belarusian(w):
        for spelling in {w, w.replace("ё", "е")}:
            forms |= {schema.translate(spelling.capitalize()) for schema in _IULIIA}
    forms = {f for f in forms if not any("\u0400" <= c <= "\u04ff" for c in f)}
    # Doubled consonants are often written once: Таццяна -> Tatsiana, Наталля -> Natalia.
    forms |= {_DOUBLED.sub(r"\1", f) for f in forms}
    return frozenset(_y_variants(forms, w))
