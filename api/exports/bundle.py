"""Evidence bundles: a zip holding a BagIt 1.0 bag (RFC 8493) with a case's exhibits, the redacted case record,
the custody events of every exhibit with inclusion proofs against a signed tree head, the server's public key,
any RFC 3161 token, and a README saying how to check it by hand. Streamed; never a whole file in memory.

Exhibits by audience: an internal bundle carries the evidentiary originals. Any other audience never gets an
original: only a release copy rebuilt from the decoded content (image pixels, rendered PDF pages; made now if
none exists, which is itself a custody event) and checked to carry nothing else; audio and video only as the
re-encoded copy a person reviewed and approved for that audience (``api.evidence.review``); an item of which
no such copy can be made or was approved (other types, undecodable files, recordings not reviewed or
refused) is withheld, and the report says why.

Bag layout::

    <bag>/bagit.txt  bag-info.txt  manifest-sha256.txt  manifest-sha512.txt  tagmanifest-*.txt
    <bag>/data/exhibits/E-<n>-<name>          the exhibit bytes
    <bag>/data/records/case.json              the case, redacted for the audience
    <bag>/data/records/exhibits.json          exhibit id -> item, digest, original digest, custody leaves
    <bag>/data/records/export.json            the export record: who, when, audience, what was withheld
    <bag>/data/sighted/S-<n>.json             sighted statements, exactly the hashed bytes (internal only)
    <bag>/data/records/manifest.json          every file above with its SHA-256: a ledger record (exported)
    <bag>/data/custody/events.jsonl  proofs.json  tree-head.json  public-key.pem  [tree-head.tsr]
                       proofs.txt  tree-head.txt  tree-head.sig   (the same, for checking by hand)
                       [earlier-heads.json]   the earliest head over each exhibit's record, tied to this one
    <bag>/data/README.txt                     how to verify, with the verifier or by hand
"""

from __future__ import annotations

import bisect
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlmodel import Session, col, select

from api.auth.security import Actor
from api.context import AppContext
from api.custody import service as custody_service
from api.evidence import derive, media
from api.evidence import review as review_service
from api.evidence import service as evidence_service
from api.exports import service as export_service
from api.exports.bundle_readme import README
from api.models import CustodyEvent, CustodyTreeHead, EvidenceBlob, EvidenceItem
from api.problems import ValidationProblem
from evidence_store.bag import BagWriter, sanitize_filename
from evidence_store.binding import MANIFEST_PATH, BundleMember, bundle_manifest
from evidence_store.canonical import canonical_json
from evidence_store.digest import Digest
from evidence_store.heads import EARLIER_HEADS, EarlierHead, earlier_heads_json
from evidence_store.merkle import MerkleTree
from evidence_store.reader import open_blob
from evidence_store.treehead import format_timestamp
from evidence_store.verify import custody_bundle_files
from schemas.custody import CustodyAction
from schemas.evidence import Derivation, EvidenceForm
from schemas.export import ExportAudience, ExportManifest, ExportManifestFile, WithheldItem
from schemas.media_review import MediaReleaseState


@dataclass
class Exhibit:
    exhibit_id: str
    item: EvidenceItem
    blob: EvidenceBlob
    original_sha256: str | None
    path: str
    original_id: uuid.UUID | None = None


@dataclass
class Statement:
    """A sighted document's statement: the exact bytes whose SHA-256 its ``recorded`` event names."""

    item: EvidenceItem
    data: bytes
    path: str


@dataclass
class BundlePlan:
    export_id: uuid.UUID
    bag_name: str
    audience: ExportAudience
    selection: export_service.Selection
    exhibits: list[Exhibit]
    statements: list[Statement]
    records: dict[str, bytes]
    manifest: bytes
    custody_files: dict[str, bytes]
    tree_size: int
    root_hash: str
    withheld: list[WithheldItem] = field(default_factory=list)


def _release_copy_of(ctx: AppContext, item: EvidenceItem) -> tuple[EvidenceItem, EvidenceBlob] | None:
    """The item's release copy made earlier, if any (the newest)."""
    with ctx.db.session(write=False) as session:
        return session.exec(
            select(EvidenceItem, EvidenceBlob)
            .join(EvidenceBlob, col(EvidenceBlob.sha256) == col(EvidenceItem.blob_sha256))
            .where(
                col(EvidenceItem.derived_from_id) == item.id,
                col(EvidenceItem.derivation) == Derivation.RELEASE.value,
                col(EvidenceBlob.integrity) == "ok",
            )
            .order_by(col(EvidenceItem.created_at).desc())
        ).first()


