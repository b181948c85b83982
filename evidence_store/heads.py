"""Earlier signed heads in a bundle: when each exhibit's record existed, tied to the bundle's head.

A bundle's own tree head is signed when the bundle is made, so alone it proves only that the records
existed then. The ledger also has heads signed earlier, some with an RFC 3161 token from an independent
time-stamping authority. For each exhibit's received/derived record the server adds the earliest signed
head that covers it, with an RFC 6962 consistency proof from that head to the bundle's head: the earlier
ledger is a prefix of the later one, nothing rewritten in between. So a recipient learns "this file's
record existed no later than T", and T can rest on a TSA rather than on the organisation's clock.

``data/custody/earlier-heads.json``::

    {"heads":[{"tree_head":{...as tree-head.json...},"timestamp_token":"<base64 DER>"|null,
               "consistency_path":["<64 hex>", ...]}, ...]}

``consistency_path`` is RFC 6962 PROOF(m, D[n]) from the earlier head's size m to the bundle head's size n.
Each earlier head must be signed by the same key as the bundle's head and be consistent with it; a token,
if present, must cover SHA-256 of its signed bytes. Any failure is a problem naming the earlier head.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from evidence_store.binding import ProvenEvent
from evidence_store.merkle import ProofError, verify_consistency
from evidence_store.report import VerificationReport
from evidence_store.strictjson import load_json
from evidence_store.treehead import SignedTreeHead, TreeHeadFormatError, TreeHeadSignatureError
from evidence_store.tsa_chain import verify_token_chain
from evidence_store.tsp import TimestampError, verify_timestamp_token

__all__ = ["EARLIER_HEADS", "EarlierHead", "check_earlier_heads", "earlier_heads_json"]

#: File name in data/custody/.
EARLIER_HEADS = "earlier-heads.json"


@dataclass(frozen=True, slots=True)
class EarlierHead:
    """A head signed before the bundle's, its token, and the proof that the bundle's head extends it."""

    signed: SignedTreeHead
    timestamp_response: bytes | None
    consistency_path: Sequence[bytes]


def earlier_heads_json(heads: Sequence[EarlierHead]) -> bytes:
    """Return earlier-heads.json for these heads, smallest first."""
    entries = [
        {
            "tree_head": head.signed.to_dict(),
            "timestamp_token": base64.b64encode(head.timestamp_response).decode("ascii")
            if head.timestamp_response
            else None,
            "consistency_path": [node.hex() for node in head.consistency_path],
        }
        for head in sorted(heads, key=lambda h: h.signed.head.tree_size)
    ]
    return json.dumps({"heads": entries}, separators=(",", ":")).encode("ascii") + b"\n"


def check_earlier_heads(
    data: bytes,
    *,
    latest: SignedTreeHead,
    key: Ed25519PublicKey,
    tsa_roots: Sequence[bytes],
    proven: Sequence[ProvenEvent],
    report: VerificationReport,
) -> None:
    """Check every earlier head (signature, consistency with ``latest``, token) and say what each dates."""
    item = f"data/custody/{EARLIER_HEADS}"
    try:
        entries = load_json(data)["heads"]
        if not isinstance(entries, list):
            raise TypeError("heads is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        report.problem(item, f"cannot read: {exc}")
        return
    for position, entry in enumerate(entries):
        try:
            head, when = _check_one(entry, latest, key, tsa_roots)
        except _HeadRefused as exc:
            report.problem(f"{item} head #{position}", str(exc))
            continue
        dated = [e for e in proven if e.index < head.head.tree_size and e.action in ("received", "derived")]
        names = (
            ", ".join(f"record {e.index} ({e.action}, evidence {e.evidence})" for e in dated) or "no record"
        )
        report.checked.append(
            f"earlier head of {head.head.tree_size} records, {when}, is consistent with the bundle's head: "
            f"{names} existed by then"
        )


class _HeadRefused(Exception):
    """One earlier head does not hold; the message says why."""


def _check_one(
    entry: Any, latest: SignedTreeHead, key: Ed25519PublicKey, tsa_roots: Sequence[bytes]
) -> tuple[SignedTreeHead, str]:
    """Return the earlier head and how it is dated, or raise _HeadRefused."""
    try:
        head = SignedTreeHead.from_dict(entry["tree_head"])
        path = [bytes.fromhex(node) for node in entry["consistency_path"]]
        token = entry.get("timestamp_token")
        tsr = base64.b64decode(token, validate=True) if token is not None else None
        head.verify(key)
        first, second = head.head, latest.head
        verify_consistency(first.tree_size, second.tree_size, first.root_hash, second.root_hash, path)
    except TreeHeadSignatureError as exc:
        raise _HeadRefused(f"signature check failed: {exc}") from exc
    except ProofError as exc:
        raise _HeadRefused(
            f"not consistent with the bundle's head (the ledger was rewritten?): {exc}"
        ) from exc
    except (TreeHeadFormatError, KeyError, TypeError, ValueError, AttributeError, binascii.Error) as exc:
        raise _HeadRefused(f"malformed: {exc}") from exc
    when = f"signed at {head.head.timestamp}"
    if tsr is None:
        return head, when + " (organisation's clock, no time-stamp token)"
    digest = hashlib.sha256(head.head.signed_bytes()).digest()
    try:
        if tsa_roots:
            chain = verify_token_chain(tsr, digest, tsa_roots)
            return (
                head,
                when + f", time-stamped {chain.gen_time.isoformat()} by {chain.tsa_subject} (chain checked)",
            )
        info = verify_timestamp_token(tsr, digest)
    except TimestampError as exc:
        raise _HeadRefused(f"time-stamp token check failed: {exc}") from exc
    return (
        head,
        when + f", time-stamped {info.gen_time.isoformat()} by {info.signer_subject} (chain not checked)",
    )
