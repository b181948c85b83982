"""The measured list of name forms (name_forms.yaml) and how recall and precision are counted over it.

Recall: the share of marked name mentions whose every character the proposer replaced. Precision: the share
of the proposer's changes that overlap a marked mention. A change outside every mention is over-redaction:
safe, but a reviewer has to undo it, so it is counted (and split by the confidence the proposer gave it).
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from api.clearing.names import Change, PersonName, Proposer

FILE = Path(__file__).with_name("name_forms.yaml")
# Written after the proposer's rules were settled; see the file's header.
HELD_OUT = Path(__file__).with_name("name_forms_heldout.yaml")
_MARK = re.compile(r"\{([^{}|]+)\|([^{}|]+)\|([^{}|]+)\}")


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    form: str
    person: str
    category: str
    lang: str


@dataclass(frozen=True)
class Sentence:
    lang: str
    text: str
    mentions: tuple[Mention, ...]


@dataclass
class Score:
    """Counts for one slice (all, one category, one language)."""

    mentions: int = 0
    replaced: int = 0
    attributed: int = 0
    missed: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.replaced / self.mentions if self.mentions else 1.0


@dataclass
class Report:
    total: Score
    by_category: dict[str, Score]
    by_lang: dict[str, Score]
    changes: int
    false_changes: list[tuple[str, str]]
    confidence_of_false: Counter[str]

    @property
    def precision(self) -> float:
        return (self.changes - len(self.false_changes)) / self.changes if self.changes else 1.0


def _sentence(lang: str, marked: str) -> Sentence:
    text, mentions, at = [], [], 0
    length = 0
    for match in _MARK.finditer(marked):
        text.append(marked[at : match.start()])
        length += match.start() - at
        form, person, category = match.groups()
        mentions.append(Mention(length, length + len(form), form, person, category, lang))
        text.append(form)
        length += len(form)
        at = match.end()
    text.append(marked[at:])
    return Sentence(lang, "".join(text), tuple(mentions))


def load(path: Path = FILE) -> tuple[dict[str, PersonName], list[Sentence]]:
    """The people (by key) and the sentences with their marked mentions."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    people = {
        key: PersonName.from_identity(
            person_id=uuid.uuid5(uuid.NAMESPACE_URL, f"precedent:clearing:{key}"),
            pseudonym=spec["pseudonym"],
            identity=spec["identity"],
        )
        for key, spec in data["people"].items()
    }
    return people, [_sentence(s["lang"], s["text"]) for s in data["sentences"]]


def _covered(mention: Mention, changes: tuple[Change, ...], person_id: uuid.UUID | None = None) -> bool:
    # Only the letters of a mention identify: the dot closing "Карпец Ю.А." may stay.
    chars = {mention.start + i for i, ch in enumerate(mention.form) if ch.isalpha()}
    for change in changes:
        if person_id is None or change.person_id == person_id:
            chars -= set(range(change.start, change.end))
    return not chars


def measure(people: dict[str, PersonName], sentences: list[Sentence]) -> Report:
    """Propose over every sentence and count recall (per category and language) and precision."""
    proposer = Proposer(list(people.values()))
    report = Report(Score(), {}, {}, 0, [], Counter())
    for sentence in sentences:
        changes = proposer.propose(sentence.text).changes
        report.changes += len(changes)
        for change in changes:
            if not any(change.start < m.end and m.start < change.end for m in sentence.mentions):
                report.false_changes.append((change.original, sentence.text))
                report.confidence_of_false[change.confidence] += 1
        for mention in sentence.mentions:
            replaced = _covered(mention, changes)
            attributed = _covered(mention, changes, people[mention.person].person_id)
            for score in (
                report.total,
                report.by_category.setdefault(mention.category, Score()),
                report.by_lang.setdefault(mention.lang, Score()),
            ):
                score.mentions += 1
                score.replaced += replaced
                score.attributed += attributed
                if not replaced:
                    score.missed.append(
                        f"{mention.form} ({mention.person}, {mention.category}, {mention.lang})"
                    )
    return report


def summary(report: Report) -> str:
    """The figures as a few lines of text."""
    total = report.total
    lines = [
        f"mentions {total.mentions}, replaced {total.replaced}: recall {total.recall:.3f}; "
        f"attributed to the right person {total.attributed / total.mentions:.3f}",
        f"changes {report.changes}, outside any mention {len(report.false_changes)} "
        f"({dict(report.confidence_of_false)}): precision {report.precision:.3f}",
    ]
    for title, slices in (("category", report.by_category), ("language", report.by_lang)):
        for name, score in sorted(slices.items()):
            lines.append(
                f"  {title} {name:<20} {score.replaced:>4}/{score.mentions:<4} recall {score.recall:.3f}"
            )
    lines += [f"  missed: {m}" for m in total.missed]
    lines += [f"  over-redacted: {original!r} in {text!r}" for original, text in report.false_changes]
    return "\n".join(lines)
