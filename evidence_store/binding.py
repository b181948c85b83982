"""Binding: every byte a recipient holds must be named by a proven record of the signed custody ledger.

Each piece of a bundle can be well formed on its own (BagIt digests, Merkle proofs, a signature) and still
be a forgery: anyone can replace an exhibit and recompute the bag's manifests, no key needed. What makes
the bundle hold up is that the pieces talk about each other, and that is what this module checks.

The bundle manifest (``data/records/manifest.json``)
----------------------------------------------------
Canonical JSON (``evidence_store.canonical``, the integer-only subset of RFC 8785), written by the server
before the bundle is streamed, and entered in the ledger as an ``exported`` event whose ``object`` is
``sha256:<hex of these exact bytes>``::

    {"audience":"internal|partner|public|ilo|ituc","case":{"id":"<uuid>","reference":"<text>"},
     "export_id":"<uuid>","exported_at":"YYYY-MM-DDTHH:MM:SS.mmmZ",
     "members":[{"path":"data/...","role":"exhibit|statement|record","sha256":"<64 hex>","size":<int>,
                 ...role fields}, ...],
     "type":"precedent-bundle-manifest","v":1}

    exhibit:   "evidence_id":"<uuid>", "exhibit_id":"E-<n>",
               "derived_from": null | {"evidence_id":"<uuid of the original>","sha256":"<64 hex>"}
    statement: "evidence_id":"<uuid>"  (a sighted document's statement: the exact bytes that were hashed)
    record:    nothing more (case record, exhibit list, export record, README)

The ``exported`` event's ``details`` carry ``"export":"<export_id>"``, ``"audience"`` and
``"kind":"bundle"``; they must agree with the manifest.

What is checked (each failure names the member; nothing is accepted that is not bound)
--------------------------------------------------------------------------------------
1. the manifest exists, parses, and a proven ``exported`` event names exactly its SHA-256, its export id
   and its audience;
2. every payload file is listed in the manifest (apart from the manifest itself and the custody files,
   which prove themselves), every listed member exists, and each one's SHA-256 and size, computed from the
   bytes the recipient holds, equal the manifest's;
3. every exhibit's bytes are named by a proven ``received`` or ``derived`` event of that evidence item
   (``object`` = ``sha256:<hex of the file>``); a working copy's ``derived`` event names the original it
   was made from, and the original's ``received`` event is proven too;
4. every sighted statement is named by a proven ``recorded`` event of its item;
5. ``bag-info.txt`` (which only the recomputable tag manifests cover) says the same audience and case.

A store copy (``precedent custody export-ledger``) is bound the same way: every blob must be the
``object`` of a ``received`` or ``derived`` record under the signed root.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evidence_store.canonical import canonical_json
from evidence_store.report import VerificationReport
from evidence_store.strictjson import load_json

__all__ = [
    "CUSTODY_FILES",
    "MANIFEST_PATH",
    "MANIFEST_TYPE",
    "BundleMember",
    "ProvenEvent",
    "bundle_manifest",
    "check_blobs_bound",
    "check_bundle_binding",
]

#: Where the signed manifest sits in the bag.
MANIFEST_PATH = "data/records/manifest.json"
MANIFEST_TYPE = "precedent-bundle-manifest"
MANIFEST_VERSION = 1
#: The custody files, which prove themselves (signature, proofs) and so are not manifest members.
CUSTODY_FILES = frozenset(
    f"data/custody/{name}"
    for name in (
        "events.jsonl",
        "proofs.json",
        "proofs.txt",
        "tree-head.json",
        "tree-head.txt",
        "tree-head.sig",
        "public-key.pem",
        "tree-head.tsr",
        "earlier-heads.json",
    )
)
#: Events whose ``object`` is an evidence file's bytes as the organisation holds them.
FILE_ACTIONS = frozenset({"received", "derived"})

_HEX64 = re.compile(r"[0-9a-f]{64}")
_ROLES = {"exhibit", "statement", "record"}


@dataclass(frozen=True, slots=True)
class ProvenEvent:
    """A custody record proven included under the signed root: its leaf index and hashed fields."""

    index: int
    record: Mapping[str, Any]

    @property
    def action(self) -> Any:
        """Return the record's action."""
        return self.record.get("action")

    @property
    def evidence(self) -> Any:
        """Return the evidence item the record is about (or None)."""
        return self.record.get("evidence")

    @property
    def object(self) -> Any:
        """Return the ``sha256:<hex>`` object the record names (or None)."""
        return self.record.get("object")

    def detail(self, name: str) -> Any:
        """Return one member of the record's details, or None."""
        details = self.record.get("details")
        return details.get(name) if isinstance(details, dict) else None


