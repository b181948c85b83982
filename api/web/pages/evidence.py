"""Evidence pages: upload a file to a case without JavaScript, list a case's files with their digests and
custody, and download them.

The upload is a plain multipart form, streamed the way the API streams it (``api.evidence.receive`` into a
blob writer, never the whole file in memory or a spool file), then filed by ``record_upload`` like an API
upload. The form's text fields come before the file in the page, so browsers send them first; the CSRF token
is checked before the bytes are committed, so a forged form stores nothing. When an upload is refused (too
large, empty, a bad field) the form comes back with the error next to the field and the text kept, read from
the start of the body even when the file itself was never read.
"""

from __future__ import annotations

import contextlib
import hmac
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.cases import service as cases_service
from api.context import AppContext
from api.deps import ContextDep
from api.evidence import receive
from api.evidence import service as evidence_service
from api.i18n import N_
from api.problems import BadRequest, PayloadTooLarge, ValidationProblem
from api.sealing import Sealer
from api.web import service as web_service
from api.web.forms import FormState, add_problem_errors, add_validation_errors
from api.web.routing import WebRoute, redirect
from api.web.session import CSRF_FIELD, CsrfRefused, WebRequire, check_origin, web_state
from api.web.templating import DAY_ONLY, MINSK, render
from schemas.custody import CustodyEventRead
from schemas.evidence import EvidenceRead, EvidenceUploadMeta

router = APIRouter(route_class=WebRoute)

Uploader = Annotated[Actor, Depends(WebRequire(Permission.CASE_READ, Permission.EVIDENCE_UPLOAD))]
Downloader = Annotated[Actor, Depends(WebRequire(Permission.EVIDENCE_DOWNLOAD))]

#: Fields of the upload form besides the file.
TEXT_FIELDS = ("description", "kind", "captured_on", "captured_time", "source")
#: How much of a refused body is read to find the text fields sent before the file.
_FIELDS_PREFIX_BYTES = 256 * 1024
_DAY = re.compile(r"^(\d{1,2})[./](\d{1,2})[./](\d{4})$")
_TIME = re.compile(r"^(\d{1,2})[:.](\d{2})$")

_NO_FILE = N_("Choose a file to upload.")
_EMPTY_FILE = N_("The file is empty (0 bytes). Choose the file again.")
_TOO_LARGE = N_("The file is larger than the upload limit. Nothing was stored.")
_BROKEN = N_("The file did not arrive completely. Nothing was stored; send the form again.")
_BAD_DAY = N_("Write the day as 19.04.2022 or 2022-04-19.")
_BAD_TIME = N_("Write the time as 14:30, or leave it empty.")
_TIME_WITHOUT_DAY = N_("Give the day as well, or leave the time empty.")
_IN_FUTURE = N_("This is in the future.")


# ---- what a case page shows --------------------------------------------------------------------------------


@dataclass
class EvidenceEntry:
    """One evidence item as the case page shows it: the item and its custody events.

    ``item`` is what the role may see (``evidence_service.evidence_view``): for a researcher the allow-list
    ``EvidenceResearchRead``, which has no file name, description, source or uploader to show.
    """

    item: evidence_service.EvidenceView
    custody: list[CustodyEventRead] = field(default_factory=list)


def case_evidence(
    *, sealer: Sealer, session: Session, actor: Actor, case_id: uuid.UUID
) -> list[EvidenceEntry]:
    """The case's evidence with custody timelines, as far as the role may see them (empty otherwise)."""
    if not actor.can(Permission.EVIDENCE_READ):
        return []
    items = evidence_service.list_case_evidence(sealer=sealer, session=session, actor=actor, case_id=case_id)
    with_custody = actor.can(Permission.CUSTODY_READ)
    return [
        EvidenceEntry(
            item=item,
            custody=evidence_service.list_custody(session=session, actor=actor, evidence_id=item.id)
            if with_custody
            else [],
        )
        for item in items
    ]


def custody_actors(entries: list[EvidenceEntry]) -> set[uuid.UUID]:
    """Accounts named in the entries (uploaders and custody actors), to show by username."""
    ids = {e.item.created_by for e in entries if isinstance(e.item, EvidenceRead)}
    ids |= {event.actor_id for e in entries for event in e.custody if event.actor_id is not None}
    return ids


# ---- the form ------------------------------------------------------------------------------------------------


def _upload_page(
    request: Request,
    *,
    ctx: AppContext,
    case_id: uuid.UUID,
    actor: Actor,
    state: FormState,
    status_code: int = 200,
) -> Response:
    with ctx.db.session(write=False) as session:
        row = cases_service.get_editable_case_or_raise(session=session, actor=actor, case_id=case_id)
        case = cases_service.case_to_read(session=session, case=row)
    return render(
        request,
        "cases/evidence_form.html",
        {"case": case, "form": state, "limit": ctx.settings.max_upload_bytes},
        status_code=status_code,
    )


