"""The exports page of a case: choose the audience and the format, see what would be withheld for lack of
consent, download.

The API's export routes take bearer tokens only, so a browser session cannot fetch them; the downloads here
call the same functions in the same order as those routes (``select_cases`` for the redaction, the format's
writer, ``record_export`` or the bundle's own recording) and send the same bytes. The ILO complaint needs the
complainant and signatory and is made through the API (POST /api/v1/exports/ilo-cfa).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.cases import service as cases_service
from api.deps import ContextDep, SessionDep
from api.exports import bundle, huridocs, ituc, sheet
from api.exports import service as export_service
from api.exports.routes import file_response, stamp
from api.problems import PermissionDenied
from api.web.routing import WebRoute
from api.web.session import WebRequire
from api.web.templating import render
from schemas.export import ExportAudience

router = APIRouter(route_class=WebRoute)

Reader = Annotated[Actor, Depends(WebRequire(Permission.CASE_READ))]
BundleMaker = Annotated[Actor, Depends(WebRequire(Permission.CASE_READ, Permission.EXPORT_BUNDLE))]
ItucExporter = Annotated[Actor, Depends(WebRequire(Permission.CASE_READ, Permission.EXPORT_ITUC))]
HuridocsExporter = Annotated[Actor, Depends(WebRequire(Permission.CASE_READ, Permission.EXPORT_HURIDOCS))]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Without a chosen audience, exports are made for partners: a file carrying identities (internal) is only
#: made when someone chooses it.
SAFE_DEFAULT = ExportAudience.PARTNER
_EXPORTING = (
    Permission.EXPORT_BUNDLE,
    Permission.EXPORT_ITUC,
    Permission.EXPORT_HURIDOCS,
    Permission.EXPORT_ILO,
)


def audiences_for(actor: Actor) -> list[ExportAudience]:
    """Audiences the role may export for: internal exports carry identities, so only for identity readers."""
    return [
        a
        for a in ExportAudience
        if a is not ExportAudience.INTERNAL or actor.can(Permission.PERSON_READ_IDENTITY)
    ]


def _audience(actor: Actor, raw: str | None, default: ExportAudience) -> ExportAudience:
    try:
        audience = ExportAudience(raw) if raw else default
    except ValueError:
        audience = default
    if audience not in audiences_for(actor):
        raise PermissionDenied("Internal exports carry identities; your role may not read identities.")
    return audience


@router.get("/cases/{case_id}/export")
def export_page(
    case_id: uuid.UUID, request: Request, ctx: ContextDep, session: SessionDep, actor: Reader
) -> Response:
    """Choose an audience; see what its export would leave out and why; download in the formats allowed."""
    if not any(actor.can(p) for p in _EXPORTING):
        raise PermissionDenied("Your role makes no exports.")
    row = cases_service.get_case_or_raise(session=session, actor=actor, case_id=case_id)
    allowed = audiences_for(actor)
    audience = _audience(actor, request.query_params.get("audience"), SAFE_DEFAULT)
    selection = export_service.select_cases(
        session=session, actor=actor, sealer=ctx.sealer, case_ids=[case_id], audience=audience
    )
    session.rollback()  # a preview writes nothing
    return render(
        request,
        "cases/export.html",
        {
            "case": cases_service.case_to_read(session=session, case=row),
            "audience": audience.value,
            "audiences": [a.value for a in allowed],
            "withheld": selection.withheld,
        },
    )


@router.get("/cases/{case_id}/export/bundle")
def export_bundle(
    case_id: uuid.UUID, request: Request, ctx: ContextDep, session: SessionDep, actor: BundleMaker
) -> Response:
    """The evidence bundle (BagIt in a zip), streamed; recorded as exported once the last byte is sent."""
    audience = _audience(actor, request.query_params.get("audience"), SAFE_DEFAULT)
    plan = bundle.plan_bundle(session=session, ctx=ctx, actor=actor, case_id=case_id, audience=audience)

    return StreamingResponse(
        bundle.stream_and_record(ctx=ctx, plan=plan, actor=actor),
        media_type="application/zip",
        headers=bundle.download_headers(plan),
    )


@router.get("/cases/{case_id}/export/sheet")
def export_sheet(
    case_id: uuid.UUID, request: Request, ctx: ContextDep, session: SessionDep, actor: BundleMaker
) -> Response:
    """The printable sheet redacted for the audience (the export's own HTML, with its own strict CSP)."""
    audience = _audience(actor, request.query_params.get("audience"), SAFE_DEFAULT)
    selection = export_service.select_cases(
        session=session, actor=actor, sealer=ctx.sealer, case_ids=[case_id], audience=audience
    )
    body = sheet.write_sheet(selection.cases[0], audience=audience.value)
    record = export_service.record_export(
        session=session,
        actor=actor,
        kind="sheet",
        fmt="html",
        audience=audience,
        selection={"case_ids": [str(case_id)]},
        data=body,
        withheld=selection.withheld,
    )
    return Response(
        content=body,
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": sheet.SHEET_CSP, "X-Export-Id": str(record.id)},
    )


@router.get("/cases/{case_id}/export/ituc")
def export_ituc(
    case_id: uuid.UUID, request: Request, ctx: ContextDep, session: SessionDep, actor: ItucExporter
) -> Response:
    """The case as ITUC Survey rows (CSV, or XLSX with ?format=xlsx), redacted for the ITUC."""
    fmt = "xlsx" if request.query_params.get("format") == "xlsx" else "csv"
    cases_service.get_case_or_raise(session=session, actor=actor, case_id=case_id)
    selection = export_service.select_cases(
        session=session, actor=actor, sealer=ctx.sealer, case_ids=[case_id], audience=ExportAudience.ITUC
    )
    table = ituc.rows(selection.cases, submitted_by=ctx.settings.organisation_name)
    if fmt == "xlsx":
        body, media_type = ituc.write_xlsx(table), XLSX
    else:
        body, media_type = b"".join(ituc.write_csv(table)), "text/csv; charset=utf-8"
    record = export_service.record_export(
        session=session,
        actor=actor,
        kind="ituc",
        fmt=fmt,
        audience=ExportAudience.ITUC,
        selection={"case_ids": [str(case_id)]},
        data=body,
        withheld=selection.withheld,
    )
    return file_response(
        body, media_type=media_type, filename=f"precedent-ituc-{stamp()}.{fmt}", record=record
    )


@router.get("/cases/{case_id}/export/huridocs")
def export_huridocs(
    case_id: uuid.UUID, request: Request, ctx: ContextDep, session: SessionDep, actor: HuridocsExporter
) -> Response:
    """HURIDOCS ESF-shaped JSON, or a CSV for Uwazi (?format=uwazi_csv), redacted for the audience."""
    audience = _audience(actor, request.query_params.get("audience"), SAFE_DEFAULT)
    fmt = "uwazi_csv" if request.query_params.get("format") == "uwazi_csv" else "esf_json"
    cases_service.get_case_or_raise(session=session, actor=actor, case_id=case_id)
    selection = export_service.select_cases(
        session=session, actor=actor, sealer=ctx.sealer, case_ids=[case_id], audience=audience
    )
    if fmt == "uwazi_csv":
        body, media_type, ext = (
            b"".join(huridocs.write_uwazi_csv(selection.cases)),
            "text/csv; charset=utf-8",
            "csv",
        )
    else:
        body = huridocs.write_esf_json(selection.cases, audience=audience.value)
        media_type, ext = "application/json", "json"
    record = export_service.record_export(
        session=session,
        actor=actor,
        kind="huridocs",
        fmt=fmt,
        audience=audience,
        selection={"case_ids": [str(case_id)]},
        data=body,
        withheld=selection.withheld,
    )
    return file_response(
        body, media_type=media_type, filename=f"precedent-huridocs-{stamp()}.{ext}", record=record
    )