@dataclass(frozen=True, slots=True)
class BundleMember:
    """One file the manifest lists, as the server writes it."""

    path: str
    sha256: str
    size: int
    role: str
    fields: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        """Return the manifest entry."""
        return {**self.fields, "path": self.path, "role": self.role, "sha256": self.sha256, "size": self.size}


def bundle_manifest(
    *,
    export_id: str,
    audience: str,
    exported_at: str,
    case: Mapping[str, str],
    members: Iterable[BundleMember],
) -> bytes:
    """Return the manifest's canonical bytes (the server hashes them into the ledger before streaming)."""
    entries = [member.to_json() for member in members]
    paths = [entry["path"] for entry in entries]
    if len(set(paths)) != len(paths) or MANIFEST_PATH in paths or CUSTODY_FILES & set(paths):
        raise ValueError("manifest members must be unique and exclude the manifest and custody files")
    return canonical_json(
        {
            "v": MANIFEST_VERSION,
            "type": MANIFEST_TYPE,
            "export_id": export_id,
            "audience": audience,
            "exported_at": exported_at,
            "case": dict(case),
            "members": entries,
        }
    )


# --------------------------------------------------------------------------- checking a bundle


def check_bundle_binding(
    *,
    found: Mapping[str, tuple[str, int]],
    manifest_bytes: bytes | None,
    proven: Sequence[ProvenEvent] | None,
    bag_info: Mapping[str, str],
    report: VerificationReport,
) -> None:
    """Refuse any payload byte not bound to the signed ledger; ``found`` maps path -> (sha256 hex, size)."""
    if MANIFEST_PATH not in found or manifest_bytes is None:
        report.problem(
            MANIFEST_PATH, "missing: nothing binds this bundle's files to the signed ledger (refused)"
        )
        return
    manifest = _read_manifest(manifest_bytes, report)
    if manifest is None:
        return
    if proven is None:
        report.problem(MANIFEST_PATH, "no proven custody events, so the manifest is bound to nothing")
        return
    _check_manifest_event(manifest, found[MANIFEST_PATH][0], proven, report)
    members = _check_members(manifest, found, report)
    by_evidence = _index_by_evidence(proven)
    bound = 0
    for member in members:
        if member.role == "exhibit":
            bound += _check_exhibit(member, by_evidence, report)
        elif member.role == "statement":
            bound += _check_statement(member, by_evidence, report)
    _check_bag_info(manifest, bag_info, report)
    evidence = sum(1 for m in members if m.role in ("exhibit", "statement"))
    report.checked.append(
        f"{bound} of {evidence} exhibits and statements bound to proven custody events; "
        f"{len(members)} manifest members match the bytes held"
    )


class _Refused(ValueError):
    """The manifest cannot be used; the message says why."""