@router.get("/cases/{case_id}/evidence/new")
def new_evidence_form(case_id: uuid.UUID, request: Request, ctx: ContextDep, actor: Uploader) -> Response:
    """The upload form on its own page (the case page carries the same form)."""
    return _upload_page(request, ctx=ctx, case_id=case_id, actor=actor, state=FormState())


def _captured_at(values: dict[str, str], state: FormState) -> datetime | None:
    """The day (and time, in Minsk) the file was made, as typed; None when not given."""
    day_text = values.get("captured_on", "").strip()
    time_text = values.get("captured_time", "").strip()
    if not day_text:
        if time_text:
            state.add("captured_on", _TIME_WITHOUT_DAY)
        return None
    day: date | None = None
    if match := _DAY.match(day_text):
        d, m, y = (int(g) for g in match.groups())
        day_text = f"{y:04d}-{m:02d}-{d:02d}"
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        state.add("captured_on", _BAD_DAY)
    at = DAY_ONLY  # a day without a time: shown as the day alone
    if time_text:
        match = _TIME.match(time_text)
        try:
            at = time(int(match.group(1)), int(match.group(2))) if match else None  # type: ignore[assignment]
        except ValueError:
            at = None  # type: ignore[assignment]
        if at is None:
            state.add("captured_time", _BAD_TIME)
    if day is None or at is None:
        return None
    moment = datetime.combine(day, at, tzinfo=MINSK)
    if moment.date() > datetime.now(MINSK).date():
        state.add("captured_on", _IN_FUTURE)
        return None
    return moment


def upload_meta(values: dict[str, str], state: FormState) -> EvidenceUploadMeta | None:
    """Validate the form's text fields with the API's schema; errors land on their fields."""
    captured = _captured_at(values, state)
    data: dict[str, Any] = {
        name: values[name].strip()
        for name in ("description", "kind", "source")
        if values.get(name, "").strip()
    }
    if captured is not None:
        data["captured_at"] = captured
    try:
        meta = EvidenceUploadMeta.model_validate(data)
    except ValidationError as exc:
        add_validation_errors(state, exc)
        state.errors["captured_on"] = state.errors.pop("captured_at", []) + state.errors.get(
            "captured_on", []
        )
        if not state.errors["captured_on"]:
            del state.errors["captured_on"]
        return None
    return None if state.invalid else meta


