"""Search and statistics pages: the filters of GET /api/v1/cases as a plain GET form, results with the
excerpts where the words matched, keyset "next page" links, the taxonomy tree with counts under the current
filters, and grouped counts drawn as server-side SVG bars with the table beside them.

Everything is computed by ``api.search`` (``SearchFilters``, ``search_cases``, ``case_stats``), so a page shows
what the API returns for the same filters, under the same visibility.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import Annotated, Any

from babel.dates import format_skeleton
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from markupsafe import Markup, escape
from pydantic import ValidationError
from sqlmodel import Session
from starlette.datastructures import QueryParams

from api import i18n
from api.auth.permissions import Permission
from api.auth.security import Actor
from api.deps import ContextDep, SessionDep
from api.i18n import N_
from api.problems import ValidationProblem
from api.search import service as search_service
from api.search.filters import SearchFilters
from api.taxonomy import service as taxonomy_service
from api.web.forms import FormState, add_problem_errors, add_validation_errors, event_date, word_list
from api.web.routing import WebRoute
from api.web.session import WebRequire
from api.web.taxonomy import node_label, picker_tree
from api.web.templating import country_name, label, render
from schemas.search import CaseListQuery, StatsQuery, StatsRead

router = APIRouter(route_class=WebRoute)

Searcher = Annotated[Actor, Depends(WebRequire(Permission.CASE_READ))]
StatsReader = Annotated[Actor, Depends(WebRequire(Permission.CASE_READ, Permission.STATS_READ))]

PAGE_SIZE = 20
#: Filters that may repeat (checkboxes); the rest are single fields.
LIST_FIELDS = ("status", "confidentiality", "country", "category", "victim_status", "role")
TEXT_FIELDS = (
    "q",
    "region",
    "place",
    "employer",
    "sector",
    "date_from",
    "date_to",
    "victims_min",
    "victims_max",
    "language",
    "tag",
    "urgent",
    "category_match",
)
SORTS = ("newest", "date", "date_asc", "updated", "relevance")
GROUPINGS = ("category", "year", "month", "country", "region", "employer", "victim_status")
_MARK = re.compile(r"(</?mark>)")
_BAD_FILTERS = N_("Some of the input is not valid")


# ---- the filter form ----------------------------------------------------------------------------------------


def filter_values(params: QueryParams) -> dict[str, Any]:
    """The filters as typed in the GET form (lists for the checkboxes)."""
    values: dict[str, Any] = {name: [v for v in params.getlist(name) if v.strip()] for name in LIST_FIELDS}
    values |= {name: params.get(name, "") for name in TEXT_FIELDS}
    values["mine"] = params.get("mine", "")
    return values


def filter_data(values: dict[str, Any]) -> dict[str, Any]:
    """The non-empty filters, shaped for the API's query schema (dates may be written 19.04.2022)."""
    data: dict[str, Any] = {name: values[name] for name in LIST_FIELDS if values.get(name)}
    for name in TEXT_FIELDS:
        value = str(values.get(name, "")).strip()
        if not value:
            continue
        if name in ("date_from", "date_to"):
            value = event_date(values, name) or value
        data[name] = word_list(values, "tag") if name == "tag" else value
    if values.get("mine") == "on":
        data["mine"] = True
    return data


def _problem_fields(state: FormState, problem: ValidationProblem) -> None:
    """A service's `query.<name>` errors, placed on the form's fields."""
    names = (*LIST_FIELDS, *TEXT_FIELDS, "sort", "cursor", "group_by")
    add_problem_errors(state, problem, renames={f"query.{n}": n for n in names} | {"query.cursor": ""})


def safe_snippet(snippet: str | None) -> Markup | None:
    """The search excerpt as markup: only <mark> survives; every other character is escaped again here."""
    if not snippet:
        return None
    opened = Markup("<mark>")
    closed = Markup("</mark>")
    parts = _MARK.split(snippet)
    return Markup("").join(
        (opened if p == "<mark>" else closed) if _MARK.fullmatch(p) else escape(html.unescape(p))
        for p in parts
    )


@dataclass
class Facets:
    """Counts beside the filters: cases under each taxonomy node (rolled up) with the other filters applied."""

    categories: dict[str, int]
    total: int


def category_facets(*, session: Session, actor: Actor, filters: SearchFilters) -> Facets | None:
    """How many cases each node would hold with every filter but the categories (so choosing is informed);
    None past COUNT_CAP such cases, where counting them all would make every search page slow."""
    wider = replace(filters, category=())
    if search_service.count_up_to(session=session, actor=actor, filters=wider) > search_service.COUNT_CAP:
        return None
    stats = search_service.case_stats(session=session, actor=actor, filters=wider, group_by="category")
    return Facets({g.key: g.cases for g in stats.groups if g.key}, stats.total_cases)


# ---- search -------------------------------------------------------------------------------------------------------


