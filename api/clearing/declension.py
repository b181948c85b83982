"""Belarusian, Ukrainian and Russian case forms of a name by its ending, and spelling between Russian and Belarusian.

No Belarusian morphological dictionary is installable from PyPI (lemmatizer-be downloads its data at run
time and only lemmatises; belarusian-verse ships no grammar data), and pymorphy3's Ukrainian dictionary
declines Belarusian spellings the Ukrainian way (Шчэрба -> Шчэрби, Шчэрбою). So these are rules, written
for names only: from a nominative they give the singular forms of all six cases (and the vocative) in the
three languages at once (Шчэрба -> Шчэрбы, Шчэрбе, Шчэрбу, Шчэрбам, Шчэрбай, Щерби, Шчэрбою ...). They
over-generate on purpose: a form nobody writes costs nothing, a form missed leaks a name.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import combinations

_VOWELS = "аеёиоуыэюяіїє"
_HARD_SIBILANTS = "жшчщцр"
_SOFT_VOWELS = "еёиюяіь"
_VELAR_SHIFT = {"г": "з", "к": "ц", "х": "с"}

# Endings added to the stem (the word less its nominative ending), by declension.
_HARD_CONSONANT = ("", "а", "у", "ам", "ом", "ем", "е", "і", "ові", "еві", "ы")
_SOFT_CONSONANT = ("я", "ю", "ем", "ём", "е", "і", "и", "еві", "ю")
_HARD_A = ("а", "ы", "и", "і", "е", "у", "ой", "ою", "ай", "аю", "ам", "ом", "ей", "ею", "о")
_SOFT_A = ("я", "і", "и", "ї", "е", "ю", "ей", "ею", "ёй", "ёю", "яй", "яю", "ям", "ём", "ем", "є", "єю")
_O = ("о", "а", "у", "ові", "ом", "ам", "і", "е")
_ADJ_MASC = ("і", "ы", "ий", "ій", "ый", "ой", "ага", "ого", "ога", "аму", "ому", "ім", "им", "ым", "ом")
_ADJ_FEM = ("ая", "а", "ой", "ою", "ай", "аю", "ую", "у", "ей", "ій", "ої", "ою")
_POSSESSIVE = ("", "а", "у", "ым", "им", "ом", "е", "і", "ой", "ою", "ай", "аю", "ої", "ій")

_ADJECTIVAL = re.compile(r"(ск|цк|зк|ськ|цьк)(і|ий|ій|ой|ая|а)$|(ый|ий|ой|ая)$")
_POSSESSIVE_END = re.compile(r"(ов|ев|ёв|оў|еў|ёў|аў|ин|ын|ін|ав|ова|ева|ёва|ава|ина|ына|іна)$")


def _adjectival_stem(word: str) -> str | None:
    match = _ADJECTIVAL.search(word)
    if match is None or len(word) < 5:
        return None
    ending = match.group(2) or match.group(3)
    return word[: len(word) - len(ending)]


def _fleeting(stem: str) -> set[str]:
    """Stems with the fleeting vowel dropped (Карпец -> Карпц-, Павел -> Павл-/Паўл-, Пётр -> Пятр-)."""
    stems = {stem}
    drops = "цклнр" if len(stem) > 4 else "цклнрв"
    if len(stem) >= 4 and stem[-2] in "еёоэ" and stem[-1] in drops and stem[-3] not in _VOWELS:
        dropped = stem[:-2] + stem[-1]
        stems |= {dropped, dropped[:-2] + "ў" + dropped[-1]} if dropped[-2] == "в" else {dropped}
        # Belarusian ц/дз before е are a softened т/д, hard again when the е drops: Зміцер -> Змітра.
        if dropped[-2] == "ц":
            stems.add(dropped[:-2] + "т" + dropped[-1])
        elif dropped[-3:-1] == "дз":
            stems.add(dropped[:-3] + "д" + dropped[-1])
    if sum(ch in _VOWELS for ch in stem) == 1:
        # A stressed ё of a one-syllable name moves off in the other cases: Пётр -> Пятра (be), Петра (ru).
        stems |= {s.replace("ё", "я") for s in stems} | {s.replace("ё", "е") for s in stems}
    return stems


def _consonant_forms(word: str) -> set[str]:
    if word.endswith(("ь", "й")):
        forms = {s + e for s in _fleeting(word[:-1]) for e in (*_SOFT_CONSONANT, word[-1])}
        if word.endswith("ей") and len(word) > 4 and word[-3] not in _VOWELS:
            # The е of -ей drops and the й softens the consonant: Верабей -> Вераб'я, Воробей -> Воробья.
            forms |= {word[:-2] + sign + e for sign in ("ь", "'") for e in _SOFT_CONSONANT}
        return forms
    if word.endswith("ў"):
        return {word} | {s + e for s in _fleeting(word[:-1] + "в") for e in _HARD_CONSONANT if e}
    return {word} | {s + e for s in _fleeting(word) for e in _HARD_CONSONANT if e}


def _a_forms(word: str) -> set[str]:
    stem = word[:-1]
    if word.endswith("я") or (word.endswith("а") and stem[-1:] in "йь"):
        return {stem + e for e in _SOFT_A}
    forms = {stem + e for e in _HARD_A}
    if stem[-1:] in _VELAR_SHIFT:
        shifted = stem[:-1] + _VELAR_SHIFT[stem[-1]]
        forms |= {shifted + e for e in ("е", "э", "ы", "і")}
    return forms


def _possessive_forms(word: str) -> set[str]:
    """Surnames in -оў/-ов/-ін/-ова/-іна ...: both genders (Кавалёў, Кавалёва, Кавалёвай, Кавалёвым)."""
    stem = word[:-1] if word.endswith("а") else word
    stem = stem[:-1] + "в" if stem.endswith("ў") else stem
    forms = {stem + e for e in _POSSESSIVE}
    if stem.endswith("в"):
        forms.add(stem[:-1] + "ў")
    return forms


@lru_cache(maxsize=65536)
def case_forms(word: str, *, surname: bool) -> frozenset[str]:
    """Lower-case singular case forms of a nominative name, in Belarusian, Ukrainian and Russian spelling."""
    w = word.lower()
    forms = {w}
    if surname and (stem := _adjectival_stem(w)) is not None:
        return frozenset({w} | {stem + e for e in (*_ADJ_MASC, *_ADJ_FEM)})
    if surname and _POSSESSIVE_END.search(w):
        forms |= _possessive_forms(w)
    last = w[-1:]
    if last in ("а", "я"):
        forms |= _a_forms(w)
    elif last == "о":
        forms |= {w[:-1] + e for e in _O}
    elif last and last not in _VOWELS:
        forms |= _consonant_forms(w)
    return frozenset(f for f in forms if len(f) > 1)


# ---- spelling between Russian and Belarusian -----------------------------------------------------------------

_RU_TO_BE_ENDINGS = (("ский", "скі"), ("цкий", "цкі"), ("ов", "оў"), ("ев", "еў"), ("ёв", "ёў"))
_BE_TO_RU_ENDINGS = (("скі", "ский"), ("цкі", "цкий"), ("оў", "ов"), ("еў", "ев"), ("ёў", "ёв"), ("аў", "ов"))


def _replace_ending(word: str, pairs: tuple[tuple[str, str], ...]) -> str:
    for old, new in pairs:
        if word.endswith(old):
            return word[: -len(old)] + new
    return word


def _belarusian_letters(word: str) -> str:
    out: list[str] = []
    for i, ch in enumerate(word):
        nxt = word[i + 1 : i + 2]
        prev = word[i - 1] if i else ""
        if ch in "тд" and nxt and nxt in _SOFT_VOWELS:
            out.append("ц" if ch == "т" else "дз")
        elif ch == "и":
            out.append("ы" if prev in _HARD_SIBILANTS else "і")
        elif ch == "е" and prev in _HARD_SIBILANTS:
            out.append("э")
        elif ch == "в" and prev in _VOWELS and nxt and nxt not in _VOWELS + "ь":
            out.append("ў")
        else:
            out.append({"щ": "шч", "ъ": "'"}.get(ch, ch))
    return "".join(out)


def to_belarusian(word: str) -> set[str]:
    """Belarusian spellings of a Russian surname; stress is unknown, so every place of the stressed о is tried."""
    w = _belarusian_letters(_replace_ending(word.lower(), _RU_TO_BE_ENDINGS))
    places = [i for i, ch in enumerate(w) if ch == "о"]
    akanye = "".join("а" if ch == "о" else ch for ch in w)
    if "ё" in w or not places:
        return {akanye}
    return {akanye} | {akanye[:i] + "о" + akanye[i + 1 :] for i in places}


def _russian_letters(word: str) -> str:
    w = word.replace("шч", "щ").replace("'", "ь").replace("’", "ь").replace("ў", "в").replace("э", "е")
    return re.sub(r"(?<=[жшч])ы", "и", w).replace("і", "и")


def to_russian(word: str) -> set[str]:
    """Candidate Russian spellings of a Belarusian name: the letters mapped, then а/о, я/е, ц/т, дз/д undone."""
    w = _russian_letters(_replace_ending(word.lower(), _BE_TO_RU_ENDINGS))
    spots = [
        i for i, ch in enumerate(w) if ch in "ая" or (ch == "ц" and w[i + 1 : i + 2] in ("и", "е", "ь", "я"))
    ]
    spots = spots[:6]
    candidates = {w}
    for n in range(1, len(spots) + 1):
        for chosen in combinations(spots, n):
            letters = list(w)
            for i in chosen:
                letters[i] = {"а": "о", "я": "е", "ц": "т"}[w[i]]
            candidates.add("".join(letters))
    return {c.replace("дзь", "дь").replace("дзе", "де").replace("дзи", "ди") for c in candidates} | candidates
