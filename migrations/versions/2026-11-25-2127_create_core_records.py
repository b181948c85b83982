"""Create the core records: accounts, cases, people, consents, involvements, testimonies, history

Revision ID: 0001
Revises:
Create Date: 2026-11-25 21:27:44.242902
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.helpers import drop_append_only, make_append_only

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=True),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("details", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index("ix_audit_event_actor_at", ["actor_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_at"), ["at"], unique=False)

    op.create_table(
        "login_attempt",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_key", sa.String(length=64), nullable=False),
        sa.Column("client_key", sa.String(length=64), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempt")),
    )
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.create_index("ix_login_attempt_account_at", ["account_key", "at"], unique=False)
        batch_op.create_index("ix_login_attempt_client_at", ["client_key", "at"], unique=False)

    op.create_table(
        "reference_counter",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_reference_counter")),
    )
    op.create_table(
        "user_account",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("username", name=op.f("uq_user_account_username")),
    )
    op.create_table(
        "api_token",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_api_token_user_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
    )
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_token_user_id"), ["user_id"], unique=False)

    op.create_table(
        "case_record",
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("retracted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retracted_by", sa.Uuid(), nullable=True),
        sa.Column("retraction_reason", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("narrative", sa.Text(), nullable=False),
        sa.Column("occurred_from", sa.Date(), nullable=False),
        sa.Column("occurred_to", sa.Date(), nullable=True),
        sa.Column("date_precision", sa.String(length=16), nullable=False),
        sa.Column("date_lo", sa.Date(), nullable=False),
        sa.Column("date_hi", sa.Date(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("region", sa.String(length=200), nullable=True),
        sa.Column("place", sa.String(length=200), nullable=True),
        sa.Column("employer", sa.String(length=300), nullable=True),
        sa.Column("sector", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("confidentiality", sa.String(length=16), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("urgency_reason", sa.Text(), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("primary_category", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"], name=op.f("fk_case_record_created_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["retracted_by"], ["user_account.id"], name=op.f("fk_case_record_retracted_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["user_account.id"], name=op.f("fk_case_record_updated_by_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_record")),
        sa.UniqueConstraint("reference", name=op.f("uq_case_record_reference")),
    )
    with op.batch_alter_table("case_record", schema=None) as batch_op:
        batch_op.create_index("ix_case_record_country_date_lo", ["country", "date_lo"], unique=False)
        batch_op.create_index("ix_case_record_created_at_id", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_case_record_date_lo_id", ["date_lo", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_case_record_primary_category"), ["primary_category"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_case_record_status"), ["status"], unique=False)

    op.create_table(
        "organisation",
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("retracted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retracted_by", sa.Uuid(), nullable=True),
        sa.Column("retraction_reason", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("name_fold", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("sector", sa.String(length=200), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"], name=op.f("fk_organisation_created_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["retracted_by"], ["user_account.id"], name=op.f("fk_organisation_retracted_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["user_account.id"], name=op.f("fk_organisation_updated_by_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation")),
    )
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_organisation_name_fold"), ["name_fold"], unique=False)

    op.create_table(
        "revision",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changes", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("sealed_identity", sa.LargeBinary(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["user_account.id"],
            name=op.f("fk_revision_actor_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revision")),
    )
    with op.batch_alter_table("revision", schema=None) as batch_op:
        batch_op.create_index("ix_revision_case", ["case_id", "id"], unique=False)
        batch_op.create_index("ix_revision_entity", ["entity_type", "entity_id", "id"], unique=False)

    op.create_table(
        "case_assignment",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("assigned_by", sa.Uuid(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assigned_by"],
            ["user_account.id"],
            name=op.f("fk_case_assignment_assigned_by_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_record.id"],
            name=op.f("fk_case_assignment_case_id_case_record"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_case_assignment_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("case_id", "user_id", name=op.f("pk_case_assignment")),
    )
    with op.batch_alter_table("case_assignment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_assignment_user_id"), ["user_id"], unique=False)

    op.create_table(
        "case_category",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_record.id"],
            name=op.f("fk_case_category_case_id_case_record"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", "code", name=op.f("pk_case_category")),
    )
    with op.batch_alter_table("case_category", schema=None) as batch_op:
        batch_op.create_index("ix_case_category_code_case", ["code", "case_id"], unique=False)

    op.create_table(
        "case_tag",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case_record.id"], name=op.f("fk_case_tag_case_id_case_record"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("case_id", "tag", name=op.f("pk_case_tag")),
    )
    with op.batch_alter_table("case_tag", schema=None) as batch_op:
        batch_op.create_index("ix_case_tag_tag_case", ["tag", "case_id"], unique=False)

    op.create_table(
        "person",
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("retracted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retracted_by", sa.Uuid(), nullable=True),
        sa.Column("retraction_reason", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pseudonym", sa.String(length=200), nullable=False),
        sa.Column("pseudonym_fold", sa.String(length=200), nullable=False),
        sa.Column("counting_unit", sa.String(length=16), nullable=False),
        sa.Column("group_size", sa.Integer(), nullable=True),
        sa.Column("risk_status", sa.String(length=16), nullable=False),
        sa.Column("relatives_in_country", sa.Boolean(), nullable=True),
        sa.Column("risk_reviewed_on", sa.Date(), nullable=True),
        sa.Column("organisation_id", sa.Uuid(), nullable=True),
        sa.Column("occupation", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"], name=op.f("fk_person_created_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_person_organisation_id_organisation"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["retracted_by"], ["user_account.id"], name=op.f("fk_person_retracted_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["user_account.id"], name=op.f("fk_person_updated_by_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
    )
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_organisation_id"), ["organisation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_pseudonym_fold"), ["pseudonym_fold"], unique=False)

    op.create_table(
        "consent",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("granted_at", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("text_version", sa.String(length=200), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.Uuid(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.Date(), nullable=True),
        sa.Column("withdrawal_reason", sa.Text(), nullable=True),
        sa.Column("withdrawal_recorded_by", sa.Uuid(), nullable=True),
        sa.Column("withdrawal_recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_consent_person_id_person"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"],
            ["user_account.id"],
            name=op.f("fk_consent_recorded_by_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["withdrawal_recorded_by"],
            ["user_account.id"],
            name=op.f("fk_consent_withdrawal_recorded_by_user_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent")),
    )
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_person_id"), ["person_id"], unique=False)

    op.create_table(
        "involvement",
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("retracted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retracted_by", sa.Uuid(), nullable=True),
        sa.Column("retraction_reason", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        sa.Column("organisation_id", sa.Uuid(), nullable=True),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("victim_status", sa.String(length=24), nullable=True),
        sa.Column("perpetrator_type", sa.String(length=16), nullable=True),
        sa.Column("detention_type", sa.String(length=16), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(person_id IS NULL) <> (organisation_id IS NULL)", name=op.f("ck_involvement_exactly_one_actor")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_record.id"],
            name=op.f("fk_involvement_case_id_case_record"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"], name=op.f("fk_involvement_created_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_involvement_organisation_id_organisation"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_involvement_person_id_person"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["retracted_by"], ["user_account.id"], name=op.f("fk_involvement_retracted_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["user_account.id"], name=op.f("fk_involvement_updated_by_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_involvement")),
    )
    with op.batch_alter_table("involvement", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_involvement_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_involvement_organisation_id"), ["organisation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_involvement_person_id"), ["person_id"], unique=False)
        batch_op.create_index("ix_involvement_role_status", ["role", "victim_status"], unique=False)

    op.create_table(
        "person_identity",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_person_identity_person_id_person"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_person_identity")),
    )
    op.create_table(
        "testimony",
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("retracted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retracted_by", sa.Uuid(), nullable=True),
        sa.Column("retraction_reason", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("source_person_id", sa.Uuid(), nullable=False),
        sa.Column("taken_by", sa.Uuid(), nullable=False),
        sa.Column("taken_at", sa.Date(), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("translations", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("reliability", sa.String(length=24), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_record.id"],
            name=op.f("fk_testimony_case_id_case_record"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"], name=op.f("fk_testimony_created_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["retracted_by"], ["user_account.id"], name=op.f("fk_testimony_retracted_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["source_person_id"],
            ["person.id"],
            name=op.f("fk_testimony_source_person_id_person"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["taken_by"],
            ["user_account.id"],
            name=op.f("fk_testimony_taken_by_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["user_account.id"], name=op.f("fk_testimony_updated_by_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_testimony")),
    )
    with op.batch_alter_table("testimony", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_testimony_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_testimony_source_person_id"), ["source_person_id"], unique=False)

    # History and the security audit log are append-only: the database refuses UPDATE and DELETE.
    make_append_only("revision")
    make_append_only("audit_event")


def downgrade() -> None:
    drop_append_only("audit_event")
    drop_append_only("revision")
    with op.batch_alter_table("testimony", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_testimony_source_person_id"))
        batch_op.drop_index(batch_op.f("ix_testimony_case_id"))

    op.drop_table("testimony")
    op.drop_table("person_identity")
    with op.batch_alter_table("involvement", schema=None) as batch_op:
        batch_op.drop_index("ix_involvement_role_status")
        batch_op.drop_index(batch_op.f("ix_involvement_person_id"))
        batch_op.drop_index(batch_op.f("ix_involvement_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_involvement_case_id"))

    op.drop_table("involvement")
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_person_id"))

    op.drop_table("consent")
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_pseudonym_fold"))
        batch_op.drop_index(batch_op.f("ix_person_organisation_id"))

    op.drop_table("person")
    with op.batch_alter_table("case_tag", schema=None) as batch_op:
        batch_op.drop_index("ix_case_tag_tag_case")

    op.drop_table("case_tag")
    with op.batch_alter_table("case_category", schema=None) as batch_op:
        batch_op.drop_index("ix_case_category_code_case")

    op.drop_table("case_category")
    with op.batch_alter_table("case_assignment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_assignment_user_id"))

    op.drop_table("case_assignment")
    with op.batch_alter_table("revision", schema=None) as batch_op:
        batch_op.drop_index("ix_revision_entity")
        batch_op.drop_index("ix_revision_case")

    op.drop_table("revision")
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organisation_name_fold"))

    op.drop_table("organisation")
    with op.batch_alter_table("case_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_record_status"))
        batch_op.drop_index(batch_op.f("ix_case_record_primary_category"))
        batch_op.drop_index("ix_case_record_date_lo_id")
        batch_op.drop_index("ix_case_record_created_at_id")
        batch_op.drop_index("ix_case_record_country_date_lo")

    op.drop_table("case_record")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_token_user_id"))

    op.drop_table("api_token")
    op.drop_table("user_account")
    op.drop_table("reference_counter")
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempt_client_at")
        batch_op.drop_index("ix_login_attempt_account_at")

    op.drop_table("login_attempt")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_at"))
        batch_op.drop_index("ix_audit_event_actor_at")

    op.drop_table("audit_event")
