"""Exports for the ILO, the ITUC, HURIDOCS/Uwazi partners and print, each redacted for its audience."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import Field

from api.audit import service as audit_service
from api.auth.permissions import Permission
from api.auth.security import Actor
from api.deps import ContextDep, CurrentActor, Require, SessionDep
from api.exports import bundle, huridocs, ilo, ituc, research, sheet
from api.exports import service as export_service
from api.exports.files import file_response, stamp
from api.problems import PermissionDenied, file_responses, problem_responses
from api.routing import SessionRoute
from api.search.filters import SearchFilters, case_conditions
from api.taxonomy import service as taxonomy_service
from schemas.base import Schema
from schemas.case import Country
from schemas.export import (
    ExportAudience,
    HuridocsExportRequest,
    IloComplaint,
    IloComplaintRequest,
    OverrideReason,
    WithheldItem,
    WithheldPreviewRequest,
)
from schemas.search import CaseFilterQuery

router = APIRouter(route_class=SessionRoute, prefix="/exports", tags=["exports"])
case_router = APIRouter(route_class=SessionRoute, prefix="/cases", tags=["exports"])

IloExporter = Annotated[Actor, Depends(Require(Permission.EXPORT_ILO))]
ItucExporter = Annotated[Actor, Depends(Require(Permission.EXPORT_ITUC))]
HuridocsExporter = Annotated[Actor, Depends(Require(Permission.EXPORT_HURIDOCS))]
SheetPrinter = Annotated[Actor, Depends(Require(Permission.EXPORT_BUNDLE))]
ResearchExporter = Annotated[Actor, Depends(Require(Permission.EXPORT_RESEARCH))]

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_EXPORT_PROBLEMS = problem_responses(401, 403, 404, 409, 422)
#: Problems of a made export: 409 for restricted cases without a coordinator's override_reason.
_FILE_PROBLEMS = (401, 403, 404, 409, 422)


def _ensure_audience_allowed(actor: Actor, audience: ExportAudience) -> None:
    # An internal export may carry identities: only roles that may read identities may make one.
    if audience is ExportAudience.INTERNAL and not actor.can(Permission.PERSON_READ_IDENTITY):
        raise PermissionDenied("Internal exports carry identities; your role may not read identities.")


@router.post(
    "/ilo-cfa",
    responses=file_responses(DOCX, "application/json", statuses=_FILE_PROBLEMS),
    response_model=IloComplaint,
)
def ilo_complaint(
    request: IloComplaintRequest, session: SessionDep, ctx: ContextDep, actor: IloExporter
) -> Response:
    """A complaint to the ILO Committee on Freedom of Association: cover letter and annex (DOCX) or JSON.

    Names appear only for people with an active consent for the ILO; the X-Withheld-Count header and
    GET /exports/{id} tell what was withheld.
    """
    export_service.check_selection_size(kind="ilo-cfa", count=len(set(request.case_ids)))
    selection = export_service.select_cases(
        session=session,
        actor=actor,
        sealer=ctx.sealer,
        case_ids=request.case_ids,
        audience=ExportAudience.ILO,
        override_reason=request.override_reason,
    )
    snapshot = taxonomy_service.snapshot(session)
    chapters = {c.cfa_chapter for case in selection.cases for c in case.categories} | {None}
    titles = {ch: export_service.cfa_chapter_title(snapshot, ch) for ch in chapters}
    complaint = ilo.build_complaint(
        request=request,
        cases=selection.cases,
        chapter_titles=titles,
        withheld=selection.withheld,
        today=datetime.now(UTC).date(),
    )
    if request.format == "json":
        body = complaint.model_dump_json(indent=2).encode()
        media_type, filename = "application/json", f"precedent-ilo-complaint-{stamp()}.json"
    else:
        body = ilo.write_docx(complaint)
        media_type, filename = DOCX, f"precedent-ilo-complaint-{stamp()}.docx"
    record = export_service.record_export(
        session=session,
        actor=actor,
        kind="ilo-cfa",
        fmt=request.format,
        audience=ExportAudience.ILO,
        selection={"case_ids": [str(c) for c in request.case_ids]},
        data=body,
        withheld=selection.withheld,
    )
    return file_response(body, media_type=media_type, filename=filename, record=record)


class ItucQuery(Schema):
    format: Literal["csv", "xlsx"] = "csv"
    case_id: list[uuid.UUID] = Field(
        default=[], description="Cases to include (repeat); default: all you may see."
    )
    country: Country | None = None
    date_from: date | None = Field(default=None, description="Events overlapping this period.")
    date_to: date | None = None
    override_reason: OverrideReason | None = None


@router.get("/ituc", responses=file_responses("text/csv", XLSX, statuses=_FILE_PROBLEMS))
def ituc_survey(
    query: Annotated[ItucQuery, Query()], session: SessionDep, ctx: ContextDep, actor: ItucExporter
) -> Response:
    """ITUC Survey entries: one row per violation, grouped by indicator group, law or practice (CSV or XLSX)."""
    case_ids = query.case_id or export_service.matching_case_ids(
        session=session,
        actor=actor,
        country=query.country,
        date_from=query.date_from,
        date_to=query.date_to,
        limit=export_service.LIMITS["ituc"] + 1,
    )
    export_service.check_selection_size(kind="ituc", count=len(set(case_ids)))
    selection = export_service.select_cases(
        session=session,
        actor=actor,
        sealer=ctx.sealer,
        case_ids=case_ids,
        audience=ExportAudience.ITUC,
        override_reason=query.override_reason,
    )
    table = ituc.rows(selection.cases, submitted_by=ctx.settings.organisation_name)
    if query.format == "xlsx":
        body, media_type = ituc.write_xlsx(table), XLSX
    else:
        body, media_type = b"".join(ituc.write_csv(table)), "text/csv; charset=utf-8"
    record = export_service.record_export(
        session=session,
        actor=actor,
        kind="ituc",
        fmt=query.format,
        audience=ExportAudience.ITUC,
        selection={"case_ids": [str(c) for c in case_ids]},
        data=body,
        withheld=selection.withheld,
    )
    return file_response(
        body, media_type=media_type, filename=f"precedent-ituc-{stamp()}.{query.format}", record=record
    )


@router.post("/huridocs", responses=file_responses("application/json", "text/csv", statuses=_FILE_PROBLEMS))
def huridocs_export(
    request: HuridocsExportRequest, session: SessionDep, ctx: ContextDep, actor: HuridocsExporter
) -> Response:
    """HURIDOCS ESF-shaped JSON (events, acts, involvements, information) or a CSV for Uwazi's import."""
    _ensure_audience_allowed(actor, request.audience)
    export_service.check_selection_size(kind="huridocs", count=len(set(request.case_ids)))
    selection = export_service.select_cases(
        session=session,
        actor=actor,
        sealer=ctx.sealer,
        case_ids=request.case_ids,
        audience=request.audience,
        override_reason=request.override_reason,
    )
    if request.format == "uwazi_csv":
        body, media_type, ext = (
            b"".join(huridocs.write_uwazi_csv(selection.cases)),
            "text/csv; charset=utf-8",
            "csv",
        )
    else:
        body, media_type, ext = (
            huridocs.write_esf_json(selection.cases, audience=request.audience.value),
            "application/json",
            "json",
        )
    record = export_service.record_export(
        session=session,
        actor=actor,
        kind="huridocs",
        fmt=request.format,
        audience=request.audience,
        selection={"case_ids": [str(c) for c in request.case_ids]},
        data=body,
        withheld=selection.withheld,
    )
    return file_response(
        body, media_type=media_type, filename=f"precedent-huridocs-{stamp()}.{ext}", record=record
    )


