"""Cases: who may see and change them, create, read, update with optimistic locking, retract, assign, list."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.cases import dates
from api.history import service as history_service
from api.models import Case, CaseAssignment, CaseCategory, CaseTag, ReferenceCounter, User
from api.models.base import utcnow
from api.problems import Conflict, NotFound, PermissionDenied, ValidationProblem
from api.records import (
    check_if_match,
    conditional_update,
    diff,
    ensure_not_retracted,
    reload,
    retract,
    snapshot,
)
from api.search import index as search_index
from schemas.base import Page
from schemas.case import (
    AssignmentRead,
    CaseCreate,
    CaseRead,
    CaseUpdate,
    CategoryNotice,
    RetractionRead,
)
from schemas.enums import Confidentiality, DatePrecision, Role
from schemas.problem import FieldError

ENTITY = "case"
_SCALAR_FIELDS = [
    "title",
    "summary",
    "narrative",
    "occurred_from",
    "occurred_to",
    "date_precision",
    "country",
    "region",
    "place",
    "employer",
    "sector",
    "status",
    "confidentiality",
    "urgent",
    "urgency_reason",
    "language",
    "location_type",
    "violation_status",
]

# Case fields the search index holds (api.search.index.case_row).
_TEXT_FIELDS = {"title", "summary", "narrative"}
_FOLDED_FIELDS = {"region", "place", "employer", "sector"}


class _Overlay:
    """A case's attributes with the values about to be written on top (what the index should hold)."""

    def __init__(self, case: Case, values: dict[str, Any]) -> None:
        self._case, self._values = case, values

    def __getattr__(self, name: str) -> Any:
        return self._values[name] if name in self._values else getattr(self._case, name)


# Case fields that hold a term of a HURIDOCS vocabulary.
_FACETS = {"location_type": "location_type", "violation_status": "violation_status"}


# ---- visibility -------------------------------------------------------------------------------------------


def visible_clause(actor: Actor) -> sa.ColumnElement[bool]:
    """SQL condition selecting the cases `actor` may see (the one rule every query uses)."""
    return _visible(
        actor.user_id,
        actor.can(Permission.CASE_READ) and not actor.duress,  # duress: an empty workspace (docs/accounts.md)
        actor.can(Permission.CASE_READ_ALL),
        actor.can(Permission.CASE_READ_RESTRICTED),
    )


# Built once per user and set of permissions, not per query (a clause never changes once built, so one may be
# shared): building it took 6% of a simple search's time at a million cases.
@functools.lru_cache(maxsize=1024)
def _visible(user_id: uuid.UUID, read: bool, read_all: bool, read_restricted: bool) -> sa.ColumnElement[bool]:
    if not read:
        return sa.false()
    own = sa.or_(
        col(Case.created_by) == user_id,
        col(Case.id).in_(select(CaseAssignment.case_id).where(col(CaseAssignment.user_id) == user_id)),
    )
    if not read_all:
        return own
    if read_restricted:
        return sa.true()
    return sa.or_(col(Case.confidentiality) != Confidentiality.RESTRICTED.value, own)


def may_edit(*, session: Session, actor: Actor, case: Case) -> bool:
    """True when `actor` may change `case` (and the records inside it)."""
    if actor.can(Permission.CASE_UPDATE_ALL):
        return True
    if not actor.can(Permission.CASE_UPDATE):
        return False
    if case.created_by == actor.user_id:
        return True
    return session.get(CaseAssignment, (case.id, actor.user_id)) is not None


def get_case_or_raise(*, session: Session, actor: Actor, case_id: uuid.UUID) -> Case:
    """Return a case the actor may see; a case they may not see is reported as not found."""
    case = session.exec(select(Case).where(Case.id == case_id, visible_clause(actor))).first()
    if case is None:
        raise NotFound(f"No case {case_id} that you can see.")
    return case


