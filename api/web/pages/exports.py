"""The exports page of a case: choose the audience and the format, see what would be withheld for lack of
consent, download.

The API's export routes take bearer tokens only, so a browser session cannot fetch them; the downloads here
call the same functions in the same order as those routes (``select_cases`` for the redaction, the format's
writer, ``record_export`` or the bundle's own recording) and send the same bytes. The ILO complaint needs the
complainant and signatory and is made through the API (POST /api/v1/exports/ilo-cfa).

A restricted case leaves for an audience outside the organisation only on a coordinator's override, with a
reason (``api.exports.service``): the page then asks for it in a posted form (never in a link: a reason may
name people, and links stay in browser histories), whose buttons make the same exports. A download link
followed without one leads back to the page.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from sqlmodel import Session
from starlette.datastructures import FormData

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.cases import service as cases_service
from api.clearing import service as clearing_service
from api.context import AppContext
from api.deps import ContextDep, SessionDep
from api.exports import bundle, huridocs, ituc, sheet
from api.exports import service as export_service
from api.exports.files import file_response, stamp
from api.i18n import N_
from api.models import ExportRecord
from api.problems import BadRequest, PermissionDenied
from api.web.forms import FormState
from api.web.routing import WebRoute, redirect
from api.web.session import SessionForm, WebRequire
from api.web.templating import render
from schemas.export import OVERRIDE_MIN_CHARS, ExportAudience

router = APIRouter(route_class=WebRoute)

Reader = Annotated[Actor, Depends(WebRequire(Permission.CASE_READ))]
BundleMaker = Annotated[Actor, Depends(WebRequire(Permission.CASE_READ, Permission.EXPORT_BUNDLE))]
ItucExporter = Annotated[Actor, Depends(WebRequire(Permission.CASE_READ, Permission.EXPORT_ITUC))]
HuridocsExporter = Annotated[Actor, Depends(WebRequire(Permission.CASE_READ, Permission.EXPORT_HURIDOCS))]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Without a chosen audience, exports are made for partners: a file carrying identities (internal) is only
#: made when someone chooses it.
SAFE_DEFAULT = ExportAudience.PARTNER
#: The free texts a clearing is made of, as the export page names them.
_TEXT_LABELS = {
    "case.title": N_("Title"),
    "case.summary": N_("Summary"),
    "case.narrative": N_("Narrative"),
    "testimony.text": N_("Testimony"),
    "testimony.translation": N_("Translation of a testimony"),
}
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
    audience = _audience(actor, request.query_params.get("audience"), SAFE_DEFAULT)
    return _page(request, ctx=ctx, session=session, actor=actor, case_id=case_id, audience=audience)


def _page(
    request: Request,
    *,
    ctx: AppContext,
    session: Session,
    actor: Actor,
    case_id: uuid.UUID,
    audience: ExportAudience,
    form: FormState | None = None,
) -> Response:
    """Render the exports page for ``audience``; with ``form``, the override form sent back with its errors."""
    if not any(actor.can(p) for p in _EXPORTING):
        raise PermissionDenied("Your role makes no exports.")
    row = cases_service.get_case_or_raise(session=session, actor=actor, case_id=case_id)
    selection = export_service.select_cases(
        session=session, actor=actor, sealer=ctx.sealer, case_ids=[case_id], audience=audience, preview=True
    )
    session.rollback()  # a preview writes nothing
    return render(
        request,
        "cases/export.html",
        {
            "case": cases_service.case_to_read(session=session, case=row),
            "audience": audience.value,
            "audiences": [a.value for a in audiences_for(actor)],
            "withheld": selection.withheld,
            "restricted": selection.restricted,
            "may_override": actor.can(Permission.CASE_READ_RESTRICTED),
            "texts": []
            if audience is ExportAudience.INTERNAL
            else clearing_service.clearing_status(
                session=session, sealer=ctx.sealer, actor=actor, case_id=case_id, audience=audience
            ),
            "files": bundle.file_fates(session=session, case_id=case_id, audience=audience),
            "may_clear": actor.can(Permission.TEXT_CLEAR),
            "text_labels": _TEXT_LABELS,
            "min_chars": OVERRIDE_MIN_CHARS,
            "form": form or FormState(),
        },
        status_code=422 if form is not None and form.invalid else 200,
    )


def _back_to_the_page(case_id: uuid.UUID, audience: ExportAudience, make: Callable[[], Response]) -> Response:
    """Make a download; for restricted cases without an override, go back to the page, which asks for one."""
    try:
        return make()
    except export_service.RestrictedExport:
        return redirect(f"/cases/{case_id}/export?audience={audience.value}#release")


def _bundle(maker: _Maker) -> Response:
    """The evidence bundle (BagIt in a zip), streamed; recorded as exported once the last byte is sent."""
    plan = bundle.plan_bundle(
        session=maker.session,
        ctx=maker.ctx,
        actor=maker.actor,
        case_id=maker.case_id,
        audience=maker.audience,
        override_reason=maker.override_reason,
    )
    return StreamingResponse(
        bundle.stream_and_record(ctx=maker.ctx, plan=plan, actor=maker.actor),
        media_type="application/zip",
        headers=bundle.download_headers(plan),
    )


def _sheet(maker: _Maker) -> Response:
    """The printable sheet redacted for the audience (the export's own HTML, with its own strict CSP)."""
    selection = maker.select(maker.audience)
    body = sheet.write_sheet(selection.cases[0], audience=maker.audience.value)
    record = maker.record(kind="sheet", fmt="html", audience=maker.audience, body=body, selection=selection)
    return Response(
        content=body,
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": sheet.SHEET_CSP, "X-Export-Id": str(record.id)},
    )


def _ituc(maker: _Maker) -> Response:
    """The case as ITUC Survey rows (CSV, or XLSX), redacted for the ITUC."""
    fmt = "xlsx" if maker.fmt == "xlsx" else "csv"
    selection = maker.select(ExportAudience.ITUC)
    table = ituc.rows(selection.cases, submitted_by=maker.ctx.settings.organisation_name)
    if fmt == "xlsx":
        body, media_type = ituc.write_xlsx(table), XLSX
    else:
        body, media_type = b"".join(ituc.write_csv(table)), "text/csv; charset=utf-8"
    record = maker.record(kind="ituc", fmt=fmt, audience=ExportAudience.ITUC, body=body, selection=selection)
    return file_response(
        body, media_type=media_type, filename=f"precedent-ituc-{stamp()}.{fmt}", record=record
    )


def _huridocs(maker: _Maker) -> Response:
    """HURIDOCS ESF-shaped JSON, or a CSV for Uwazi, redacted for the audience."""
    fmt = "uwazi_csv" if maker.fmt == "uwazi_csv" else "esf_json"
    selection = maker.select(maker.audience)
    if fmt == "uwazi_csv":
        body = b"".join(huridocs.write_uwazi_csv(selection.cases))
        media_type, ext = "text/csv; charset=utf-8", "csv"
    else:
        body = huridocs.write_esf_json(selection.cases, audience=maker.audience.value)
        media_type, ext = "application/json", "json"
    record = maker.record(kind="huridocs", fmt=fmt, audience=maker.audience, body=body, selection=selection)
    return file_response(
        body, media_type=media_type, filename=f"precedent-huridocs-{stamp()}.{ext}", record=record
    )


@dataclass(frozen=True)
class _Maker:
    """One download's request: who asks, for which case and audience, in which format, on what override."""

    ctx: AppContext
    session: Session
    actor: Actor
    case_id: uuid.UUID
    audience: ExportAudience
    fmt: str | None = None
    override_reason: str | None = None

    def select(self, audience: ExportAudience) -> export_service.Selection:
        cases_service.get_case_or_raise(session=self.session, actor=self.actor, case_id=self.case_id)
        return export_service.select_cases(
            session=self.session,
            actor=self.actor,
            sealer=self.ctx.sealer,
            case_ids=[self.case_id],
            audience=audience,
            override_reason=self.override_reason,
        )

    def record(
        self,
        *,
        kind: str,
        fmt: str,
        audience: ExportAudience,
        body: bytes,
        selection: export_service.Selection,
    ) -> ExportRecord:
        return export_service.record_export(
            session=self.session,
            actor=self.actor,
            kind=kind,
            fmt=fmt,
            audience=audience,
            selection={"case_ids": [str(self.case_id)]},
            data=body,
            withheld=selection.withheld,
        )


@router.get("/cases/{case_id}/export/bundle")
def export_bundle(
    case_id: uuid.UUID, request: Request, ctx: ContextDep, session: SessionDep, actor: BundleMaker
) -> Response:
    """The evidence bundle (BagIt in a zip), streamed; recorded as exported once the last byte is sent."""
    audience = _audience(actor, request.query_params.get("audience"), SAFE_DEFAULT)
    maker = _Maker(ctx, session, actor, case_id, audience)
    return _back_to_the_page(case_id, audience, lambda: _bundle(maker))


@router.get("/cases/{case_id}/export/sheet")
def export_sheet(
    case_id: uuid.UUID, request: Request, ctx: ContextDep, session: SessionDep, actor: BundleMaker
) -> Response:
    """The printable sheet redacted for the audience (the export's own HTML, with its own strict CSP)."""
    audience = _audience(actor, request.query_params.get("audience"), SAFE_DEFAULT)
    maker = _Maker(ctx, session, actor, case_id, audience)
    return _back_to_the_page(case_id, audience, lambda: _sheet(maker))


@router.get("/cases/{case_id}/export/ituc")
def export_ituc(
    case_id: uuid.UUID, request: Request, ctx: ContextDep, session: SessionDep, actor: ItucExporter
) -> Response:
    """The case as ITUC Survey rows (CSV, or XLSX with ?format=xlsx), redacted for the ITUC."""
    maker = _Maker(ctx, session, actor, case_id, ExportAudience.ITUC, request.query_params.get("format"))
    return _back_to_the_page(case_id, ExportAudience.ITUC, lambda: _ituc(maker))


@router.get("/cases/{case_id}/export/huridocs")
def export_huridocs(
    case_id: uuid.UUID, request: Request, ctx: ContextDep, session: SessionDep, actor: HuridocsExporter
) -> Response:
    """HURIDOCS ESF-shaped JSON, or a CSV for Uwazi (?format=uwazi_csv), redacted for the audience."""
    audience = _audience(actor, request.query_params.get("audience"), SAFE_DEFAULT)
    maker = _Maker(ctx, session, actor, case_id, audience, request.query_params.get("format"))
    return _back_to_the_page(case_id, audience, lambda: _huridocs(maker))


#: The buttons of the override form: what each makes, in which format, and the permission it needs.
_RELEASES: dict[str, tuple[Callable[[_Maker], Response], str | None, Permission]] = {
    "bundle": (_bundle, None, Permission.EXPORT_BUNDLE),
    "sheet": (_sheet, None, Permission.EXPORT_BUNDLE),
    "huridocs": (_huridocs, "esf_json", Permission.EXPORT_HURIDOCS),
    "uwazi_csv": (_huridocs, "uwazi_csv", Permission.EXPORT_HURIDOCS),
    "ituc": (_ituc, "csv", Permission.EXPORT_ITUC),
    "ituc_xlsx": (_ituc, "xlsx", Permission.EXPORT_ITUC),
}
_REASON_TOO_SHORT = N_("Say why in at least 20 characters: who decided, and why the case may leave.")


@router.post("/cases/{case_id}/export/release")
def release_restricted(
    case_id: uuid.UUID,
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    actor: Reader,
    form: SessionForm,
) -> Response:
    """Make an export of a restricted case on a coordinator's override; the reason goes to the audit log, sealed."""
    audience = _audience(actor, _text(form, "audience"), SAFE_DEFAULT)
    release = _RELEASES.get(_text(form, "kind") or "")
    if release is None:
        raise BadRequest("Choose one of the exports offered on the page.")
    make, fmt, permission = release
    if not actor.can(permission) or not actor.can(Permission.CASE_READ_RESTRICTED):
        raise PermissionDenied("Only a coordinator may send restricted cases outside the organisation.")
    reason = (_text(form, "override_reason") or "").strip()
    if len(reason) < OVERRIDE_MIN_CHARS:
        state = FormState(values={"override_reason": reason})
        state.add("override_reason", _REASON_TOO_SHORT)
        return _page(
            request, ctx=ctx, session=session, actor=actor, case_id=case_id, audience=audience, form=state
        )
    if make is _bundle:
        # A bundle writes in short transactions of its own (api.exports.bundle), which would wait for the write
        # lock this POST's session takes on SQLite: it reads through a read session, as its GET download does.
        with ctx.db.session(write=False) as reading:
            return make(_Maker(ctx, reading, actor, case_id, audience, fmt, reason))
    return make(_Maker(ctx, session, actor, case_id, audience, fmt, reason))


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None