@router.post("/preview", response_model=list[WithheldItem], responses=_EXPORT_PROBLEMS)
def preview_withheld(
    request: WithheldPreviewRequest, session: SessionDep, ctx: ContextDep, actor: CurrentActor
) -> list[WithheldItem]:
    """What an export of these cases for this audience would withhold for lack of consent (nothing is exported)."""
    if not any(
        actor.can(p) for p in (Permission.EXPORT_ILO, Permission.EXPORT_ITUC, Permission.EXPORT_BUNDLE)
    ):
        raise PermissionDenied("Your role makes no exports.")
    _ensure_audience_allowed(actor, request.audience)
    export_service.check_selection_size(kind="preview", count=len(set(request.case_ids)))
    selection = export_service.select_cases(
        session=session,
        actor=actor,
        sealer=ctx.sealer,
        case_ids=request.case_ids,
        audience=request.audience,
        preview=True,
    )
    return selection.withheld


class ExportRecordRead(Schema):
    id: uuid.UUID
    created_at: datetime
    actor_id: uuid.UUID
    kind: str
    format: str
    audience: str
    selection: dict[str, Any]
    sha256: str
    size: int
    withheld: list[WithheldItem]


class ResearchExportQuery(CaseFilterQuery):
    format: Literal["csv", "ndjson"] = Field(
        description="CSV (RFC 4180, UTF-8) or NDJSON (one JSON object a line)."
    )


RESEARCH_MEDIA = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}