def get_editable_case_or_raise(*, session: Session, actor: Actor, case_id: uuid.UUID) -> Case:
    """Return a case the actor may change: 404 if they cannot see it, 403 if they may only read it."""
    case = get_case_or_raise(session=session, actor=actor, case_id=case_id)
    if not may_edit(session=session, actor=actor, case=case):
        raise PermissionDenied("You may read this case but not change it.")
    ensure_not_retracted(case, "case")
    return case


# ---- create / update / retract ----------------------------------------------------------------------------


def _next_reference(session: Session, year: int) -> str:
    """Issue the next PR-<year>-<number> reference; atomic across processes (upsert ... RETURNING)."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(ReferenceCounter)
        .values(year=year, last_value=1)
        .on_conflict_do_update(index_elements=["year"], set_={"last_value": ReferenceCounter.last_value + 1})
        .returning(col(ReferenceCounter.last_value))
    )
    number = session.execute(stmt).scalar_one()
    return f"PR-{year}-{number:06d}"


def _check_dates(occurred_from: Any, occurred_to: Any) -> None:
    problems = dates.date_problems(occurred_from, occurred_to)
    if problems:
        raise ValidationProblem(
            [FieldError(field=f"body.{f}", message=m, type="date_range") for f, m in problems]
        )


def _check_urgency(urgent: bool, reason: str | None) -> None:
    if urgent and not (reason or "").strip():
        raise ValidationProblem.single(
            "body.urgency_reason",
            "an urgent case needs its justification (CFA: life or personal freedom, dissolution, ...)",
            "missing",
        )


def _check_facets(session: Session, values: dict[str, Any]) -> None:
    from api.taxonomy import service as taxonomy_service

    for name, vocabulary in _FACETS.items():
        taxonomy_service.check_vocabulary_code(
            session=session, vocabulary=vocabulary, code=values.get(name), field=f"body.{name}"
        )


def _categories(codes: list[str], primary: str | None) -> tuple[list[str], str | None]:
    """Deduplicate category codes keeping order; the primary is the given one, else the first."""
    seen: list[str] = []
    for code in codes:
        if code not in seen:
            seen.append(code)
    if primary is not None and primary not in seen:
        seen.insert(0, primary)
    return seen, (primary if primary is not None else (seen[0] if seen else None))


def _resolve_categories(session: Session, codes: list[str]) -> tuple[list[str], list[CategoryNotice]]:
    """Validate category codes against the taxonomy (when it is loaded) and map retired ones."""
    from api.taxonomy import service as taxonomy_service

    return taxonomy_service.resolve_case_codes(session=session, codes=codes)


def _write_categories(session: Session, case: Case, codes: list[str], primary: str | None) -> None:
    session.execute(sa.delete(CaseCategory).where(CaseCategory.case_id == case.id))  # type: ignore[arg-type]
    for code in codes:
        session.add(
            CaseCategory(case_id=case.id, code=code, is_primary=(code == primary), created_at=case.created_at)
        )


def _write_tags(session: Session, case_id: uuid.UUID, tags: list[str]) -> None:
    session.execute(sa.delete(CaseTag).where(CaseTag.case_id == case_id))  # type: ignore[arg-type]
    for tag in dict.fromkeys(tags):
        session.add(CaseTag(case_id=case_id, tag=tag))


def create_case(*, session: Session, actor: Actor, case_in: CaseCreate) -> CaseRead:
    """Record a new case, with its categories and tags, and its first revision."""
    precision = case_in.date_precision
    occurred_from = dates.normalise(case_in.occurred_from, precision)
    occurred_to = dates.normalise(case_in.occurred_to, precision) if case_in.occurred_to else None
    _check_dates(occurred_from, occurred_to)
    _check_urgency(case_in.urgent, case_in.urgency_reason)
    _check_facets(session, case_in.model_dump())
    codes, notices = _resolve_categories(session, case_in.categories)
    primary_in = case_in.primary_category
    if primary_in is not None:
        mapped, primary_notices = _resolve_categories(session, [primary_in])
        primary_in = mapped[0]
        notices += [n for n in primary_notices if n.code not in {x.code for x in notices}]
    codes, primary = _categories(codes, primary_in)
    lo, hi = dates.window(occurred_from, occurred_to, precision)
    now = utcnow()
    case = Case(
        reference=_next_reference(session, now.year),
        **case_in.model_dump(include=set(_SCALAR_FIELDS) - {"occurred_from", "occurred_to"}),
        occurred_from=occurred_from,
        occurred_to=occurred_to,
        date_lo=lo,
        date_hi=hi,
        primary_category=primary,
        created_by=actor.user_id,
        updated_by=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    for name, value in search_index.case_folds(case).items():
        setattr(case, name, value)
    case.category_codes = search_index.category_signature(codes)
    session.add(case)
    session.flush()
    _write_categories(session, case, codes, primary)
    _write_tags(session, case.id, case_in.tags)
    search_index.index_case(session, case)
    changes = snapshot(case, [*_SCALAR_FIELDS, "reference"])
    changes |= {
        "categories": {"before": None, "after": codes},
        "primary_category": {"before": None, "after": primary},
        "tags": {"before": None, "after": list(dict.fromkeys(case_in.tags))},
    }
    history_service.record_revision(
        session=session,
        actor=actor,
        entity_type=ENTITY,
        entity_id=case.id,
        case_id=case.id,
        version=1,
        action="create",
        changes=changes,
    )
    session.flush()
    return case_to_read(session=session, case=case, notices=notices)


def update_case(
    *, session: Session, actor: Actor, case_id: uuid.UUID, case_in: CaseUpdate, if_match: str | None
) -> CaseRead:
    """Apply a PATCH if the caller's ETag is current; record the changed fields as a revision."""
    case = get_editable_case_or_raise(session=session, actor=actor, case_id=case_id)
    check_if_match(if_match, case.version)
    given = case_in.model_dump(exclude_unset=True)
    precision = DatePrecision(given.get("date_precision", case.date_precision))
    occurred_from = dates.normalise(given.get("occurred_from", case.occurred_from), precision)
    occurred_to = given.get("occurred_to", case.occurred_to)
    occurred_to = dates.normalise(occurred_to, precision) if occurred_to else None
    _check_dates(occurred_from, occurred_to)
    _check_urgency(given.get("urgent", case.urgent), given.get("urgency_reason", case.urgency_reason))

    _check_facets(session, given)
    values = {k: v for k, v in given.items() if k in _SCALAR_FIELDS}
    values |= {"occurred_from": occurred_from, "occurred_to": occurred_to, "date_precision": precision.value}
    changes = diff(case, values)
    values = {k: values[k] for k in changes}
    notices: list[CategoryNotice] = []
    if "categories" in given or "primary_category" in given:
        current_codes = _current_categories(session, case.id)
        codes, notices = _resolve_categories(session, given.get("categories", current_codes))
        primary_in = given.get("primary_category", case.primary_category)
        if primary_in is not None:
            primary_in = _resolve_categories(session, [primary_in])[0][0]
        if primary_in not in codes and "primary_category" not in given:
            primary_in = None
        codes, primary = _categories(codes, primary_in)
        if codes != current_codes or primary != case.primary_category:
            changes["categories"] = {"before": current_codes, "after": codes}
            if primary != case.primary_category:
                changes["primary_category"] = {"before": case.primary_category, "after": primary}
                values["primary_category"] = primary
            values["category_codes"] = search_index.category_signature(codes)  # derived, not in the history
            _write_categories(session, case, codes, primary)
    if "tags" in given:
        current_tags = _current_tags(session, case.id)
        tags = list(dict.fromkeys(given["tags"]))
        if tags != current_tags:
            changes["tags"] = {"before": current_tags, "after": tags}
            _write_tags(session, case.id, tags)
    if not changes:
        return case_to_read(session=session, case=case)
    if "occurred_from" in values or "occurred_to" in values or "date_precision" in values:
        values["date_lo"], values["date_hi"] = dates.window(occurred_from, occurred_to, precision)
    if _FOLDED_FIELDS & values.keys():
        values |= search_index.case_folds(_Overlay(case, values))  # derived: written, not in the history
    version = conditional_update(
        session=session, model=Case, row_id=case.id, expected_version=case.version, values=values, actor=actor
    )
    if _TEXT_FIELDS & values.keys():
        search_index.index_case(session, _Overlay(case, values))
    history_service.record_revision(
        session=session,
        actor=actor,
        entity_type=ENTITY,
        entity_id=case.id,
        case_id=case.id,
        version=version,
        action="update",
        changes=changes,
    )
    session.flush()
    fresh = reload(session, Case, case.id)
    return case_to_read(session=session, case=fresh, notices=notices)


