"""Evidence: upload (multipart or raw), sighted documents, working copies, metadata, content, verification.

Every route that returns items answers `EvidenceRead` to callers holding `person:read_identity` and the
allow-list `EvidenceResearchRead` to anyone else (researchers): the service builds the one the caller may see.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.deps import ContextDep, Require, SessionDep
from api.evidence import review as review_service
from api.evidence import service as evidence_service
from api.evidence import upload as evidence_upload
from api.problems import problem_responses
from api.routing import SessionRoute
from schemas.custody import CustodyEventRead
from schemas.evidence import (
    DerivativeCreate,
    EvidenceRead,
    EvidenceResearchRead,
    EvidenceUploadMeta,
    RawUploadMeta,
    SightedEvidenceCreate,
    VerificationRead,
)
from schemas.media_review import MediaReviewCreate, MediaReviewRead

router = APIRouter(route_class=SessionRoute, tags=["evidence"])

Reader = Annotated[Actor, Depends(Require(Permission.CASE_READ, Permission.EVIDENCE_READ))]
Uploader = Annotated[Actor, Depends(Require(Permission.EVIDENCE_UPLOAD))]
Downloader = Annotated[Actor, Depends(Require(Permission.EVIDENCE_DOWNLOAD))]
Verifier = Annotated[Actor, Depends(Require(Permission.EVIDENCE_VERIFY))]
CustodyReader = Annotated[Actor, Depends(Require(Permission.CASE_READ, Permission.CUSTODY_READ))]
Reviewer = Annotated[Actor, Depends(Require(Permission.CASE_READ, Permission.MEDIA_REVIEW))]

_UPLOAD_PROBLEMS = problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 500)
#: What an item route answers: the full item, or the research allow-list to those who may not read identities.
EvidenceOut = EvidenceRead | EvidenceResearchRead


def _multipart_body() -> dict[str, Any]:
    """OpenAPI request body of the multipart upload (parsed by hand, so FastAPI cannot describe it)."""
    schema = EvidenceUploadMeta.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    schema["properties"] = {"file": {"type": "string", "format": "binary"}, **schema["properties"]}
    schema["required"] = ["file"]
    schema["title"] = "EvidenceUpload"
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


_RAW_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _created(response: Response, item: EvidenceOut) -> EvidenceOut:
    response.headers["Location"] = f"/api/v1/evidence/{item.id}"
    return item


@router.post(
    "/cases/{case_id}/evidence",
    response_model=EvidenceOut,
    status_code=201,
    responses=_UPLOAD_PROBLEMS,
    openapi_extra=_multipart_body(),
)
async def upload_evidence(
    case_id: uuid.UUID, request: Request, ctx: ContextDep, actor: Uploader, response: Response
) -> EvidenceOut:
    """Upload a file (multipart/form-data: a `file` part and metadata fields), streamed and hashed on receipt.

    Send `sha256` to have the server refuse (422) bytes that differ from what you sent. Identical bytes are
    stored once. The media type is sniffed from the bytes; the file name is kept as a label only.
    """
    item = await evidence_upload.upload_multipart(ctx=ctx, actor=actor, case_id=case_id, request=request)
    return _created(response, item)


@router.put(
    "/cases/{case_id}/evidence",
    response_model=EvidenceOut,
    status_code=201,
    responses=_UPLOAD_PROBLEMS,
    openapi_extra=_RAW_BODY,
)
async def upload_evidence_raw(
    case_id: uuid.UUID,
    request: Request,
    ctx: ContextDep,
    actor: Uploader,
    response: Response,
    meta: Annotated[RawUploadMeta, Query()],
) -> EvidenceOut:
    """Upload a file as the raw request body (for scripts and phones); metadata in the query string.

    Each request files a new evidence item. The digest may also come as an RFC 9530 `Repr-Digest` or
    `Content-Digest` header (`sha-256=:<base64>:`), the file name as `Content-Disposition: attachment;
    filename="..."`.
    """
    item = await evidence_upload.upload_raw(ctx=ctx, actor=actor, case_id=case_id, request=request, meta=meta)
    return _created(response, item)


@router.post(
    "/cases/{case_id}/evidence/sighted",
    response_model=EvidenceOut,
    status_code=201,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def record_sighted_document(
    case_id: uuid.UUID,
    sighted_in: SightedEvidenceCreate,
    session: SessionDep,
    ctx: ContextDep,
    actor: Uploader,
    response: Response,
) -> EvidenceOut:
    """Record a document that was seen but could not be copied: who saw it, when, where, what it said."""
    item = evidence_service.record_sighted(
        sealer=ctx.sealer, session=session, actor=actor, case_id=case_id, sighted_in=sighted_in
    )
    return _created(response, item)


@router.get(
    "/cases/{case_id}/evidence",
    response_model=list[EvidenceOut],
    responses=problem_responses(401, 403, 404, 422),
)
def list_case_evidence(
    case_id: uuid.UUID, session: SessionDep, ctx: ContextDep, actor: Reader
) -> list[EvidenceOut]:
    """List the evidence of a case, oldest first (file names only to callers who may read identities)."""
    return evidence_service.list_case_evidence(
        sealer=ctx.sealer, session=session, actor=actor, case_id=case_id
    )


@router.get(
    "/evidence/{evidence_id}", response_model=EvidenceOut, responses=problem_responses(401, 403, 404, 422)
)
def get_evidence(evidence_id: uuid.UUID, session: SessionDep, ctx: ContextDep, actor: Reader) -> EvidenceOut:
    """Return one evidence item: digest, size, sniffed type, embedded metadata, integrity."""
    return evidence_service.get_evidence(ctx=ctx, session=session, actor=actor, evidence_id=evidence_id)


@router.get(
    "/evidence/{evidence_id}/content",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The stored bytes"},
        206: {"content": {"application/octet-stream": {}}, "description": "The requested byte range"},
        **problem_responses(401, 403, 404, 416, 422, 500),
    },
)
def get_evidence_content(
    evidence_id: uuid.UUID,
    ctx: ContextDep,
    actor: Downloader,
    range_: Annotated[str | None, Header(alias="Range")] = None,
    if_range: Annotated[str | None, Header(alias="If-Range")] = None,
) -> StreamingResponse:
    """Stream the stored bytes (one HTTP Range supported), with their digest in `Repr-Digest`.

    A whole-file response is rehashed while it is sent and the last chunk is held back until the hash is
    known: bytes that fail verification are never delivered complete. Each request is a custody event.
    """
    download = evidence_service.prepare_download(
        ctx=ctx, actor=actor, evidence_id=evidence_id, range_header=range_, if_range=if_range
    )
    return StreamingResponse(
        download.chunks, status_code=download.status, headers=download.headers, media_type=download.media_type
    )


@router.post(
    "/evidence/{evidence_id}/verify",
    response_model=VerificationRead,
    responses=problem_responses(401, 403, 404, 422),
)
def verify_evidence(evidence_id: uuid.UUID, ctx: ContextDep, actor: Verifier) -> VerificationRead:
    """Rehash the stored bytes (or the sighted statement) and record the result in the custody ledger."""
    return evidence_service.verify_evidence(ctx=ctx, actor=actor, evidence_id=evidence_id)


@router.get(
    "/evidence/{evidence_id}/custody",
    response_model=list[CustodyEventRead],
    responses=problem_responses(401, 403, 404, 422),
)
def list_custody_events(
    evidence_id: uuid.UUID, session: SessionDep, actor: CustodyReader
) -> list[CustodyEventRead]:
    """The item's custody events, each with its `leaf_index` in the ledger, oldest first."""
    return evidence_service.list_custody(session=session, actor=actor, evidence_id=evidence_id)


