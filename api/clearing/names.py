"""Propose a cleared version of a free text: every form of every recorded person's name, replaced by a pseudonym.

A witness writes "Юрыя Карпца" (Belarusian genitive) about a person recorded as "Карпец Юрий Анатольевич",
"Ю. А. Карпец" in a Russian complaint and "Yury Karpets" in an English report. For each recorded person the
proposer generates the name's forms:

* cases: the six singular cases (and the vocative) of the given name, patronymic and surname, in Russian
  (pymorphy3 and its dictionary, `russian.py`) and in Belarusian and Ukrainian (ending rules, `declension.py`),
  surnames in both genders (Кавалёў / Кавалёва);
* languages: the same given name in Russian, Belarusian and Ukrainian (Ольга / Вольга, `given_names.yaml`),
  surnames respelt between Russian and Belarusian (Ковалёва / Кавалёва), patronymics made from either;
* Latin: passport, BGN/PCGN, ISO 9, Belarusian national and Łacinka, German and Polish press spellings
  (`latin.py`);
* spelling variants (ё/е, і/и, ў/у, щ/шч, apostrophes, Latin look-alike letters, diacritics) are folded away
  when matching (`normalise.py`), so they need no forms of their own.

Matching is on whole words, case-insensitive: a run of words of one person (given name, patronymic,
surname, initials like "Ю." in any order, separated by spaces, dots or hyphens) becomes one change, the
longest run first; a word inside a longer unrelated word never matches. Every found form is replaced
(over-redaction is safe), but a change is `low` confidence when it may not be the person: a given name or
patronymic alone, a diminutive, a word that is also a common word (the surname Жук and жук, a beetle), or a
form that two recorded people share. The coordinator reviews the changes before anything leaves.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from api.clearing import equivalents, russian
from api.clearing.declension import case_forms, to_belarusian, to_russian
from api.clearing.latin import latin_forms
from api.clearing.normalise import Word, fold, words

Confidence = Literal["high", "low"]
Role = Literal["given", "patronymic", "surname", "alias", "diminutive"]

_STRENGTH: dict[str, int] = {"diminutive": 0, "given": 1, "patronymic": 2, "alias": 3, "surname": 4}
_PATRONYMIC = re.compile(r"(вич|віч|вна|ўна|ична|ічна|инична|інічна|ьич|ильич|івна|ївна)$")
_FEMININE_SURNAME = re.compile(r"(ова|ева|ёва|ава|ина|ына|іна|ая|яя)$")
_GAP = re.compile(r"[\s.\-‐‑–]{1,4}")
_LATIN_DIGRAPH_INITIALS = ("yu", "ya", "ye", "yo", "iu", "ia", "ju", "ja", "zh", "sh", "ch", "kh", "ts")


@dataclass(frozen=True)
class PersonName:
    """What the proposer knows of one person: pseudonym and identity names (given, patronymic, surname, typed)."""

    person_id: uuid.UUID
    pseudonym: str
    given: str | None = None
    patronymic: str | None = None
    surname: str | None = None
    full_names: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    @classmethod
    def from_identity(
        cls, *, person_id: uuid.UUID, pseudonym: str, identity: Mapping[str, Any]
    ) -> PersonName:
        """Build from an opened identity (schemas.person.Identity fields: full_name, name_be, name_ru, ...)."""
        typed = [identity.get(f) for f in ("full_name", "name_be", "name_ru", "name_latin")]
        aliases = identity.get("other_names") or []
        return cls(
            person_id=person_id,
            pseudonym=pseudonym,
            full_names=tuple(n for n in typed if isinstance(n, str) and n.strip()),
            aliases=tuple(n for n in aliases if isinstance(n, str) and n.strip()),
        )


@dataclass(frozen=True)
class Change:
    """One replaced span of the original text, for a reviewer to see highlighted."""

    start: int
    end: int
    original: str
    person_id: uuid.UUID
    replacement: str
    confidence: Confidence
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Proposal:
    """The proposed cleared text and every change made to get it (offsets into the original text)."""

    text: str
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class _Hit:
    role: Role
    common: str | None = None
    alone: bool = True


@dataclass
class _Forms:
    """The generated forms of one person: surface spelling -> hit, and the initials of given name and patronymic."""

    hits: dict[str, _Hit] = field(default_factory=dict)
    initials: set[str] = field(default_factory=set)
    nominatives: dict[str, list[str]] = field(default_factory=dict)
    keyed: dict[str, _Hit] = field(default_factory=dict)

    def add(self, forms: Iterable[str], role: Role, *, alone: bool = True, common: str | None = None) -> None:
        for form in forms:
            old = self.hits.get(form)
            if old is None or _STRENGTH[role] > _STRENGTH[old.role] or (alone and not old.alone) or common:
                found = common or (russian.common_word(form) if _has_cyrillic(form) else None)
                self.hits[form] = _Hit(role, found, alone or (old.alone if old else False))


def _has_cyrillic(text: str) -> bool:
    return any("\u0400" <= ch <= "\u04ff" for ch in text)


def _is_belarusian(word: str) -> bool:
    return any(ch in "іўэ'’" for ch in word.lower()) or "шч" in word.lower()


# ---- reading a recorded name ---------------------------------------------------------------------------------


def _tokens(name: str) -> list[str]:
    return [name[w.start : w.end] for w in words(name)]


def _is_given(token: str) -> bool:
    return bool(equivalents.given_rows(token)) or russian.known_name(token, "given")


def _roles(tokens: list[str]) -> list[Role]:
    """Guess which token of a typed full name is the given name, the patronymic and the surname."""
    roles: list[Role] = ["surname"] * len(tokens)
    for i, token in enumerate(tokens):
        if _has_cyrillic(token) and _is_given(token) and "given" not in roles:
            roles[i] = "given"
    for i, token in enumerate(tokens):
        # Two words are a given name and a surname: Лукашэвіч in "Наталля Лукашэвіч" is no patronymic.
        after_given = i > 0 and roles[i - 1] == "given" and len(tokens) >= 3
        if _PATRONYMIC.search(token.lower()) and (after_given or (len(tokens) == 3 and i in (1, 2))):
            if roles.count("given") == 0 and len(tokens) == 3:
                roles[i - 1] = "given"
            roles[i] = "patronymic"
    return roles


def _gender(parts: dict[Role, list[str]]) -> str | None:
    for patronymic in parts.get("patronymic", []):
        return "f" if patronymic.lower().endswith(("на",)) else "m"
    for given in parts.get("given", []):
        rows = equivalents.given_rows(given)
        if rows and len({r.gender for r in rows}) == 1:
            return rows[0].gender
        if (gender := russian.name_gender(given)) is not None:
            return gender
    if any(_FEMININE_SURNAME.search(s.lower()) for s in parts.get("surname", [])):
        return "f"
    return None


def _parts(name: PersonName) -> dict[Role, list[str]]:
    parts: dict[Role, list[str]] = {"given": [], "patronymic": [], "surname": [], "alias": []}
    given: tuple[tuple[Role, str | None], ...] = (
        ("given", name.given),
        ("patronymic", name.patronymic),
        ("surname", name.surname),
    )
    for part, value in given:
        if value:
            parts[part] += _tokens(value)
    for typed in name.full_names:
        tokens = _tokens(typed)
        for token, role in zip(tokens, _roles(tokens), strict=True):
            parts[role].append(token)
    return parts


# ---- generating the forms ------------------------------------------------------------------------------------


def _cyrillic_forms(spelling: str, role: Role) -> set[str]:
    surname = role in ("surname", "alias")
    forms = set(case_forms(spelling, surname=surname))
    if not _is_belarusian(spelling):
        forms |= russian.russian_forms(
            spelling, "surname" if surname else role if role != "diminutive" else "given"
        )
    return forms


def _with_latin(forms: set[str], nominatives: Iterable[str]) -> set[str]:
    out = set(forms)
    for nominative in nominatives:
        out |= latin_forms(nominative)
    for form in forms:
        if _is_belarusian(form):
            out |= latin_forms(form, inflected=True)
    return out


def _given_spellings(token: str, gender: str | None) -> tuple[set[str], set[str], set[str]]:
    """Spellings of a given name in the three languages, its Latin conventions, and its diminutives."""
    rows = [r for r in equivalents.given_rows(token) if gender is None or r.gender == gender]
    if not rows:
        spellings = {token.lower()} | to_belarusian(token) if not _is_belarusian(token) else {token.lower()}
        spellings |= {c for c in to_russian(token) if russian.known_name(c, "given")}
        return spellings, set(), set()
    spellings = {token.lower()} | {n.lower() for r in rows for n in r.cyrillic}
    return spellings, {n for r in rows for n in r.latin}, {n.lower() for r in rows for n in r.diminutives}


def _add_given(forms: _Forms, token: str, gender: str | None) -> None:
    if not _has_cyrillic(token):
        forms.add({token}, "given")
        forms.initials |= _latin_initials({token})
        return
    spellings, latin, diminutives = _given_spellings(token, gender)
    inflected = set().union(*(_cyrillic_forms(s, "given") for s in spellings))
    forms.add(_with_latin(inflected, spellings) | latin, "given")
    forms.add(
        _with_latin(set().union(*(_cyrillic_forms(d, "diminutive") for d in diminutives)), diminutives),
        "diminutive",
    )
    forms.initials |= {fold(s[0]) for s in spellings} | _latin_initials(_with_latin(set(), spellings) | latin)
    forms.nominatives.setdefault("given", []).append(token)


def _patronymic_spellings(token: str) -> set[str]:
    spellings = {token.lower()}
    found = equivalents.patronymic_row(token)
    if found is not None:
        spellings |= equivalents.patronymics(found[0], found[1])
    elif _is_belarusian(token):
        spellings |= {c for c in to_russian(token) if russian.known_name(c, "patronymic")}
    else:
        spellings |= to_belarusian(token)
    return spellings


def _add_patronymic(forms: _Forms, token: str) -> None:
    if not _has_cyrillic(token):
        forms.add({token}, "patronymic")
        return
    spellings = _patronymic_spellings(token)
    inflected = set().union(*(_cyrillic_forms(s, "patronymic") for s in spellings))
    # Latin-script texts seldom carry a patronymic: romanise the recorded one and those the dictionary knows.
    latin = _with_latin(
        set(), {token.lower()} | {s for s in spellings if russian.known_name(s, "patronymic")}
    )
    forms.add(inflected | latin, "patronymic")
    forms.initials |= {fold(s[0]) for s in spellings} | _latin_initials(latin)
    forms.nominatives.setdefault("patronymic", []).append(token)


def _other_gender(surname: str) -> set[str]:
    """The surname's nominative in the other gender: Кавалёў / Кавалёва, Тихановский / Тихановская."""
    s = surname.lower()
    for masc, fem in (("ский", "ская"), ("цкий", "цкая"), ("скі", "ская"), ("цкі", "цкая"), ("ой", "ая")):
        if s.endswith(masc):
            return {s[: -len(masc)] + fem}
        if s.endswith(fem):
            return {s[: -len(fem)] + masc}
    if re.search(r"(ов|ев|ёв|ин|ын|ін)$", s):
        return {s + "а"}
    if re.search(r"(оў|еў|ёў|аў)$", s):
        return {s[:-1] + "ва"}
    if re.search(r"(ова|ева|ёва|ина|ына|іна)$", s):
        return {s[:-1]}
    if s.endswith("ава"):
        return {s[:-2] + "ў"}
    return set()


