"""The custody ledger's key, signed tree heads and RFC 6962 / 9162 proofs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.custody import service as custody_service
from api.deps import ContextDep, Require
from api.problems import problem_responses
from api.routing import SessionRoute
from schemas.custody import ConsistencyProofRead, InclusionProofRead, PublicKeyRead, TreeHeadRead

router = APIRouter(route_class=SessionRoute, prefix="/custody", tags=["custody"])

CustodyReader = Annotated[Actor, Depends(Require(Permission.CUSTODY_READ))]
TreeSize = Annotated[int, Query(ge=0, le=2**53 - 1)]

TREE_HEAD_DESCRIPTION = """\
The latest signed tree head of the custody ledger (a new one is signed when the ledger has grown since the
last), or with `tree_size` the head signed earlier for that size.

Roles that neither see restricted cases nor write to the ledger (researchers) are served the ledger as it
stood at the last full hour: the head of the records appended before it, dated the first full hour after
its last record, with no time-stamp token; proofs and event lists stop at its size, so what they see moves
only on the hour and says nothing of when anything was done.

**Exactly which bytes are signed.** The Ed25519 signature (RFC 8032, key from `GET /api/v1/custody/key`)
covers this ASCII text of four lines, each ended by one line feed (0x0A), and nothing else:

```
precedent-tree-head-v1
<tree_size in decimal, no leading zeros>
<root_hash: 64 lowercase hex digits>
<timestamp: YYYY-MM-DDTHH:MM:SS.mmmZ, exactly as returned>
```

`root_hash` is the RFC 6962 §2.1 Merkle tree hash of the first `tree_size` ledger records, where each leaf
hash is SHA-256(0x00 || leaf) over the exact leaf bytes that `GET /api/v1/evidence/{id}/custody` returns (base64
in `leaf`), and each node is SHA-256(0x01 || left || right). `timestamp_token`, when present, is an RFC 3161
TimeStampResp whose message imprint is SHA-256 of the same signed bytes. To check by hand:

```
printf 'precedent-tree-head-v1\\n%s\\n%s\\n%s\\n' "$SIZE" "$ROOT" "$TS" > head.txt
echo "$SIGNATURE" | xxd -r -p > head.sig
openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in head.txt -sigfile head.sig
```
"""


@router.get("/key", response_model=PublicKeyRead, responses=problem_responses(401, 403))
def get_key(ctx: ContextDep, actor: CustodyReader) -> PublicKeyRead:
    """The Ed25519 public key that signs the ledger's tree heads."""
    return custody_service.get_public_key(ctx=ctx)


@router.get(
    "/tree-head",
    response_model=TreeHeadRead,
    description=TREE_HEAD_DESCRIPTION,
    responses=problem_responses(401, 403, 404, 422),
)
def get_tree_head(ctx: ContextDep, actor: CustodyReader, tree_size: TreeSize | None = None) -> TreeHeadRead:
    """The latest signed tree head (or the one signed for `tree_size`)."""
    return custody_service.get_tree_head(ctx=ctx, actor=actor, tree_size=tree_size)


@router.get("/proof/inclusion", response_model=InclusionProofRead, responses=problem_responses(401, 403, 422))
def get_inclusion_proof(
    ctx: ContextDep, actor: CustodyReader, leaf_index: TreeSize, tree_size: TreeSize
) -> InclusionProofRead:
    """RFC 6962 audit path of record `leaf_index` in the tree of the first `tree_size` records."""
    return custody_service.inclusion_proof(ctx=ctx, actor=actor, leaf_index=leaf_index, tree_size=tree_size)


@router.get(
    "/proof/consistency", response_model=ConsistencyProofRead, responses=problem_responses(401, 403, 422)
)
def get_consistency_proof(
    ctx: ContextDep, actor: CustodyReader, first: TreeSize, second: TreeSize
) -> ConsistencyProofRead:
    """RFC 6962 proof that the tree of `second` records extends the tree of `first` records."""
    return custody_service.consistency_proof(ctx=ctx, actor=actor, first=first, second=second)
