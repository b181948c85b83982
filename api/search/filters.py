"""Case filters as SQL conditions, reusable by the case list, the statistics, exports and the web pages.

Every value reaches the database as a bound parameter; nothing here builds SQL from user text. The conditions
always include the caller's visibility (api.cases.service.visible_clause) and leave retracted cases out.

How the filters match:

* `category`: each code stands for its node and everything filed below it (retired codes included, through the
  cached taxonomy closure); the subtree is resolved to codes first and matched with `IN (...)`.
  `category_match=any` needs one of the categories, `all` needs each.
* `date_from` / `date_to`: a case's uncertain date is the interval [earliest, latest] its precision allows
  (a day is itself; a month, its first to last day; a year, 1 Jan to 31 Dec; `approximate`, the given dates
  widened by the approximate margin; a span, from its start to its end). A case matches when that interval
  overlaps the requested range, so an event known only as "2021" matches 2021-03-01..2021-06-30.
  `date_from=2021` means from 2021-01-01 and `date_to=2021` up to 2021-12-31; `2021-03` likewise for months.
* `region`, `place`, `employer`, `sector`: the whole value, ignoring letter case in any script (Unicode case
  folding, ё read as е).
* `victim_status`: a victim (role `victim`) whose status is one of those given. `role`: anyone involved in one of
  those roles. `organisation`: the organisation is involved itself, or an involved person belongs to it. Each
  is a separate condition on the case's unretracted involvements.
* `victims_min` / `victims_max`: the number of unretracted involvements in the role `victim` (a group recorded
  as one person counts once).
* `tag`: the case carries every tag given. `q`: every word appears in the case's title, summary or narrative or
  in one of its testimonies (testimonies only for callers who may read them).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.cases.service import visible_clause
from api.models import Case, CaseCategory, CaseTag, CaseText, Involvement, Person
from api.problems import ValidationProblem
from api.search import index as search_index
from api.search.text import Term, WordSeal, fold, fts5_query, parse_query, tsquery
from schemas.enums import InvolvementRole
from schemas.search import CaseFilterQuery

# Derived from q (terms) or a key (words): not part of what a cursor's fingerprint compares.
_UNPRINTED = frozenset({"terms", "words"})

VICTIM = InvolvementRole.VICTIM.value


@dataclass(frozen=True)
class SearchFilters:
    """Validated case filters; empty lists and None mean "no condition"."""

    status: tuple[str, ...] = ()
    confidentiality: tuple[str, ...] = ()
    country: tuple[str, ...] = ()
    region: str | None = None
    place: str | None = None
    employer: str | None = None
    sector: str | None = None
    category: tuple[str, ...] = ()
    category_match: str = "any"
    date_from: date | None = None
    date_to: date | None = None
    victim_status: tuple[str, ...] = ()
    role: tuple[str, ...] = ()
    organisation: uuid.UUID | None = None
    victims_min: int | None = None
    victims_max: int | None = None
    urgent: bool | None = None
    language: str | None = None
    tag: tuple[str, ...] = ()
    created_by: uuid.UUID | None = None
    updated_since: datetime | None = None
    mine: bool = False
    q: str | None = None
    # The keyed hashes of the words of q in sealed texts (testimonies); without it q finds case texts only.
    words: WordSeal | None = field(default=None, compare=False, repr=False)
    terms: tuple[Term, ...] = field(default=(), compare=False, init=False)

    @classmethod
    def from_query(cls, query: CaseFilterQuery, *, words: WordSeal | None = None) -> SearchFilters:
        """Build filters from the validated query parameters (or any CaseFilterQuery)."""
        values: dict[str, Any] = query.model_dump(include=set(cls.__dataclass_fields__) - {"terms", "words"})
        for name, value in values.items():
            if isinstance(value, list):
                values[name] = tuple(str(v) for v in value)
        return cls(**values, words=words)

    def __post_init__(self) -> None:
        """Check the ranges, read a naive updated_since as UTC and parse the words of q (422 problems)."""
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValidationProblem.single("query.date_from", "date_from is after date_to", "range")
        if (
            self.victims_min is not None
            and self.victims_max is not None
            and self.victims_min > self.victims_max
        ):
            raise ValidationProblem.single("query.victims_min", "victims_min is above victims_max", "range")
        if self.updated_since is not None and self.updated_since.tzinfo is None:
            object.__setattr__(self, "updated_since", self.updated_since.replace(tzinfo=UTC))
        if self.q is not None:
            terms = tuple(parse_query(self.q, self.words))
            if not terms:
                raise ValidationProblem.single(
                    "query.q", "give at least one word (letters or digits)", "no_words"
                )
            object.__setattr__(self, "terms", terms)

    def driving_facet(self) -> str | None:
        """The most selective folded filter given (its index on case_record, with the date, leads a search)."""
        return next(
            (n for n in ("employer", "place", "sector", "region") if getattr(self, n) is not None), None
        )

    def checked(self) -> SearchFilters:
        """Return these filters (checked on construction; kept for callers that chain it)."""
        return self

    def fingerprint(self) -> str:
        """A short digest of the filters, so a cursor is only accepted with the filters it was made for."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__ if name not in _UNPRINTED}
        encoded = json.dumps(data, sort_keys=True, default=str, separators=(",", ":")).encode()
        return hashlib.sha256(encoded).hexdigest()[:16]


