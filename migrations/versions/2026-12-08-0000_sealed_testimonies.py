"""Testimonies sealed at rest (testimony.sealed_text), keyed hashes in the index; PDF titles sealed too

A testimony names people in forms no field check can find, so its words are sealed like identities: the
document ``{"text": ..., "translations": [...]}`` under the identity key (``api.sealing.Sealer``), bound to
its row by the context "testimony:<id>". In the same transaction:

* every testimony's text and translations are sealed into ``sealed_text`` and the clear columns dropped;
* the text and translations recorded in clear in testimony revisions (``revision.changes``) move into the
  revision's sealed part (``sealed_identity``, context "revision:<id>:<version>"), the append-only triggers
  lifted for that update only and put back;
* the PDF title, subject, keywords and creator that ``evidence_blob.embedded`` kept in clear move into the
  blob's sealed identifiers (context "evidence-blob:<sha256>", merged with the author already there): a title
  such as "Ivanova passport" names a person like a file name does;
* the search index rows of testimonies are rewritten as keyed word hashes (HMAC-SHA256 under a key derived
  from the identity key, as ``api.search.text.WordSeal`` on this revision, written out below), and on SQLite
  the full-text index is merged so that no segment keeps the words.

The key is read as the application reads it (``PRECEDENT_IDENTITY_KEY`` or ``keys/identity.key``), only when
a testimony exists; if it cannot be read the upgrade stops and changes nothing.

What stays behind: on SQLite ``secure_delete`` zeroes freed pages, so once the write-ahead log is
checkpointed the file no longer holds the words. On PostgreSQL old row versions remain until vacuumed: run
``VACUUM FULL testimony, revision, case_text`` after upgrading. Backups taken before still hold them.

Downgrade restores empty text columns (and empty index rows): the sealed words are dropped, never opened into
clear.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08 00:00:00
"""

import hashlib
import hmac
import re
import unicodedata
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from alembic import op
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.dialects import postgresql

from migrations.helpers import drop_append_only, make_append_only

if TYPE_CHECKING:
    from api.sealing import Sealer

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TESTIMONIES = sa.table(
    "testimony",
    sa.column("id", sa.Uuid()),
    sa.column("text", sa.Text()),
    sa.column("translations", JSON),
    sa.column("sealed_text", sa.LargeBinary()),
)
_REVISIONS = sa.table(
    "revision",
    sa.column("id", sa.Integer()),
    sa.column("entity_type", sa.String(32)),
    sa.column("entity_id", sa.Uuid()),
    sa.column("version", sa.Integer()),
    sa.column("changes", JSON),
    sa.column("sealed_identity", sa.LargeBinary()),
)
_INDEX = sa.table(
    "case_text",
    sa.column("source_id", sa.Uuid()),
    sa.column("kind", sa.String(16)),
    sa.column("body", sa.Text()),
    sa.column("tsv", sa.Text()),
)
_SEALED_FIELDS = ("text", "translations")

# As api.search.text on this revision, written out: a migration must not change with the code.
_WORD = re.compile(r"[^\W_]+")
_LETTERS = str.maketrans("0123456789abcdef", "abcdefghijklmnop")


def _fold(word: str) -> str:
    return unicodedata.normalize("NFC", word).casefold().replace("ё", "е")


def _hashed_body(key: bytes, texts: list[str]) -> str:
    words = {_fold(word) for text in texts if text for word in _WORD.findall(text)}
    tokens = (
        "h" + hmac.new(key, word.encode(), hashlib.sha256).digest()[:12].hex().translate(_LETTERS)
        for word in words
    )
    return " ".join(sorted(tokens))


def _identity_sealer() -> tuple["Sealer", bytes]:
    """The application's Sealer and its search-word key, the key loaded as the application loads it."""
    from api.config import get_settings
    from api.sealing import Sealer, load_key

    settings = get_settings()
    configured = settings.identity_key.get_secret_value() if settings.identity_key else None
    path = settings.keys_dir / "identity.key"
    try:
        key = load_key(configured=configured, path=path, may_create=False)
    except RuntimeError as exc:
        raise RuntimeError(
            f"testimonies must be sealed with the identity key, but {path} is missing and "
            "PRECEDENT_IDENTITY_KEY is not set: restore the key (or set the variable) and upgrade again; "
            "nothing was changed"
        ) from exc
    words = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"precedent search words v1").derive(
        key
    )
    return Sealer(key), words


def _translation_texts(translations: Any) -> list[str]:
    return [t["text"] for t in translations or [] if isinstance(t, dict) and isinstance(t.get("text"), str)]


def _seal_testimonies(bind: sa.Connection, sealer: "Sealer", words: bytes) -> None:
    rows = bind.execute(sa.select(_TESTIMONIES.c.id, _TESTIMONIES.c.text, _TESTIMONIES.c.translations)).all()
    for testimony_id, text, translations in rows:
        document = {"text": text or "", "translations": list(translations or [])}
        sealed = sealer.seal(document, context=f"testimony:{testimony_id}")
        bind.execute(
            sa.update(_TESTIMONIES).where(_TESTIMONIES.c.id == testimony_id).values(sealed_text=sealed)
        )
        body = _hashed_body(words, [text or "", *_translation_texts(translations)])
        values: dict[str, Any] = {"body": body}
        if bind.dialect.name == "postgresql":
            values["tsv"] = sa.func.to_tsvector(sa.literal_column("'simple'::regconfig"), body)
        bind.execute(sa.update(_INDEX).where(_INDEX.c.source_id == testimony_id).values(**values))


