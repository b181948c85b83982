"""Account safety: TOTP second factor, recovery codes, session details, device-aware throttling, duress

`user_account` gains the sealed TOTP secret (and the one being enrolled), when it was turned on, the last time
step accepted (so a code is never accepted twice), a duress password hash and when it was used. `api_token`
gains the client and a coarse address shown in the list of sessions. `login_attempt` gains the device key
(failures of a browser that signed in before count apart) and an index per (account, address).
`recovery_code` holds one-time codes as keyed hashes.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_sealed", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("totp_pending_sealed", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("totp_enabled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("duress_password_hash", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("duress_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("address", sa.String(length=64), nullable=True))
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("device_key", sa.String(length=64), nullable=True))
        batch_op.create_index(
            "ix_login_attempt_account_client_at", ["account_key", "client_key", "at"], unique=False
        )
        batch_op.create_index("ix_login_attempt_device_at", ["device_key", "at"], unique=False)
    op.create_table(
        "recovery_code",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name="fk_recovery_code_user_id_user_account", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_recovery_code"),
        sa.UniqueConstraint("code_hash", name="uq_recovery_code_code_hash"),
    )
    with op.batch_alter_table("recovery_code", schema=None) as batch_op:
        batch_op.create_index("ix_recovery_code_user_id", ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("recovery_code", schema=None) as batch_op:
        batch_op.drop_index("ix_recovery_code_user_id")
    op.drop_table("recovery_code")
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempt_device_at")
        batch_op.drop_index("ix_login_attempt_account_client_at")
        batch_op.drop_column("device_key")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_column("address")
        batch_op.drop_column("client")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("duress_at")
        batch_op.drop_column("duress_password_hash")
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_enabled_at")
        batch_op.drop_column("totp_pending_sealed")
        batch_op.drop_column("totp_sealed")