def retract_case(
    *, session: Session, actor: Actor, case_id: uuid.UUID, reason: str, if_match: str | None
) -> CaseRead:
    """Retract a case: it leaves every list but stays readable by id and in its history."""
    case = get_editable_case_or_raise(session=session, actor=actor, case_id=case_id)
    if not actor.can(Permission.CASE_RETRACT):
        raise PermissionDenied("Your role may not retract cases.")
    check_if_match(if_match, case.version)
    # In the same transaction as the retraction, which retract() commits.
    search_index.remove_case(session, case.id)
    fresh = retract(
        session=session, actor=actor, model=Case, row=case, reason=reason, entity_type=ENTITY, case_id=case.id
    )
    return case_to_read(session=session, case=fresh)


def assign_user(*, session: Session, actor: Actor, case_id: uuid.UUID, user_id: uuid.UUID) -> AssignmentRead:
    """Assign a documenter to a case so they may see and edit it."""
    case = get_case_or_raise(session=session, actor=actor, case_id=case_id)
    ensure_not_retracted(case, "case")
    user = session.get(User, user_id)
    if user is None or user.disabled:
        raise ValidationProblem.single("body.user_id", "no active user with this id", "not_found")
    if user.role == Role.RESEARCHER.value:
        raise ValidationProblem.single("body.user_id", "researchers cannot be assigned to cases", "role")
    if session.get(CaseAssignment, (case.id, user.id)) is not None:
        raise Conflict("This user is already assigned to the case.")
    row = CaseAssignment(case_id=case.id, user_id=user.id, assigned_by=actor.user_id)
    session.add(row)
    history_service.record_revision(
        session=session,
        actor=actor,
        entity_type="case_assignment",
        entity_id=case.id,
        case_id=case.id,
        version=case.version,
        action="assign",
        changes={"assigned_user": {"before": None, "after": str(user.id)}},
    )
    session.flush()
    return AssignmentRead.model_validate(row)