def _seal_revisions(bind: sa.Connection, sealer: "Sealer") -> None:
    rows = bind.execute(
        sa.select(_REVISIONS.c.id, _REVISIONS.c.entity_id, _REVISIONS.c.version, _REVISIONS.c.changes).where(
            _REVISIONS.c.entity_type == "testimony"
        )
    ).all()
    for revision_id, entity_id, version, changes in rows:
        secret = {name: changes[name] for name in _SEALED_FIELDS if name in (changes or {})}
        if not secret:
            continue
        kept = {name: value for name, value in changes.items() if name not in _SEALED_FIELDS}
        sealed = sealer.seal(secret, context=f"revision:{entity_id}:{version}")
        bind.execute(
            sa.update(_REVISIONS)
            .where(_REVISIONS.c.id == revision_id)
            .values(changes=kept, sealed_identity=sealed)
        )


_BLOBS = sa.table(
    "evidence_blob",
    sa.column("sha256", sa.String(64)),
    sa.column("embedded", JSON),
    sa.column("sealed_identifiers", sa.LargeBinary()),
)
_PDF_WORDS = ("title", "subject", "keywords", "creator")


def _pdf_words_in_clear(bind: sa.Connection) -> list[Any]:
    rows = bind.execute(sa.select(_BLOBS.c.sha256, _BLOBS.c.embedded, _BLOBS.c.sealed_identifiers)).all()
    return [r for r in rows if any(k in ((r.embedded or {}).get("pdf") or {}) for k in _PDF_WORDS)]


def _seal_pdf_words(bind: sa.Connection, sealer: "Sealer", rows: list[Any]) -> None:
    from api.identity import door

    sealed_rows = [r for r in rows if r.sealed_identifiers]
    opened = door.open_for_system(
        connection=bind,
        sealer=sealer,
        kind=door.SealedKind.EVIDENCE_IDENTIFIERS,
        values=[
            door.SealedValue(uuid.UUID(int=0), r.sealed_identifiers, f"evidence-blob:{r.sha256}")
            for r in sealed_rows
        ],
        reason="upgrade 0016: PDF titles sealed with the author",
    )
    before = {r.sha256: document for r, document in zip(sealed_rows, opened, strict=True)}
    for sha256, embedded, _ in rows:
        context = f"evidence-blob:{sha256}"
        identifying = before.get(sha256, {})
        pdf = dict(embedded["pdf"])
        words = {k: pdf.pop(k) for k in _PDF_WORDS if k in pdf}
        identifying["pdf"] = {**identifying.get("pdf", {}), **words}
        bind.execute(
            sa.update(_BLOBS)
            .where(_BLOBS.c.sha256 == sha256)
            .values(
                embedded={**embedded, "pdf": pdf},
                sealed_identifiers=sealer.seal(identifying, context=context),
            )
        )


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # Freed pages (old rows, the tables rebuilt below, merged index segments) are zeroed, not left readable.
        op.execute("PRAGMA secure_delete = ON")
    with op.batch_alter_table("testimony") as batch:
        batch.add_column(sa.Column("sealed_text", sa.LargeBinary(), nullable=True))
    if bind.execute(sa.select(_TESTIMONIES.c.id).limit(1)).first() is not None:
        sealer, words = _identity_sealer()
        _seal_testimonies(bind, sealer, words)
        drop_append_only("revision")
        _seal_revisions(bind, sealer)
        make_append_only("revision")
    pdf_rows = _pdf_words_in_clear(bind)
    if pdf_rows:
        _seal_pdf_words(bind, _identity_sealer()[0], pdf_rows)
    with op.batch_alter_table("testimony") as batch:
        batch.alter_column("sealed_text", existing_type=sa.LargeBinary(), nullable=False)
        batch.drop_column("text")
        batch.drop_column("translations")
    if bind.dialect.name == "sqlite":
        # Deleted words stay in FTS5's segments until they are merged: merge them all into one.
        op.execute("INSERT INTO case_fts(case_fts) VALUES ('optimize')")


def downgrade() -> None:
    with op.batch_alter_table("testimony") as batch:
        batch.add_column(sa.Column("text", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("translations", JSON, nullable=False, server_default="[]"))
    with op.batch_alter_table("testimony") as batch:
        batch.alter_column("text", existing_type=sa.Text(), server_default=None)
        batch.alter_column("translations", existing_type=JSON, server_default=None)
        batch.drop_column("sealed_text")
    # The testimonies' index rows stay (one per testimony, as before), emptied: their hashes mean nothing there.
    values: dict[str, Any] = {"body": ""}
    if op.get_bind().dialect.name == "postgresql":
        values["tsv"] = sa.func.to_tsvector(sa.literal_column("'simple'::regconfig"), "")
    op.execute(sa.update(_INDEX).where(_INDEX.c.kind == "testimony").values(**values))
