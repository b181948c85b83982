"""What a verification found: failed checks (problems), caveats (notes) and what was checked.

Shared by the bundle and store-copy checks in ``evidence_store.verify`` and the ledger binding checks in
``evidence_store.binding``, so every check reports the same way: the item it concerns (a path in the bag, a
blob path, or a leaf index), what is wrong, and expected vs found values when known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Problem", "VerificationReport"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One failed check: the item it concerns, what is wrong, and expected vs found when known."""

    item: str
    message: str
    expected: str | None = None
    found: str | None = None

    def __str__(self) -> str:
        """Return ``item: message (expected X, found Y)``."""
        detail = ""
        if self.expected is not None or self.found is not None:
            detail = f" (expected {self.expected or '-'}, found {self.found or '-'})"
        return f"{self.item}: {self.message}{detail}"


@dataclass
class VerificationReport:
    """The outcome of a verification: problems (failures), notes (caveats) and what was checked."""

    target: str
    kind: str
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    #: Key ids whose signature over a tree head verified (with the supplied key, or the shipped one).
    signed_by: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        """Return whether no check failed."""
        return not self.problems

    def problem(self, item: str, message: str, expected: str | None = None, found: str | None = None) -> None:
        """Record a failed check."""
        self.problems.append(Problem(item, message, expected, found))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready form of the report."""
        return {
            "target": self.target,
            "kind": self.kind,
            "ok": self.ok,
            "problems": [
                {"item": p.item, "message": p.message, "expected": p.expected, "found": p.found}
                for p in self.problems
            ],
            "notes": list(self.notes),
            "checked": list(self.checked),
        }