# ---- reading ----------------------------------------------------------------------------------------------


def _current_categories(session: Session, case_id: uuid.UUID) -> list[str]:
    rows = session.exec(
        select(CaseCategory.code)
        .where(CaseCategory.case_id == case_id)
        .order_by(CaseCategory.is_primary.desc(), CaseCategory.code)  # type: ignore[attr-defined]
    ).all()
    return list(rows)


def _current_tags(session: Session, case_id: uuid.UUID) -> list[str]:
    return list(
        session.exec(select(CaseTag.tag).where(CaseTag.case_id == case_id).order_by(CaseTag.tag)).all()
    )


def case_to_read(*, session: Session, case: Case, notices: list[CategoryNotice] | None = None) -> CaseRead:
    """Build the wire form of a case."""
    return cases_to_read(session=session, cases=[case], notices=notices)[0]


def categories_of(category_codes: str, primary: str | None) -> list[str]:
    """A case's category codes as the API lists them: the primary first, then the others in code order.

    case_record.category_codes holds the codes of case_category (written with them, in one transaction), so a
    page needs no query for them. Sorted here: a bulk rebuild writes the set in the database's order.
    """
    codes = sorted(set(category_codes.split()))
    if primary in codes:
        codes.remove(primary)
        codes.insert(0, primary)
    return codes