def _exhibit_blob(
    *, ctx: AppContext, actor: Actor, audience: ExportAudience, item: EvidenceItem, blob: EvidenceBlob
) -> tuple[EvidenceItem, EvidenceBlob] | str:
    """The item and blob to ship for this audience, or the reason it is withheld.

    Made, never filtered: an internal bundle carries the original; any other audience only a release copy
    rebuilt from the decoded content (``derive.release_copy``), made now if none exists. Whatever cannot be
    decoded and rebuilt is withheld with the reason; audio and video leave only as the copy a person
    reviewed and approved for this audience (``_reviewed_recording``), never made here.
    """
    fate = file_fate(audience, blob)
    if fate == "original":
        return item, blob
    if fate == "media":
        return _reviewed_recording(ctx=ctx, audience=audience, item=item, blob=blob)
    existing = _release_copy_of(ctx, item)
    if existing is not None:
        return existing
    if fate == "other":
        return (
            f"withheld from a {audience.value} bundle: no copy free of hidden data can be made of "
            f"{blob.media_type} (only images and PDFs are rebuilt from their content); share it internally"
        )
    try:
        made = evidence_service.derive_evidence(
            ctx=ctx, actor=actor, evidence_id=item.id, method=Derivation.RELEASE
        )
    except ValidationProblem as exc:  # the file could not be decoded and rebuilt
        return f"withheld from a {audience.value} bundle: {(exc.detail or '').split(': ', 1)[-1]}"
    with ctx.db.session(write=False) as session:
        copy = session.get(EvidenceItem, made.id)
        copy_blob = session.get(EvidenceBlob, copy.blob_sha256) if copy and copy.blob_sha256 else None
    if copy is None or copy_blob is None:
        return "the release copy could not be read back"
    return copy, copy_blob


def _reviewed_recording(
    *, ctx: AppContext, audience: ExportAudience, item: EvidenceItem, blob: EvidenceBlob
) -> tuple[EvidenceItem, EvidenceBlob] | str:
    """The copy of a recording approved for ``audience``, or why it is withheld (not reviewed, refused, ...).

    A recording nobody reviewed is tried by decoding its first frames, so the report can tell one that would
    not decode from one that waits for a reviewer.
    """
    with ctx.db.session(write=False) as session:
        release = review_service.release_for(session=session, evidence_id=item.id, audience=audience)
    if release.copy is not None and release.blob is not None:
        return release.copy, release.blob
    prefix = f"withheld from a {audience.value} bundle"
    if release.state is MediaReleaseState.NOT_REVIEWED:
        with open_blob(ctx.blob_store, Digest(blob.sha256), blob.size) as file:
            problem = media.decode_problem(file)
        if problem is not None:
            return f"{prefix}: could not be decoded: {problem}"
    return f"{prefix}: {_MEDIA_REASONS[release.state].format(audiences=', '.join(release.audiences))}"


#: Why a recording stays inside, by where its review stands (the withheld report is in English).
_MEDIA_REASONS = {
    MediaReleaseState.NOT_REVIEWED: (
        "not reviewed: audio and video leave only as a copy a person reviewed and approved, and none is"
    ),
    MediaReleaseState.REFUSED: "refused: a reviewer refused the release of its copy",
    MediaReleaseState.OTHER_AUDIENCES: (
        "not approved for this audience: its reviewed copy is approved only for {audiences}"
    ),
    MediaReleaseState.COPY_CHANGED: (
        "the stored bytes of its approved copy no longer have the digest that was approved"
    ),
}


def file_fate(audience: ExportAudience, blob: EvidenceBlob) -> str:
    """What of a stored file leaves for ``audience``: the one rule the bundle and the export page share.

    ``damaged`` (its bytes failed verification: nothing), ``original`` (inside only), ``picture`` / ``pdf``
    (a copy made from the content), ``media`` (audio or video: stays inside), ``other`` (stays inside).
    """
    if blob.integrity != "ok":
        return "damaged"
    if audience is ExportAudience.INTERNAL:
        return "original"
    if blob.media_type == "application/pdf":
        return "pdf"
    if blob.media_type in derive.DECODABLE_IMAGES:
        return "picture"
    return "media" if blob.media_type.startswith(("audio/", "video/")) else "other"


