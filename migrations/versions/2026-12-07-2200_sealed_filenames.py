"""Original file names sealed like identities: evidence_item.sealed_filename replaces original_filename

A file name often names a person ("…Ivanova_passport.jpg"), so it is identity data: sealed with AES-256-GCM
under the identity key (``api.sealing.Sealer``), bound to its item by the context "evidence-filename:<id>",
the document ``{"name": "<file name>"}``. The names already stored in clear are sealed here, in the same
transaction that drops the clear column, so no run of the code sees one without the other.

The key is the application's: ``PRECEDENT_IDENTITY_KEY`` or ``keys/identity.key`` in ``PRECEDENT_DATA_DIR``,
read through the same settings as ``precedent db upgrade`` and ``precedent serve``. It is read only when a
clear name exists; if it cannot be read the upgrade stops and changes nothing (a new key would seal names no
one could open, and dropping them would lose them).

What stays behind: on SQLite ``secure_delete`` zeroes the freed pages, so once the write-ahead log is
checkpointed the database file no longer holds the clear names. On PostgreSQL the old row versions remain on
disk until vacuumed: run ``VACUUM FULL evidence_item`` after upgrading (outside a transaction, so not here).
Backups taken before the upgrade still hold the names in clear.

Downgrade restores an empty original_filename column: the sealed names are dropped, not opened into clear.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 22:00:00
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import op

if TYPE_CHECKING:
    from api.sealing import Sealer

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As api.evidence.service on this revision, written out: a migration must not change with the code.
_CONTEXT = "evidence-filename:{id}"
_ITEMS = sa.table(
    "evidence_item",
    sa.column("id", sa.Uuid()),
    sa.column("original_filename", sa.String(255)),
    sa.column("sealed_filename", sa.LargeBinary()),
)


def _identity_sealer() -> "Sealer":
    """Return the application's Sealer, its key loaded as the application loads it (never created here)."""
    from api.config import get_settings
    from api.sealing import Sealer, load_key

    settings = get_settings()
    configured = settings.identity_key.get_secret_value() if settings.identity_key else None
    path = settings.keys_dir / "identity.key"
    try:
        key = load_key(configured=configured, path=path, may_create=False)
    except RuntimeError as exc:
        raise RuntimeError(
            f"evidence file names must be sealed with the identity key, but {path} is missing and "
            "PRECEDENT_IDENTITY_KEY is not set: restore the key (or set the variable) and upgrade again; "
            "nothing was changed"
        ) from exc
    return Sealer(key)


def _seal_clear_names() -> int:
    """Seal every clear file name into sealed_filename and clear it; return how many were sealed."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_ITEMS.c.id, _ITEMS.c.original_filename).where(_ITEMS.c.original_filename.is_not(None))
    ).all()
    if not rows:
        return 0
    sealer = _identity_sealer()
    for item_id, name in rows:
        sealed = sealer.seal({"name": name}, context=_CONTEXT.format(id=item_id))
        bind.execute(
            sa.update(_ITEMS)
            .where(_ITEMS.c.id == item_id)
            .values(sealed_filename=sealed, original_filename=None)
        )
    return len(rows)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Freed pages (the old rows, the table rebuilt below) are overwritten with zeros, not left readable.
        op.execute("PRAGMA secure_delete = ON")
    with op.batch_alter_table("evidence_item") as batch:
        batch.add_column(sa.Column("sealed_filename", sa.LargeBinary(), nullable=True))
    _seal_clear_names()
    with op.batch_alter_table("evidence_item") as batch:
        batch.drop_column("original_filename")


def downgrade() -> None:
    with op.batch_alter_table("evidence_item") as batch:
        batch.add_column(sa.Column("original_filename", sa.String(length=255), nullable=True))
    with op.batch_alter_table("evidence_item") as batch:
        batch.drop_column("sealed_filename")