@router.get("/search")
def search_page(request: Request, ctx: ContextDep, session: SessionDep, actor: Searcher) -> Response:
    """Find cases by words and filters; with no filter at all, the form alone."""
    params = request.query_params
    values = filter_values(params)
    values["sort"] = params.get("sort", "")
    state = FormState(values=values)
    data = filter_data(values)
    asked = bool(data) or "sort" in params
    page = None
    filters: SearchFilters | None = None
    sort = values["sort"] or ("relevance" if data.get("q") else "newest")
    try:
        query = CaseListQuery.model_validate({**data, "sort": sort})
        filters = SearchFilters.from_query(query, words=request.app.state.ctx.words)
        if asked:
            page = search_service.search_cases(
                session=session,
                actor=actor,
                filters=filters,
                sort=sort,
                cursor=params.get("cursor") or None,
                limit=PAGE_SIZE,
                secret=ctx.secret,
                sealer=ctx.sealer,
            )
    except ValidationError as exc:
        add_validation_errors(state, exc)
    except ValidationProblem as problem:
        _problem_fields(state, problem)
    facets = None
    if filters is not None and not state.invalid:
        facets = category_facets(session=session, actor=actor, filters=filters)
    next_link = None
    if page is not None and page.next_cursor:
        kept = [(k, v) for k, v in params.multi_items() if k != "cursor" and v != ""]
        next_link = "/search?" + str(QueryParams([*kept, ("cursor", page.next_cursor)]))
    return render(
        request,
        "search/search.html",
        {
            "form": state,
            "page": page,
            "asked": asked,
            "facets": facets,
            "taxonomy_tree": picker_tree(session=session, actor=actor),
            "snippet": safe_snippet,
            "next_link": next_link,
            "sorts": SORTS,
            "first_page": not params.get("cursor"),
        },
    )


# ---- statistics -----------------------------------------------------------------------------------------------


@dataclass
class Bar:
    """One bar of a chart: its group, counts, and geometry in the SVG's own units."""

    key: str | None
    label: str
    cases: int
    people: int
    y: int
    width: float


CHART_WIDTH = 640
#: Each row of a chart: the group's name on a line, its bar below it.
LABEL_HEIGHT = 17
BAR_HEIGHT = 16
BAR_GAP = 9
ROW_HEIGHT = LABEL_HEIGHT + BAR_HEIGHT + BAR_GAP
#: Bars drawn at most; the table always lists every group.
MAX_BARS = 40


def chart_bars(stats: StatsRead) -> list[Bar]:
    """Bars scaled to the largest group (cases), in the order the statistics come."""
    groups = stats.groups[:MAX_BARS]
    largest = max((g.cases for g in groups), default=0) or 1
    return [
        Bar(
            key=g.key,
            label=g.label,
            cases=g.cases,
            people=g.people,
            y=i * ROW_HEIGHT,
            width=round(g.cases / largest * (CHART_WIDTH - 60), 1),
        )
        for i, g in enumerate(groups)
    ]


def group_namer(*, session: Session, group_by: str) -> Callable[[str | None, str], str]:
    """A function naming a group in the page language: categories by their node names, countries, statuses,
    months by name; other values (regions, employers) as recorded."""
    nodes = taxonomy_service.snapshot(session).nodes if group_by == "category" else {}

    def name(key: str | None, fallback: str) -> str:
        if key is None:
            return i18n.gettext("not recorded")
        if group_by == "category":
            node = nodes.get(key)
            return node_label(node.labels) if node else key
        if group_by == "country":
            return country_name(key)
        if group_by == "victim_status":
            return label("victim_status", key)
        if group_by == "month" and len(key) == 7:
            return format_skeleton(
                "yMMMM", date(int(key[:4]), int(key[5:]), 1), locale=i18n.active_language()
            )
        if group_by == "month":
            return i18n.gettext("%(year)s (month unknown)") % {"year": key}
        return key if key else fallback

    return name


def _stats(request: Request, session: Session, actor: Actor) -> tuple[FormState, StatsRead | None]:
    params = request.query_params
    values = filter_values(params)
    values["group_by"] = params.get("group_by", "") or "category"
    state = FormState(values=values)
    stats = None
    try:
        query = StatsQuery.model_validate({**filter_data(values), "group_by": values["group_by"]})
        stats = search_service.case_stats(
            session=session,
            actor=actor,
            filters=SearchFilters.from_query(query, words=request.app.state.ctx.words),
            group_by=query.group_by,
            side=request.app.state.ctx.db.side_engine,
        )
    except ValidationError as exc:
        add_validation_errors(state, exc)
    except ValidationProblem as problem:
        _problem_fields(state, problem)
    return state, stats


@router.get("/stats")
def stats_page(request: Request, session: SessionDep, actor: StatsReader) -> Response:
    """Counts of cases and victims per group under the search filters: bars drawn on the server and a table."""
    state, stats = _stats(request, session, actor)
    bars = chart_bars(stats) if stats is not None else []
    group_by = state.value("group_by")
    return render(
        request,
        "search/stats.html",
        {
            "form": state,
            "stats": stats,
            "bars": bars,
            "groupings": GROUPINGS,
            "group_name": group_namer(session=session, group_by=group_by if group_by in GROUPINGS else ""),
            "chart": {
                "width": CHART_WIDTH,
                "bar": BAR_HEIGHT,
                "label": LABEL_HEIGHT,
                "height": max(1, len(bars)) * ROW_HEIGHT,
            },
            "taxonomy_tree": picker_tree(session=session, actor=actor),
            "facets": None,
            "csv_link": "/stats.csv?" + str(request.query_params) if stats is not None else None,
        },
    )


@router.get("/stats.csv")
def stats_csv(request: Request, session: SessionDep, actor: StatsReader) -> Response:
    """The same counts as CSV (as GET /api/v1/stats?format=csv gives them), for a spreadsheet."""
    _state, stats = _stats(request, session, actor)
    if stats is None:
        return render(
            request, "error.html", {"status": 422, "title": _BAD_FILTERS, "advice": None}, status_code=422
        )
    return Response(
        search_service.stats_csv(stats),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="precedent-stats-{stats.group_by}.csv"'},
    )
