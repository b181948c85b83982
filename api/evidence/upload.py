"""Uploads from start to end: refuse early, stream into the store, check the digest, then record.

Order of work, so that a refusal or a failure never leaves anything behind:

1. the declared Content-Length over the limit: 413 before a byte is read;
2. the case: 404 if the caller cannot see it, 403 if they may only read it (before a byte is read);
3. the body streams into a blob writer (``api.evidence.receive``); a truncated or oversized body aborts it;
4. the writer commits only if the bytes hash to the digest the client sent (422 otherwise): fsync, then
   link to ``sha256/ab/cd/<hex>``;
5. a short write transaction records the item and its "received" custody event.

The file name sent (multipart ``filename``, the raw upload's ``filename`` or Content-Disposition) is cleaned
to a label (``receive.clean_filename``) and reaches the database only sealed (``record_upload``); it is never
logged, never a path, and never shown to a caller who may not read identities.

A process killed during 3 or 4 leaves at most a temporary file, removed at the next start.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping

from pydantic import ValidationError
from python_multipart.multipart import parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from api.auth.security import Actor
from api.context import AppContext
from api.evidence import receive
from api.evidence import service as evidence_service
from api.problems import PayloadTooLarge, UnsupportedMediaType, ValidationProblem, validation_errors_to_fields
from evidence_store.blobstore import BlobWriter, StoredBlob
from evidence_store.digest import Digest
from evidence_store.errors import DigestMismatch
from schemas.evidence import EvidenceUploadMeta, RawUploadMeta


def _refuse_declared_length(request: Request, limit: int) -> None:
    """Answer 413 at once when Content-Length already says the body is too large."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The file is larger than the limit of {limit} bytes; nothing was stored.")


def _header_digest(headers: Mapping[str, str]) -> str | None:
    """Return the hex SHA-256 of an RFC 9530 Repr-Digest or Content-Digest header, if one is sent."""
    for name in ("repr-digest", "content-digest"):
        value = headers.get(name)
        if not value:
            continue
        for member in value.split(","):
            key, _, encoded = member.strip().partition("=")
            if key.strip().lower() != "sha-256":
                continue
            try:
                raw = base64.b64decode(encoded.strip().strip(":"), validate=True)
            except binascii.Error:
                raw = b""
            if len(raw) != 32:
                raise ValidationProblem.single(
                    f"header.{name}", "sha-256 must be :base64 of 32 bytes:", "digest"
                )
            return raw.hex()
    return None


def _expected_digest(given: str | None, from_header: str | None) -> Digest | None:
    """Return the digest the client announced (query or form field, or header); they must agree."""
    if given and from_header and given != from_header:
        raise ValidationProblem.single("query.sha256", "differs from the digest header", "digest")
    value = given or from_header
    return Digest(value) if value else None


def _commit(writer: BlobWriter, expected: Digest | None, field: str) -> StoredBlob:
    """Commit the received bytes; a digest mismatch is the client's problem (422), and nothing is stored."""
    try:
        return writer.commit(expected)
    except DigestMismatch as exc:
        raise ValidationProblem.single(
            field,
            "the received bytes have another SHA-256; nothing was stored",
            "digest_mismatch",
            expected=str(exc.expected),
            found=str(exc.found),
        ) from None


async def upload_raw(
    *, ctx: AppContext, actor: Actor, case_id: uuid.UUID, request: Request, meta: RawUploadMeta
) -> evidence_service.EvidenceView:
    """Receive a raw request body as a new evidence file of the case."""
    limit = ctx.settings.max_upload_bytes
    _refuse_declared_length(request, limit)
    if receive.boundary_of(request.headers.get("content-type", "")) is not None:
        raise UnsupportedMediaType("Send multipart/form-data with POST; PUT takes the raw file.")
    expected = _expected_digest(meta.sha256, _header_digest(request.headers))
    filename = meta.filename or _disposition_filename(request.headers.get("content-disposition"))
    await run_in_threadpool(evidence_service.check_upload_allowed, ctx=ctx, actor=actor, case_id=case_id)
    writer = ctx.blob_store.begin_write(max_bytes=limit)
    try:
        received = await receive.receive_raw(request.stream(), writer, limit=limit)
        stored = await run_in_threadpool(_commit, writer, expected, "query.sha256")
    finally:
        await run_in_threadpool(writer.abort)  # no-op once committed
    return await run_in_threadpool(
        evidence_service.record_upload,
        ctx=ctx,
        actor=actor,
        case_id=case_id,
        stored=stored,
        head=received.head,
        meta=meta,
        filename=receive.clean_filename(filename),
        via="raw",
    )


async def upload_multipart(
    *, ctx: AppContext, actor: Actor, case_id: uuid.UUID, request: Request
) -> evidence_service.EvidenceView:
    """Receive a multipart/form-data body (a `file` part and metadata fields) as a new evidence file."""
    limit = ctx.settings.max_upload_bytes
    _refuse_declared_length(request, limit + receive.FORM_ALLOWANCE)
    boundary = receive.boundary_of(request.headers.get("content-type", ""))
    if boundary is None:
        raise UnsupportedMediaType("Send multipart/form-data with a `file` part, or PUT the raw file.")
    await run_in_threadpool(evidence_service.check_upload_allowed, ctx=ctx, actor=actor, case_id=case_id)
    writer = ctx.blob_store.begin_write(max_bytes=limit)
    try:
        received = await receive.receive_multipart(request.stream(), writer, boundary=boundary, limit=limit)
        try:
            meta = EvidenceUploadMeta.model_validate(received.fields)
        except ValidationError as exc:
            errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
            raise ValidationProblem(validation_errors_to_fields(errors)) from None
        stored = await run_in_threadpool(_commit, writer, _expected_digest(meta.sha256, None), "body.sha256")
    finally:
        await run_in_threadpool(writer.abort)
    return await run_in_threadpool(
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


def _disposition_filename(value: str | None) -> str | None:
    """Return the filename parameter of a Content-Disposition request header, if any."""
    if not value:
        return None
    _, params = parse_options_header(value)
    raw = params.get(b"filename")
    return raw.decode("utf-8", "replace") if raw else None
