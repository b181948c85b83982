"""The taxonomy and vocabularies on the wire (the file format is in schemas.taxonomy)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from schemas.base import Schema
from schemas.taxonomy import VERIFICATION_MARKERS, ContextNote, Definition, Labels, NormRef

LocalSlug = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")
]


class NormRead(Schema):
    """A norm reference, with whether it is verified exactly as the research marks it (✔ ◐ ✱ ⚠)."""

    reference: NormRef
    verification: str = Field(description="seen ✔, partly_seen ◐, inferred ✱ or unverified ⚠.")
    marker: str
    verified: bool = Field(description="True only for `seen` (✔).")
    from_code: str = Field(
        description="The node that carries the reference (an ancestor for inherited norms)."
    )

    @classmethod
    def of(cls, norm: NormRef, from_code: str) -> NormRead:
        """Wrap a reference with its verification marker."""
        return cls(
            reference=norm,
            verification=norm.verification,
            marker=VERIFICATION_MARKERS[norm.verification],
            verified=norm.verification == "seen",
            from_code=from_code,
        )


class TaxonomyNodeRead(Schema):
    code: str
    parent_code: str | None
    labels: Labels
    definition: Definition
    norms: list[NormRead]
    urgent: bool
    urgency_ground: str | None
    proposed: bool = Field(description="Proposed by Precedent's research (✱), not taken from a source.")
    local: bool = Field(description="Added by this organisation's admins; never clashes with shipped codes.")
    is_leaf: bool
    depth: int
    case_count: int | None = Field(
        default=None, description="Cases you may see under this node (with ?counts=true)."
    )
    children: list[TaxonomyNodeRead] = []


class NodeSummary(Schema):
    code: str
    labels: Labels
    is_leaf: bool


class RetirementRead(Schema):
    retired_in: int
    replaced_by: list[str] = Field(description="Current codes to use, the default first.")
    note: str | None


class TaxonomyNodeDetail(Schema):
    """A node with its place in the tree and every norm that applies to it."""

    node: TaxonomyNodeRead
    ancestors: list[NodeSummary] = Field(description="From the area down to the parent.")
    children: list[NodeSummary]
    inherited_norms: list[NormRead] = Field(description="Norms of the ancestors, which apply here too.")
    context: list[ContextNote]
    retired: RetirementRead | None = None


class LocalNodeCreate(Schema):
    """A local node under any node. Its code is `<parent>.x-<slug>`, a form shipped codes never take."""

    slug: LocalSlug
    labels: Labels
    definition: Definition
    norms: list[NormRef] = []


class TermRead(Schema):
    code: str
    parent_code: str | None
    labels: Labels


class VocabularyRead(Schema):
    key: str
    huridocs_list: int
    terms: list[TermRead]
