"""Languages of the web interface: gettext catalogs compiled in memory, and the choice of language per request.

The catalogs are `.po` sources in git (`locale/<lang>/LC_MESSAGES/messages.po`); Babel compiles them into
`GNUTranslations` when first needed, so no generated `.mo` file is ever committed. Message ids are English.
Extract new strings with `make messages` (Babel, `babel.cfg`), then translate the `be` and `ru` catalogs.

The language of a page is, in order: the signed-in user's saved choice (`User.language`), the language cookie
set by the switcher, the browser's Accept-Language, English. Tor Browser always sends `en-US`, so the switcher
is on every page, the sign-in page included.
"""

from __future__ import annotations

import gettext as gettext_module
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent / "web" / "locale"
LANGUAGES = ("be", "ru", "en")
DEFAULT_LANGUAGE = "en"
# Each language named in itself, so a reader finds theirs whatever language the page is in.
LANGUAGE_NAMES = {"be": "Беларуская", "ru": "Русский", "en": "English"}

_active: ContextVar[gettext_module.NullTranslations | None] = ContextVar(
    "precedent_translations", default=None
)
_UNTRANSLATED = gettext_module.NullTranslations()
_active_lang: ContextVar[str] = ContextVar("precedent_language", default=DEFAULT_LANGUAGE)


def N_(message: str) -> str:
    """Mark a string for extraction without translating it yet (translated where it is shown)."""
    return message


@lru_cache
def catalogs() -> dict[str, gettext_module.NullTranslations]:
    """Compile every shipped catalog once per process."""
    compiled: dict[str, gettext_module.NullTranslations] = {}
    for lang in LANGUAGES:
        po_path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
        if not po_path.exists():
            compiled[lang] = gettext_module.NullTranslations()
            continue
        with po_path.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        buffer = BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        buffer.seek(0)
        compiled[lang] = gettext_module.GNUTranslations(buffer)
    return compiled


def negotiate(accept_language: str | None) -> str | None:
    """Return the best of LANGUAGES for an Accept-Language header (RFC 9110 §12.5.4), or None."""
    if not accept_language:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language.split(",")[:32]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else None


def choose_language(*, saved: str | None, cookie: str | None, accept_language: str | None) -> str:
    """Pick the page language: the user's saved choice, the switcher's cookie, the browser's, English."""
    for candidate in (saved, cookie):
        if candidate is not None and candidate in LANGUAGES:
            return candidate
    return negotiate(accept_language) or DEFAULT_LANGUAGE


@contextmanager
def activated(lang: str) -> Iterator[None]:
    """Translate with `lang` for the duration of the block (one page render)."""
    token = _active.set(catalogs().get(lang, gettext_module.NullTranslations()))
    lang_token = _active_lang.set(lang)
    try:
        yield
    finally:
        _active_lang.reset(lang_token)
        _active.reset(token)


def active_language() -> str:
    """The language of the page being rendered."""
    return _active_lang.get()


def gettext(message: str) -> str:
    """Translate `message` into the active language."""
    return (_active.get() or _UNTRANSLATED).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Translate a message with a count into the active language (three plural forms in be and ru)."""
    return (_active.get() or _UNTRANSLATED).ngettext(singular, plural, n)