def _russian_spellings(spelling: str) -> set[str]:
    """Russian spellings of a Belarusian surname: the ones the dictionary knows, else the nearest one."""
    candidates = to_russian(spelling)
    known = {c for c in candidates if russian.known_name(c, "surname")}
    # A surname made from a common word (Каваль, a smith) is that word in Russian (Коваль).
    known = known or {c for c in candidates if russian.common_lemma(c) is not None}
    if known:
        return known
    # Unknown to the dictionary: the letters mapped, and with the regular яканне undone (Лявончык -> Левончик).
    nearest = min(candidates, key=lambda c: sum(a != b for a, b in zip(c, spelling, strict=False)))
    return {nearest, re.sub(r"(?<=[^аеёиоуыэюя])я", "е", nearest)}


def _surname_spellings(token: str) -> set[str]:
    spellings = {token.lower()} | _other_gender(token)
    # Which language a spelling is in is often undecidable (Каваль, Жук): respell it both ways.
    for spelling in list(spellings):
        spellings |= _russian_spellings(spelling) | to_belarusian(spelling)
    return spellings


def _add_surname(forms: _Forms, token: str, role: Role, *, alone: bool = True) -> None:
    if not _has_cyrillic(token):
        forms.add({token}, role, alone=alone)
        return
    spellings = _surname_spellings(token)
    inflected = set().union(*(_cyrillic_forms(s, "surname") for s in spellings))
    nominatives = spellings | {g for s in spellings for g in _other_gender(s)}
    # A surname that is a common word (Жук, Мороз) is one in every case and spelling (жука, мароз, каваль).
    common = next((w for s in sorted(spellings) if (w := russian.common_lemma(s)) is not None), None)
    if common is not None:
        forms.add(inflected, role, alone=alone, common=common)
    forms.add(_with_latin(inflected, nominatives), role, alone=alone)
    forms.nominatives.setdefault("surname", []).append(token)