class _Prefix:
    """Pass a request body through, keeping its first bytes (where the text fields are)."""

    def __init__(self, stream: AsyncIterator[bytes]) -> None:
        self.kept = bytearray()
        self.chunks = self._passed(stream)

    async def _passed(self, stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for chunk in stream:
            missing = _FIELDS_PREFIX_BYTES - len(self.kept)
            if missing > 0:
                self.kept += chunk[:missing]
            yield chunk

    async def fill(self) -> None:
        """Read only as far as the prefix goes (the rest of the body is never read)."""
        async for _ in self.chunks:
            if len(self.kept) >= _FIELDS_PREFIX_BYTES:
                break


def leading_fields(prefix: bytes, boundary: bytes) -> dict[str, str]:
    """The small text parts found at the start of a multipart body (a cut-off last part is dropped)."""
    fields: dict[str, str] = {}
    headers: dict[bytes, bytes] = {}
    current: dict[str, Any] = {"field": bytearray(), "value": bytearray(), "name": None, "data": None}

    def header_field(data: bytes, start: int, end: int) -> None:
        current["field"] += data[start:end]

    def header_value(data: bytes, start: int, end: int) -> None:
        current["value"] += data[start:end]

    def header_end() -> None:
        headers[bytes(current["field"]).lower()] = bytes(current["value"])
        current["field"], current["value"] = bytearray(), bytearray()

    def headers_finished() -> None:
        _, params = parse_options_header(headers.get(b"content-disposition"))
        name = params.get(b"name")
        is_text = name is not None and b"filename" not in params
        current["name"] = name.decode("utf-8", "replace") if is_text and name else None
        current["data"] = bytearray() if is_text else None

    def part_data(data: bytes, start: int, end: int) -> None:
        if current["data"] is not None:
            current["data"] += data[start:end]

    def part_end() -> None:
        if current["name"] is not None and current["data"] is not None:
            fields[current["name"]] = bytes(current["data"]).decode("utf-8", "replace")
        headers.clear()
        current["name"], current["data"] = None, None

    parser = MultipartParser(
        boundary,
        callbacks={
            "on_header_field": header_field,
            "on_header_value": header_value,
            "on_header_end": header_end,
            "on_headers_finished": headers_finished,
            "on_part_data": part_data,
            "on_part_end": part_end,
        },
    )
    with contextlib.suppress(MultipartParseError):  # a prefix cut inside a part header
        parser.write(prefix)
    return fields


def _check_csrf(request: Request, fields: dict[str, str]) -> None:
    expected = web_state(request).csrf_token
    given = fields.get(CSRF_FIELD, "")
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise CsrfRefused("The form is out of date. Go back, reload the page and send it again.")


@router.post("/cases/{case_id}/evidence")
async def upload_evidence(case_id: uuid.UUID, request: Request, ctx: ContextDep, actor: Uploader) -> Response:
    """Receive one file with its description; show the case with the file's SHA-256, or the form again.

    The path ends in /evidence, like the API's upload, so the general request-body limit (api.main) leaves it
    to the upload limit.

    Filed like an API multipart upload (custody "received", via multipart): it is one.
    """
    check_origin(request)
    boundary = receive.boundary_of(request.headers.get("content-type", ""))
    if boundary is None:
        raise BadRequest("Send the form as multipart/form-data.")
    await run_in_threadpool(evidence_service.check_upload_allowed, ctx=ctx, actor=actor, case_id=case_id)
    limit = ctx.settings.max_upload_bytes
    body = _Prefix(request.stream())
    state = FormState()

    async def refuse(field_name: str, message: str, status: int) -> Response:
        fields = leading_fields(bytes(body.kept), boundary)
        _check_csrf(request, fields)
        state.values = {name: fields.get(name, "") for name in TEXT_FIELDS}
        state.add(field_name, message)
        return await run_in_threadpool(
            _upload_page, request, ctx=ctx, case_id=case_id, actor=actor, state=state, status_code=status
        )

    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + receive.FORM_ALLOWANCE:
        await body.fill()
        return await refuse("file", _TOO_LARGE, 413)
    writer = ctx.blob_store.begin_write(max_bytes=limit)
    try:
        try:
            received = await receive.receive_multipart(body.chunks, writer, boundary=boundary, limit=limit)
        except PayloadTooLarge:
            return await refuse("file", _TOO_LARGE, 413)
        except BadRequest:
            return await refuse("file", _BROKEN, 400)
        except ValidationProblem as problem:
            fields = leading_fields(bytes(body.kept), boundary)
            _check_csrf(request, fields)
            state.values = {name: fields.get(name, "") for name in TEXT_FIELDS}
            add_problem_errors(state, problem)
            return await run_in_threadpool(
                _upload_page, request, ctx=ctx, case_id=case_id, actor=actor, state=state, status_code=422
            )
        _check_csrf(request, received.fields)
        state.values = {name: received.fields.get(name, "") for name in TEXT_FIELDS}
        meta = upload_meta(state.values, state)
        if not received.filename and received.size == 0:
            state.add("file", _NO_FILE)
        elif received.size == 0:
            state.add("file", _EMPTY_FILE)
        if meta is None or state.invalid:
            return await run_in_threadpool(
                _upload_page, request, ctx=ctx, case_id=case_id, actor=actor, state=state, status_code=422
            )
        stored = await run_in_threadpool(writer.commit, None)
    finally:
        await run_in_threadpool(writer.abort)  # no-op once committed
    item = await run_in_threadpool(
        evidence_service.record_upload,
        ctx=ctx,
        actor=actor,
        case_id=case_id,
        stored=stored,
        head=received.head,
        meta=meta,
        filename=received.filename,
        via="multipart",
    )
    return redirect(f"/cases/{case_id}?notice=evidence_received#evidence-{item.id}")


# ---- download -------------------------------------------------------------------------------------------------


@router.get("/evidence/{evidence_id}/content")
def download_evidence(evidence_id: uuid.UUID, ctx: ContextDep, actor: Downloader) -> Response:
    """The stored bytes, verified while they are sent, as the API serves them (each download is in the custody
    ledger)."""
    download = evidence_service.prepare_download(
        ctx=ctx, actor=actor, evidence_id=evidence_id, range_header=None, if_range=None
    )
    return StreamingResponse(
        download.chunks, status_code=download.status, headers=download.headers, media_type=download.media_type
    )


def evidence_usernames(
    *, session: Session, actor: Actor, entries: list[EvidenceEntry]
) -> dict[uuid.UUID, str]:
    return web_service.usernames(session=session, actor=actor, user_ids=custody_actors(entries))
