"""Search pages and statistics over the cases the caller may see.

Pages are keyset pages (the cost of page 1 and page 10,000 is the same), ordered by the sort key then id, with
an opaque cursor signed by the server and bound to the sort and the filters. The LIMIT is rendered as a literal:
a bound `LIMIT ?` made SQLite choose a date-index scan over the filter's index (perf-baselines.md, 3b).
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import math
import re
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.cases import service as cases_service
from api.exports.cells import spreadsheet_safe
from api.models import Case, CaseCategory, CaseTag, CaseText, ClearedText, Testimony
from api.pagination import Cursor, decode_cursor, encode_cursor
from api.problems import ValidationProblem
from api.sealing import Sealer
from api.search import index as search_index
from api.search.filters import SearchFilters, case_conditions, text_condition, text_match
from api.search.text import fts5_query, snippet
from api.testimonies import texts as testimony_texts
from schemas.base import Page
from schemas.enums import DatePrecision
from schemas.search import CaseHit, StatsGroup, StatsRead

log = logging.getLogger("precedent.search")

CURSOR_KIND = "cases"


@dataclass(frozen=True)
class _Order:
    column: Any
    descending: bool
    parse: Callable[[Any], Any]
    dump: Callable[[Any], Any]


def _aware(value: Any) -> datetime:
    return datetime.fromisoformat(str(value)).astimezone(UTC)


# Counting stops here unless the caller asks for the exact total: a count visits every match, and past a
# few thousand that is what makes a page slow at a million cases (Elasticsearch stops at 10,000 likewise).
# Up to this many matches a page is also taken from all the matches, sorted; above, by walking the sort index.
COUNT_CAP = 1000
# The index that walks each order (SQLite, which is told: each holds the columns the filters test, so a walk
# reads no row it does not return; api.models.case.WALK_COLUMNS).
_SORT_INDEX = {
    "newest": "ix_case_record_created_at_walk",
    "date": "ix_case_record_date_lo_walk",
    "date_asc": "ix_case_record_date_lo_walk",
    "updated": "ix_case_record_updated_at_walk",
}

# A page's rows: the columns of case_record a hit shows (api.cases.service.case_fields), never the search
# facets kept for the filters and the statistics (victim_ids among them), then the sort key (added per query:
# built once, the columns are not coerced again for every request; each column not read is one less to
# transfer, convert and key per request). A list of what is shown, so that a column added later is not read.
_SHOWN = (
    *("id", "reference", "title", "summary", "narrative", "occurred_from", "occurred_to", "date_precision"),
    *("date_lo", "date_hi", "country", "region", "place", "employer", "sector", "status", "confidentiality"),
    *("urgent", "urgency_reason", "language", "primary_category", "location_type", "violation_status"),
    *("category_codes", "created_by", "created_at", "updated_by", "updated_at", "version"),
    *("retracted_at", "retracted_by", "retraction_reason"),
)
_COLUMNS = tuple(Case.__table__.columns[name] for name in _SHOWN)  # type: ignore[attr-defined]
_PAGE = sa.select(*_COLUMNS)
# With each case's tags (a tag is one line: schemas.base.Tag), one statement fewer. PostgreSQL's planner looks
# them up for the page's rows only, after its sort and LIMIT; SQLite would look them up for every match before
# sorting (all of them, sorted by relevance), so there they come with a page only when its rows are read by id
# (a first page), else by a query of their own.
_TAG_SEPARATOR = "\n"
_TAG_LIST = (
    sa.select(sa.func.aggregate_strings(col(CaseTag.tag), _TAG_SEPARATOR))
    .where(col(CaseTag.case_id) == col(Case.id))
    .correlate(Case)
    .scalar_subquery()
    .label("tag_list")
)
_PAGE_TAGGED = sa.select(*_COLUMNS, _TAG_LIST)
_SORT_KEY = "sort_key"


def _tags_of(rows: list[Any]) -> dict[uuid.UUID, list[str]]:
    return {row.id: sorted(row.tag_list.split(_TAG_SEPARATOR)) if row.tag_list else [] for row in rows}


_ORDERS: dict[str, _Order] = {
    "newest": _Order(col(Case.created_at), True, _aware, lambda v: v.isoformat()),
    "date": _Order(col(Case.date_lo), True, lambda v: date.fromisoformat(str(v)), lambda v: v.isoformat()),
    "date_asc": _Order(
        col(Case.date_lo), False, lambda v: date.fromisoformat(str(v)), lambda v: v.isoformat()
    ),
    "updated": _Order(col(Case.updated_at), True, _aware, lambda v: v.isoformat()),
}


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("not a number")
    return float(value)


def _after(
    key: Any, descending: bool, value: Any, after_id: uuid.UUID, id_column: Any = None
) -> sa.ColumnElement[bool]:
    id_column = col(Case.id) if id_column is None else id_column
    if descending:
        return sa.or_(key < value, sa.and_(key == value, id_column < after_id))
    return sa.or_(key > value, sa.and_(key == value, id_column > after_id))


def _position(
    secret: bytes, token: str, *, sort: str, fingerprint: str, parse: Callable[[Any], Any]
) -> tuple[Any, uuid.UUID]:
    values = decode_cursor(secret, token, kind=CURSOR_KIND).values
    try:
        got_sort, got_fingerprint, value, after_id = values
        if got_sort != sort or got_fingerprint != fingerprint:
            raise ValueError("cursor of another query")
        return parse(value), uuid.UUID(str(after_id))
    except (ValueError, TypeError) as exc:
        raise ValidationProblem.single(
            "query.cursor",
            "this cursor belongs to another sort or other filters: start again without it",
            "invalid_cursor",
        ) from exc


def _count_capped(session: Session, matches: Any) -> int:
    """Count the rows of `matches` (SELECT ... FROM case_record), stopping after COUNT_CAP + 1.

    LIMIT as a literal: a bound `LIMIT ?` made SQLite choose a date-index scan (perf-baselines.md, 3b).
    """
    capped = matches.limit(sa.literal_column(str(COUNT_CAP + 1))).subquery()
    # On the connection: a Core statement needs no ORM step.
    return int(session.connection().execute(sa.select(sa.func.count()).select_from(capped)).scalar_one())


def count_up_to(*, session: Session, actor: Actor, filters: SearchFilters) -> int:
    """The number of matching cases, counted up to COUNT_CAP + 1 (the cheap "are there more than COUNT_CAP?")."""
    conditions = case_conditions(session=session, actor=actor, filters=filters)
    return _count_capped(session, select(sa.literal(1)).select_from(Case).where(*conditions))


def _text_count(
    *, session: Session, actor: Actor, filters: SearchFilters, conditions: list[Any]
) -> int | None:
    """The matches of the words of `q`, up to COUNT_CAP + 1, counted from the full-text matches: each
    matching text's case is tested against `conditions` (the filters' conditions on Case but the words')
    until enough cases are found. None when that did not settle it (then count the usual way).

    SQLite (common words): each case is tested in the walk index led by the id, which holds the columns the
    usual filters test, not in its row past the long texts. At a million cases, 7 ms for a word in 6% of the
    cases, where walking the sort index to count 1,001 took 200 ms.
    PostgreSQL: the matching texts come from the GIN index's bitmap, each case looked up by its key: 17 ms
    for that word, where the planner looked each case up in case_text instead (70 ms). DISTINCT would make it
    read case_text in case order, so rows are counted, up to a quarter over the cap, and their cases apart:
    a case with several matching texts (its own and a testimony's) counts once.
    """
    matches = (
        text_match(session=session, actor=actor, terms=filters.terms, scored=False)
        .join(Case, col(Case.id) == col(CaseText.case_id))
        .with_hint(Case, "INDEXED BY ix_case_record_id_walk", "sqlite")
        .where(*conditions)
    )
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        cases = matches.distinct().limit(sa.literal_column(str(COUNT_CAP + 1))).subquery()
        return int(conn.execute(sa.select(sa.func.count()).select_from(cases)).scalar_one())
    rows_cap = (COUNT_CAP + 1) * 5 // 4  # room for one case in five to have two matching texts
    rows = matches.limit(sa.literal_column(str(rows_cap))).subquery()
    # Serial: the planner would share the bitmap's pages among workers, which took 44 ms instead of 17 to
    # start them and read past the limit. SET LOCAL, in a transaction of its own when the session has none
    # (a statement session), so that the setting cannot outlive it on a pooled connection (nor, through a
    # pooling proxy, reach another client's); in the session's transaction, set back right after.
    own = conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
    serial = "SET LOCAL max_parallel_workers_per_gather = 0"
    conn.exec_driver_sql(f"BEGIN; {serial}" if own else serial)
    try:
        distinct, read = conn.execute(
            sa.select(sa.func.count(sa.distinct(rows.c.case_id)), sa.func.count()).select_from(rows)
        ).one()
        conn.exec_driver_sql("COMMIT" if own else "SET LOCAL max_parallel_workers_per_gather TO DEFAULT")
    except BaseException:
        if own and not conn.invalidated:
            try:
                conn.exec_driver_sql("ROLLBACK")
            except sa.exc.SQLAlchemyError:  # the error that matters is the one being raised
                log.debug("rollback after a failed count failed too")
        raise
    if distinct > COUNT_CAP or read < rows_cap:  # more than the cap, or every match was read
        return min(int(distinct), COUNT_CAP + 1)
    return None


def _ordering(key: Any, descending: bool, id_column: Any = None) -> list[Any]:
    id_column = col(Case.id) if id_column is None else id_column
    return [key.desc(), id_column.desc()] if descending else [key.asc(), id_column.asc()]


def _walk_index(filters: SearchFilters, sort: str) -> str:
    """The index a page of many matches is found by walking: the sort's own, or, sorted by date with a place
    or employer filter, that filter's (value, date) index, which skips every other value."""
    facet = filters.driving_facet()
    if sort in ("date", "date_asc") and facet is not None:
        return f"ix_case_record_{facet}_fold_walk"
    return _SORT_INDEX.get(sort, "")


# Filters that may leave few of a common word's matches: with one of them, the planner chooses.
_NARROWING = ("category", "tag", "role", "organisation", "victim_status", "created_by", "updated_since")


def _narrowed(filters: SearchFilters) -> bool:
    """True when a filter besides the words may match few cases (so walking the sort index may find few)."""
    return (
        any(getattr(filters, name) for name in _NARROWING)
        or filters.mine
        or filters.urgent is not None
        or filters.victims_min is not None
        or filters.victims_max is not None
    )


def _common_words(session: Session, filters: SearchFilters) -> bool:
    """True when the words of `q` match so many cases (SQLite) that walking the sort index finds COUNT_CAP
    matches sooner than looking each match up and sorting them all.

    Walking costs about COUNT_CAP * cases / matches index steps, looking up about `matches` reads of a few
    steps each: they cross near sqrt(100 * cases) matches (about 10,000 of 1,000,000). The full-text index
    counts its rows up to that many in a few milliseconds; the number of cases is the largest row id.
    """
    cases = session.execute(sa.text("SELECT max(rowid) FROM case_record")).scalar_one() or 0
    enough = max(COUNT_CAP, math.isqrt(100 * int(cases)))
    # LIMIT as a literal, like every LIMIT here (an integer computed above, not user text).
    probe = f"SELECT count(*) FROM (SELECT 1 FROM case_fts WHERE case_fts MATCH :q LIMIT {enough})"  # noqa: S608
    hits = session.execute(sa.text(probe), {"q": fts5_query(list(filters.terms))}).scalar_one()
    return int(hits) >= enough


def search_cases(
    *,
    session: Session,
    actor: Actor,
    filters: SearchFilters,
    sort: str,
    cursor: str | None,
    limit: int,
    secret: bytes,
    exact_total: bool = False,
    sealer: Sealer | None = None,
) -> Page[CaseHit]:
    """Return one page of the visible, unretracted cases meeting `filters`, with the total and the next cursor.

    The total counts up to COUNT_CAP matches (then `total_exact` is false) unless `exact_total` is set. With
    `sealer`, a case whose own texts hold none of the words gets an excerpt of a testimony (opened through
    the audited door).
    """
    # Newest first in one category that stands for one code: its cases are walked in that order in
    # case_category's (code, created_at) index, joined to each case, instead of looking every one of them up
    # and sorting them all (a leaf's first page at a million cases: 40 ms that way, 8 ms this way, SQLite).
    leaf: list[str] = []
    # The words' condition is added below: how it is tested depends on the plan.
    base = case_conditions(
        session=session, actor=actor, filters=filters, leaf=leaf if sort == "newest" else None, text="none"
    )
    conditions = (
        [*base, text_condition(session=session, actor=actor, terms=filters.terms)] if filters.terms else base
    )
    filed = (
        sa.and_(col(CaseCategory.case_id) == col(Case.id), col(CaseCategory.code) == leaf[0])
        if leaf
        else None
    )

    def joined(statement: Any) -> Any:
        return statement if filed is None else statement.join(CaseCategory, filed)

    fingerprint = filters.fingerprint()
    walk = _walk_index(filters, sort)
    # SQLite counts in the page's order (the filters often favour recent cases, which that order meets
    # first). PostgreSQL's planner, given no order, picks the filters' indexes for the count by itself; given
    # the sort's order, it may walk the sort index past every case; but a place or employer index sorted by
    # date is walked in that order on both (else the oldest dates come first, and a date filter skips them).
    # Words that lead are counted from their matches instead (_text_count).
    sqlite = session.get_bind().dialect.name == "sqlite"
    page = _PAGE if sqlite else _PAGE_TAGGED
    by_facet = sort in _ORDERS and walk != _SORT_INDEX[sort]
    words_lead = bool(filters.terms) and not _narrowed(filters)
    common = sqlite and words_lead and sort in _ORDERS and not by_facet and _common_words(session, filters)
    # Common words and nothing else that leads (SQLite): counted from the full-text matches, up to the cap;
    # a page of many walks the sort's index and probes each case's own texts (see _text_count).
    from_text = common and filters.driving_facet() is None
    # PostgreSQL counts any words that lead from their matches; its planner finds the page.
    text_counted = from_text or (not sqlite and words_lead and filters.driving_facet() is None)
    # On SQLite the first page comes with the count: the count meets the matches in the page's order, so it
    # lists their ids, and the page is its first rows (one walk of the index, not two). Not when the words'
    # matches are counted (from_text): their page is walked apart.
    first_page: list[Any] | None = [] if sqlite and sort in _ORDERS and not cursor and not from_text else None
    counted = (
        _text_count(session=session, actor=actor, filters=filters, conditions=base) if text_counted else None
    )
    if counted is not None:  # (then first_page is None) no other count statement is built
        total = counted
    else:
        count: Any = (
            # The ids as stored (32 hex digits on SQLite): only the page's few become UUIDs.
            sa.select(sa.type_coerce(col(Case.id), sa.String)).select_from(Case)
            if first_page is not None
            else select(sa.literal(1)).select_from(Case)
        )
        count = joined(count).where(*conditions)
        if filed is not None and sqlite:
            count = count.order_by(*_ordering(col(CaseCategory.created_at), True, col(CaseCategory.case_id)))
        elif sort in _ORDERS and (by_facet or sqlite):
            count = count.order_by(*_ordering(_ORDERS[sort].column, _ORDERS[sort].descending))
            if by_facet or common:
                # Walk the index that both filters and orders, or, for common words, the sort's own index,
                # testing each case against the set of matches (SQLite would rather look up every match).
                count = count.with_hint(Case, f"INDEXED BY {walk}", "sqlite")
        if first_page is not None:
            capped = count.limit(sa.literal_column(str(max(COUNT_CAP, int(limit)) + 1)))
            first_page = list(session.connection().execute(capped).all())
            total = min(len(first_page), COUNT_CAP + 1)
        else:
            total = _count_capped(session, count)
    few = total <= COUNT_CAP
    if not few:  # more than COUNT_CAP: say so, or count them all when asked
        total = (
            session.connection()
            .execute(joined(sa.select(sa.func.count()).select_from(Case)).where(*conditions))
            .scalar_one()
            if exact_total
            else COUNT_CAP
        )
    # The column that orders the cases with the same sort key: the case id, from case_record or case_category.
    tie: Any = None
    key: Any
    if sort == "relevance":
        if not filters.terms:
            raise ValidationProblem.single("query.sort", "sort=relevance needs q", "missing")
        # MATERIALIZED: SQLite refuses bm25() once the subquery is flattened into the GROUP BY.
        hits = (
            text_match(session=session, actor=actor, terms=filters.terms)
            .cte("hits")
            .prefix_with("MATERIALIZED")
        )
        scores = (
            select(hits.c.case_id, sa.func.max(hits.c.score).label("score"))
            .group_by(hits.c.case_id)
            .subquery()
        )
        key = scores.c.score
        order = _Order(key, True, _float, float)
        query = (
            page.add_columns(key.label(_SORT_KEY))
            .join(scores, scores.c.case_id == col(Case.id))
            .where(*conditions)
        )
    elif few:
        # Few matches: find them all through the filters' indexes, then sort them. Left to itself, a planner
        # that overestimates the matches walks the whole sort index instead (PostgreSQL did: 450 ms for 1 row).
        order = _ORDERS[sort]
        key = order.column
        matches = (
            joined(select(col(Case.id)).select_from(Case))
            .where(*conditions)
            .cte("matches")
            .prefix_with("MATERIALIZED")
        )
        query = page.add_columns(key.label(_SORT_KEY)).join(matches, matches.c.id == col(Case.id))
    elif filed is not None:
        # Many matches in one code, newest first: walk its cases in case_category's (code, created_at) index,
        # ordered and resumed by that copy of the case's created_at (and its case id: the same cursor).
        order = _ORDERS[sort]
        key, tie = col(CaseCategory.created_at), col(CaseCategory.case_id)
        query = joined(page.add_columns(key.label(_SORT_KEY))).where(*conditions)
    else:
        # Many matches: walk the sort order's index; a page is found within about N / total rows per item.
        # SQLite would rather read and sort every match, so it is told which index to walk. PostgreSQL
        # tests the categories of each case it meets in the case's row (a leaf's page of 50 took 70 ms with
        # a look-up in case_category for each of the 12,000 cases walked, 29 ms with its own codes);
        # SQLite's set of matching ids is cheaper than its rows' codes, which lie past the long texts.
        order = _ORDERS[sort]
        key = order.column
        walking = (
            [*base, text_condition(session=session, actor=actor, terms=filters.terms, how="probe")]
            if from_text
            else conditions
            if sqlite or not filters.category
            else case_conditions(session=session, actor=actor, filters=filters, walking=True)
        )
        query = (
            page.add_columns(key.label(_SORT_KEY))
            .where(*walking)
            .with_hint(Case, f"INDEXED BY {walk}", "sqlite")
        )
    if cursor:
        value, after_id = _position(secret, cursor, sort=sort, fingerprint=fingerprint, parse=order.parse)
        query = query.where(_after(key, order.descending, value, after_id, tie))
    query = query.order_by(*_ordering(key, order.descending, tie)).limit(
        sa.literal_column(str(int(limit) + 1))
    )
    # Rows of the case's columns, not ORM objects: a page is read once and never changed here.
    if first_page is not None:  # the page's cases are known (in order): read them by id
        place = {uuid.UUID(row[0]): i for i, row in enumerate(first_page[: int(limit) + 1])}
        by_id = _PAGE_TAGGED.add_columns(order.column.label(_SORT_KEY)).where(col(Case.id).in_(list(place)))
        rows = sorted(session.connection().execute(by_id).all(), key=lambda row: place[row.id])
    else:
        rows = list(session.connection().execute(query).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(
            secret,
            Cursor(kind=CURSOR_KIND, values=[sort, fingerprint, order.dump(last.sort_key), str(last.id)]),
        )
    snippets = _snippets(session=session, actor=actor, sealer=sealer, cases=rows, filters=filters)
    items = [
        CaseHit(**fields, snippet=snippets.get(fields["id"]))
        for fields in cases_service.case_fields(
            session=session, cases=rows, tags=_tags_of(rows) if first_page is not None or not sqlite else None
        )
    ]
    return Page[CaseHit](items=items, total=total, total_exact=few or exact_total, next_cursor=next_cursor)


def _cleared_versions(session: Session, case_ids: list[uuid.UUID]) -> dict[str, str]:
    """SHA-256 hex of a source text -> a cleared version of it some coordinator approved (any audience)."""
    rows = session.execute(
        select(ClearedText.source_sha256, ClearedText.text).where(
            col(ClearedText.case_id).in_(case_ids), col(ClearedText.status) == "approved"
        )
    )
    return {str(digest).removeprefix("sha256:"): text for digest, text in rows}


def _texts_a_caller_may_quote(cleared: dict[str, str] | None) -> Callable[[str | None], str]:
    """The text an excerpt may come from: as recorded for identity readers, else only its cleared version.

    Without person:read_identity (researchers) an excerpt of a testimony could show a name typed in it; they
    get excerpts only from a version a coordinator cleared of names, and none where there is none.
    """
    if cleared is None:
        return lambda text: text or ""
    return lambda text: cleared.get(hashlib.sha256((text or "").encode()).hexdigest(), "") if text else ""


def _snippets(
    *, session: Session, actor: Actor, sealer: Sealer | None, cases: list[Any], filters: SearchFilters
) -> dict[uuid.UUID, str]:
    """Excerpts around the matched words: from the case's own text first, then from its testimonies."""
    if not filters.terms or not cases:
        return {}
    terms = list(filters.terms)
    identities = actor.can(Permission.PERSON_READ_IDENTITY)
    readable = _texts_a_caller_may_quote(
        None if identities else _cleared_versions(session, [c.id for c in cases])
    )
    out: dict[uuid.UUID, str] = {}
    for case in cases:
        for text in (case.title, case.summary, case.narrative):
            found = snippet(readable(text), terms)
            if found:
                out[case.id] = found
                break
    missing = [c.id for c in cases if c.id not in out]
    if not missing or sealer is None or not actor.can(Permission.TESTIMONY_READ):
        return out
    rows = session.exec(
        select(Testimony)
        .where(col(Testimony.case_id).in_(missing), col(Testimony.retracted_at).is_(None))
        .order_by(col(Testimony.taken_at), col(Testimony.created_at))
    ).all()
    said = testimony_texts.open_words(
        session=session, sealer=sealer, actor=actor, rows=rows, purpose="show" if identities else "clear"
    )
    for row in rows:
        if row.case_id in out:
            continue
        for candidate in said[row.id].all_texts():
            found = snippet(readable(candidate), terms)
            if found:
                out[row.case_id] = found
                break
    return out


# ---- statistics -------------------------------------------------------------------------------------------
#
# Counted from the cases' facet columns in one pass over the matching cases, grouped in SQL: per group, the
# number of cases and the sum of their victims who are people (case_record.victim_people). That sum counts a
# person once per case, so it is exact except for people who are victims in more than one case: each case
# lists those of its victims (case_record.victim_ids, "<person id>:<status>"), the same pass concatenates the
# lists per group, and every repeat of a person within a group (or over all of them, for the total) is taken
# off. Categories are grouped by each case's set of codes (case_record.category_codes) and rolled up the
# tree in Python, so a case filed twice under one branch is counted once there, and so is a person.


@dataclass
class _Tally:
    cases: dict[Any, int]
    people: dict[Any, int]
    total_cases: int
    total_people: int


def _tally(
    session: Session,
    keys: list[Any],
    conditions: list[Any],
    expand: Callable[[Any], Any],
    *,
    by_status: bool = False,
    side: sa.Engine | None = None,
) -> _Tally:
    """Cases and distinct victims per group; `expand` maps a row's key to the groups it counts in.

    `by_status`: the groups are victim statuses, read from each case's victim_statuses (the one key), and a
    person counts in the status of their own involvement.
    """
    n = len(keys)

    def key_of(row: Any) -> Any:
        return tuple(row[:n]) if n > 1 else (row[0] if n else None)

    lists = sa.func.aggregate_strings(col(Case.victim_ids), " ")  # string_agg / group_concat
    grouped = (
        sa.select(*keys, sa.func.count(), sa.func.sum(col(Case.victim_people)), lists)
        .select_from(Case)
        .where(*conditions)
        .group_by(*keys)
    )
    cases: dict[Any, int] = {}
    people: dict[Any, int] = {}
    listed: dict[Any, list[str]] = {}  # per group: the people in several cases, once per case
    everywhere: list[str] = []
    total_cases = total_people = 0
    for row in _grouped_rows(session, grouped, side):
        n_cases, n_people, tokens = int(row[n]), int(row[n + 1] or 0), (row[n + 2] or "").split()
        total_cases += n_cases
        total_people += n_people
        pairs = [token.partition(":")[::2] for token in tokens]  # (person id, status)
        ids = [person for person, _ in pairs]
        everywhere.extend(ids)
        if by_status:
            for status, each in search_index.read_status_signature(row[0]):
                cases[status] = cases.get(status, 0) + n_cases
                people[status] = people.get(status, 0) + n_cases * each
            for person, status in pairs:
                listed.setdefault(None if status == search_index.NO_STATUS else status, []).append(person)
            continue
        for group in expand(key_of(row)):
            cases[group] = cases.get(group, 0) + n_cases
            people[group] = people.get(group, 0) + n_people
            listed.setdefault(group, []).extend(ids)
    for group, ids in listed.items():
        repeats = len(ids) - len(set(ids))
        if repeats:
            people[group] = people.get(group, 0) - repeats
    total_people -= len(everywhere) - len(set(everywhere))
    return _Tally(cases, people, total_cases, total_people)


# PostgreSQL before 16 cannot concatenate the lists (string_agg) in parallel, so one process read the whole
# table: 0.65-0.85 s at a million cases. Past this many pages (8 kB each), the table's pages are shared out in
# ranges among SPLIT_WAYS connections of the side pool (api.db), which read the same snapshot at once; each
# range's groups add up. When the side pool is busy, the request reads in one pass.
SPLIT_PAGES = 25_000
SPLIT_WAYS = 2


def _grouped_rows(session: Session, grouped: Any, side: sa.Engine | None) -> Sequence[Any]:
    """The rows of the grouped statement: on a large PostgreSQL table, from SPLIT_WAYS ranges of its pages
    read at once in the session's snapshot (the same key may then come once per range)."""
    conn = session.connection()
    if (
        side is None
        or conn.dialect.name != "postgresql"
        or SPLIT_WAYS < 2
        # 16 and later concatenate in parallel by themselves
        or (conn.dialect.server_version_info or (0,)) >= (16,)
        # a snapshot exported outside a transaction is gone before anyone can import it
        or conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
    ):
        return conn.execute(grouped).all()
    pages = int(
        conn.execute(
            sa.text("SELECT relpages FROM pg_class WHERE oid = 'case_record'::regclass")
        ).scalar_one()
    )
    if pages < SPLIT_PAGES:
        return conn.execute(grouped).all()
    helpers: list[sa.Connection] = []
    try:
        try:
            for _ in range(SPLIT_WAYS):
                helpers.append(side.connect())
        except sa.exc.TimeoutError:  # the side pool is busy with other requests' ranges
            return conn.execute(grouped).all()
        except sa.exc.DBAPIError as exc:  # e.g. the server refuses another connection: this one will do
            log.warning("statistics read in one pass: no side connection (%s)", type(exc.orig).__name__)
            return conn.execute(grouped).all()
        # Exported from the request's transaction, imported by each range's: the ranges see the same rows,
        # and no case written meanwhile is counted in one range and missed in another.
        snapshot = str(conn.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one())
        # Written into SET, which takes no parameter: it must be the identifier PostgreSQL makes.
        if not re.fullmatch(r"[0-9A-F]+(-[0-9A-F]+)+", snapshot):
            raise RuntimeError("unexpected snapshot identifier from PostgreSQL")
        for helper in helpers:
            helper.execution_options(isolation_level="REPEATABLE READ")
            helper.execute(sa.text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
            helper.execute(sa.text("SET LOCAL jit = off"))
        # A range covers whole pages (tuple ids "(page,item)", written from integers computed here); the last
        # is open-ended, for pages added since relpages was estimated.
        bounds: list[int | None] = [pages * i // SPLIT_WAYS for i in range(SPLIT_WAYS)]
        ctid: sa.ColumnClause[Any] = sa.literal_column("case_record.ctid")

        def read(helper: sa.Connection, lo: int, hi: int | None) -> list[Any]:
            part = grouped.where(ctid >= sa.literal_column(f"'({int(lo)},0)'::tid"))
            if hi is not None:
                part = part.where(ctid < sa.literal_column(f"'({int(hi)},0)'::tid"))
            return list(helper.execute(part).all())

        with ThreadPoolExecutor(max_workers=SPLIT_WAYS, thread_name_prefix="stats") as pool:
            parts = list(pool.map(read, helpers, bounds, [*bounds[1:], None]))
        return [row for part in parts for row in part]
    finally:
        for helper in helpers:
            helper.close()  # rolls back


def _label(labels: dict[str, Any], fallback: str) -> str:
    for language in ("en", "be", "ru"):
        if labels.get(language):
            return str(labels[language])
    return next((str(v) for v in labels.values() if v), fallback)


def _by_value(counts: dict[Any, list[int]]) -> list[StatsGroup]:
    """Groups largest first; a missing value (not recorded) is the key null, labelled "unknown"."""
    order = sorted(counts, key=lambda v: (-counts[v][0], v is None, str(v or "")))
    return [
        StatsGroup(key=v, label=v if v is not None else "unknown", cases=counts[v][0], people=counts[v][1])
        for v in order
    ]


def _pairs(tally: _Tally) -> dict[Any, list[int]]:
    return {key: [n, tally.people.get(key, 0)] for key, n in tally.cases.items()}


def case_stats(
    *, session: Session, actor: Actor, filters: SearchFilters, group_by: str, side: sa.Engine | None = None
) -> StatsRead:
    """Count the matching cases and their victims per group; see docs/api.md for what each count means.

    `side`: the database's side pool (api.db.Database.side_engine), through which a pass over a large
    PostgreSQL table is read in ranges at once."""
    from api.taxonomy import service as taxonomy_service

    conditions = case_conditions(session=session, actor=actor, filters=filters)
    if session.get_bind().dialect.name == "postgresql":
        # For this transaction only: each pass over a million rows spent 30-80 ms compiling itself (JIT).
        session.execute(sa.text("SET LOCAL jit = off"))
    groups: list[StatsGroup] = []
    keys: list[Any]
    if group_by == "category":
        snap = taxonomy_service.snapshot(session)
        ancestors: dict[str, set[str]] = {}
        for ancestor, descendants in snap.subtree.items():
            for code in descendants:
                ancestors.setdefault(code, set()).add(ancestor)
        expanded: dict[str, frozenset[str]] = {}

        def rolled_up(codes: str) -> frozenset[str]:
            if codes not in expanded:
                expanded[codes] = frozenset(a for code in codes.split() for a in ancestors.get(code, {code}))
            return expanded[codes]

        tally = _tally(session, [col(Case.category_codes)], conditions, rolled_up, side=side)
        for code in sorted(tally.cases, key=lambda c: snap.nodes[c].path if c in snap.nodes else c):
            node = snap.nodes.get(code)
            label = _label(node.labels, code) if node else code
            groups.append(
                StatsGroup(key=code, label=label, cases=tally.cases[code], people=tally.people.get(code, 0))
            )
    elif group_by in ("year", "month"):
        year = sa.extract("year", col(Case.date_lo))
        # A month is known for day and month precision; other cases are grouped under their year alone.
        known = col(Case.date_precision).in_([DatePrecision.DAY.value, DatePrecision.MONTH.value])
        month = sa.case((known, sa.extract("month", col(Case.date_lo))), else_=0)
        keys = [year] if group_by == "year" else [year, month]
        tally = _tally(session, keys, conditions, lambda key: (key,), side=side)
        for key in sorted(tally.cases, key=lambda k: k if isinstance(k, tuple) else (k, 0)):
            y, m = (int(key[0]), int(key[1])) if isinstance(key, tuple) else (int(key), 0)
            text = f"{y:04d}-{m:02d}" if m else f"{y:04d}"
            label = f"{y:04d} (month unknown)" if group_by == "month" and not m else text
            groups.append(
                StatsGroup(key=text, label=label, cases=tally.cases[key], people=tally.people.get(key, 0))
            )
    elif group_by in ("country", "region", "employer"):
        tally = _tally(session, [getattr(Case, group_by)], conditions, lambda key: (key,), side=side)
        groups = _by_value(_pairs(tally))
    elif group_by == "victim_status":
        tally = _tally(
            session, [col(Case.victim_statuses)], conditions, lambda _key: (), by_status=True, side=side
        )
        groups = _by_value(_pairs(tally))
    else:
        raise ValidationProblem.single("query.group_by", f"cannot group by {group_by!r}", "enum")
    return StatsRead.model_validate(
        {
            "group_by": group_by,
            "groups": groups,
            "total_cases": tally.total_cases,
            "total_people": tally.total_people,
        }
    )


def stats_csv(stats: StatsRead) -> str:
    """Render statistics as CSV: a header, one row per group, then a total row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([stats.group_by, "label", "cases", "people"])
    for group in stats.groups:
        writer.writerow(
            [spreadsheet_safe(group.key or ""), spreadsheet_safe(group.label), group.cases, group.people]
        )
    writer.writerow(["", "total", stats.total_cases, stats.total_people])
    return buffer.getvalue()