def _latin_initials(latin: Iterable[str]) -> set[str]:
    keys = {fold(f) for f in latin if f}
    return {k[0] for k in keys} | {k[:2] for k in keys if k[:2] in _LATIN_DIGRAPH_INITIALS}


def _add_alias(forms: _Forms, alias: str, gender: str | None) -> None:
    tokens = _tokens(alias)
    for token, role in zip(tokens, _roles(tokens), strict=True):
        if role == "given":
            _add_given(forms, token, gender)
        elif role == "patronymic":
            _add_patronymic(forms, token)
        else:
            # A word of a longer nickname ("Дядя Паша") that is also a common word only counts next to the rest.
            alone = len(tokens) == 1 or russian.common_word(token) is None
            _add_surname(forms, token, "alias", alone=alone)


@lru_cache(maxsize=4096)
def _person_forms(
    given: str | None,
    patronymic: str | None,
    surname: str | None,
    full: tuple[str, ...],
    aliases: tuple[str, ...],
) -> _Forms:
    name = PersonName(uuid.UUID(int=0), "", given, patronymic, surname, full, aliases)
    parts = _parts(name)
    gender = _gender(parts)
    forms = _Forms()
    for token in parts["given"]:
        _add_given(forms, token, gender)
    for token in parts["patronymic"]:
        _add_patronymic(forms, token)
    for token in parts["surname"]:
        _add_surname(forms, token, "surname")
    for alias in name.aliases:
        _add_alias(forms, alias, gender)
    forms.keyed = _keyed(forms)
    return forms


