"""The precedent taxonomy in the database: nodes with a materialised path, a closure table, retired codes,
and the HURIDOCS controlled vocabularies. Loaded from the versioned files in api/taxonomy/data."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from api.models.base import JSONType, str_field, ts_field


class TaxonomyVersion(SQLModel, table=True):
    """A shipped taxonomy file that was loaded, identified by its digest."""

    __tablename__ = "taxonomy_version"

    version: int = Field(primary_key=True, sa_type=sa.Integer, sa_column_kwargs={"autoincrement": False})
    released: date | None = Field(default=None)
    file_sha256: str = str_field(64)
    loaded_at: datetime = ts_field()


class TaxonomyNode(SQLModel, table=True):
    """A node: an area, a category or a precedent type (leaf). Shipped nodes are read-only through the API."""

    __tablename__ = "taxonomy_node"

    code: str = Field(primary_key=True, sa_type=sa.String(64))
    parent_code: str | None = str_field(64, nullable=True, index=True)
    # Codes from the root down, joined by "/": a subtree is one indexed prefix range.
    path: str = str_field(1000, index=True)
    depth: int = Field(nullable=False)
    ordinal: int = Field(nullable=False)
    is_leaf: bool = Field(nullable=False)
    labels: dict[str, Any] = Field(sa_type=JSONType, nullable=False)
    definition: dict[str, Any] = Field(sa_type=JSONType, nullable=False)
    norms: list[Any] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    context: list[Any] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    urgent: bool = Field(default=False, nullable=False)
    urgency_ground: str | None = str_field(32, nullable=True)
    proposed: bool = Field(default=False, nullable=False)
    local: bool = Field(default=False, nullable=False)
    # casefold of the labels in every language, for search in any script.
    search_text: str = Field(default="", sa_type=sa.Text, nullable=False)
    # Version that last shipped the node; None for local nodes.
    version: int | None = Field(default=None)
    retired_in: int | None = Field(default=None)
    replaced_by: list[str] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    retirement_note: str | None = Field(default=None, sa_type=sa.Text)
    created_by: uuid.UUID | None = Field(default=None, sa_type=sa.Uuid, foreign_key="user_account.id")
    updated_at: datetime = ts_field()


class TaxonomyClosure(SQLModel, table=True):
    """Every (ancestor, descendant) pair, including each node with itself: roll-ups in one join.

    A retired code also sits below the nodes that replaced it, so a query on a replacement finds cases
    filed under the old code, and counts roll up to the new place in the tree.
    """

    __tablename__ = "taxonomy_closure"
    __table_args__ = (sa.Index("ix_taxonomy_closure_descendant", "descendant"),)

    ancestor: str = Field(primary_key=True, sa_type=sa.String(64))
    descendant: str = Field(primary_key=True, sa_type=sa.String(64))


class VocabularyTerm(SQLModel, table=True):
    """A term of a HURIDOCS micro-thesaurus used as a facet (perpetrator types, detention types, ...)."""

    __tablename__ = "vocabulary_term"

    vocabulary: str = Field(primary_key=True, sa_type=sa.String(40))
    code: str = Field(primary_key=True, sa_type=sa.String(12))
    huridocs_list: int = Field(nullable=False)
    parent_code: str | None = str_field(12, nullable=True)
    ordinal: int = Field(nullable=False)
    labels: dict[str, Any] = Field(sa_type=JSONType, nullable=False)
    note: str | None = Field(default=None, sa_type=sa.Text)
