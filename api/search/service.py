"""Search pages and statistics over the cases the caller may see.

Pages are keyset pages (the cost of page 1 and page 10,000 is the same), ordered by the sort key then id, with
an opaque cursor signed by the server and bound to the sort and the filters. The LIMIT is rendered as a literal:
a bound `LIMIT ?` made SQLite choose a date-index scan over the filter's index (perf-baselines.md, 3b).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.cases import service as cases_service
from api.models import Case, CaseCategory, Involvement, TaxonomyClosure, Testimony
from api.pagination import Cursor, decode_cursor, encode_cursor
from api.problems import ValidationProblem
from api.search.filters import VICTIM, SearchFilters, case_conditions, text_match
from api.search.text import snippet
from schemas.base import Page
from schemas.enums import DatePrecision
from schemas.search import CaseHit, StatsGroup, StatsRead

CURSOR_KIND = "cases"


@dataclass(frozen=True)
class _Order:
    column: Any
    descending: bool
    parse: Callable[[Any], Any]
    dump: Callable[[Any], Any]


def _aware(value: Any) -> datetime:
    return datetime.fromisoformat(str(value)).astimezone(UTC)


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


def _after(key: Any, descending: bool, value: Any, after_id: uuid.UUID) -> sa.ColumnElement[bool]:
    if descending:
        return sa.or_(key < value, sa.and_(key == value, col(Case.id) < after_id))
    return sa.or_(key > value, sa.and_(key == value, col(Case.id) > after_id))


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


def search_cases(
    *,
    session: Session,
    actor: Actor,
    filters: SearchFilters,
    sort: str,
    cursor: str | None,
    limit: int,
    secret: bytes,
) -> Page[CaseHit]:
    """Return one page of the visible, unretracted cases meeting `filters`, with the total and the next cursor."""
    conditions = case_conditions(session=session, actor=actor, filters=filters)
    total = session.exec(select(sa.func.count()).select_from(Case).where(*conditions)).one()
    fingerprint = filters.fingerprint()
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
        key: Any = scores.c.score
        order = _Order(key, True, _float, float)
        query = select(Case, key).join(scores, scores.c.case_id == col(Case.id)).where(*conditions)
    else:
        order = _ORDERS[sort]
        key = order.column
        query = select(Case, key).where(*conditions)
    if cursor:
        value, after_id = _position(secret, cursor, sort=sort, fingerprint=fingerprint, parse=order.parse)
        query = query.where(_after(key, order.descending, value, after_id))
    ordering = [key.desc(), col(Case.id).desc()] if order.descending else [key.asc(), col(Case.id).asc()]
    query = query.order_by(*ordering).limit(sa.literal_column(str(int(limit) + 1)))
    rows = list(session.execute(query).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last_case, last_key = rows[-1]
        next_cursor = encode_cursor(
            secret,
            Cursor(kind=CURSOR_KIND, values=[sort, fingerprint, order.dump(last_key), str(last_case.id)]),
        )
    cases = [row[0] for row in rows]
    reads = cases_service.cases_to_read(session=session, cases=cases)
    snippets = _snippets(session=session, actor=actor, cases=cases, filters=filters)
    items = [CaseHit(**read.model_dump(), snippet=snippets.get(read.id)) for read in reads]
    return Page[CaseHit](items=items, total=total, next_cursor=next_cursor)


def _snippets(
    *, session: Session, actor: Actor, cases: list[Case], filters: SearchFilters
) -> dict[uuid.UUID, str]:
    """Excerpts around the matched words: from the case's own text first, then from its testimonies."""
    if not filters.terms or not cases:
        return {}
    terms = list(filters.terms)
    out: dict[uuid.UUID, str] = {}
    for case in cases:
        for text in (case.title, case.summary, case.narrative):
            found = snippet(text or "", terms)
            if found:
                out[case.id] = found
                break
    missing = [c.id for c in cases if c.id not in out]
    if missing and actor.can(Permission.TESTIMONY_READ):
        rows = session.execute(
            select(Testimony.case_id, Testimony.text, Testimony.translations)
            .where(col(Testimony.case_id).in_(missing), col(Testimony.retracted_at).is_(None))
            .order_by(col(Testimony.taken_at), col(Testimony.created_at))
        )
        for case_id, text, translations in rows:
            if case_id in out:
                continue
            texts = [text, *(t.get("text") or "" for t in translations or [] if isinstance(t, dict))]
            for candidate in texts:
                found = snippet(candidate, terms)
                if found:
                    out[case_id] = found
                    break
    return out


