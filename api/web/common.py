"""Small pieces shared by the page modules: notices after a redirect, ids from forms, draft addresses."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from api.i18n import N_
from api.web.service import DraftRead

# Messages shown once after a redirect, chosen by key so no user text travels in a URL.
NOTICES = {
    "case_recorded": N_("The case was recorded."),
    "case_updated": N_("The case was saved."),
    "case_retracted": N_("The case was retracted. It stays in the history."),
    "draft_saved": N_("The draft was saved. You can close this page and finish it later from the dashboard."),
    "draft_discarded": N_("The draft was discarded."),
    "involvement_added": N_("The person or organisation was added to the case."),
    "testimony_added": N_("The testimony was recorded."),
    "evidence_received": N_(
        "The file was received and stored. Its SHA-256 digest, computed on arrival, is shown below: it proves later "
        "that the file was not changed."
    ),
    "person_recorded": N_("The person was recorded."),
    "person_updated": N_("The person was saved."),
    "consent_recorded": N_("The consent was recorded."),
    "consent_withdrawn": N_("The withdrawal of consent was recorded."),
    "organisation_recorded": N_("The organisation was recorded."),
    "user_created": N_("The account was created."),
    "user_assigned": N_("The account now works on this case: it can see and change it."),
    "user_updated": N_("The account was changed."),
    "local_node_added": N_("The category was added. It can be chosen on the case form now."),
    "signed_out": N_("You have signed out."),
    "sign_in_expired": N_("The sign-in took too long. Start again with your password."),
    "second_factor_needed": N_(
        "Your role can read people's names: set up a second factor to read them, download files or export."
    ),
    "session_ended": N_("The session was ended. It can no longer be used."),
    "other_sessions_ended": N_("Every other session and token of your account was ended."),
    "duress_password_set": N_("The duress password was set."),
    "sessions_ended_for_user": N_("Every session and token of the account was ended."),
    "second_factor_reset": N_("The second factor was reset. The person must set one up again."),
    "duress_lifted": N_("The duress alert was lifted. Sessions it ended stay ended."),
}


def notice(key: str | None) -> str | None:
    return NOTICES.get(key or "")


def today() -> date:
    """Today's date in UTC: the default for "taken on" and "given on" (the services refuse only the future)."""
    return datetime.now(UTC).date()


def form_uuid(value: Any) -> uuid.UUID | None:
    """An id from a hidden field or select; None when blank or malformed."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


def draft_url(draft: DraftRead) -> str:
    """Where a draft is finished: its form, filled with the draft's values."""
    if draft.form == "case":
        return f"/cases/new?draft={draft.id}"
    if draft.form == "person":
        return f"/people/new?draft={draft.id}"
    path = {"case_edit": "edit", "involvement": "involvements/new", "testimony": "testimonies/new"}[
        draft.form
    ]
    return f"/cases/{draft.case_id}/{path}?draft={draft.id}"