def _read_manifest(data: bytes, report: VerificationReport) -> dict[str, Any] | None:
    """Return the manifest parsed and shape-checked, or None after reporting why it cannot be used."""
    try:
        value = load_json(data)
        if not isinstance(value, dict):
            raise _Refused("not a JSON object")
        if value.get("type") != MANIFEST_TYPE or value.get("v") != MANIFEST_VERSION:
            raise _Refused(f"not a {MANIFEST_TYPE} version {MANIFEST_VERSION}")
        for name in ("export_id", "audience", "exported_at"):
            if not isinstance(value.get(name), str):
                raise _Refused(f"{name} is not a string")
        if not isinstance(value.get("members"), list) or not isinstance(value.get("case"), dict):
            raise _Refused("members is not a list or case is not an object")
    except ValueError as exc:  # bad UTF-8 or JSON, a duplicate member, nesting too deep
        report.problem(MANIFEST_PATH, f"cannot read the bundle manifest: {exc}")
        return None
    return value


def _check_manifest_event(
    manifest: Mapping[str, Any], digest: str, proven: Sequence[ProvenEvent], report: VerificationReport
) -> None:
    """Require a proven ``exported`` event naming exactly these manifest bytes, export id and audience."""
    named = [e for e in proven if e.action == "exported" and e.object == f"sha256:{digest}"]
    if not named:
        report.problem(
            MANIFEST_PATH,
            "no proven 'exported' custody event names this manifest: it was altered, replaced or never issued",
            "an exported event naming its SHA-256",
            f"sha256:{digest}",
        )
        return
    event = named[0]
    for name, value in (("export", manifest["export_id"]), ("audience", manifest["audience"])):
        if event.detail(name) != value:
            report.problem(
                MANIFEST_PATH,
                f"the manifest's {name} differs from its ledger event (leaf {event.index})",
                str(event.detail(name)),
                str(value),
            )
    report.checked.append(f"bundle manifest {digest[:16]}... is ledger record {event.index} (exported)")


def _parse_member(entry: Any) -> BundleMember:
    """Return one manifest entry, refusing a malformed one."""
    if not isinstance(entry, dict):
        raise _Refused("entry is not an object")
    path, sha256, size, role = (entry.get(k) for k in ("path", "sha256", "size", "role"))
    if not isinstance(path, str) or not path.startswith("data/"):
        raise _Refused("path is not a payload path")
    if not isinstance(sha256, str) or not _HEX64.fullmatch(sha256):
        raise _Refused(f"{path}: sha256 is not 64 lowercase hex digits")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0 or role not in _ROLES:
        raise _Refused(f"{path}: size or role is malformed")
    fields = {k: v for k, v in entry.items() if k not in ("path", "sha256", "size", "role")}
    return BundleMember(path, sha256, size, role, fields)


def _check_members(
    manifest: Mapping[str, Any], found: Mapping[str, tuple[str, int]], report: VerificationReport
) -> list[BundleMember]:
    """Match the manifest's members with the files held: nothing missing, nothing extra, nothing changed."""
    members: dict[str, BundleMember] = {}
    for position, entry in enumerate(manifest["members"]):
        try:
            member = _parse_member(entry)
        except _Refused as exc:
            report.problem(f"{MANIFEST_PATH} member #{position}", f"malformed member: {exc}")
            continue
        if member.path in members or member.path == MANIFEST_PATH or member.path in CUSTODY_FILES:
            report.problem(member.path, "listed twice, or a file the manifest may not list")
            continue
        members[member.path] = member
        held = found.get(member.path)
        if held is None:
            report.problem(member.path, "listed in the signed manifest but missing from the bundle")
        elif held != (member.sha256, member.size):
            report.problem(
                member.path,
                "these bytes are not the ones the signed manifest lists (replaced or altered)",
                f"sha256 {member.sha256}, {member.size} bytes",
                f"sha256 {held[0]}, {held[1]} bytes",
            )
    for path in sorted(found):
        if path not in members and path != MANIFEST_PATH and path not in CUSTODY_FILES:
            report.problem(path, "not in the signed manifest: a file added to the bundle (refused)")
    return [m for m in members.values() if found.get(m.path) == (m.sha256, m.size)]


def _index_by_evidence(proven: Sequence[ProvenEvent]) -> dict[str, list[ProvenEvent]]:
    """Group the proven events by the evidence item they name."""
    index: dict[str, list[ProvenEvent]] = {}
    for event in proven:
        if isinstance(event.evidence, str):
            index.setdefault(event.evidence, []).append(event)
    return index


