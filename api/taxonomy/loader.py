"""Load, check and navigate the precedent taxonomy and its vocabularies: pure functions, no database.

A taxonomy file is parsed with ``yaml.safe_load``, validated by ``schemas.taxonomy.TaxonomyFile`` and
then checked as a whole tree. Every problem found is reported at once, each naming the offending code.

Error hierarchy::

    TaxonomyError               root of everything raised on purpose here
    ├── TaxonomyFileError       a file does not parse, validate or pass the tree checks (also ValueError)
    ├── TaxonomyLineageError    versions do not follow on from each other (also ValueError)
    └── UnknownCodeError        a code is not in the taxonomy (also LookupError)
"""

from __future__ import annotations

import itertools
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import yaml
from pydantic import ValidationError

from schemas.taxonomy import (
    CfaCompilationRef,
    CodeMapping,
    HuridocsRef,
    NormRef,
    TaxonomyFile,
    TaxonomyNodeSpec,
    VocabularyFile,
    parent_code,
)

__all__ = [
    "DATA_DIR",
    "CodeResolution",
    "FlatNode",
    "Problem",
    "TaxonomyError",
    "TaxonomyFileError",
    "TaxonomyLineageError",
    "UnknownCodeError",
    "applicable_norms",
    "check_huridocs_refs",
    "check_lineage",
    "check_succession",
    "check_taxonomy",
    "current_taxonomy_path",
    "current_vocabularies_path",
    "descendants",
    "flatten",
    "load_lineage",
    "load_taxonomy_file",
    "load_vocabularies",
    "parse_taxonomy",
    "parse_vocabularies",
    "resolve_code",
    "taxonomy_paths",
]

