"""Russian names through pymorphy3 and the OpenCorpora dictionary: case forms, gender, and common words.

The dictionary knows tens of thousands of given names, patronymics and surnames with their paradigms
(Ковалёв: both genders, Лукашенко: indeclinable) and guesses unknown ones by analogy (Карпец -> Карпца).
It also tells a name from the common word it coincides with (the surname Жук and жук, a beetle).
"""

from __future__ import annotations

from functools import cache, lru_cache

import pymorphy3

CASES = ("nomn", "gent", "datv", "accs", "ablt", "loct")
_NAME_TAGS = frozenset({"Name", "Surn", "Patr"})
_PROPER_TAGS = _NAME_TAGS | {"Geox", "Orgn", "Trad", "Abbr", "Init"}
_VERB_FORMS = frozenset({"VERB", "INFN", "GRND", "PRTF", "PRTS"})
_ROLE_TAG = {"given": "Name", "surname": "Surn", "patronymic": "Patr"}


@cache
def _morph() -> pymorphy3.MorphAnalyzer:
    return pymorphy3.MorphAnalyzer(lang="ru")


def _nominatives(word: str) -> list[pymorphy3.analyzer.Parse]:
    return [
        p
        for p in _morph().parse(word)
        if p.tag.POS in ("NOUN", "ADJF") and p.tag.case == "nomn" and p.tag.number != "plur"
    ]


@lru_cache(maxsize=65536)
def russian_forms(word: str, role: str) -> frozenset[str]:
    """Lower-case singular forms of the six cases, both genders for a surname; empty if no reading fits."""
    parses = _nominatives(word.lower())
    tag = _ROLE_TAG[role]
    chosen = [p for p in parses if tag in p.tag.grammemes] or [
        p for p in parses if not (p.tag.grammemes & _NAME_TAGS) and (not p.is_known or role == "surname")
    ][:2]  # an unknown word's readings by analogy differ little: the two likeliest are enough
    forms: set[str] = set()
    for parse in chosen:
        genders: tuple[frozenset[str], ...] = (frozenset(),)
        if "Surn" in parse.tag.grammemes:
            genders = (frozenset({"masc"}), frozenset({"femn"}))
        for case in CASES:
            for gender in genders:
                form = parse.inflect({case, "sing"} | gender)
                if form is not None:
                    forms.add(form.word)
    return frozenset(forms)


@lru_cache(maxsize=65536)
def common_word(word: str) -> str | None:
    """The dictionary word (lemma) that `word` also spells when it is not a name, else None."""
    if not _morph().word_is_known(word.lower()):
        return None  # a cheap look-up first: most name forms (Карпца) are no dictionary word at all
    for parse in _morph().parse(word.lower()):
        # Verb forms that spell a name (катя, a gerund of катить) are too rare in a text to worry a reviewer.
        proper = parse.tag.grammemes & _PROPER_TAGS
        if parse.is_known and parse.score >= 0.05 and not proper and parse.tag.POS not in _VERB_FORMS:
            return str(parse.normal_form)
    return None


@lru_cache(maxsize=16384)
def common_lemma(word: str) -> str | None:
    """`word` itself when the dictionary knows it as the nominative of a common word (коваль, мороз), else None."""
    w = word.lower()
    if not _morph().word_is_known(w):
        return None
    for parse in _nominatives(w):
        if parse.is_known and parse.normal_form == w and not (parse.tag.grammemes & _PROPER_TAGS):
            return w
    return None


@lru_cache(maxsize=16384)
def known_name(word: str, role: str) -> bool:
    """Whether the dictionary knows `word` as a nominative name of this role (Name, Surn or Patr)."""
    tag = _ROLE_TAG[role]
    w = word.lower()
    return _morph().word_is_known(w) and any(p.is_known and tag in p.tag.grammemes for p in _nominatives(w))


@lru_cache(maxsize=16384)
def name_gender(word: str) -> str | None:
    """'m' or 'f' when the dictionary knows `word` as a given name or patronymic of one gender."""
    genders = {
        p.tag.gender for p in _nominatives(word.lower()) if p.is_known and p.tag.grammemes & {"Name", "Patr"}
    }
    if genders == {"masc"}:
        return "m"
    if genders == {"femn"}:
        return "f"
    return None