def _tags_of(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    tags: dict[uuid.UUID, list[str]] = {i: [] for i in ids}
    if ids:
        # A Core statement on the session's connection: two plain columns need no ORM step (nor autoflush:
        # every writer commits its tags before reading the case back).
        for case_id, tag in session.connection().execute(
            sa.select(col(CaseTag.case_id), col(CaseTag.tag))
            .where(col(CaseTag.case_id).in_(ids))
            .order_by(col(CaseTag.tag))
        ):
            tags[case_id].append(tag)
    # Code-point order, whatever the database's collation (as a search page's tags: api.search.service).
    return {case_id: sorted(names) for case_id, names in tags.items()}


def case_fields(
    *,
    session: Session,
    cases: Sequence[Any],
    notices: list[CategoryNotice] | None = None,
    tags: dict[uuid.UUID, list[str]] | None = None,
) -> list[dict[str, Any]]:
    """The wire fields of a page of cases (Case objects or rows of case_record's columns), with one extra
    query (tags) for the page, not one per case, unless `tags` (each case's, sorted) are given. Categories
    come from the case's own category_codes."""
    if tags is None:
        tags = _tags_of(session, [c.id for c in cases])
    out = []
    for case in cases:
        # A row's mapping reads a column in C; getattr on a row goes through Python (16 µs a case at thirty
        # fields, most of a millisecond a page).
        mapping = getattr(case, "_mapping", None)
        value: Callable[[str], Any] = (
            mapping.__getitem__ if mapping is not None else functools.partial(getattr, case)
        )
        retracted = None
        if value("retracted_at") is not None and value("retracted_by") is not None:
            retracted = RetractionRead(
                at=value("retracted_at"), by=value("retracted_by"), reason=value("retraction_reason")
            )
        out.append(
            {
                **{name: value(name) for name in _SCALAR_FIELDS},
                "id": value("id"),
                "reference": value("reference"),
                "earliest": value("date_lo"),
                "latest": value("date_hi"),
                "tags": tags[value("id")],
                "categories": categories_of(value("category_codes"), value("primary_category")),
                "primary_category": value("primary_category"),
                "created_by": value("created_by"),
                "created_at": value("created_at"),
                "updated_by": value("updated_by"),
                "updated_at": value("updated_at"),
                "version": value("version"),
                "retracted": retracted,
                "notices": notices or [],
            }
        )
    return out


def cases_to_read(
    *, session: Session, cases: Sequence[Case], notices: list[CategoryNotice] | None = None
) -> list[CaseRead]:
    """Build wire forms for a page of cases (see case_fields)."""
    return [CaseRead(**fields) for fields in case_fields(session=session, cases=cases, notices=notices)]


@dataclass(frozen=True)
class CaseListFilters:
    status: str | None = None
    country: str | None = None
    category: str | None = None
    tag: str | None = None
    mine: bool = False


def list_cases(
    *,
    session: Session,
    actor: Actor,
    filters: CaseListFilters,
    cursor: str | None,
    limit: int,
    secret: bytes,
) -> Page[CaseRead]:
    """Return one page of visible, unretracted cases, newest first, with the total and the next cursor.

    The simple filters of the web pages; api.search.service.search_cases takes every filter.
    """
    from api.search import service as search_service
    from api.search.filters import SearchFilters

    search = SearchFilters(
        status=(filters.status,) if filters.status else (),
        country=(filters.country,) if filters.country else (),
        category=(filters.category,) if filters.category else (),
        tag=(filters.tag,) if filters.tag else (),
        mine=filters.mine,
    ).checked()
    page = search_service.search_cases(
        session=session, actor=actor, filters=search, sort="newest", cursor=cursor, limit=limit, secret=secret
    )
    return Page[CaseRead](
        items=list(page.items), total=page.total, total_exact=page.total_exact, next_cursor=page.next_cursor
    )