def _forms_of(name: PersonName) -> _Forms:
    return _person_forms(name.given, name.patronymic, name.surname, name.full_names, name.aliases)


def name_forms(name: PersonName) -> set[str]:
    """Every word form the proposer takes for this person, and the initials forms of the name (Ю. А. Карпец)."""
    forms = _forms_of(name)
    found = set(forms.hits)
    nominatives = forms.nominatives
    for surname in nominatives.get("surname", []):
        for given in nominatives.get("given", []):
            found |= {f"{given[0]}. {surname}", f"{surname} {given[0]}."}
            for patronymic in nominatives.get("patronymic", []):
                found |= {
                    f"{given[0]}. {patronymic[0]}. {surname}",
                    f"{surname} {given[0]}. {patronymic[0]}.",
                }
    return found


# ---- finding and replacing -----------------------------------------------------------------------------------


def _keyed(forms: _Forms) -> dict[str, _Hit]:
    """The forms by matching key; forms that fold to one key keep the strongest role."""
    keyed: dict[str, _Hit] = {}
    for form, hit in forms.hits.items():
        key = fold(form)
        old = keyed.get(key)
        if old is None or _STRENGTH[hit.role] > _STRENGTH[old.role]:
            keyed[key] = _Hit(
                hit.role, hit.common or (old.common if old else None), hit.alone or bool(old and old.alone)
            )
    return keyed


