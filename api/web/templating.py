"""Jinja2 rendering of pages: autoescaped, translated, with the security headers every page carries.

Pages get a strict Content-Security-Policy: everything from this origin only, no inline script or style,
no framing, forms posting only here. The Referrer-Policy is `same-origin` (not the API's `no-referrer`)
because browsers send `Origin: null` on POSTs from a no-referrer page, which would defeat the origin check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from babel import Locale
from babel.dates import format_date, format_datetime, format_skeleton, format_time
from babel.numbers import format_decimal
from babel.units import format_unit
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from api import i18n
from api.auth.permissions import Permission
from api.web.collation import sort_key
from api.web.forms import FormState
from api.web.labels import FIELD_NAMES, LABELS
from api.web.session import ANON_CSRF_COOKIE, CSRF_FIELD, WebState, set_cookie, web_state
from api.web.taxonomy import has_selected, node_label, norm_text, verification_name
from schemas.countries import ISO_3166_ALPHA2

PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "Referrer-Policy": "same-origin",
    # Pages show personal data: never keep them in a shared cache or the browser's disk cache.
    "Cache-Control": "no-store",
}

env = Environment(
    loader=PackageLoader("api.web", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    extensions=["jinja2.ext.i18n"],
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
env.install_gettext_callables(  # type: ignore[attr-defined]
    gettext=i18n.gettext, ngettext=i18n.ngettext, newstyle=True
)


def _lang() -> str:
    return i18n.active_language()


def label(kind: str, value: Any) -> str:
    """The translated label of a vocabulary value (status, role, ...); the value itself if unknown."""
    if value is None or value == "":
        return ""
    raw = getattr(value, "value", value)
    text = LABELS.get(kind, {}).get(str(raw))
    return i18n.gettext(text) if text else str(raw)


def options(kind: str) -> list[tuple[str, str]]:
    """(value, translated label) pairs of a vocabulary, in their declared order."""
    return [(value, i18n.gettext(text)) for value, text in LABELS[kind].items()]


def field_label(name: str) -> str:
    """The translated name of a form field (`identity.contacts.0.value` is named by its last part)."""
    parts = [p for p in name.split(".") if not p.isdigit() and p != "identity"]
    text = FIELD_NAMES.get(".".join(parts)) or (FIELD_NAMES.get(parts[-1]) if parts else None)
    return i18n.gettext(text) if text else name


def country_name(code: str | None) -> str:
    if not code:
        return ""
    return str(Locale.parse(_lang()).territories.get(code, code))


def country_options() -> list[tuple[str, str]]:
    """Countries named in the page language, sorted as a reader of that language expects."""
    names = Locale.parse(_lang()).territories
    pairs = [(code, names.get(code, code)) for code in ISO_3166_ALPHA2]
    return sorted(pairs, key=lambda pair: sort_key(pair[1]))


def language_name(code: str | None) -> str:
    if not code:
        return ""
    return str(Locale.parse(_lang()).languages.get(code.split("-")[0], code))


def content_language_options() -> list[tuple[str, str]]:
    """Languages testimonies and cases are usually written in; Belarusian and Russian first."""
    return [(code, language_name(code)) for code in ("be", "ru", "uk", "pl", "lt", "en", "de")]


def fmt_date(value: date | str | None) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return format_date(value, "medium", locale=_lang())


def fmt_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    return format_datetime(value, "medium", tzinfo=value.tzinfo, locale=_lang()) + " UTC"


#: Belarus keeps UTC+3 all year: when a photo was taken is typed and shown in Minsk time.
MINSK = timezone(timedelta(hours=3))
#: The time the upload form records for a day typed without a time (the middle of the day in Minsk, so the
#: date is the same from UTC−9 to UTC+14); shown as the day alone.
DAY_ONLY = time(12, 0)


def captured(value: datetime | None) -> str:
    """When a file was made, in Minsk time: '20 Apr 2022, 14:30 (UTC+3)', or the day alone if no time was given."""
    if value is None:
        return ""
    local = value.astimezone(MINSK)
    if local.timetz().replace(tzinfo=None) == DAY_ONLY:
        return fmt_date(local.date())
    return f"{fmt_date(local.date())}, {format_time(local, 'short', locale=_lang())} (UTC+3)"


def event_date(value: date | None, precision: str) -> str:
    """A date as precisely as it is known: '2022', 'April 2022', '19 April 2022', '≈ 19 April 2022'."""
    if value is None:
        return ""
    lang = _lang()
    if precision == "year":
        return str(value.year)
    if precision == "month":
        return format_skeleton("yMMMM", value, locale=lang)
    text = format_date(value, "long", locale=lang)
    return f"≈ {text}" if precision == "approximate" else text


def event_period(occurred_from: date, occurred_to: date | None, precision: str) -> str:
    start = event_date(occurred_from, precision)
    if occurred_to is None or occurred_to == occurred_from:
        return start
    return f"{start} – {event_date(occurred_to, precision)}"


def typed_date(value: date | None, precision: str) -> str:
    """A stored date as the user would type it for its precision (2022, 2022-04, 2022-04-19)."""
    if value is None:
        return ""
    if precision == "year":
        return f"{value.year:04d}"
    if precision == "month":
        return f"{value.year:04d}-{value.month:02d}"
    return value.isoformat()


_SIZE_UNITS = (
    (1024**3, "digital-gigabyte"),
    (1024**2, "digital-megabyte"),
    (1024, "digital-kilobyte"),
)


def filesize(size: int | None) -> str:
    """A file size for people: '1,4 МБ' (binary multiples, as file managers show them), bytes when small."""
    if size is None:
        return ""
    for factor, unit in _SIZE_UNITS:
        if size >= factor:
            return str(format_unit(round(size / factor, 1), unit, length="short", locale=_lang()))
    return i18n.ngettext("%(num)s byte", "%(num)s bytes", size) % {"num": number(size)}


def number(value: int) -> str:
    return str(format_decimal(value, locale=_lang()))


def query(**params: Any) -> str:
    """A query string of the non-empty parameters."""
    kept = {k: v for k, v in params.items() if v not in (None, "", False)}
    return ("?" + urlencode(kept)) if kept else ""


def history_value(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    if isinstance(value, bool):
        return i18n.gettext("yes") if value else i18n.gettext("no")
    return str(value)


# Fields whose stored values are vocabulary identifiers: the history shows their labels.
_VOCABULARY_FIELDS = {
    "status": "status",
    "confidentiality": "confidentiality",
    "date_precision": "date_precision",
    "role": "involvement_role",
    "victim_status": "victim_status",
    "reliability": "reliability",
    "risk_status": "risk_status",
    "counting_unit": "counting_unit",
    "audience": "audience",
    "method": "consent_method",
    "kind": "organisation_kind",
}


def change_value(field: str, value: Any) -> str:
    """A value in the history of changes, in words where it is a vocabulary value, a country or a language."""
    if value in (None, "", []):
        return "—"
    if field in _VOCABULARY_FIELDS and isinstance(value, str):
        return label(_VOCABULARY_FIELDS[field], value)
    if field == "country" and isinstance(value, str):
        return country_name(value)
    if field == "language" and isinstance(value, str):
        return language_name(value)
    return history_value(value)


env.globals.update(
    change_value=change_value,
    label=label,
    options=options,
    field_label=field_label,
    country_name=country_name,
    country_options=country_options,
    language_name=language_name,
    content_language_options=content_language_options,
    query=query,
    languages=list(i18n.LANGUAGE_NAMES.items()),
    CSRF_FIELD=CSRF_FIELD,
)
env.filters.update(
    date=fmt_date,
    datetime=fmt_datetime,
    history_value=history_value,
    filesize=filesize,
    captured=captured,
    node_label=node_label,
    norm_text=norm_text,
    number=number,
)
env.globals.update(
    node_label=node_label,
    norm_text=norm_text,
    has_selected=has_selected,
    verification_name=verification_name,
)
env.globals.update(event_date=event_date, event_period=event_period, typed_date=typed_date)


def _can(state: WebState) -> Callable[[str], bool]:
    def can(permission: str) -> bool:
        return state.actor is not None and state.actor.can(Permission(permission))

    return can


def render_html(request: Request, name: str, context: Mapping[str, Any] | None = None) -> str:
    """Render a template in the request's language."""
    state = web_state(request)
    values: dict[str, Any] = {
        "lang": state.lang,
        "actor": state.actor,
        "duress_alerts": state.duress_alerts,
        "csrf_token": state.csrf_token,
        "can": _can(state),
        "request_path": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "notice": None,
        "form": FormState(),
    }
    values.update(context or {})
    with i18n.activated(state.lang):
        return env.get_template(name).render(values)


def render(
    request: Request, name: str, context: Mapping[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    """Render a page as a response with the page security headers."""
    state = web_state(request)
    response = HTMLResponse(
        render_html(request, name, context),
        status_code=status_code,
        headers={**PAGE_HEADERS, "Content-Language": state.lang},
    )
    if state.set_anon_csrf:
        set_cookie(response, request, ANON_CSRF_COOKIE, state.csrf_token, max_age=None)
    return response