DATA_DIR: Final = Path(__file__).resolve().parent / "data"
PATH_SEPARATOR: Final = "/"
_TAXONOMY_NAME: Final = re.compile(r"^precedents\.v([1-9][0-9]*)\.yaml$")
_VOCABULARIES_NAME: Final = re.compile(r"^vocabularies\.v([1-9][0-9]*)\.yaml$")
# Lists in the raw data whose items are named by a field, so errors can say which item is wrong.
_NAMED_ITEMS: Final = {
    "nodes": "code",
    "children": "code",
    "retired": "code",
    "vocabularies": "key",
    "terms": "code",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a file: the code (or vocabulary key) it concerns, where, and what."""

    code: str | None
    message: str
    where: str = ""

    def __str__(self) -> str:
        parts = [part for part in (self.code, self.where) if part]
        return ": ".join([*parts, self.message])


class TaxonomyError(Exception):
    """Root of the errors raised on purpose by this module."""


class _ProblemsError(TaxonomyError, ValueError):
    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        listing = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s)\n{listing}")

    @property
    def codes(self) -> frozenset[str]:
        """Return the codes named by the problems."""
        return frozenset(p.code for p in self.problems if p.code is not None)


class TaxonomyFileError(_ProblemsError):
    """A taxonomy or vocabulary file is not valid; ``problems`` lists every finding."""


class TaxonomyLineageError(_ProblemsError):
    """Consecutive taxonomy versions are inconsistent (a code vanished, a retired code came back...)."""


class UnknownCodeError(TaxonomyError, LookupError):
    """A code is not a node of the taxonomy."""


@dataclass(frozen=True, slots=True)
class FlatNode:
    """A node placed in the tree: ``path`` is the materialised path (``A/A.LIB/A.LIB.ARREST``).

    ``depth`` is 0 for an area; ``ordinal`` is the 1-based position among its siblings.
    """

    code: str
    parent: str | None
    path: str
    depth: int
    ordinal: int
    is_leaf: bool
    spec: TaxonomyNodeSpec

    @property
    def area(self) -> str:
        return self.path.split(PATH_SEPARATOR, 1)[0]


@dataclass(frozen=True, slots=True)
class CodeResolution:
    """Where a code stands in the latest version: current, retired (mapped) or unknown.

    ``codes`` are the current codes to use, the default first; empty when unknown.
    """

    code: str
    status: Literal["current", "retired", "unknown"]
    codes: tuple[str, ...]
    note: str
    chain: tuple[str, ...] = ()

    @property
    def default(self) -> str | None:
        return self.codes[0] if self.codes else None

    @property
    def alternatives(self) -> tuple[str, ...]:
        return self.codes[1:]


# ------------------------------------------------------------------------------------------ files


def taxonomy_paths(data_dir: Path | None = None) -> list[Path]:
    """Return the taxonomy files in a directory, lowest version first."""
    return _versioned_paths(data_dir or DATA_DIR, _TAXONOMY_NAME)


def current_taxonomy_path(data_dir: Path | None = None) -> Path:
    """Return the highest-version taxonomy file shipped in the data directory."""
    return _current(data_dir or DATA_DIR, _TAXONOMY_NAME)


def current_vocabularies_path(data_dir: Path | None = None) -> Path:
    """Return the highest-version vocabulary file shipped in the data directory."""
    return _current(data_dir or DATA_DIR, _VOCABULARIES_NAME)


def load_taxonomy_file(path: str | os.PathLike[str]) -> TaxonomyFile:
    """Read, validate and tree-check one taxonomy file; raise TaxonomyFileError listing every problem."""
    path = Path(path)
    taxonomy = parse_taxonomy(_read_yaml(path), source=str(path))
    _check_name_matches_version(path, _TAXONOMY_NAME, taxonomy.version)
    return taxonomy


def parse_taxonomy(data: object, *, source: str = "<data>") -> TaxonomyFile:
    """Validate already-parsed YAML data as a taxonomy and tree-check it."""
    try:
        taxonomy = TaxonomyFile.model_validate(data)
    except ValidationError as exc:
        raise TaxonomyFileError(source, _problems_from(exc, data)) from None
    problems = check_taxonomy(taxonomy)
    if problems:
        raise TaxonomyFileError(source, problems)
    return taxonomy


def load_vocabularies(path: str | os.PathLike[str] | None = None) -> VocabularyFile:
    """Read and validate a vocabulary file (by default the current one)."""
    path = Path(path) if path is not None else current_vocabularies_path()
    vocabularies = parse_vocabularies(_read_yaml(path), source=str(path))
    _check_name_matches_version(path, _VOCABULARIES_NAME, vocabularies.version)
    return vocabularies


def parse_vocabularies(data: object, *, source: str = "<data>") -> VocabularyFile:
    """Validate already-parsed YAML data as a vocabulary file."""
    try:
        return VocabularyFile.model_validate(data)
    except ValidationError as exc:
        raise TaxonomyFileError(source, _problems_from(exc, data)) from None


# ------------------------------------------------------------------------------------ tree checks


def check_taxonomy(taxonomy: TaxonomyFile) -> list[Problem]:
    """Return every whole-tree problem: duplicate or orphan codes, cycles, incomplete leaves, bad mappings."""
    problems: list[Problem] = []
    entries = _entries(taxonomy)
    counts: dict[str, int] = defaultdict(int)
    for spec, _ in entries:
        counts[spec.code] += 1
    problems += [Problem(code, f"duplicate code (appears {n} times)") for code, n in counts.items() if n > 1]

    parents: dict[str, str | None] = {}
    for spec, parent in entries:
        if parent is None and parent_code(spec.code) is not None:
            problems.append(
                Problem(
                    spec.code,
                    f"top-level entry is not an area: nest it or give parent {parent_code(spec.code)}",
                )
            )
        elif parent is not None and parent not in counts:
            problems.append(Problem(spec.code, f"parent {parent} does not exist"))
        parents.setdefault(spec.code, parent)
    problems += _cycles(parents)

    # In the flat form a node's children are declared elsewhere, so leaves are known only here.
    with_children = {parent for _, parent in entries if parent is not None}
    for spec, _ in entries:
        if spec.code not in with_children and not spec.norms:
            problems.append(Problem(spec.code, "leaf has no norm reference"))
        if spec.urgent and spec.code in with_children:
            problems.append(Problem(spec.code, "only a leaf can be urgent"))
        for norm in spec.norms:
            if (
                isinstance(norm, CfaCompilationRef)
                and norm.verification == "seen"
                and norm.chapter is not None
                and norm.chapter not in taxonomy.cfa_chapters_seen
            ):
                problems.append(
                    Problem(
                        spec.code,
                        f"CFA Compilation chapter {norm.chapter} is marked seen, but only chapters "
                        f"{sorted(taxonomy.cfa_chapters_seen)} are confirmed (cfa_chapters_seen)",
                    )
                )
    problems += _check_retired(taxonomy.retired, set(counts))
    return problems


def check_huridocs_refs(taxonomy: TaxonomyFile, vocabularies: VocabularyFile) -> list[Problem]:
    """Return HURIDOCS references to a shipped vocabulary whose code or label is not in it."""
    problems: list[Problem] = []
    for node in flatten(taxonomy):
        for norm in node.spec.norms:
            if not isinstance(norm, HuridocsRef):
                continue
            vocabulary = vocabularies.by_list(norm.thesaurus)
            if vocabulary is None:
                continue
            term = vocabulary.term(norm.code)
            if term is None:
                problems.append(Problem(node.code, f"MT {norm.thesaurus} has no term {norm.code}"))
            elif norm.label is not None and norm.label != term.labels.en:
                problems.append(
                    Problem(
                        node.code,
                        f"MT {norm.thesaurus} {norm.code} is {term.labels.en!r}, not {norm.label!r}",
                    )
                )
    return problems


# ------------------------------------------------------------------------------------- navigation


def flatten(taxonomy: TaxonomyFile) -> list[FlatNode]:
    """Return the nodes of a checked taxonomy in pre-order (parents first), with path, depth and ordinal."""
    children: dict[str | None, list[TaxonomyNodeSpec]] = defaultdict(list)
    for spec, parent in _entries(taxonomy):
        children[parent].append(spec)
    flat: list[FlatNode] = []
    roots = children[None]
    stack: list[tuple[TaxonomyNodeSpec, str | None, str, int, int]] = []
    stack += [(spec, None, spec.code, 0, ordinal) for ordinal, spec in enumerate(roots, start=1)][::-1]
    while stack:
        spec, parent, path, depth, ordinal = stack.pop()
        kids = children.get(spec.code, [])
        flat.append(FlatNode(spec.code, parent, path, depth, ordinal, not kids, spec))
        stack += [
            (kid, spec.code, f"{path}{PATH_SEPARATOR}{kid.code}", depth + 1, n)
            for n, kid in enumerate(kids, start=1)
        ][::-1]
    return flat


def descendants(taxonomy: TaxonomyFile, code: str) -> list[str]:
    """Return the codes below a node, in pre-order, without the node itself."""
    flat = flatten(taxonomy)
    node = next((n for n in flat if n.code == code), None)
    if node is None:
        raise UnknownCodeError(code)
    prefix = node.path + PATH_SEPARATOR
    return [n.code for n in flat if n.path.startswith(prefix)]


def applicable_norms(taxonomy: TaxonomyFile, code: str) -> list[tuple[str, NormRef]]:
    """Return the norms that apply to a node, its ancestors' first, each with the code that carries it."""
    by_code = {n.code: n for n in flatten(taxonomy)}
    if code not in by_code:
        raise UnknownCodeError(code)
    return [(c, norm) for c in by_code[code].path.split(PATH_SEPARATOR) for norm in by_code[c].spec.norms]


# -------------------------------------------------------------------------------------- versions


def check_succession(previous: TaxonomyFile, current: TaxonomyFile) -> list[Problem]:
    """Return problems between consecutive versions: every old code must survive or be retired."""
    problems: list[Problem] = []
    if current.version != previous.version + 1:
        problems.append(
            Problem(None, f"version {current.version} does not follow version {previous.version}")
        )
    old = {n.code for n in flatten(previous)}
    new = {n.code for n in flatten(current)}
    retired = {m.code for m in current.retired}
    for code in sorted(old - new - retired):
        problems.append(Problem(code, f"dropped in version {current.version} without a retirement mapping"))
    for code in sorted(retired - old):
        problems.append(
            Problem(
                code, f"retired in version {current.version} but not a code of version {previous.version}"
            )
        )
    return problems


def check_lineage(files: Sequence[TaxonomyFile]) -> list[Problem]:
    """Return problems across a series of versions, including a retired code that comes back."""
    ordered = sorted(files, key=lambda f: f.version)
    problems: list[Problem] = []
    for previous, current in itertools.pairwise(ordered):
        problems += check_succession(previous, current)
    retired_in: dict[str, int] = {}
    for taxonomy in ordered:
        for code in sorted({n.code for n in flatten(taxonomy)} & retired_in.keys()):
            problems.append(
                Problem(code, f"retired in version {retired_in[code]}, reused in version {taxonomy.version}")
            )
        retired_in.update({m.code: taxonomy.version for m in taxonomy.retired})
    return problems


def load_lineage(paths: Iterable[str | os.PathLike[str]]) -> list[TaxonomyFile]:
    """Load several taxonomy versions, lowest first, and check that each follows on from the last."""
    files = sorted((load_taxonomy_file(p) for p in paths), key=lambda f: f.version)
    problems = check_lineage(files)
    if problems:
        raise TaxonomyLineageError(", ".join(f"v{f.version}" for f in files), problems)
    return files


def resolve_code(code: str, files: Sequence[TaxonomyFile]) -> CodeResolution:
    """Map a code from any shipped version to the current code(s), following retirements across versions."""
    ordered = sorted(files, key=lambda f: f.version)
    if not ordered:
        raise ValueError("resolve_code needs at least one taxonomy version")
    versions = [f.version for f in ordered]
    if len(set(versions)) != len(versions):
        raise ValueError(f"taxonomy versions repeat: {versions}")
    nodes = [{n.code for n in flatten(f)} for f in ordered]
    retired = [{m.code: m for m in f.retired} for f in ordered]
    start = next((i for i in range(len(ordered)) if code in nodes[i] or code in retired[i]), None)
    if start is None:
        return CodeResolution(
            code, "unknown", (), f"{code} is not a code of taxonomy versions {versions[0]}-{versions[-1]}"
        )
    hops: list[str] = []
    codes = _follow(code, start, ordered, nodes, retired, hops)
    if not hops:
        return CodeResolution(code, "current", tuple(codes), "")
    return CodeResolution(code, "retired", tuple(codes), "; ".join(hops), tuple(hops))


def _follow(
    code: str,
    start: int,
    ordered: Sequence[TaxonomyFile],
    nodes: Sequence[set[str]],
    retired: Sequence[Mapping[str, CodeMapping]],
    hops: list[str],
) -> list[str]:
    for index in range(start, len(ordered)):
        mapping = retired[index].get(code)
        version = ordered[index].version
        if mapping is not None:
            hops.append(_describe(mapping, version))
            result: list[str] = []
            # Targets are nodes of the retiring version, so each is followed from the next one on.
            for target in mapping.targets:
                result += [
                    c for c in _follow(target, index + 1, ordered, nodes, retired, hops) if c not in result
                ]
            return result
        if code not in nodes[index]:
            problem = Problem(code, f"disappears in version {version} without a retirement mapping")
            raise TaxonomyLineageError(f"v{version}", [problem])
    return [code]


def _describe(mapping: CodeMapping, version: int) -> str:
    note = mapping.note.rstrip(".")
    if mapping.is_split:
        rest = ", ".join(mapping.alternatives)
        return f"v{version}: {mapping.code} split into {mapping.replaced_by} (default), {rest}: {note}"
    return f"v{version}: {mapping.code} replaced by {mapping.replaced_by}: {note}"


# --------------------------------------------------------------------------------------- helpers


def _versioned_paths(directory: Path, pattern: re.Pattern[str]) -> list[Path]:
    found = [
        (int(m.group(1)), p) for p in directory.iterdir() if (m := pattern.match(p.name)) and p.is_file()
    ]
    return [p for _, p in sorted(found)]


def _current(directory: Path, pattern: re.Pattern[str]) -> Path:
    paths = _versioned_paths(directory, pattern)
    if not paths:
        raise FileNotFoundError(f"no file matching {pattern.pattern} in {directory}")
    return paths[-1]


def _check_name_matches_version(path: Path, pattern: re.Pattern[str], version: int) -> None:
    match = pattern.match(path.name)
    if match and int(match.group(1)) != version:
        problem = Problem(None, f"file name says version {match.group(1)}, content says {version}")
        raise TaxonomyFileError(str(path), [problem])


def _read_yaml(path: Path) -> object:
    try:
        with path.open(encoding="utf-8") as stream:
            return yaml.safe_load(stream)
    except yaml.YAMLError as exc:
        raise TaxonomyFileError(str(path), [Problem(None, f"not valid YAML: {exc}")]) from None


def _entries(taxonomy: TaxonomyFile) -> list[tuple[TaxonomyNodeSpec, str | None]]:
    """Return every node with its parent (from the nesting or the flat ``parent`` field), in file order."""
    entries: list[tuple[TaxonomyNodeSpec, str | None]] = []
    stack: list[tuple[TaxonomyNodeSpec, str | None]] = [(spec, spec.parent) for spec in taxonomy.nodes][::-1]
    while stack:
        spec, parent = stack.pop()
        entries.append((spec, parent))
        stack += [(child, spec.code) for child in spec.children][::-1]
    return entries


def _cycles(parents: Mapping[str, str | None]) -> list[Problem]:
    problems: list[Problem] = []
    for start in parents:
        chain = [start]
        node = parents.get(start)
        while node is not None and node in parents:
            if node in chain:
                problems.append(Problem(start, f"parent cycle: {' -> '.join([*chain, node])}"))
                break
            chain.append(node)
            node = parents[node]
    return problems


def _check_retired(retired: Sequence[CodeMapping], codes: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for mapping in retired:
        if mapping.code in seen:
            problems.append(Problem(mapping.code, "retired twice"))
        seen.add(mapping.code)
        if mapping.code in codes:
            problems.append(Problem(mapping.code, "retired but still a node of this version"))
        for target in mapping.targets:
            if target not in codes:
                problems.append(
                    Problem(mapping.code, f"maps to {target}, which is not a node of this version")
                )
    return problems


def _problems_from(exc: ValidationError, data: object) -> list[Problem]:
    """Turn pydantic errors into problems that name the node (or vocabulary and term) at fault."""
    problems: list[Problem] = []
    for error in exc.errors():
        names: list[str] = []
        where = ""
        current: object = data
        container: str | None = None
        for step in error["loc"]:
            if isinstance(current, Mapping) and isinstance(step, str) and step in current:
                current, container = current[step], step
                where += f".{step}" if where else step
            elif isinstance(current, list) and isinstance(step, int) and 0 <= step < len(current):
                current = current[step]
                field = _NAMED_ITEMS.get(container or "")
                name = current.get(field) if field and isinstance(current, Mapping) else None
                if isinstance(name, str):
                    names.append(name)
                    where = ""
                else:
                    where += f"[{step}]"
                container = None
            elif isinstance(current, Mapping) and current.get("kind") == step:
                continue  # the tag of a discriminated union, not a field
            else:
                where += f".{step}" if where else str(step)
        message = error["msg"].removeprefix("Value error, ")
        outer = PATH_SEPARATOR.join(names[:-1])
        problems.append(
            Problem(names[-1] if names else None, message, ": ".join(filter(None, [outer, where])))
        )
    return problems