@dataclass
class _Run:
    first: int
    last: int
    person: int
    hits: list[_Hit]
    initials: int
    rivals: list[int]


class Proposer:
    """Find and replace the names of one set of recorded people, in as many texts as needed."""

    def __init__(self, people: Sequence[PersonName]) -> None:
        self.people = list(people)
        self._index: dict[str, dict[int, _Hit]] = {}
        self._initials: dict[str, set[int]] = {}
        for i, person in enumerate(self.people):
            forms = _forms_of(person)
            for key, hit in forms.keyed.items():
                self._index.setdefault(key, {})[i] = hit
            for initial in forms.initials:
                self._initials.setdefault(initial, set()).add(i)

    def _candidates(self, word: Word, text: str) -> dict[int, _Hit | None]:
        found: dict[int, _Hit | None] = dict(self._index.get(word.key, {}))
        if word.dotted and len(word.key) <= 2 and text[word.start].isupper():
            for person in self._initials.get(word.key, ()):
                found.setdefault(person, None)
        return found

    def _run_at(self, found: list[Word], i: int, text: str) -> _Run | None:
        """The longest run of words from `i` that all belong to one person, or None."""
        persons = {p: [hit] for p, hit in self._candidates(found[i], text).items()}
        j = i
        while persons and j + 1 < len(found) and _GAP.fullmatch(text[found[j].end : found[j + 1].start]):
            nxt = self._candidates(found[j + 1], text)
            if not persons.keys() & nxt.keys():
                break
            persons = {p: [*persons[p], nxt[p]] for p in persons.keys() & nxt.keys()}
            j += 1
        scored = []
        for person, seen in persons.items():
            hits = [h for h in seen if h is not None]
            if hits and (len(hits) > 1 or len(seen) > 1 or hits[0].alone):
                scored.append(
                    (-len(hits), -max(_STRENGTH[h.role] for h in hits), person, hits, len(seen) - len(hits))
                )
        if not scored:
            return None
        scored.sort(key=lambda s: s[:3])
        best = scored[0]
        rivals = [s[2] for s in scored[1:] if s[:2] == best[:2]]
        return _Run(i, j, best[2], best[3], best[4], rivals)

    def _change(self, run: _Run, found: list[Word], text: str) -> Change:
        start, end = found[run.first].start, found[run.last].end
        reasons: list[str] = []
        if len(run.hits) == 1 and not run.initials:
            hit = run.hits[0]
            if hit.role in ("given", "patronymic", "diminutive"):
                reasons.append(
                    {"given": "given name alone", "patronymic": "patronymic alone"}.get(
                        hit.role, "diminutive"
                    )
                )
            if hit.common:
                reasons.append(f"also the common word «{hit.common}»")
        if run.rivals:
            reasons.append("also fits " + ", ".join(self.people[r].pseudonym for r in run.rivals))
        person = self.people[run.person]
        return Change(
            start=start,
            end=end,
            original=text[start:end],
            person_id=person.person_id,
            replacement=person.pseudonym,
            confidence="low" if reasons else "high",
            reasons=tuple(reasons),
        )

    def propose(self, text: str) -> Proposal:
        """Return `text` with every found name replaced by its person's pseudonym, and the changes made."""
        found = words(text)
        changes: list[Change] = []
        i = 0
        while i < len(found):
            run = self._run_at(found, i, text)
            if run is None:
                i += 1
                continue
            changes.append(self._change(run, found, text))
            i = run.last + 1
        pieces, at = [], 0
        for change in changes:
            pieces += [text[at : change.start], change.replacement]
            at = change.end
        pieces.append(text[at:])
        return Proposal(text="".join(pieces), changes=tuple(changes))


def propose(text: str, people: Sequence[PersonName]) -> Proposal:
    """Propose a cleared version of `text`: every form of every person's name replaced by their pseudonym."""
    return Proposer(people).propose(text)
