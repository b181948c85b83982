"""Password rules: at least 12 characters and not easy to guess (zxcvbn score 3 or more).

A refusal names one reason from a short list, each an English message id translated in the web catalogs
(api/web/locale), so the web, the API (422 problem, by Accept-Language) and the CLI say it in be, ru or en.
zxcvbn's own feedback is English only; its patterns decide which of our reasons applies.
"""

from __future__ import annotations

from dataclasses import dataclass

from zxcvbn import zxcvbn

MIN_LENGTH = 12
MAX_LENGTH = 256
MIN_SCORE = 3
#: zxcvbn's time grows with the length: only this much of a password is scored (the rest only adds strength).
SCORED_CHARS = 100


def N_(message: str) -> str:
    return message


TOO_SHORT = N_("The password must be at least 12 characters long.")
TOO_LONG = N_("The password must be at most 256 characters long.")
REPEATS = N_("The password repeats characters or words; such passwords are guessed quickly.")
SEQUENCE = N_("The password follows a sequence such as abcd or 1234; such passwords are guessed quickly.")
KEYBOARD = N_("The password follows a row of keys on the keyboard; such passwords are guessed quickly.")
DATES = N_("The password is mostly a date or a year; such passwords are guessed quickly.")
COMMON = N_("The password is a common password or word. Add more words that are not often used together.")
USERNAME = N_("The password contains the username.")
GUESSABLE = N_("The password is too easy to guess. Use a longer phrase of several unrelated words.")

_PATTERN_REASONS = {
    "repeat": REPEATS,
    "sequence": SEQUENCE,
    "spatial": KEYBOARD,
    "date": DATES,
    "regex": DATES,  # recent years
    "dictionary": COMMON,
}
REASONS = (TOO_SHORT, TOO_LONG, REPEATS, SEQUENCE, KEYBOARD, DATES, COMMON, USERNAME, GUESSABLE)


@dataclass(frozen=True)
class WeakPassword(Exception):
    """A password the rules refuse; `reason` is one of REASONS (an English message id)."""

    reason: str

    def __str__(self) -> str:
        return self.reason


def password_problem(password: str, *, username: str = "") -> str | None:
    """Return why `password` is refused (one of REASONS), or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return TOO_SHORT
    if len(password) > MAX_LENGTH:
        return TOO_LONG
    if username and len(username) >= 3 and username.lower() in password.lower() and len(password) < 20:
        return USERNAME
    result = zxcvbn(password[:SCORED_CHARS], user_inputs=[username] if username else [])
    if result["score"] >= MIN_SCORE:
        return None
    weakest = max(result["sequence"], key=lambda match: len(match["token"]), default=None)
    if weakest is None:
        return GUESSABLE
    if weakest["pattern"] == "dictionary" and weakest.get("dictionary_name") == "user_inputs":
        return USERNAME
    return _PATTERN_REASONS.get(weakest["pattern"], GUESSABLE)


def check_password(password: str, *, username: str = "") -> None:
    """Raise WeakPassword when the rules refuse `password`."""
    reason = password_problem(password, username=username)
    if reason is not None:
        raise WeakPassword(reason)
