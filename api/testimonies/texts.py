"""The words of a testimony, sealed at rest: its text and its translations, one AES-GCM document per testimony.

A testimony names people in every grammatical form, and no field check can find them all, so none of its
words is kept in clear: not in `testimony`, not in its revisions (api.history), not in the search index
(keyed word hashes, api.search.text.WordSeal). The document `{"text": ..., "translations": [...]}` is sealed
under the identity key, bound to its testimony by the context "testimony:<id>"; it opens only through the
audited door (api.identity.door), one audit row per request for the testimonies it opened.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from api.auth.security import Actor
from api.identity import door
from api.models import Testimony
from api.sealing import Sealer


@dataclass(frozen=True)
class TestimonyWords:
    """What a testimony says: its text and its translations (each {"language", "text", "translated_by"})."""

    text: str
    translations: list[dict[str, Any]]

    def all_texts(self) -> list[str]:
        """The text, then each translation's text: what the search index and the clearing read."""
        return [self.text, *(t["text"] for t in self.translations if isinstance(t.get("text"), str))]

    def document(self) -> dict[str, Any]:
        return {"text": self.text, "translations": self.translations}


def context(testimony_id: uuid.UUID) -> str:
    """The associated data a testimony's words are sealed under: they open on no other row."""
    return f"testimony:{testimony_id}"


def seal(*, sealer: Sealer, testimony_id: uuid.UUID, words: TestimonyWords) -> bytes:
    """Seal a testimony's words for its row."""
    return sealer.seal(words.document(), context=context(testimony_id))


def _words(document: dict[str, Any]) -> TestimonyWords:
    translations = document.get("translations")
    return TestimonyWords(
        text=str(document.get("text", "")),
        translations=[t for t in translations if isinstance(t, dict)]
        if isinstance(translations, list)
        else [],
    )


def open_words(
    *,
    session: Session,
    sealer: Sealer,
    actor: Actor,
    rows: Sequence[Testimony],
    purpose: door.Purpose,
) -> dict[uuid.UUID, TestimonyWords]:
    """Open the words of these testimonies through the audited door (one audit row), by testimony id."""
    values = [door.SealedValue(row.id, row.sealed_text, context(row.id)) for row in rows]
    documents = door.open_identities(
        session=session,
        sealer=sealer,
        actor=actor,
        kind=door.SealedKind.TESTIMONY_TEXT,
        values=values,
        purpose=purpose,
    )
    return {row.id: _words(document) for row, document in zip(rows, documents, strict=True)}


def open_one(
    *, session: Session, sealer: Sealer, actor: Actor, row: Testimony, purpose: door.Purpose
) -> TestimonyWords:
    """Open one testimony's words through the audited door."""
    return open_words(session=session, sealer=sealer, actor=actor, rows=[row], purpose=purpose)[row.id]