def _check_exhibit(
    member: BundleMember, by_evidence: Mapping[str, list[ProvenEvent]], report: VerificationReport
) -> bool:
    """Require a proven received/derived event of this item naming these bytes (and its original's)."""
    evidence = member.fields.get("evidence_id")
    events = by_evidence.get(evidence, []) if isinstance(evidence, str) else []
    own = [e for e in events if e.action in FILE_ACTIONS and e.object == f"sha256:{member.sha256}"]
    if not own:
        report.problem(
            member.path,
            "no proven custody event of this exhibit names these bytes: not the file the ledger recorded",
            f"a received or derived event of evidence {evidence}",
            f"sha256:{member.sha256}",
        )
        return False
    source = member.fields.get("derived_from")
    if source is None:
        return True
    return _check_derivation(member, source, own, by_evidence, report)


def _check_derivation(
    member: BundleMember,
    source: Any,
    own: Sequence[ProvenEvent],
    by_evidence: Mapping[str, list[ProvenEvent]],
    report: VerificationReport,
) -> bool:
    """Require that a working copy's derived event names its original, itself proven as received."""
    if not isinstance(source, dict):
        report.problem(member.path, "derived_from is malformed in the manifest")
        return False
    origin, origin_sha = source.get("evidence_id"), source.get("sha256")
    derived = [
        e
        for e in own
        if e.action == "derived"
        and e.detail("source") == origin
        and e.detail("source_digest") == f"sha256:{origin_sha}"
    ]
    originals = by_evidence.get(origin, []) if isinstance(origin, str) else []
    received = [e for e in originals if e.action in FILE_ACTIONS and e.object == f"sha256:{origin_sha}"]
    if not derived or not received:
        report.problem(
            member.path,
            "this working copy is not proven to derive from the original the manifest names",
            f"a derived event from {origin} (sha256:{origin_sha}) and that original's received event",
            f"{len(derived)} derived, {len(received)} received",
        )
        return False
    return True


def _check_statement(
    member: BundleMember, by_evidence: Mapping[str, list[ProvenEvent]], report: VerificationReport
) -> bool:
    """Require a proven ``recorded`` event of this sighted item naming these statement bytes."""
    evidence = member.fields.get("evidence_id")
    events = by_evidence.get(evidence, []) if isinstance(evidence, str) else []
    if any(e.action == "recorded" and e.object == f"sha256:{member.sha256}" for e in events):
        return True
    report.problem(
        member.path,
        "no proven 'recorded' event of this sighted document names this statement",
        f"a recorded event of evidence {evidence}",
        f"sha256:{member.sha256}",
    )
    return False


def _check_bag_info(
    manifest: Mapping[str, Any], bag_info: Mapping[str, str], report: VerificationReport
) -> None:
    """Refuse a bag-info.txt that describes another audience or case than the signed manifest."""
    case = manifest["case"]
    for label, value in (
        ("Export-Audience", manifest["audience"]),
        ("External-Identifier", case.get("reference")),
        ("Bag-Group-Identifier", manifest["export_id"]),
    ):
        if label in bag_info and bag_info[label] != value:
            report.problem(
                "bag-info.txt", f"{label} differs from the signed manifest", str(value), bag_info[label]
            )


# --------------------------------------------------------------------------- checking a store copy


def check_blobs_bound(*, blobs: Iterable[str], objects: set[str], report: VerificationReport) -> None:
    """Refuse a blob (hex digest) that no received/derived record under the signed root names."""
    count = bound = 0
    for hex_digest in blobs:
        count += 1
        if f"sha256:{hex_digest}" in objects:
            bound += 1
        else:
            report.problem(
                f"sha256/{hex_digest[:2]}/{hex_digest[2:4]}/{hex_digest}",
                "no received or derived record under the signed tree head names this blob",
            )
    report.checked.append(f"{bound} of {count} blobs named by a signed custody record")