def _case_files(session: Session, case_id: uuid.UUID) -> list[tuple[EvidenceItem, EvidenceBlob]]:
    """The case's stored files with their blobs, in the order the bundle numbers them (E-1, E-2, ...)."""
    return list(
        session.exec(
            select(EvidenceItem, EvidenceBlob)
            .join(EvidenceBlob, col(EvidenceBlob.sha256) == col(EvidenceItem.blob_sha256))
            .where(col(EvidenceItem.case_id) == case_id, col(EvidenceItem.form) == EvidenceForm.FILE.value)
            .order_by(col(EvidenceItem.created_at), col(EvidenceItem.id))
        ).all()
    )


def file_fates(
    *, session: Session, case_id: uuid.UUID, audience: ExportAudience
) -> list[tuple[str, str, str]]:
    """For the export page: (exhibit id, kind, fate) of each file, numbered as the bundle numbers them.

    A recording's fate says where its review stands: ``media:approved``, ``media:not_reviewed``,
    ``media:refused``, ``media:other_audiences`` or ``media:copy_changed`` (see ``release_for``).
    """
    fates = []
    for n, (item, blob) in enumerate(_case_files(session, case_id), start=1):
        fate = file_fate(audience, blob)
        if fate == "media":
            release = review_service.release_for(session=session, evidence_id=item.id, audience=audience)
            fate = f"media:{release.state.value}"
        fates.append((f"E-{n}", item.kind, fate))
    return fates


#: File name extensions of the types a release copy is made in.
_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "application/pdf": "pdf",
    "audio/ogg": "ogg",
    "video/webm": "webm",
}


def _choose_exhibits(
    *,
    session: Session,
    ctx: AppContext,
    actor: Actor,
    case_id: uuid.UUID,
    audience: ExportAudience,
    withheld: list[WithheldItem],
) -> list[Exhibit]:
    """Pick, per file of the case, the bytes this audience may get (original or working copy), or withhold."""
    exhibits: list[Exhibit] = []
    for n, (item, blob) in enumerate(_case_files(session, case_id), start=1):
        exhibit_id = f"E-{n}"
        if file_fate(audience, blob) == "damaged":
            withheld.append(
                WithheldItem(withheld=[exhibit_id], reason="its stored bytes failed verification")
            )
            continue
        chosen = _exhibit_blob(ctx=ctx, actor=actor, audience=audience, item=item, blob=blob)
        if isinstance(chosen, str):
            withheld.append(WithheldItem(withheld=[exhibit_id], reason=chosen))
            continue
        shipped, shipped_blob = chosen
        # A release copy may be of another format than the original (a WebP becomes a PNG): name it by its own type.
        extension = _EXTENSIONS.get(shipped_blob.media_type) if shipped.id != item.id else None
        extension = extension or evidence_service.filename_extension(
            session=session, sealer=ctx.sealer, actor=actor, item=item
        )
        name = sanitize_filename(f"{exhibit_id}-{item.kind}" + (f".{extension}" if extension else ""))
        copied = shipped.id != item.id
        exhibits.append(
            Exhibit(
                exhibit_id=exhibit_id,
                item=shipped,
                blob=shipped_blob,
                original_sha256=blob.sha256 if copied else None,
                path=f"exhibits/{name}",
                original_id=item.id if copied else None,
            )
        )
    return exhibits


def _choose_statements(
    *, session: Session, case_id: uuid.UUID, audience: ExportAudience, withheld: list[WithheldItem]
) -> list[Statement]:
    """The sighted documents' statements, for an internal audience only: their text is not cleared."""
    items = session.exec(
        select(EvidenceItem)
        .where(col(EvidenceItem.case_id) == case_id, col(EvidenceItem.form) == EvidenceForm.SIGHTED.value)
        .order_by(col(EvidenceItem.created_at), col(EvidenceItem.id))
    ).all()
    statements: list[Statement] = []
    for n, item in enumerate(items, start=1):
        label = f"S-{n}"
        if audience is not ExportAudience.INTERNAL:
            reason = f"sighted document withheld from a {audience.value} bundle: its statement is not cleared"
            withheld.append(WithheldItem(withheld=[label], reason=reason))
            continue
        data = canonical_json(evidence_service.statement_record(item))
        if hashlib.sha256(data).hexdigest() != item.statement_sha256:
            withheld.append(
                WithheldItem(withheld=[label], reason="its statement no longer matches its digest")
            )
            continue
        statements.append(Statement(item=item, data=data, path=f"sighted/{label}.json"))
    return statements


