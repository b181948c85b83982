"""Posted forms: the values as typed (to show them again), and errors placed next to their fields.

A form is validated by the same `schemas/` models as the API and then handed to the same service. Errors
come back as pydantic errors (located by `loc`) or as a service's `ValidationProblem` (located by
`errors[].field`, e.g. `body.occurred_from`); both are mapped onto the form's field names, which are the
schema's field names (`identity.full_name` for nested ones). A form is never shown blank after an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from api.problems import ValidationProblem
from api.web.labels import ERROR_TYPES

# Fields every form carries that are not part of the record.
CONTROL_FIELDS = frozenset({"csrf_token", "action", "draft_id", "version"})
_SPLIT_LIST = re.compile(r"[,;\n]+")
# Dates as written in Belarus and Russia: 19.04.2022, or 04.2022 when only the month is known.
_DOTTED_DAY = re.compile(r"^(\d{1,2})[./](\d{1,2})[./](\d{4})$")
_DOTTED_MONTH = re.compile(r"^(\d{1,2})[./](\d{4})$")
_SPLIT_CODES = re.compile(r"[\s,;]+")


@dataclass
class FormState:
    """A form's values as typed, its errors per field, and errors that belong to no single field."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def value(self, name: str) -> str:
        value = self.values.get(name, "")
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return "" if value is None else str(value)

    def selected(self, name: str) -> list[str]:
        value = self.values.get(name, [])
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]

    def selected_codes(self, name: str) -> list[str]:
        """Codes ticked as repeated checkboxes or typed into one field (taxonomy categories)."""
        return code_list(self.values, name)

    def checked(self, name: str) -> bool:
        return self.value(name) in ("on", "true", "1", "yes")

    def add(self, name: str, message: str) -> None:
        if name:
            self.errors.setdefault(name, []).append(message)
        else:
            self.general.append(message)

    @property
    def invalid(self) -> bool:
        return bool(self.errors or self.general)

    def error_count(self) -> int:
        return sum(len(v) for v in self.errors.values()) + len(self.general)


class FormInvalid(Exception):
    """A form did not validate; carries its state with the errors added."""

    def __init__(self, state: FormState) -> None:
        super().__init__("form invalid")
        self.state = state


def form_values(form: FormData, *, multi: Iterable[str] = ()) -> dict[str, Any]:
    """Return the posted values without control fields; `multi` names fields that may repeat."""
    repeated = set(multi)
    values: dict[str, Any] = {}
    for key in form:
        if key in CONTROL_FIELDS:
            continue
        items = [v for v in form.getlist(key) if isinstance(v, str)]
        values[key] = items if key in repeated else (items[-1] if items else "")
    return values


def field_name(loc: Iterable[Any], *, strip: str = "body") -> str:
    """Map an error location to a form field: `("body", "occurred_from")` → `occurred_from`, `("tags", 2)` →
    `tags`, `("identity", "contacts", 0, "value")` → `identity.contacts.0.value`."""
    parts = [str(p) for p in loc]
    if parts and parts[0] == strip:
        parts = parts[1:]
    while parts and parts[-1].isdigit():
        parts.pop()
    return ".".join(parts)


def _message(kind: str, message: str) -> str:
    if kind in ERROR_TYPES:
        return ERROR_TYPES[kind]
    return message.removeprefix("Value error, ")


def add_validation_errors(
    state: FormState,
    exc: ValidationError,
    *,
    prefix: str = "",
    model_field: str | Callable[[str], tuple[str, str]] = "",
) -> FormState:
    """Place pydantic errors on their fields. Errors of the whole model go to `model_field`, or, when it is a
    function, to the (field, message) it picks for the message (a model rule usually concerns one field)."""
    for err in exc.errors():
        name = field_name(err.get("loc", ()))
        message = _message(str(err.get("type")), str(err.get("msg", "")))
        if prefix and name:
            name = f"{prefix}.{name}"
        if not name and callable(model_field):
            name, message = model_field(message)
        elif not name:
            name = model_field  # type: ignore[assignment]
        state.add(name, message)
    return state


def add_problem_errors(
    state: FormState, problem: ValidationProblem, *, renames: Mapping[str, str] | None = None
) -> FormState:
    """Place a service's field errors (`body.occurred_from`) on the form's fields."""
    for err in problem.extensions.get("errors", []):
        name = field_name(str(err.get("field", "")).split("."))
        name = (renames or {}).get(name, name)
        # Services word their messages for people (they are in the catalogs); only a bare kind is mapped.
        message = str(err.get("message", "")) or _message(str(err.get("type")), "")
        state.add(name, message)
    if not problem.extensions.get("errors") and problem.detail:
        state.general.append(problem.detail)
    return state


def text(values: Mapping[str, Any], name: str) -> str | None:
    """A single-line value with surrounding space removed; None when blank."""
    value = values.get(name)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def event_date(values: Mapping[str, Any], name: str) -> str | None:
    """An event date as typed: ISO (2022-04-19, 2022-04, 2022) or day-first (19.04.2022, 04.2022)."""
    value = text(values, name)
    if value is None:
        return None
    if match := _DOTTED_DAY.match(value):
        day, month, year = match.groups()
        return f"{year}-{int(month):02d}-{int(day):02d}"
    if match := _DOTTED_MONTH.match(value):
        month, year = match.groups()
        return f"{year}-{int(month):02d}"
    return value


def long_text(values: Mapping[str, Any], name: str) -> str:
    """A multi-line value as typed (only trailing space trimmed)."""
    value = values.get(name)
    return value.rstrip() if isinstance(value, str) else ""


def checkbox(values: Mapping[str, Any], name: str) -> bool:
    return values.get(name) in ("on", "true", "1", "yes")


def tri_state(values: Mapping[str, Any], name: str) -> bool | None:
    """A yes / no / don't-know select."""
    return {"yes": True, "no": False}.get(str(values.get(name, "")))


def word_list(values: Mapping[str, Any], name: str) -> list[str]:
    """Comma-, semicolon- or line-separated entries (tags)."""
    raw = values.get(name, "")
    raw = ",".join(raw) if isinstance(raw, list) else str(raw)
    return [part.strip() for part in _SPLIT_LIST.split(raw) if part.strip()]


def code_list(values: Mapping[str, Any], name: str) -> list[str]:
    """Codes separated by spaces, commas or lines, or ticked as repeated checkboxes (taxonomy codes)."""
    raw = values.get(name, "")
    items = raw if isinstance(raw, list) else [str(raw)]
    return [code for item in items for code in _SPLIT_CODES.split(item) if code]


def lines(values: Mapping[str, Any], name: str) -> list[str]:
    """One entry per line."""
    raw = values.get(name, "")
    return [line.strip() for line in str(raw).splitlines() if line.strip()]
