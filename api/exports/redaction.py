"""Consent-aware redaction that fails closed.

A person's identity leaves in an export only if that person has an active (granted, not withdrawn) consent
for exactly the export's audience. Even then only names leave a non-internal export: dates of birth,
contacts, addresses and notes never do. Everyone else appears by pseudonym and a role description.

Free text (titles, summaries, narratives, testimonies) is scanned for the names of every person in the
selection who may not be named, and each mention is replaced by the person's pseudonym. Belarusian and
Russian names decline ("Ярашук", "Ярашука", "Ярашуку"), so each name token of three letters or more is matched
as a stem with up to three more letters: this over-redacts rather than under-redacts. It cannot catch a
person who was never recorded, or a nickname: the withheld report says that free text still needs a
reading before it is sent.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from schemas.export import ExportAudience, WithheldItem

# Vowels (and soft sign / short u) a declined name drops or changes at its end, in both Cyrillic and Latin.
_FINAL_VOWELS = "аеёиоуыэюяіўйьaeiouy"
_NAME_FIELDS = ("full_name", "name_be", "name_ru", "name_latin")
# Identity data that never leaves a non-internal export, consent or not.
_NEVER_OUTSIDE = ("date_of_birth", "contacts", "address", "notes")


@dataclass(frozen=True)
class ConsentState:
    audience: str
    granted_at: date
    withdrawn_at: date | None

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None


@dataclass
class PersonFacts:
    """What the redactor knows of one person: pseudonym, opened identity and consents."""

    person_id: uuid.UUID
    pseudonym: str
    identity: dict[str, Any] | None
    consents: list[ConsentState]
    cases: set[str] = field(default_factory=set)


@dataclass
class Disclosure:
    person_id: uuid.UUID
    ref: str
    identity_disclosed: bool


def _tokens(identity: dict[str, Any]) -> set[str]:
    names = [identity.get(f) for f in _NAME_FIELDS] + list(identity.get("other_names") or [])
    tokens: set[str] = set()
    for name in names:
        if isinstance(name, str):
            tokens |= {t for t in re.split(r"[\s\-‐'’.,]+", name) if len(t) >= 3}
    return tokens


def _stem_pattern(token: str) -> str:
    stem = token.rstrip(_FINAL_VOWELS + _FINAL_VOWELS.upper()) or token
    if len(stem) < 3:
        stem = token
    return re.escape(stem) + r"\w{0,3}"


class Redactor:
    """Decide, for one audience, who may be named, and rewrite free text accordingly."""

    def __init__(self, *, audience: ExportAudience, people: list[PersonFacts]) -> None:
        self.audience = audience
        self.people = {p.person_id: p for p in people}
        self.withheld: list[WithheldItem] = []
        self._disclosures: dict[uuid.UUID, Disclosure] = {}
        replacements: list[tuple[str, str]] = []
        for person in people:
            disclosure = self._decide(person)
            self._disclosures[person.person_id] = disclosure
            if not disclosure.identity_disclosed and person.identity:
                for token in _tokens(person.identity):
                    replacements.append((_stem_pattern(token), person.pseudonym))
        # Longest stems first, so "Аляксандравіч" is replaced before "Аляксандр".
        replacements.sort(key=lambda r: -len(r[0]))
        self._patterns = [
            (re.compile(rf"(?<!\w){pattern}(?!\w)", re.IGNORECASE), pseudonym)
            for pattern, pseudonym in replacements
        ]

    def _decide(self, person: PersonFacts) -> Disclosure:
        consent = next((c for c in person.consents if c.audience == self.audience.value and c.active), None)
        identity = person.identity or {}
        has_name = any(identity.get(f) for f in _NAME_FIELDS)
        cases = sorted(person.cases)
        if consent is None:
            if has_name:
                withdrawn = next((c for c in person.consents if c.audience == self.audience.value), None)
                reason = (
                    f"consent for {self.audience.value} was withdrawn on {withdrawn.withdrawn_at.isoformat()}"
                    if withdrawn is not None and withdrawn.withdrawn_at is not None
                    else f"no active consent for {self.audience.value}"
                )
                withheld = ["name", *[f for f in _NEVER_OUTSIDE if identity.get(f)]]
                self.withheld.append(
                    WithheldItem(
                        person_id=person.person_id,
                        pseudonym=person.pseudonym,
                        withheld=withheld,
                        reason=reason,
                        cases=cases,
                    )
                )
            return Disclosure(person.person_id, person.pseudonym, False)
        name = next(identity[f] for f in _NAME_FIELDS if identity.get(f)) if has_name else person.pseudonym
        if self.audience is not ExportAudience.INTERNAL:
            kept_back = [f for f in _NEVER_OUTSIDE if identity.get(f)]
            if kept_back:
                self.withheld.append(
                    WithheldItem(
                        person_id=person.person_id,
                        pseudonym=person.pseudonym,
                        withheld=kept_back,
                        reason="identity data other than names never leaves a non-internal export",
                        cases=cases,
                    )
                )
        return Disclosure(person.person_id, name, has_name)

    def disclosure(self, person_id: uuid.UUID) -> Disclosure:
        """How a person appears; unknown people (not loaded) appear by nothing but a placeholder."""
        return self._disclosures.get(person_id) or Disclosure(person_id, "an unnamed person", False)

    def identity_fields(self, person_id: uuid.UUID) -> dict[str, Any]:
        """Identity fields this export may carry for the person (names only outside internal exports)."""
        person = self.people.get(person_id)
        if person is None or person.identity is None or not self.disclosure(person_id).identity_disclosed:
            return {}
        allowed: tuple[str, ...] = (*_NAME_FIELDS, "other_names")
        if self.audience is ExportAudience.INTERNAL:
            allowed = (*allowed, *_NEVER_OUTSIDE)
        return {k: v for k, v in person.identity.items() if k in allowed and v}

    def text(self, value: str | None) -> str:
        """Replace mentions of people who may not be named with their pseudonyms."""
        if not value:
            return value or ""
        for pattern, pseudonym in self._patterns:
            value = pattern.sub(pseudonym, value)
        return value

    def report(self) -> list[WithheldItem]:
        """Everything withheld, plus the reminder that free text needs a human reading."""
        items = list(self.withheld)
        if self._patterns:
            items.append(
                WithheldItem(
                    withheld=["names in free text"],
                    reason=(
                        "mentions of people without consent were replaced by pseudonyms in titles, summaries, "
                        "narratives and testimonies; read the text before sending: unrecorded people and "
                        "nicknames cannot be detected"
                    ),
                )
            )
        return items