# ---- statistics -------------------------------------------------------------------------------------------


def _victims(matching: sa.Select[Any]) -> list[sa.ColumnElement[bool]]:
    return [
        col(Involvement.case_id).in_(matching),
        col(Involvement.role) == VICTIM,
        col(Involvement.retracted_at).is_(None),
        col(Involvement.person_id).is_not(None),
    ]


def _grouped(session: Session, key: Any, matching: sa.Select[Any]) -> dict[Any, tuple[int, int]]:
    """Count distinct cases and distinct victims per value of `key` (an expression over Case)."""
    cases_q = (
        select(key, sa.func.count(sa.distinct(col(Case.id)))).where(col(Case.id).in_(matching)).group_by(key)
    )
    people_q = (
        select(key, sa.func.count(sa.distinct(col(Involvement.person_id))))
        .select_from(Case)
        .join(Involvement, col(Involvement.case_id) == col(Case.id))
        .where(*_victims(matching))
        .group_by(key)
    )
    counts: dict[Any, list[int]] = {}
    for value, n in session.execute(cases_q):
        counts.setdefault(value, [0, 0])[0] = int(n)
    for value, n in session.execute(people_q):
        counts.setdefault(value, [0, 0])[1] = int(n)
    return {k: (v[0], v[1]) for k, v in counts.items()}


def _label(labels: dict[str, Any], fallback: str) -> str:
    for language in ("en", "be", "ru"):
        if labels.get(language):
            return str(labels[language])
    return next((str(v) for v in labels.values() if v), fallback)


def case_stats(*, session: Session, actor: Actor, filters: SearchFilters, group_by: str) -> StatsRead:
    """Count the matching cases and their victims per group; see the README for what each count means."""
    from api.taxonomy import service as taxonomy_service

    conditions = case_conditions(session=session, actor=actor, filters=filters)
    matching = select(Case.id).where(*conditions)
    total_cases = session.exec(select(sa.func.count()).select_from(Case).where(*conditions)).one()
    total_people = session.execute(
        select(sa.func.count(sa.distinct(col(Involvement.person_id)))).where(*_victims(matching))
    ).scalar_one()
    groups: list[StatsGroup] = []
    if group_by == "category":
        snap = taxonomy_service.snapshot(session)
        counts = _category_counts(session, matching)
        order = sorted(counts, key=lambda code: snap.nodes[code].path if code in snap.nodes else code)
        for code in order:
            node = snap.nodes.get(code)
            label = _label(node.labels, code) if node else code
            groups.append(StatsGroup(key=code, label=label, cases=counts[code][0], people=counts[code][1]))
    elif group_by in ("year", "month"):
        year = sa.extract("year", col(Case.date_lo))
        if group_by == "year":
            counts = _grouped(session, year, matching)
            keys = {int(y): c for y, c in counts.items()}
            for y in sorted(keys):
                groups.append(
                    StatsGroup(key=f"{y:04d}", label=f"{y:04d}", cases=keys[y][0], people=keys[y][1])
                )
        else:
            # A month is known for day and month precision; other cases are grouped under their year alone.
            month = sa.case(
                (
                    col(Case.date_precision).in_([DatePrecision.DAY.value, DatePrecision.MONTH.value]),
                    sa.extract("month", col(Case.date_lo)),
                ),
                else_=0,
            )
            months = _month_counts(session, year, month, matching)
            for y, m in sorted(months):
                key = f"{y:04d}-{m:02d}" if m else f"{y:04d}"
                label = key if m else f"{y:04d} (month unknown)"
                groups.append(
                    StatsGroup(key=key, label=label, cases=months[(y, m)][0], people=months[(y, m)][1])
                )
    elif group_by in ("country", "region", "employer"):
        counts = _grouped(session, getattr(Case, group_by), matching)
        for value in sorted(counts, key=lambda v: (-counts[v][0], v is None, v or "")):
            groups.append(
                StatsGroup(
                    key=value,
                    label=value if value is not None else "unknown",
                    cases=counts[value][0],
                    people=counts[value][1],
                )
            )
    elif group_by == "victim_status":
        rows = session.execute(
            select(
                col(Involvement.victim_status),
                sa.func.count(sa.distinct(col(Involvement.case_id))),
                sa.func.count(sa.distinct(col(Involvement.person_id))),
            )
            .where(
                col(Involvement.case_id).in_(matching),
                col(Involvement.role) == VICTIM,
                col(Involvement.retracted_at).is_(None),
            )
            .group_by(col(Involvement.victim_status))
        ).all()
        for value, n_cases, n_people in sorted(rows, key=lambda r: (-int(r[1]), r[0] is None, r[0] or "")):
            groups.append(
                StatsGroup(
                    key=value,
                    label=value if value is not None else "unknown",
                    cases=int(n_cases),
                    people=int(n_people),
                )
            )
    else:
        raise ValidationProblem.single("query.group_by", f"cannot group by {group_by!r}", "enum")
    return StatsRead.model_validate(
        {"group_by": group_by, "groups": groups, "total_cases": total_cases, "total_people": total_people}
    )


