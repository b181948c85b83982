"""File format of the precedent taxonomy (``precedents.vN.yaml``) and the HURIDOCS vocabularies
(``vocabularies.vN.yaml``).

These models check what one node, one reference, one vocabulary or one file header can show by
itself. Checks that need the whole node tree (unique codes, parents, leaf completeness, retirement
targets, CFA chapters claimed as seen) live in ``api.taxonomy.loader``, which names the offending
code in every error. Always load files through the loader.

Verification values carry the markers of the research report (standards.md §0) unchanged:

    seen         ✔  seen in the stored source cited
    partly_seen  ◐  heading or summary seen, not the full text
    inferred     ✱  inferred or proposed; no source states it
    unverified   ⚠  general knowledge; check the primary text before relying on it

A node code is ``AREA(.SEGMENT)*`` (``A``, ``A.LIB``, ``A.LIB.ARREST``); the parent of a node is
always the code without its last segment, so the code states the node's place in the tree.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Final, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

__all__ = [
    "VERIFICATION_MARKERS",
    "CfaCaseRef",
    "CfaCompilationRef",
    "CfaDigestRef",
    "CodeMapping",
    "ContextNote",
    "Definition",
    "HuridocsRef",
    "IloInstrumentRef",
    "ItucGroupRef",
    "Labels",
    "NormRef",
    "OtherRef",
    "TaxonomyFile",
    "TaxonomyNodeSpec",
    "TermSpec",
    "UrgencyGround",
    "Verification",
    "VocabularyFile",
    "VocabularySpec",
    "parent_code",
]

Verification = Literal["seen", "partly_seen", "inferred", "unverified"]
VERIFICATION_MARKERS: Final[dict[str, str]] = {
    "seen": "✔",
    "partly_seen": "◐",
    "inferred": "✱",
    "unverified": "⚠",
}

# The grounds on which the CFA treats a complaint as urgent (guide-supervision.ilo.org, standards.md (b1)).
UrgencyGround = Literal[
    "life_or_personal_freedom",
    "movement_wide_conditions",
    "state_of_emergency",
    "dissolution",
]

NodeCode = Annotated[str, StringConstraints(pattern=r"^[A-Z](?:\.[A-Z][A-Z0-9_]*)*$", max_length=64)]
HuriCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{12}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
# "4", "8(2)", "1(2)(b)": an article number with optional paragraph and sub-paragraph.
Article = Annotated[str, StringConstraints(pattern=r"^[0-9]+(?:\([0-9a-z]+\))*$")]
InstrumentCode = Annotated[str, StringConstraints(pattern=r"^[CPR][0-9]{1,3}$")]
# "61-63" or "30-32, 35": paragraph numbers and ranges, ASCII hyphen.
ParagraphList = Annotated[str, StringConstraints(pattern=r"^[0-9]+(?:-[0-9]+)?(?:, [0-9]+(?:-[0-9]+)?)*$")]
VocabularyKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]

_T = TypeVar("_T")
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_NOT_IN_BELARUSIAN = frozenset("иИщЩъЪ")
_NOT_IN_RUSSIAN = frozenset("іІўЎ")


def parent_code(code: str) -> str | None:
    """Return the parent of a node code (the code without its last segment), or None for an area."""
    head, sep, _ = code.rpartition(".")
    return head if sep else None


def _check_language(value: str, lang: str) -> None:
    if lang == "en":
        if _CYRILLIC.search(value):
            raise ValueError(f"en text contains Cyrillic letters: {value!r}")
        return
    if not _CYRILLIC.search(value):
        raise ValueError(f"{lang} text has no Cyrillic letters: {value!r}")
    foreign = _NOT_IN_BELARUSIAN if lang == "be" else _NOT_IN_RUSSIAN
    found = sorted({ch for ch in value if ch in foreign})
    if found:
        other = "Russian" if lang == "be" else "Belarusian"
        raise ValueError(f"{lang} text contains {other}-only letters {''.join(found)}: {value!r}")


def _non_empty(items: tuple[_T, ...]) -> tuple[_T, ...]:
    # An after-validator rather than min_length: pydantic would also report "too short" for a
    # tuple whose items merely failed validation, hiding the real error behind a false one.
    if not items:
        raise ValueError("must not be empty")
    return items


def _significant_prefix(huri_code: str) -> str:
    """Return the level pairs of a HURIDOCS code without trailing zero pairs ("010200000000" -> "0102")."""
    trimmed = huri_code.rstrip("0")
    return trimmed + "0" * (len(trimmed) % 2)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Labels(_Spec):
    """A short name in English, Belarusian (Cyrillic, not Russian) and Russian."""

    en: Text
    be: Text
    ru: Text

    @model_validator(mode="after")
    def _languages(self) -> Labels:
        for lang in ("en", "be", "ru"):
            _check_language(getattr(self, lang), lang)
        return self


class Definition(_Spec):
    """One or two sentences; English is required, Belarusian and Russian are welcome."""

    en: Text
    be: Text | None = None
    ru: Text | None = None

    @model_validator(mode="after")
    def _languages(self) -> Definition:
        for lang in ("en", "be", "ru"):
            value = getattr(self, lang)
            if value is not None:
                _check_language(value, lang)
        return self


class _NormBase(_Spec):
    verification: Verification
    note: Text | None = None
    source: Text | None = None


class IloInstrumentRef(_NormBase):
    """An ILO Convention (C), Protocol (P) or Recommendation (R), optionally narrowed to articles."""

    kind: Literal["ilo_instrument"]
    instrument: InstrumentCode
    article: Article | None = None
    articles: tuple[Article, ...] = ()

    @model_validator(mode="after")
    def _one_article_form(self) -> IloInstrumentRef:
        if self.article is not None and self.articles:
            raise ValueError("give either article or articles, not both")
        if self.articles and len(self.articles) < 2:
            raise ValueError("articles needs two or more entries; use article for one")
        if len(set(self.articles)) != len(self.articles):
            raise ValueError("articles repeats an entry")
        return self


class CfaCompilationRef(_NormBase):
    """A chapter and/or section of the CFA *Compilation of decisions* (6th ed., 2018).

    A paragraph number may be given only when it was seen: none were for the 2018 edition.
    """

    kind: Literal["cfa_compilation"]
    edition: Literal[2018] = 2018
    chapter: int | None = Field(default=None, ge=1, le=40)
    chapter_title: Text | None = None
    section: Text | None = None
    paragraph: ParagraphList | None = None

    @model_validator(mode="after")
    def _locatable(self) -> CfaCompilationRef:
        if self.chapter is None and self.chapter_title is None and self.section is None:
            raise ValueError("a cfa_compilation reference needs a chapter, chapter_title or section")
        if self.paragraph is not None and self.verification != "seen":
            raise ValueError(f"paragraph {self.paragraph} is given but not seen ({self.verification})")
        return self


class CfaDigestRef(_NormBase):
    """Paragraphs or a heading of the CFA *Digest of decisions* (5th revised ed., 2006)."""

    kind: Literal["cfa_digest"]
    edition: Literal[2006] = 2006
    paragraphs: ParagraphList | None = None
    section: Text | None = None

    @model_validator(mode="after")
    def _locatable(self) -> CfaDigestRef:
        if self.paragraphs is None and self.section is None:
            raise ValueError("a cfa_digest reference needs paragraphs or a section")
        if self.paragraphs is not None:
            for part in self.paragraphs.split(", "):
                first, _, last = part.partition("-")
                if last and int(last) <= int(first):
                    raise ValueError(f"paragraph range {part} does not ascend")
        return self


class CfaCaseRef(_NormBase):
    """A case examined by the CFA, as a precedent."""

    kind: Literal["cfa_case"]
    case_no: int = Field(ge=1)
    country: Text
    report: int | None = Field(default=None, ge=1)
    summary: Text | None = None


class ItucGroupRef(_NormBase):
    """An indicator group (I-V) of the ITUC Global Rights Index."""

    kind: Literal["ituc_group"]
    group: Literal["I", "II", "III", "IV", "V"]
    headline: Text | None = None


class HuridocsRef(_NormBase):
    """A term of a HURIDOCS micro-thesaurus (list number and 12-digit huri_code)."""

    kind: Literal["huridocs"]
    thesaurus: int = Field(ge=1, le=99)
    code: HuriCode
    label: Text | None = None

    @model_validator(mode="after")
    def _label_or_note(self) -> HuridocsRef:
        if self.label is None and self.note is None:
            raise ValueError(f"HURIDOCS code {self.code} has no label: say why in a note")
        return self


class OtherRef(_NormBase):
    """Any other instrument or supervisory text (an ILC resolution, a Commission of Inquiry, the GDPR)."""

    kind: Literal["other"]
    title: Text
    provision: Text | None = None


NormRef = Annotated[
    IloInstrumentRef | CfaCompilationRef | CfaDigestRef | CfaCaseRef | ItucGroupRef | HuridocsRef | OtherRef,
    Field(discriminator="kind"),
]


class ContextNote(_Spec):
    """A fact that illustrates a node (for example a Belarusian instance), with its verification."""

    text: Text
    verification: Verification
    source: Text | None = None


class TaxonomyNodeSpec(_Spec):
    """One node: an area, a category or a specific precedent type (a leaf), with its children.

    ``parent`` is only for the flat form (a top-level entry placed under a node defined elsewhere);
    nested children take their parent from the nesting.
    """

    code: NodeCode
    parent: NodeCode | None = None
    labels: Labels
    definition: Definition
    proposed: bool = False
    urgent: bool = False
    urgency_ground: UrgencyGround | None = None
    norms: tuple[NormRef, ...] = ()
    context: tuple[ContextNote, ...] = ()
    children: tuple[TaxonomyNodeSpec, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> TaxonomyNodeSpec:
        expected_parent = parent_code(self.code)
        if self.parent is not None and self.parent != expected_parent:
            raise ValueError(
                f"node {self.code}: parent {self.parent} is not the code's prefix "
                f"({expected_parent or 'none: an area has no parent'})"
            )
        if self.urgent != (self.urgency_ground is not None):
            raise ValueError(f"node {self.code}: urgent and urgency_ground go together")
        if self.urgent and self.children:
            raise ValueError(f"node {self.code}: only a leaf can be urgent")
        for child in self.children:
            if child.parent is not None:
                raise ValueError(f"node {child.code}: a nested node takes its parent from the nesting")
            if parent_code(child.code) != self.code:
                raise ValueError(f"node {child.code}: nested under {self.code} but its code says otherwise")
        if len(set(self.norms)) != len(self.norms):
            raise ValueError(f"node {self.code}: a norm reference is repeated")
        return self


class CodeMapping(_Spec):
    """Where a retired code went: one replacement, or a split into a default and alternatives.

    Targets are nodes of the file that retires the code.
    """

    code: NodeCode
    replaced_by: NodeCode
    alternatives: tuple[NodeCode, ...] = ()
    note: Text

    @property
    def is_split(self) -> bool:
        return bool(self.alternatives)

    @property
    def targets(self) -> tuple[str, ...]:
        """Return every target, the default first."""
        return (self.replaced_by, *self.alternatives)

    @model_validator(mode="after")
    def _distinct(self) -> CodeMapping:
        if self.code in self.targets:
            raise ValueError(f"retired code {self.code} maps to itself")
        if len(set(self.targets)) != len(self.targets):
            raise ValueError(f"retired code {self.code}: a target is repeated")
        return self


class _VersionedFile(_Spec):
    version: int = Field(ge=1)
    status: Literal["draft", "released"]
    released: date | None = None

    @model_validator(mode="after")
    def _release_date(self) -> _VersionedFile:
        if self.status == "released" and self.released is None:
            raise ValueError("a released file needs its release date")
        return self


class TaxonomyFile(_VersionedFile):
    """One immutable version of the precedent taxonomy."""

    title: Labels
    source: Text | None = None
    notes: tuple[Text, ...] = ()
    # The Compilation chapter numbers confirmed by a seen source; a cfa_compilation reference may
    # claim "seen" for a numbered chapter only if the number is listed here.
    cfa_chapters_seen: tuple[int, ...] = ()
    retired: tuple[CodeMapping, ...] = ()
    nodes: Annotated[tuple[TaxonomyNodeSpec, ...], AfterValidator(_non_empty)]


class TermSpec(_Spec):
    """One term of a controlled vocabulary: HURIDOCS code, parent code and labels."""

    code: HuriCode
    parent: HuriCode | None = None
    labels: Labels
    note: Text | None = None


class VocabularySpec(_Spec):
    """A HURIDOCS micro-thesaurus used as a facet. ``partial`` says only an extract is shipped.

    With ``hierarchical_codes`` (all lists but MT 16) a term's code extends its parent's code.
    """

    key: VocabularyKey
    huridocs_list: int = Field(ge=1, le=99)
    title: Labels
    partial: bool = False
    hierarchical_codes: bool = True
    note: Text | None = None
    terms: Annotated[tuple[TermSpec, ...], AfterValidator(_non_empty)]

    def term(self, code: str) -> TermSpec | None:
        """Return the term with this code, or None."""
        return next((t for t in self.terms if t.code == code), None)

    @model_validator(mode="after")
    def _tree(self) -> VocabularySpec:
        where = f"vocabulary {self.key} (MT {self.huridocs_list})"
        codes = [t.code for t in self.terms]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"{where}: duplicate term codes {', '.join(duplicates)}")
        known = set(codes)
        for term in self.terms:
            if term.parent is None:
                continue
            if term.parent not in known:
                raise ValueError(f"{where}: term {term.code} has unknown parent {term.parent}")
            if self.hierarchical_codes:
                prefix = _significant_prefix(term.parent)
                if not term.code.startswith(prefix) or _significant_prefix(term.code) == prefix:
                    raise ValueError(f"{where}: term {term.code} does not extend its parent {term.parent}")
        if not self.hierarchical_codes:
            # Codes do not encode the hierarchy, so walk the parent links to rule out a cycle.
            parents = {t.code: t.parent for t in self.terms}
            for start in codes:
                seen: set[str] = set()
                node: str | None = start
                while node is not None:
                    if node in seen:
                        raise ValueError(f"{where}: term {start} is in a parent cycle")
                    seen.add(node)
                    node = parents[node]
        return self


class VocabularyFile(_VersionedFile):
    """One version of the controlled vocabularies, with the licence and translation caveats."""

    licence_note: Text
    translation_note: Text
    source: Text
    vocabularies: Annotated[tuple[VocabularySpec, ...], AfterValidator(_non_empty)]

    def get(self, key: str) -> VocabularySpec:
        """Return the vocabulary with this key; raise KeyError if there is none."""
        for vocabulary in self.vocabularies:
            if vocabulary.key == key:
                return vocabulary
        raise KeyError(key)

    def by_list(self, huridocs_list: int) -> VocabularySpec | None:
        """Return the vocabulary for a HURIDOCS list number, or None if it is not shipped."""
        return next((v for v in self.vocabularies if v.huridocs_list == huridocs_list), None)

    @model_validator(mode="after")
    def _unique(self) -> VocabularyFile:
        for attribute in ("key", "huridocs_list"):
            values = [getattr(v, attribute) for v in self.vocabularies]
            duplicates = sorted({str(x) for x in values if values.count(x) > 1})
            if duplicates:
                raise ValueError(f"duplicate vocabulary {attribute}: {', '.join(duplicates)}")
        return self
