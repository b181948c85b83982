"""A case ("precedent"): one documented event, its categories, tags and assigned documenters."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from api.models.base import Audited, UTCDateTime, fk_field, str_field, text_field, ts_field, uuid_pk

# The columns the two covering indexes of case_record hold after their leading ones (SQLite only).
FACET_COLUMNS = (
    "date_hi",
    "confidentiality",
    "retracted_at",
    "created_by",
    "status",
    "region_fold",
    "place_fold",
    "employer_fold",
    "sector_fold",
    "category_codes",
    "victim_mask",
    "victims",
    "victim_people",
    "victim_statuses",
    "urgent",
    "language",
    "updated_at",
    "date_precision",
    "region",
    "employer",
    "victim_ids",
)
# SQLite: the columns the walk indexes hold after their keys, so that a walk through the cases in the order of a
# page (or a lookup by id) tests the visibility rule and the usual filters in the index instead of in each
# case's row. In the row they lie past the long texts, so each test cost a walk through overflow pages: a
# region's newest 1,001 matches took 43 ms to find through the rows, 5 ms through the index.
WALK_COLUMNS = (
    "date_hi",
    "confidentiality",
    "retracted_at",
    "created_by",
    "country",
    "status",
    "victim_mask",
    "victims",
    "category_codes",
)
# The facet filters whose (value, date) index leads a search sorted by date.
WALK_FACETS = ("region", "place", "employer", "sector")


class Case(Audited, table=True):
    __tablename__ = "case_record"
    __table_args__ = (
        sa.Index("ix_case_record_country_date_lo", "country", "date_lo").ddl_if(dialect="postgresql"),
        # On SQLite, statistics and the sub-selects on case ids read these two indexes instead of the rows,
        # whose long texts, stored inline, make every column after them cost a walk through overflow pages.
        # Each holds every column a filter, the visibility rule or a statistics group reads, led by the
        # country and date, or by the id. PostgreSQL keeps long texts apart (TOAST), so its rows are read
        # directly, and a B-tree entry there may not exceed 2,704 bytes, which these could.
        sa.Index("ix_case_record_facets", "country", "date_lo", *FACET_COLUMNS, "id").ddl_if(
            dialect="sqlite"
        ),
        sa.Index("ix_case_record_id_facets", "id", "country", "date_lo", *FACET_COLUMNS).ddl_if(
            dialect="sqlite"
        ),
        # The orders of a page, and the facet filters each with the date so that a page sorted by date walks
        # one index. On SQLite each also holds WALK_COLUMNS (the `_walk` indexes, which api.search.service
        # names in its INDEXED BY hints), and one more, led by the id, serves the look-ups of a set of ids
        # (a category's cases, say) that are then sorted: 50 ms for a leaf's 7,463 cases through the rows,
        # 21 ms through it.
        sa.Index("ix_case_record_date_lo_id", "date_lo", "id").ddl_if(dialect="postgresql"),
        sa.Index("ix_case_record_created_at_id", "created_at", "id").ddl_if(dialect="postgresql"),
        sa.Index("ix_case_record_updated_at_id", "updated_at", "id").ddl_if(dialect="postgresql"),
        *(
            sa.Index(f"ix_case_record_{name}_fold_date", f"{name}_fold", "date_lo", "id").ddl_if(
                dialect="postgresql"
            )
            for name in WALK_FACETS
        ),
        sa.Index("ix_case_record_date_lo_walk", "date_lo", "id", *WALK_COLUMNS).ddl_if(dialect="sqlite"),
        sa.Index("ix_case_record_created_at_walk", "created_at", "id", "date_lo", *WALK_COLUMNS).ddl_if(
            dialect="sqlite"
        ),
        sa.Index("ix_case_record_updated_at_walk", "updated_at", "id", "date_lo", *WALK_COLUMNS).ddl_if(
            dialect="sqlite"
        ),
        *(
            sa.Index(
                f"ix_case_record_{name}_fold_walk", f"{name}_fold", "date_lo", "id", *WALK_COLUMNS
            ).ddl_if(dialect="sqlite")
            for name in WALK_FACETS
        ),
        sa.Index("ix_case_record_id_walk", "id", "created_at", "updated_at", "date_lo", *WALK_COLUMNS).ddl_if(
            dialect="sqlite"
        ),
    )

    id: uuid.UUID = uuid_pk()
    reference: str = Field(sa_type=sa.String(32), unique=True, nullable=False)
    title: str = str_field(500)
    summary: str = Field(default="", sa_type=sa.Text, nullable=False)
    narrative: str = Field(default="", sa_type=sa.Text, nullable=False)
    occurred_from: date = Field(nullable=False)
    occurred_to: date | None = Field(default=None)
    date_precision: str = str_field(16)
    # The widest interval the uncertain date may cover: what date-range search matches against.
    date_lo: date = Field(nullable=False)
    date_hi: date = Field(nullable=False)
    country: str = str_field(2)
    region: str | None = str_field(200, nullable=True)
    place: str | None = str_field(200, nullable=True)
    employer: str | None = str_field(300, nullable=True)
    sector: str | None = str_field(200, nullable=True)
    status: str = str_field(16, index=True)
    confidentiality: str = str_field(16)
    urgent: bool = Field(default=False, nullable=False)
    urgency_reason: str | None = text_field()
    language: str | None = str_field(16, nullable=True)
    primary_category: str | None = str_field(64, nullable=True, index=True)
    # HURIDOCS facets: MT 17 type of location, MT 41 violation status.
    location_type: str | None = str_field(12, nullable=True)
    violation_status: str | None = str_field(12, nullable=True)
    # Search facets kept by api.search.index (never edited directly): the place and employer fields
    # case-folded in Python (SQLite's lower() folds only ASCII), the number of live victim involvements and
    # one bit per victim status among them (api.search.index.VICTIM_STATUS_BIT).
    region_fold: str | None = str_field(200, nullable=True)
    place_fold: str | None = str_field(200, nullable=True)
    employer_fold: str | None = str_field(300, nullable=True)
    sector_fold: str | None = str_field(200, nullable=True)
    victims: int = Field(default=0, nullable=False, sa_column_kwargs={"server_default": "0"})
    victim_mask: int = Field(default=0, nullable=False, sa_column_kwargs={"server_default": "0"})
    # Of those victim involvements, the ones of a person (not of an organisation), for people counts; and
    # the case's category codes, sorted, space-separated: statistics group cases by it in one pass.
    victim_people: int = Field(default=0, nullable=False, sa_column_kwargs={"server_default": "0"})
    category_codes: str = Field(
        default="", sa_type=sa.Text, nullable=False, sa_column_kwargs={"server_default": ""}
    )
    # Each victim status among the live victims, with how many of them are people ("detained=2 released=0";
    # "-" for a victim without a status): statistics by victim status read it instead of the involvements.
    victim_statuses: str = Field(
        default="", sa_type=sa.Text, nullable=False, sa_column_kwargs={"server_default": ""}
    )
    # Those of its victims who are victims in more than one involvement (person.victim_cases > 1), each
    # "<person id>:<status>" (32 hex digits; "-" for no status), sorted, space-separated: statistics take the
    # repeats of a person off the victim_people sums in the same pass, with no join to the involvements.
    victim_ids: str = Field(
        default="", sa_type=sa.Text, nullable=False, sa_column_kwargs={"server_default": ""}
    )


class CaseCategory(SQLModel, table=True):
    """A taxonomy code a case is filed under; exactly one per case is primary."""

    __tablename__ = "case_category"
    __table_args__ = (
        sa.Index("ix_case_category_code_case", "code", "case_id"),
        # A category's cases newest first, in one index: the default order of a search for one category
        # finds its page by walking this instead of looking up and sorting every case filed under it (the
        # newest 1,001 of a leaf's 7,463 cases at a million: 40 ms that way, 8 ms this way, on SQLite).
        sa.Index("ix_case_category_code_created", "code", "created_at", "case_id"),
    )

    case_id: uuid.UUID = Field(
        sa_type=sa.Uuid, foreign_key="case_record.id", primary_key=True, ondelete="CASCADE"
    )
    code: str = Field(sa_type=sa.String(64), primary_key=True)
    is_primary: bool = Field(default=False, nullable=False)
    # The case's created_at, copied when the row is written (it never changes). No default: a writer that
    # left it out would file the case under the time of writing, and the newest-first walk would misplace it.
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class CaseTag(SQLModel, table=True):
    __tablename__ = "case_tag"
    __table_args__ = (sa.Index("ix_case_tag_tag_case", "tag", "case_id"),)

    case_id: uuid.UUID = Field(
        sa_type=sa.Uuid, foreign_key="case_record.id", primary_key=True, ondelete="CASCADE"
    )
    tag: str = Field(sa_type=sa.String(64), primary_key=True)


class CaseAssignment(SQLModel, table=True):
    """A documenter assigned to a case: they may see and edit it like its creator."""

    __tablename__ = "case_assignment"

    case_id: uuid.UUID = Field(
        sa_type=sa.Uuid, foreign_key="case_record.id", primary_key=True, ondelete="CASCADE"
    )
    user_id: uuid.UUID = Field(sa_type=sa.Uuid, foreign_key="user_account.id", primary_key=True, index=True)
    assigned_by: uuid.UUID = fk_field("user_account.id", index=False)
    assigned_at: datetime = ts_field()


class ReferenceCounter(SQLModel, table=True):
    """Last human reference number issued per year (PR-<year>-<number>)."""

    __tablename__ = "reference_counter"

    year: int = Field(primary_key=True, sa_type=sa.Integer, sa_column_kwargs={"autoincrement": False})
    last_value: int = Field(default=0, nullable=False)