def _file_events(session: Session, item_ids: set[uuid.UUID], below: int | None = None) -> list[CustodyEvent]:
    """The ledger records naming these items (received, derived, ...), in ledger order."""
    query = select(CustodyEvent).where(col(CustodyEvent.evidence_id).in_(item_ids))
    if below is not None:
        query = query.where(col(CustodyEvent.leaf_index) < below)
    return list(session.exec(query.order_by(col(CustodyEvent.leaf_index))).all())


def _exhibits_record(
    exhibits: list[Exhibit], leaves_by_item: dict[uuid.UUID, list[int]]
) -> list[dict[str, Any]]:
    return [
        {
            "exhibit_id": e.exhibit_id,
            "path": f"data/{e.path}",
            "evidence_id": str(e.item.id),
            "form": e.item.form,
            "kind": e.item.kind,
            "media_type": e.blob.media_type,
            "size": e.blob.size,
            "sha256": e.blob.sha256,
            "derived_from_sha256": e.original_sha256,
            "custody_leaves": sorted(
                leaves_by_item.get(e.item.id, [])
                + (leaves_by_item.get(e.original_id, []) if e.original_id else [])
            ),
        }
        for e in exhibits
    ]


def _members(
    plan_exhibits: list[Exhibit], statements: list[Statement], records: dict[str, bytes]
) -> list[BundleMember]:
    """Every payload file but the manifest and the custody files, with the digest the ledger will bind."""
    members = [
        BundleMember(
            path=f"data/{e.path}",
            sha256=e.blob.sha256,
            size=e.blob.size,
            role="exhibit",
            fields={
                "exhibit_id": e.exhibit_id,
                "evidence_id": str(e.item.id),
                "derived_from": (
                    {"evidence_id": str(e.original_id), "sha256": e.original_sha256}
                    if e.original_id
                    else None
                ),
            },
        )
        for e in plan_exhibits
    ]
    members += [
        BundleMember(
            path=f"data/{s.path}",
            sha256=hashlib.sha256(s.data).hexdigest(),
            size=len(s.data),
            role="statement",
            fields={"evidence_id": str(s.item.id)},
        )
        for s in statements
    ]
    members += [
        BundleMember(
            path=f"data/{path}",
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            role="record",
            fields={},
        )
        for path, data in records.items()
    ]
    return members


def _records(
    *,
    case: Any,
    actor: Actor,
    audience: ExportAudience,
    export_id: uuid.UUID,
    exported_at: datetime,
    exhibits: list[Exhibit],
    statements: list[Statement],
    leaves_by_item: dict[uuid.UUID, list[int]],
    withheld: list[WithheldItem],
) -> dict[str, bytes]:
    """The record files of the bag (bag-relative to data/), export record last: it lists the others."""
    records = {
        "records/case.json": case.model_dump_json(indent=2).encode(),
        "records/exhibits.json": json.dumps(_exhibits_record(exhibits, leaves_by_item), indent=2).encode(),
        "README.txt": README.encode(),
    }
    listed = [(f"data/{e.path}", e.blob.sha256, e.blob.size) for e in exhibits]
    listed += [(f"data/{s.path}", hashlib.sha256(s.data).hexdigest(), len(s.data)) for s in statements]
    listed += [(f"data/{p}", hashlib.sha256(d).hexdigest(), len(d)) for p, d in records.items()]
    manifest = ExportManifest(
        generator=export_service.GENERATOR,
        generated_at=exported_at,
        export_id=export_id,
        format="bagit-zip",
        audience=audience,
        requested_by=str(actor.user_id),
        selection={"case_ids": [str(case.id)]},
        withheld=withheld,
        files=[ExportManifestFile(name=name, sha256=sha, size=size) for name, sha, size in listed],
    )
    records["records/export.json"] = manifest.model_dump_json(indent=2).encode()
    return records


#: Records whose earliest signed head dates the evidence: when a file or statement entered the ledger.
_DATED_ACTIONS = frozenset({"received", "derived", "recorded"})