def _category_counts(session: Session, matching: sa.Select[Any]) -> dict[str, tuple[int, int]]:
    """Per taxonomy node, distinct cases filed under it or below, and their distinct victims (rolled up)."""
    ancestor = col(TaxonomyClosure.ancestor)
    filed = (
        select(ancestor.label("code"), col(CaseCategory.case_id).label("case_id"))
        .join(TaxonomyClosure, col(TaxonomyClosure.descendant) == col(CaseCategory.code))
        .where(col(CaseCategory.case_id).in_(matching))
        .subquery()
    )
    counts: dict[str, list[int]] = {}
    for code, n in session.execute(
        select(filed.c.code, sa.func.count(sa.distinct(filed.c.case_id))).group_by(filed.c.code)
    ):
        counts.setdefault(str(code), [0, 0])[0] = int(n)
    for code, n in session.execute(
        select(filed.c.code, sa.func.count(sa.distinct(col(Involvement.person_id))))
        .join(Involvement, col(Involvement.case_id) == filed.c.case_id)
        .where(*_victims(matching))
        .group_by(filed.c.code)
    ):
        counts.setdefault(str(code), [0, 0])[1] = int(n)
    return {k: (v[0], v[1]) for k, v in counts.items()}


def _month_counts(
    session: Session, year: Any, month: Any, matching: sa.Select[Any]
) -> dict[tuple[int, int], tuple[int, int]]:
    counts: dict[tuple[int, int], list[int]] = {}
    for y, m, n in session.execute(
        select(year, month, sa.func.count(sa.distinct(col(Case.id))))
        .where(col(Case.id).in_(matching))
        .group_by(year, month)
    ):
        counts.setdefault((int(y), int(m)), [0, 0])[0] = int(n)
    for y, m, n in session.execute(
        select(year, month, sa.func.count(sa.distinct(col(Involvement.person_id))))
        .join(Involvement, col(Involvement.case_id) == col(Case.id))
        .where(*_victims(matching))
        .group_by(year, month)
    ):
        counts.setdefault((int(y), int(m)), [0, 0])[1] = int(n)
    return {k: (v[0], v[1]) for k, v in counts.items()}


def stats_csv(stats: StatsRead) -> str:
    """Render statistics as CSV: a header, one row per group, then a total row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([stats.group_by, "label", "cases", "people"])
    for group in stats.groups:
        writer.writerow([_cell(group.key or ""), _cell(group.label), group.cases, group.people])
    writer.writerow(["", "total", stats.total_cases, stats.total_people])
    return buffer.getvalue()


def _cell(value: str) -> str:
    """Neutralise spreadsheet formulas (CSV injection): a leading = + - @ is prefixed with an apostrophe."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