def _filed_under(
    session: Session, subtrees: list[tuple[str, list[str]]], known: Any
) -> sa.ColumnElement[bool]:
    """The case's category_codes facet holds a code of one of these (node, subtree codes).

    A code is found with its surrounding spaces; the codes under a node by the prefix `node.`, when every
    known code with that prefix is in its subtree (the taxonomy files codes by path), else one by one.
    """
    find = sa.func.strpos if session.get_bind().dialect.name == "postgresql" else sa.func.instr
    padded = sa.literal(" ") + col(Case.category_codes) + sa.literal(" ")
    tests = []
    for node, codes in subtrees:
        rest = set(codes)
        prefixed = {c for c in known if c.startswith(f"{node}.")}
        if prefixed and prefixed <= rest:
            tests.append(find(padded, f" {node}.") > 0)
            rest -= prefixed
        tests += [find(padded, f" {code} ") > 0 for code in sorted(rest)]
    return sa.or_(*tests)


def _involved(*conditions: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
    """Cases with an unretracted involvement meeting every condition."""
    return col(Case.id).in_(
        select(Involvement.case_id).where(col(Involvement.retracted_at).is_(None), *conditions)
    )


def _readable_rows(actor: Actor) -> list[sa.ColumnElement[bool]]:
    """The index rows whose words may find a case for `actor`: a testimony's only for roles that may read
    both testimonies and identities. A researcher searching for a name must not learn which testimonies
    hold it (their snippets and texts come from cleared versions only; their words search the case texts)."""
    if actor.can(Permission.TESTIMONY_READ) and actor.can(Permission.PERSON_READ_IDENTITY):
        return []
    return [col(CaseText.kind) == search_index.CASE]


def text_match(*, session: Session, actor: Actor, terms: tuple[Term, ...], scored: bool = True) -> Any:
    """SELECT case_id, score FROM the index rows matching every term; higher score is more relevant.

    Without `scored`, SELECT case_id only: a filter that scores every match (bm25) pays for it on each.
    """
    readable = _readable_rows(actor)
    if session.get_bind().dialect.name == "postgresql":
        query = sa.func.to_tsquery(
            sa.literal_column("'simple'::regconfig"), sa.bindparam("tsq", tsquery(list(terms)))
        )
        tsv: Any = sa.literal_column("case_text.tsv")
        # As double precision: ts_rank's real came back as its shortest text ("0.0607927"), which is not the
        # value compared on the next page, so a cursor lost the cases that tied with its last one.
        score: Any = [sa.cast(sa.func.ts_rank(tsv, query), sa.Double()).label("score")] if scored else []
        return select(col(CaseText.case_id), *score).where(tsv.op("@@")(query), *readable)
    fts = sa.table("case_fts", sa.column("rowid"))
    score = [(-sa.func.bm25(sa.literal_column("case_fts"))).label("score")] if scored else []
    return (
        sa.select(col(CaseText.case_id), *score)
        .select_from(fts)
        .join(CaseText, col(CaseText.id) == fts.c.rowid)
        .where(
            sa.literal_column("case_fts").op("MATCH")(
                sa.bindparam("fts", fts5_query(list(terms)), unique=True)
            ),
            *readable,
        )
    )


TextTest = Literal["in", "probe", "none"]


def case_conditions(
    *,
    session: Session,
    actor: Actor,
    filters: SearchFilters,
    walking: bool = False,
    leaf: list[str] | None = None,
    text: TextTest = "in",
) -> list[sa.ColumnElement[bool]]:
    """SQL conditions on `Case` selecting the unretracted cases `actor` may see that meet `filters`.

    `walking`: for a walk of an index in the page's order, which meets every case in turn: categories are
    then tested on each case's own codes, in its row, not looked up in case_category for each.
    `leaf`: when the filters name one category that stands for one code only (a leaf, with nothing filed
    under it), and no place, employer, sector or region filter leads, that code is appended to `leaf` and
    left out of the conditions: the caller joins case_category on it (api.search.service walks its
    newest-first index).
    `text`: how the words of `q` are tested: "in", the case is among the full-text matches; "probe" (SQLite),
    one of the case's own texts is (for a walk in the page's order, which meets a few cases and probes each);
    "none", not at all (the caller starts from the matches).
    """
    from api.taxonomy import service as taxonomy_service

    f = filters
    conditions: list[sa.ColumnElement[bool]] = [visible_clause(actor), col(Case.retracted_at).is_(None)]
    if f.status:
        conditions.append(col(Case.status).in_(f.status))
    if f.confidentiality:
        conditions.append(col(Case.confidentiality).in_(f.confidentiality))
    if f.country:
        conditions.append(col(Case.country).in_(f.country))
    for name in search_index.FOLDED_FIELDS:
        value = getattr(f, name)
        if value is not None:
            conditions.append(getattr(Case, f"{name}_fold") == fold(value.strip()))
    if f.category:
        snap = taxonomy_service.snapshot(session)
        subtrees = [
            taxonomy_service.subtree_codes(session=session, code=code, field="query.category", snap=snap)
            for code in f.category
        ]
        if leaf is not None and len(subtrees) == 1 and len(subtrees[0]) == 1 and f.driving_facet() is None:
            leaf.append(subtrees[0][0])
        else:
            pairs = list(zip(f.category, subtrees, strict=True))
            groups = [[pair] for pair in pairs] if f.category_match == "all" else [pairs]
            for group in groups:
                if walking or f.driving_facet() is not None:
                    # Another facet's index finds the candidates: test each one's own codes, in its row.
                    conditions.append(_filed_under(session, group, snap.nodes))
                else:
                    codes = sorted({c for _, subtree in group for c in subtree})
                    conditions.append(
                        col(Case.id).in_(
                            select(CaseCategory.case_id).where(col(CaseCategory.code).in_(codes))
                        )
                    )
    if f.date_from is not None:
        conditions.append(col(Case.date_hi) >= f.date_from)
    if f.date_to is not None:
        conditions.append(col(Case.date_lo) <= f.date_to)
    if f.victim_status:
        bits = search_index.status_bits(f.victim_status)
        conditions.append(col(Case.victim_mask).op("&")(sa.literal(bits, sa.Integer)) != 0)
    if f.role:
        conditions.append(_involved(col(Involvement.role).in_(f.role)))
    if f.organisation is not None:
        members = select(Person.id).where(col(Person.organisation_id) == f.organisation)
        conditions.append(
            _involved(
                sa.or_(
                    col(Involvement.organisation_id) == f.organisation,
                    col(Involvement.person_id).in_(members),
                )
            )
        )
    if f.victims_min is not None and f.victims_min > 0:
        conditions.append(col(Case.victims) >= f.victims_min)
    if f.victims_max is not None:
        conditions.append(col(Case.victims) <= f.victims_max)
    if f.urgent is not None:
        conditions.append(col(Case.urgent) == f.urgent)
    if f.language is not None:
        conditions.append(col(Case.language) == f.language)
    for tag in f.tag:
        conditions.append(col(Case.id).in_(select(CaseTag.case_id).where(col(CaseTag.tag) == tag)))
    if f.created_by is not None:
        conditions.append(col(Case.created_by) == f.created_by)
    if f.mine:
        conditions.append(col(Case.created_by) == actor.user_id)
    if f.updated_since is not None:
        conditions.append(col(Case.updated_at) >= f.updated_since)
    if f.terms and text != "none":
        conditions.append(text_condition(session=session, actor=actor, terms=f.terms, how=text))
    return conditions


def text_condition(
    *, session: Session, actor: Actor, terms: tuple[Term, ...], how: TextTest = "in"
) -> sa.ColumnElement[bool]:
    """The condition on `Case` that the words match its texts (`how`: see case_conditions' `text`)."""
    if how == "probe" and session.get_bind().dialect.name != "sqlite":
        raise ValueError("a probe of case_fts is for SQLite")
    if how != "probe":
        hits = text_match(session=session, actor=actor, terms=terms, scored=False).subquery()
        return col(Case.id).in_(select(hits.c.case_id))
    # SQLite: one of the case's own texts (found by ix_case_text_case_id) is among the rows of case_fts that
    # match. The matching rows are listed once per statement; `id + 0` keeps SQLite from walking that list
    # for each case instead of the case's two or three texts (5.7 s instead of 18 ms for a page of a common
    # word at a million cases).
    readable = _readable_rows(actor)
    matching: Any = (
        sa.select(sa.literal_column("rowid"))
        .select_from(sa.table("case_fts"))
        .where(
            sa.literal_column("case_fts").op("MATCH")(
                sa.bindparam("fts", fts5_query(list(terms)), unique=True)
            )
        )
    )
    return sa.exists(
        sa.select(sa.literal(1))
        .select_from(CaseText)
        .where(
            col(CaseText.case_id) == col(Case.id),
            (col(CaseText.id) + sa.literal_column("0")).in_(matching),
            *readable,
        )
        .correlate(Case)
    )