def _earlier_heads(*, ctx: AppContext, leaf_indexes: list[int], latest: int) -> list[EarlierHead]:
    """For each record, the earliest head signed over it before ``latest``, with its consistency proof."""
    if not leaf_indexes:
        return []
    with ctx.db.session(write=False) as session:
        sizes = list(
            session.exec(
                select(CustodyTreeHead.tree_size)
                .where(
                    col(CustodyTreeHead.tree_size) > min(leaf_indexes),
                    col(CustodyTreeHead.tree_size) < latest,
                )
                .order_by(col(CustodyTreeHead.tree_size))
            ).all()
        )
        chosen = {
            sizes[at] for index in leaf_indexes if (at := bisect.bisect_right(sizes, index)) < len(sizes)
        }
        rows = [session.get(CustodyTreeHead, size) for size in sorted(chosen)]
    return [
        EarlierHead(
            signed=custody_service.signed_head_of(row),
            timestamp_response=bytes(row.timestamp_response) if row.timestamp_response else None,
            consistency_path=ctx.ledger.consistency_proof(row.tree_size, latest),
        )
        for row in rows
        if row is not None
    ]


def _enter_manifest(
    *, ctx: AppContext, actor: Actor, manifest: bytes, export_id: uuid.UUID, audience: ExportAudience
) -> int:
    """Append the manifest's digest to the ledger as an 'exported' record; return its leaf index."""
    with ctx.db.write_session() as writer:
        event = custody_service.append_event(
            session=writer,
            actor=actor,
            action=CustodyAction.EXPORTED,
            evidence_id=None,
            object_digest=Digest(hashlib.sha256(manifest).hexdigest()),
            details={
                "export": str(export_id),
                "kind": "bundle",
                "audience": audience.value,
                "stage": "manifest",
            },
        )
    return event.leaf_index


def _custody_files(
    *, ctx: AppContext, item_ids: set[uuid.UUID], manifest_leaf: int, head_row: CustodyTreeHead
) -> dict[str, bytes]:
    """data/custody/: the items' records and the manifest's, proven against ``head_row``, and earlier heads."""
    with ctx.db.session(write=False) as fresh:
        rows = [
            *_file_events(fresh, item_ids, below=head_row.tree_size),
            fresh.get(CustodyEvent, manifest_leaf),
        ]
    files = custody_bundle_files(
        tree=cast(MerkleTree, ctx.ledger),  # LedgerTree offers the same root/leaf_hash/proof methods
        signed_head=custody_service.signed_head_of(head_row),
        public_key=ctx.signing_key.public_key(),
        leaves={row.leaf_index: bytes(row.leaf) for row in rows if row is not None},
        timestamp_response=bytes(head_row.timestamp_response) if head_row.timestamp_response else None,
    )
    dated = [r.leaf_index for r in rows if r is not None and r.action in _DATED_ACTIONS]
    heads = _earlier_heads(ctx=ctx, leaf_indexes=dated, latest=head_row.tree_size)
    if heads:
        files[EARLIER_HEADS] = earlier_heads_json(heads)
    return files