@router.get(
    "/research",
    responses={
        **problem_responses(401, 403, 422),
        200: {"content": {m.split(";")[0]: {} for m in RESEARCH_MEDIA.values()}, "description": "The rows"},
    },
    response_class=StreamingResponse,
)
def research_export(
    query: Annotated[ResearchExportQuery, Query()],
    session: SessionDep,
    ctx: ContextDep,
    actor: ResearchExporter,
) -> StreamingResponse:
    """The cases a search matches, one row each, as CSV or NDJSON, streamed (same filters as `GET /cases`).

    No identities and no free text beyond the title; counts of victims by status. Audited with the filters,
    the search words only as a keyed hash.
    """
    filters = SearchFilters.from_query(query, words=ctx.words)
    conditions = case_conditions(session=session, actor=actor, filters=filters)
    given = query.model_dump(exclude_defaults=True, exclude={"format", "q"}, mode="json")
    if filters.terms:
        given["q_hmac"] = export_service.search_words_hmac(terms=filters.terms, secret=ctx.secret)

    def audit(rows: int, complete: bool) -> None:
        with ctx.db.write_session() as write:
            audit_service.record(
                session=write,
                actor_id=actor.user_id,
                action="export.research",
                target_type="export",
                details={"format": query.format, "filters": given, "rows": rows, "complete": complete},
            )

    body = research.stream_research_export(db=ctx.db, conditions=conditions, fmt=query.format, on_end=audit)
    return StreamingResponse(
        body,
        media_type=RESEARCH_MEDIA[query.format],
        headers={
            "Content-Disposition": f'attachment; filename="precedent-research-{stamp()}.{query.format}"'
        },
    )


@router.get("/{export_id}", response_model=ExportRecordRead, responses=problem_responses(401, 404, 422))
def get_export(export_id: uuid.UUID, session: SessionDep, actor: CurrentActor) -> ExportRecordRead:
    """The record of an export you made: audience, selection, SHA-256 of the file, and what was withheld."""
    record = export_service.get_export_record(session=session, actor=actor, export_id=export_id)
    return ExportRecordRead.model_validate(record)


class SheetQuery(Schema):
    audience: ExportAudience = ExportAudience.INTERNAL
    override_reason: OverrideReason | None = None


@case_router.get("/{case_id}/sheet", responses=file_responses("text/html", statuses=_FILE_PROBLEMS))
def case_sheet(
    case_id: uuid.UUID,
    query: Annotated[SheetQuery, Query()],
    session: SessionDep,
    ctx: ContextDep,
    actor: SheetPrinter,
) -> Response:
    """A printable sheet of one case (HTML with print CSS), redacted for the chosen audience."""
    _ensure_audience_allowed(actor, query.audience)
    selection = export_service.select_cases(
        session=session,
        actor=actor,
        sealer=ctx.sealer,
        case_ids=[case_id],
        audience=query.audience,
        override_reason=query.override_reason,
    )
    body = sheet.write_sheet(selection.cases[0], audience=query.audience.value)
    record = export_service.record_export(
        session=session,
        actor=actor,
        kind="sheet",
        fmt="html",
        audience=query.audience,
        selection={"case_ids": [str(case_id)]},
        data=body,
        withheld=selection.withheld,
    )
    return Response(
        content=body,
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": sheet.SHEET_CSP, "X-Export-Id": str(record.id)},
    )


class BundleQuery(Schema):
    audience: ExportAudience = ExportAudience.INTERNAL
    override_reason: OverrideReason | None = None


@case_router.get("/{case_id}/bundle", responses=file_responses("application/zip", statuses=_FILE_PROBLEMS))
def evidence_bundle(
    case_id: uuid.UUID,
    query: Annotated[BundleQuery, Query()],
    session: SessionDep,
    ctx: ContextDep,
    actor: SheetPrinter,
) -> StreamingResponse:
    """The case's evidence bundle: a zip holding a BagIt 1.0 bag with exhibits, record, custody proofs and README.

    Internal bundles carry the originals; other audiences get originals without identifying metadata or
    working copies with the metadata stripped. Streamed; the export is recorded once the last byte is sent.
    """
    _ensure_audience_allowed(actor, query.audience)
    plan = bundle.plan_bundle(
        session=session,
        ctx=ctx,
        actor=actor,
        case_id=case_id,
        audience=query.audience,
        override_reason=query.override_reason,
    )

    return StreamingResponse(
        bundle.stream_and_record(ctx=ctx, plan=plan, actor=actor),
        media_type="application/zip",
        headers=bundle.download_headers(plan),
    )