@router.post(
    "/evidence/{evidence_id}/derivatives",
    response_model=EvidenceOut,
    status_code=201,
    responses=problem_responses(401, 403, 404, 409, 422, 500),
)
def derive_working_copy(
    evidence_id: uuid.UUID,
    derivative_in: DerivativeCreate,
    ctx: ContextDep,
    actor: Uploader,
    response: Response,
) -> EvidenceOut:
    """Store a working copy (e.g. a photo without its metadata, for sharing), linked to the original."""
    item = evidence_service.derive_evidence(
        ctx=ctx, actor=actor, evidence_id=evidence_id, method=derivative_in.method
    )
    return _created(response, item)


@router.post(
    "/evidence/{evidence_id}/review-copies",
    response_model=EvidenceOut,
    status_code=201,
    responses=problem_responses(401, 403, 404, 409, 422, 500),
)
def make_review_copy(
    evidence_id: uuid.UUID, ctx: ContextDep, actor: Reviewer, response: Response
) -> EvidenceOut:
    """Make a release copy of an audio or video original from its decoded content, for a person to review.

    Audio becomes Opus in Ogg, video VP8 (at most 854x480) with Opus in WebM; no tag, chapter, subtitle or
    attachment of the original is carried over. A recording that does not decode is refused (422) with the
    reason. The copy leaves for an outside audience only once approved (`POST .../reviews`).
    """
    item = review_service.make_review_copy(ctx=ctx, actor=actor, evidence_id=evidence_id)
    return _created(response, item)


@router.get(
    "/evidence/{evidence_id}/reviews",
    response_model=list[MediaReviewRead],
    responses=problem_responses(401, 403, 404, 422),
)
def list_media_reviews(evidence_id: uuid.UUID, session: SessionDep, actor: Reader) -> list[MediaReviewRead]:
    """The decisions on a recording's release copies, newest (the one that counts) first."""
    return review_service.list_reviews(session=session, actor=actor, evidence_id=evidence_id)


@router.post(
    "/evidence/{evidence_id}/reviews",
    response_model=MediaReviewRead,
    status_code=201,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def decide_media_review(
    evidence_id: uuid.UUID, review_in: MediaReviewCreate, session: SessionDep, actor: Reviewer
) -> MediaReviewRead:
    """Approve a release copy you downloaded for named outside audiences, or refuse it, with an optional note.

    Send the copy's id and the SHA-256 of the bytes you listened to or watched: a copy with other bytes is
    not approved (409), nor one you have not downloaded. Bundles for those audiences then carry the copy.
    """
    return review_service.decide_review(
        session=session, actor=actor, evidence_id=evidence_id, review_in=review_in
    )