def plan_bundle(
    *,
    session: Session,
    ctx: AppContext,
    actor: Actor,
    case_id: uuid.UUID,
    audience: ExportAudience,
    override_reason: str | None = None,
) -> BundlePlan:
    """Choose the exhibits, redact the record, enter the bundle's manifest in the ledger, and prove it all.

    Every file of the bundle is listed with its SHA-256 in a manifest whose own digest is appended to the
    ledger (``exported``) before a byte is streamed; a head is then signed over it, so the exhibits' custody
    events and the manifest travel with inclusion proofs against the same signed root.
    """
    selection = export_service.select_cases(
        session=session,
        actor=actor,
        sealer=ctx.sealer,
        case_ids=[case_id],
        audience=audience,
        override_reason=override_reason,
    )
    if selection.override_id is not None:
        session.commit()  # the override's audit record, before anything of the bundle is made or sent
    case = selection.cases[0]
    withheld = list(selection.withheld)
    exhibits = _choose_exhibits(
        session=session, ctx=ctx, actor=actor, case_id=case_id, audience=audience, withheld=withheld
    )
    statements = _choose_statements(session=session, case_id=case_id, audience=audience, withheld=withheld)
    item_ids = {e.item.id for e in exhibits} | {e.original_id for e in exhibits if e.original_id}
    item_ids |= {s.item.id for s in statements}
    # A fresh session: a working copy made above committed after the request's session began reading.
    with ctx.db.session(write=False) as fresh:
        earlier = _file_events(fresh, item_ids)
    leaves_by_item: dict[uuid.UUID, list[int]] = {}
    for row in earlier:
        if row.evidence_id is not None:
            leaves_by_item.setdefault(row.evidence_id, []).append(row.leaf_index)
    export_id, now = uuid.uuid4(), datetime.now(UTC)
    exported_at = now.replace(microsecond=now.microsecond // 1000 * 1000)
    records = _records(
        case=case,
        actor=actor,
        audience=audience,
        export_id=export_id,
        exported_at=exported_at,
        exhibits=exhibits,
        statements=statements,
        leaves_by_item=leaves_by_item,
        withheld=withheld,
    )
    manifest = bundle_manifest(
        export_id=str(export_id),
        audience=audience.value,
        exported_at=format_timestamp(exported_at),
        case={"id": str(case.id), "reference": case.reference},
        members=_members(exhibits, statements, records),
    )
    manifest_leaf = _enter_manifest(
        ctx=ctx, actor=actor, manifest=manifest, export_id=export_id, audience=audience
    )
    head_row = custody_service.latest_signed_head(ctx=ctx)
    custody_files = _custody_files(ctx=ctx, item_ids=item_ids, manifest_leaf=manifest_leaf, head_row=head_row)
    return BundlePlan(
        export_id=export_id,
        bag_name=sanitize_filename(f"{case.reference}_{exported_at:%Y-%m-%d}_{audience.value}"),
        audience=audience,
        selection=selection,
        exhibits=exhibits,
        statements=statements,
        records=records,
        manifest=manifest,
        custody_files=custody_files,
        tree_size=head_row.tree_size,
        root_hash=bytes(head_row.root_hash).hex(),
        withheld=withheld,
    )


def stream_bundle(*, ctx: AppContext, plan: BundlePlan, organisation: str) -> Iterator[bytes]:
    """Yield the zip; the exhibits' bytes are checked against their digests on the way out."""
    case = plan.selection.cases[0]
    writer = BagWriter(plan.bag_name)
    for exhibit in plan.exhibits:
        # The bag writer hashes each exhibit against its recorded digest and abandons the zip before it is
        # complete on a mismatch, so a second hashing pass in the store (verify=True) would only cost time.
        chunks = ctx.blob_store.open_range(Digest(exhibit.blob.sha256))
        yield from writer.add_payload(exhibit.path, chunks, expected_sha256=exhibit.blob.sha256)
    files = {
        **{s.path: s.data for s in plan.statements},
        **plan.records,
        MANIFEST_PATH.removeprefix("data/"): plan.manifest,
        **{f"custody/{name}": data for name, data in plan.custody_files.items()},
    }
    for path, data in files.items():
        yield from writer.add_payload_bytes(path, data)
    yield from writer.finish(
        {
            "Source-Organization": organisation,
            "External-Identifier": case.reference,
            "External-Description": f"Evidence bundle of case {case.reference} for the {plan.audience.value} audience",
            "Bag-Group-Identifier": str(plan.export_id),
            "Export-Audience": plan.audience.value,
            "Merkle-Tree-Size": str(plan.tree_size),
            "Merkle-Root-SHA256": plan.root_hash,
        }
    )


def record_bundle(*, ctx: AppContext, actor: Actor, plan: BundlePlan, sha256: str, size: int) -> None:
    """After the last byte: the export record, the audit event, and the custody events of file and exhibits."""
    with ctx.db.write_session() as session:
        export_service.record_export(
            session=session,
            actor=actor,
            kind="bundle",
            fmt="bagit-zip",
            audience=plan.audience,
            selection={"case_ids": [str(plan.selection.cases[0].id)]},
            withheld=plan.withheld,
            digest=(sha256, size),
            export_id=plan.export_id,
            exhibits=[(e.item.id, e.blob.sha256) for e in plan.exhibits],
        )


def stream_and_record(*, ctx: AppContext, plan: BundlePlan, actor: Actor) -> Iterator[bytes]:
    """Yield the bundle; only once its last byte is sent is it recorded as exported (file digest and size)."""
    digest, size = hashlib.sha256(), 0
    for chunk in stream_bundle(ctx=ctx, plan=plan, organisation=ctx.settings.organisation_name):
        digest.update(chunk)
        size += len(chunk)
        yield chunk
    record_bundle(ctx=ctx, actor=actor, plan=plan, sha256=digest.hexdigest(), size=size)


def download_headers(plan: BundlePlan) -> dict[str, str]:
    """Headers of a bundle download: its file name, export id and how many items were withheld."""
    return {
        "Content-Disposition": f'attachment; filename="{plan.bag_name}.zip"',
        "X-Export-Id": str(plan.export_id),
        "X-Withheld-Count": str(len(plan.withheld)),
    }
