"""One given name across Russian, Belarusian and Ukrainian, and the patronymics made from it.

The rows live in `given_names.yaml` (data with a schema, checked on load). A person recorded as "Юрий
Анатольевич" is written "Юрый Анатолевіч" in a Belarusian testimony and "Юрій Анатолійович" in a Ukrainian
one; spelling rules cannot turn Николай into Мікалай, so the rows say it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from api.clearing.normalise import fold

_FILE = Path(__file__).with_name("given_names.yaml")
_LANGUAGES = ("ru", "be", "uk")
_VOWELS = "аеёиоуыэюяіїєў"


class GivenNamesError(ValueError):
    """The given-names file does not follow its schema."""


@dataclass(frozen=True, eq=False)
class GivenName:
    """One row: the name in each language, its conventional Latin forms and its diminutives."""

    gender: str
    spellings: dict[str, tuple[str, ...]]
    latin: tuple[str, ...]
    diminutives: tuple[str, ...]

    @property
    def cyrillic(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n for lang in _LANGUAGES for n in self.spellings.get(lang, ())))


def _strings(row: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = row.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise GivenNamesError(f"{where}: {key} must be a list of names")
    return tuple(value)


def _row(row: Any, where: str) -> GivenName:
    if not isinstance(row, dict):
        raise GivenNamesError(f"{where}: a row must be a mapping")
    unknown = set(row) - {"gender", "latin", "diminutive", *_LANGUAGES}
    if unknown or row.get("gender") not in ("m", "f"):
        raise GivenNamesError(f"{where}: gender must be m or f; unknown keys {sorted(unknown)}")
    spellings = {lang: _strings(row, lang, where) for lang in _LANGUAGES}
    if not spellings["ru"] or not spellings["be"]:
        raise GivenNamesError(f"{where}: a row needs ru and be spellings")
    return GivenName(
        row["gender"], spellings, _strings(row, "latin", where), _strings(row, "diminutive", where)
    )


@cache
def rows() -> tuple[GivenName, ...]:
    """Load and check the given-names file once."""
    data = yaml.safe_load(_FILE.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("version") != 1 or not isinstance(data.get("names"), list):
        raise GivenNamesError(f"{_FILE.name}: expected version 1 and a list of names")
    return tuple(_row(row, f"{_FILE.name} row {i + 1}") for i, row in enumerate(data["names"]))


def _patronymics(name: str, lang: str, gender: str) -> set[str]:
    """Patronymics made from one spelling of a father's name (`gender` is the child's)."""
    n = name.lower()
    male = gender == "m"
    if lang == "be":
        if n.endswith(("ый", "ій")):
            stem = n[:-2]
            return {
                stem + e
                for e in (("ыевіч", "'евіч", "ьевіч", "евіч") if male else ("ыеўна", "'еўна", "еўна"))
            }
        if n.endswith(("й", "ь")):
            return {n[:-1] + ("евіч" if male else "еўна")}
        if n.endswith(("а", "я")):
            return {n[:-1] + ("іч" if male else "ічна"), n[:-1] + ("ьіч" if male else "інічна")}
        if n.endswith("о"):
            return {n[:-1] + ("овіч" if male else "оўна")}
        base = n[:-1] + "в" if n.endswith("ў") else n
        bases = {base, base[:-2] + base[-1]} if base[-2:-1] in ("е", "ё") else {base}
        bases |= {b[:-2] + "ў" + b[-1] for b in bases if b[-2:-1] == "в"}
        return {b + e for b in bases for e in (("авіч", "овіч") if male else ("аўна", "оўна"))}
    if n.endswith("ий") or n.endswith("ій"):
        stem = n[:-2]
        if lang == "uk":
            return {stem + ("ійович" if male else "іївна")}
        return {stem + e for e in (("ьевич", "иевич") if male else ("ьевна", "иевна"))}
    if n.endswith("й") or n.endswith("ь"):
        return (
            {n[:-1] + ("евич" if male else "евна")}
            if lang == "ru"
            else {n[:-1] + ("ович" if male else "івна")}
        )
    if n.endswith(("а", "я")):
        return {n[:-1] + ("ич" if male else "ична"), n[:-1] + ("ьич" if male else "инична")}
    if n.endswith("о"):
        return {n[:-1] + ("ович" if male else "івна")}
    bases = {n, n[:-2] + n[-1]} if n[-2:-1] in ("е", "ё") and n[-3:-2] not in _VOWELS else {n}
    return {b + ("ович" if male else ("овна" if lang == "ru" else "івна")) for b in bases}


def patronymics(row: GivenName, gender: str) -> set[str]:
    """Every patronymic a child of `gender` takes from this father's name, in the three languages."""
    return {
        p
        for lang in _LANGUAGES
        for name in row.spellings.get(lang, ())
        for p in _patronymics(name, lang, gender)
    }


@cache
def _by_given() -> dict[str, tuple[GivenName, ...]]:
    index: dict[str, list[GivenName]] = {}
    for row in rows():
        for name in (*row.cyrillic, *row.latin, *row.diminutives):
            index.setdefault(fold(name), []).append(row)
    return {key: tuple(dict.fromkeys(found)) for key, found in index.items()}


@cache
def _by_patronymic() -> dict[str, tuple[GivenName, str]]:
    index: dict[str, tuple[GivenName, str]] = {}
    for row in rows():
        for gender in ("m", "f"):
            for patronymic in patronymics(row, gender):
                index.setdefault(fold(patronymic), (row, gender))
    return index


def given_rows(name: str) -> tuple[GivenName, ...]:
    """Rows in which `name` (any spelling, Latin form or diminutive) appears."""
    return _by_given().get(fold(name), ())


def patronymic_row(patronymic: str) -> tuple[GivenName, str] | None:
    """The father's-name row and the child's gender of a known patronymic, else None."""
    return _by_patronymic().get(fold(patronymic))
