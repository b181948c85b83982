"""The taxonomy in the database: load the shipped files, resolve codes, query subtrees, count, add local nodes.

Subtree queries never walk the tree in Python per request: the closure table lists every (ancestor,
descendant) pair, and an in-process snapshot of it (a few hundred rows) is rebuilt only when the taxonomy
changes, so `subtree_codes` is a dictionary lookup and case queries filter with `code IN (...)`.

Retired codes stay in the database with their old place in the tree and their replacements; the closure
also puts each retired code under every node that replaced it. Cases filed under a retired code keep that
code (their meaning is never rewritten) and are found from both the old and the new place.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlmodel import Session, col, select

from api.auth.security import Actor
from api.models import Case, CaseCategory, TaxonomyClosure, TaxonomyNode, TaxonomyVersion, VocabularyTerm
from api.models.base import utcnow
from api.problems import Conflict, NotFound, ValidationProblem
from api.taxonomy import loader
from api.text import fold
from schemas.case import CategoryNotice
from schemas.problem import FieldError
from schemas.taxonomy import NormRef, TaxonomyFile, VocabularyFile
from schemas.taxonomy_api import (
    LocalNodeCreate,
    NodeSummary,
    NormRead,
    RetirementRead,
    TaxonomyNodeDetail,
    TaxonomyNodeRead,
    TermRead,
    VocabularyRead,
)

LOCAL_MARK = ".x-"

# ---- loading ----------------------------------------------------------------------------------------------


@dataclass
class LoadReport:
    versions: list[int]
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    closure_changes: int = 0
    terms_changed: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.inserted or self.updated or self.closure_changes or self.terms_changed)


def _node_values(flat: loader.FlatNode, version: int) -> dict[str, Any]:
    spec = flat.spec
    labels = spec.labels.model_dump()
    return {
        "parent_code": flat.parent,
        "path": flat.path,
        "depth": flat.depth,
        "ordinal": flat.ordinal,
        "is_leaf": flat.is_leaf,
        "labels": labels,
        "definition": spec.definition.model_dump(exclude_none=True),
        "norms": [n.model_dump(mode="json", exclude_none=True) for n in spec.norms],
        "context": [c.model_dump(mode="json", exclude_none=True) for c in spec.context],
        "urgent": spec.urgent,
        "urgency_ground": spec.urgency_ground,
        "proposed": spec.proposed,
        "local": False,
        "search_text": " ".join(fold(v) for v in labels.values()),
        "version": version,
        "retired_in": None,
        "replaced_by": [],
        "retirement_note": None,
    }


def load_taxonomy(
    *,
    session: Session,
    paths: list[Path] | None = None,
    vocabularies_path: Path | None = None,
) -> LoadReport:
    """Load the shipped taxonomy versions and vocabularies; a second load of the same files writes nothing."""
    paths = paths or loader.taxonomy_paths()
    files = loader.load_lineage(paths)
    current = files[-1]
    report = LoadReport(versions=[f.version for f in files])
    desired: dict[str, dict[str, Any]] = {}
    # Retired codes keep the place they had in the last version that shipped them.
    for taxonomy in files:
        for flat in loader.flatten(taxonomy):
            desired[flat.code] = _node_values(flat, taxonomy.version)
    for taxonomy in files[1:]:
        for mapping in taxonomy.retired:
            resolution = loader.resolve_code(mapping.code, files)
            desired[mapping.code] |= {
                "retired_in": taxonomy.version,
                "replaced_by": list(resolution.codes),
                "retirement_note": resolution.note,
            }
    existing = {n.code: n for n in session.exec(select(TaxonomyNode)).all()}
    for code, values in desired.items():
        row = existing.get(code)
        if row is None:
            session.add(TaxonomyNode(code=code, **values))
            report.inserted += 1
        elif any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            row.updated_at = utcnow()
            session.add(row)
            report.updated += 1
        else:
            report.unchanged += 1
    session.flush()
    report.closure_changes = _sync_closure(session)
    report.terms_changed = _load_vocabularies(session, loader.load_vocabularies(vocabularies_path))
    for taxonomy, path in zip(files, sorted(paths, key=_version_of), strict=True):
        if session.get(TaxonomyVersion, taxonomy.version) is None:
            digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            session.add(
                TaxonomyVersion(version=taxonomy.version, released=taxonomy.released, file_sha256=digest)
            )
    _check_current(current, desired)
    session.flush()
    invalidate_cache()
    return report


def _version_of(path: Path) -> int:
    return loader.load_taxonomy_file(path).version


def _check_current(current: TaxonomyFile, desired: dict[str, dict[str, Any]]) -> None:
    missing = {n.code for n in loader.flatten(current)} - desired.keys()
    if missing:  # cannot happen after load_lineage; a guard against a loader regression
        raise RuntimeError(f"current taxonomy codes not loaded: {sorted(missing)}")


def _desired_closure(nodes: list[TaxonomyNode]) -> set[tuple[str, str]]:
    by_code = {n.code: n for n in nodes}
    pairs: set[tuple[str, str]] = set()
    for node in nodes:
        for ancestor in node.path.split(loader.PATH_SEPARATOR):
            pairs.add((ancestor, node.code))
    for node in nodes:
        for target in node.replaced_by:
            if target in by_code:
                for ancestor in by_code[target].path.split(loader.PATH_SEPARATOR):
                    pairs.add((ancestor, node.code))
    return pairs


def _sync_closure(session: Session) -> int:
    nodes = list(session.exec(select(TaxonomyNode)).all())
    desired = _desired_closure(nodes)
    existing = {(a, d) for a, d in session.exec(select(TaxonomyClosure.ancestor, TaxonomyClosure.descendant))}
    for ancestor, descendant in existing - desired:
        session.execute(
            sa.delete(TaxonomyClosure).where(
                col(TaxonomyClosure.ancestor) == ancestor, col(TaxonomyClosure.descendant) == descendant
            )
        )
    for ancestor, descendant in desired - existing:
        session.add(TaxonomyClosure(ancestor=ancestor, descendant=descendant))
    session.flush()
    return len(existing ^ desired)


def _load_vocabularies(session: Session, vocabularies: VocabularyFile) -> int:
    existing = {(t.vocabulary, t.code): t for t in session.exec(select(VocabularyTerm)).all()}
    changed = 0
    for vocab in vocabularies.vocabularies:
        for ordinal, term in enumerate(vocab.terms, start=1):
            values: dict[str, Any] = {
                "huridocs_list": vocab.huridocs_list,
                "parent_code": term.parent,
                "ordinal": ordinal,
                "labels": term.labels.model_dump(),
                "note": term.note,
            }
            row = existing.get((vocab.key, term.code))
            if row is None:
                session.add(VocabularyTerm(vocabulary=vocab.key, code=term.code, **values))
                changed += 1
            elif any(getattr(row, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(row, k, v)
                session.add(row)
                changed += 1
    return changed


# ---- the in-process snapshot ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeData:
    """A detached, immutable copy of a taxonomy row (ORM rows expire when their session ends)."""

    code: str
    parent_code: str | None
    path: str
    depth: int
    ordinal: int
    is_leaf: bool
    labels: dict[str, Any]
    definition: dict[str, Any]
    norms: list[Any]
    context: list[Any]
    urgent: bool
    urgency_ground: str | None
    proposed: bool
    local: bool
    search_text: str
    retired_in: int | None
    replaced_by: list[str]
    retirement_note: str | None

    @classmethod
    def of(cls, row: TaxonomyNode) -> NodeData:
        return cls(**{f: getattr(row, f) for f in cls.__dataclass_fields__})


@dataclass
class Snapshot:
    generation: tuple[Any, ...]
    nodes: dict[str, NodeData]
    subtree: dict[str, frozenset[str]]
    children: dict[str | None, list[str]] = field(default_factory=dict)


_cache: dict[str, Snapshot] = {}
_cache_lock = threading.Lock()


def invalidate_cache() -> None:
    """Forget every snapshot (called after this process changes the taxonomy)."""
    with _cache_lock:
        _cache.clear()


def snapshot(session: Session) -> Snapshot:
    """Return the taxonomy as loaded now, rebuilt only when it changed (checked with one tiny query)."""
    generation = tuple(
        session.execute(
            sa.select(sa.func.count(), sa.func.max(TaxonomyNode.updated_at)).select_from(TaxonomyNode)
        ).one()
    )
    key = str(session.get_bind().engine.url)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None and cached.generation == generation:
            return cached
    nodes = {n.code: NodeData.of(n) for n in session.exec(select(TaxonomyNode)).all()}
    subtree: dict[str, set[str]] = defaultdict(set)
    for ancestor, descendant in session.exec(select(TaxonomyClosure.ancestor, TaxonomyClosure.descendant)):
        subtree[ancestor].add(descendant)
    children: dict[str | None, list[str]] = defaultdict(list)
    for node in sorted(nodes.values(), key=lambda n: (n.depth, n.ordinal, n.code)):
        if node.retired_in is None:
            children[node.parent_code].append(node.code)
    snap = Snapshot(generation, nodes, {k: frozenset(v) for k, v in subtree.items()}, dict(children))
    with _cache_lock:
        _cache[key] = snap
    return snap


# ---- codes used by other domains --------------------------------------------------------------------------


def resolve_case_codes(*, session: Session, codes: list[str]) -> tuple[list[str], list[CategoryNotice]]:
    """Map the categories of a case to current codes: unknown ones are a 422 naming them, retired ones are
    replaced by their default replacement and reported in a notice."""
    snap = snapshot(session)
    resolved: list[str] = []
    notices: list[CategoryNotice] = []
    errors: list[FieldError] = []
    for index, code in enumerate(codes):
        node = snap.nodes.get(code)
        if node is None:
            hint = "" if snap.nodes else " (the taxonomy is not loaded: run `precedent taxonomy load`)"
            errors.append(
                FieldError(
                    field=f"body.categories.{index}",
                    message=f"unknown taxonomy code {code!r}{hint}",
                    type="unknown_code",
                )
            )
            continue
        if node.retired_in is not None:
            default, *alternatives = node.replaced_by
            also = f"; it was split, so consider also {', '.join(alternatives)}" if alternatives else ""
            notices.append(
                CategoryNotice(
                    code=code,
                    replaced_by=list(node.replaced_by),
                    message=f"{code} was retired in taxonomy version {node.retired_in}: filed under {default}{also}.",
                )
            )
            code = default
        if code not in resolved:
            resolved.append(code)
    if errors:
        raise ValidationProblem(errors)
    return resolved, notices


def subtree_codes(
    *, session: Session, code: str, field: str = "query.category", snap: Snapshot | None = None
) -> list[str]:
    """Return `code` and every code filed below it (retired codes included), or a 422 naming an unknown code.

    `snap`: a snapshot the caller has just taken (else one is taken: one query)."""
    snap = snapshot(session) if snap is None else snap
    codes = snap.subtree.get(code)
    if codes is None:
        raise ValidationProblem.single(field, f"unknown taxonomy code {code!r}", "unknown_code")
    return sorted(codes)


def check_vocabulary_code(*, session: Session, vocabulary: str, code: str | None, field: str) -> None:
    """Refuse a facet value that is not a term of its HURIDOCS vocabulary."""
    if code is not None and session.get(VocabularyTerm, (vocabulary, code)) is None:
        raise ValidationProblem.single(
            field, f"{code!r} is not a term of the {vocabulary} vocabulary", "unknown_code"
        )


# ---- reading ----------------------------------------------------------------------------------------------


_NORM: TypeAdapter[Any] = TypeAdapter(NormRef)


def _norms(node: NodeData) -> list[NormRead]:
    return [NormRead.of(_NORM.validate_python(n), node.code) for n in node.norms]


def _node_read(node: NodeData, *, counts: dict[str, int] | None = None) -> TaxonomyNodeRead:
    return TaxonomyNodeRead(
        code=node.code,
        parent_code=node.parent_code,
        labels=node.labels,
        definition=node.definition,
        norms=_norms(node),
        urgent=node.urgent,
        urgency_ground=node.urgency_ground,
        proposed=node.proposed,
        local=node.local,
        is_leaf=node.is_leaf,
        depth=node.depth,
        case_count=None if counts is None else counts.get(node.code, 0),
    )


def case_counts(*, session: Session, actor: Actor) -> dict[str, int]:
    """Return, per node, how many unretracted cases the actor may see are filed under it or below (rolled up)."""
    from api.cases import service as cases_service

    visible = select(Case.id).where(cases_service.visible_clause(actor), col(Case.retracted_at).is_(None))
    rows = session.execute(
        sa.select(col(TaxonomyClosure.ancestor), sa.func.count(sa.distinct(col(CaseCategory.case_id))))
        .join(CaseCategory, col(CaseCategory.code) == col(TaxonomyClosure.descendant))
        .where(col(CaseCategory.case_id).in_(visible))
        .group_by(TaxonomyClosure.ancestor)
    )
    return {str(code): int(count) for code, count in rows}


def tree(*, session: Session, actor: Actor, counts: bool) -> list[TaxonomyNodeRead]:
    """Return the current taxonomy as a list of areas with nested children."""
    snap = snapshot(session)
    numbers = case_counts(session=session, actor=actor) if counts else None

    def build(code: str) -> TaxonomyNodeRead:
        read = _node_read(snap.nodes[code], counts=numbers)
        read.children = [build(child) for child in snap.children.get(code, [])]
        return read

    return [build(code) for code in snap.children.get(None, [])]


def search(*, session: Session, q: str) -> list[TaxonomyNodeRead]:
    """Find current nodes whose label, in any of the three languages, contains `q` (case-insensitive)."""
    needle = fold(q.strip())
    snap = snapshot(session)
    hits = [n for n in snap.nodes.values() if n.retired_in is None and needle in n.search_text]
    return [_node_read(n) for n in sorted(hits, key=lambda n: n.path)]


def node_detail(*, session: Session, code: str) -> TaxonomyNodeDetail:
    """Return a node with its ancestors, children, own and inherited norms, and any retirement."""
    snap = snapshot(session)
    node = snap.nodes.get(code)
    if node is None:
        raise NotFound(f"No taxonomy node {code!r}.")
    ancestors = [snap.nodes[c] for c in node.path.split(loader.PATH_SEPARATOR)[:-1]]
    children = [snap.nodes[c] for c in snap.children.get(code, [])]
    retired = None
    if node.retired_in is not None:
        retired = RetirementRead(
            retired_in=node.retired_in, replaced_by=node.replaced_by, note=node.retirement_note
        )
    return TaxonomyNodeDetail(
        node=_node_read(node),
        ancestors=[NodeSummary(code=a.code, labels=a.labels, is_leaf=a.is_leaf) for a in ancestors],
        children=[NodeSummary(code=c.code, labels=c.labels, is_leaf=c.is_leaf) for c in children],
        inherited_norms=[n for a in ancestors for n in _norms(a)],
        context=node.context,
        retired=retired,
    )


def add_local_node(
    *, session: Session, actor: Actor, parent_code: str, node_in: LocalNodeCreate
) -> TaxonomyNodeDetail:
    """Add an organisation's own node under any current node; shipped nodes stay untouched."""
    snap = snapshot(session)
    parent = snap.nodes.get(parent_code)
    if parent is None or parent.retired_in is not None:
        raise NotFound(f"No current taxonomy node {parent_code!r}.")
    code = f"{parent_code}{LOCAL_MARK}{node_in.slug}"
    if len(code) > 64:
        raise ValidationProblem.single("body.slug", "the resulting code is longer than 64 characters")
    if code in snap.nodes:
        raise Conflict(f"A node {code} already exists.")
    labels = node_in.labels.model_dump()
    node = TaxonomyNode(
        code=code,
        parent_code=parent_code,
        path=f"{parent.path}{loader.PATH_SEPARATOR}{code}",
        depth=parent.depth + 1,
        ordinal=len(snap.children.get(parent_code, [])) + 1,
        is_leaf=True,
        labels=labels,
        definition=node_in.definition.model_dump(exclude_none=True),
        norms=[n.model_dump(mode="json", exclude_none=True) for n in node_in.norms],
        context=[],
        local=True,
        search_text=" ".join(fold(v) for v in labels.values()),
        created_by=actor.user_id,
    )
    session.add(node)
    if parent.is_leaf:
        session.execute(
            sa.update(TaxonomyNode)
            .where(col(TaxonomyNode.code) == parent_code)
            .values(is_leaf=False, updated_at=utcnow())
        )
    for ancestor in node.path.split(loader.PATH_SEPARATOR):
        session.add(TaxonomyClosure(ancestor=ancestor, descendant=code))
    from api.audit import service as audit_service

    audit_service.record(
        session=session,
        actor_id=actor.user_id,
        action="taxonomy.local_node",
        target_type="taxonomy",
        target_id=code,
    )
    session.flush()
    invalidate_cache()
    return node_detail(session=session, code=code)


def vocabularies(*, session: Session) -> list[VocabularyRead]:
    """Return every controlled vocabulary with its terms, in file order."""
    grouped: dict[str, list[VocabularyTerm]] = defaultdict(list)
    for term in session.exec(
        select(VocabularyTerm).order_by(col(VocabularyTerm.vocabulary), col(VocabularyTerm.ordinal))
    ):
        grouped[term.vocabulary].append(term)
    return [
        VocabularyRead(
            key=key,
            huridocs_list=terms[0].huridocs_list,
            terms=[TermRead(code=t.code, parent_code=t.parent_code, labels=t.labels) for t in terms],
        )
        for key, terms in grouped.items()
    ]


__all__ = [
    "LoadReport",
    "add_local_node",
    "case_counts",
    "check_vocabulary_code",
    "invalidate_cache",
    "load_taxonomy",
    "node_detail",
    "resolve_case_codes",
    "search",
    "snapshot",
    "subtree_codes",
    "tree",
    "uuid",
    "vocabularies",
]
