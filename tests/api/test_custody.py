"""The custody ledger as a third party sees it: signed tree heads, RFC 6962 proofs, an append-only table.

The proofs are checked with a verifier written here from the text of RFC 9162 §2.1.3.2 and §2.1.4.2, and
the signature with `cryptography` over bytes rebuilt from the documented format, so a bug shared by the
service and `evidence_store` cannot make these tests pass.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi.testclient import TestClient

from api.config import Settings
from api.context import AppContext
from api.main import create_app
from tests.conftest import Account
from tests.evidence_store.conftest_ledger import make_tsa, requires_openssl, serve_tsa
from tests.factories import API, create_case, make_jpeg, ok, put_raw, upload

# ---- an independent RFC 6962 / 9162 verifier --------------------------------------------------------------


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def rfc9162_inclusion_root(
    leaf_index: int, tree_size: int, leaf_hash: bytes, path: list[bytes]
) -> bytes | None:
    """RFC 9162 §2.1.3.2, step by step; None where the RFC says the verification fails."""
    if leaf_index >= tree_size:
        return None
    fn, sn, r = leaf_index, tree_size - 1, leaf_hash
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def rfc9162_consistent(
    first: int, second: int, first_hash: bytes, second_hash: bytes, path: list[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2, step by step."""
    if first == second:
        return not path and first_hash == second_hash
    if not path:
        return False
    if first & (first - 1) == 0:  # an exact power of two
        path = [first_hash, *path]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _node(c, fr)
            sr = _node(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0


def signed_bytes(head: dict) -> bytes:
    """The documented signed text, rebuilt from the JSON fields."""
    return f"precedent-tree-head-v1\n{head['tree_size']}\n{head['root_hash']}\n{head['timestamp']}\n".encode(
        "ascii"
    )


def check_signature(client: TestClient, who: Account, head: dict) -> None:
    key = ok(client.get(f"{API}/custody/key", headers=who.headers))
    public = load_pem_public_key(key["public_key_pem"].encode())
    assert public.public_bytes_raw().hex() == key["public_key"]  # type: ignore[union-attr]
    assert hashlib.sha256(bytes.fromhex(key["public_key"])).hexdigest() == key["key_id"] == head["key_id"]
    public.verify(bytes.fromhex(head["signature"]), signed_bytes(head))  # type: ignore[union-attr,call-arg]


# ---- tests ------------------------------------------------------------------------------------------------


def test_an_uploads_custody_event_is_proven_included_under_the_signed_head(
    client: TestClient, documenter: Account, coordinator: Account
) -> None:
    case = create_case(client, documenter)
    for i in range(4):
        put_raw(client, documenter, case["id"], f"earlier {i}".encode())
    photo = upload(client, documenter, case["id"], make_jpeg(), filename="photo.jpg")
    video = put_raw(client, documenter, case["id"], os.urandom(2 * 1024 * 1024), filename="clip.mp4")
    for item in (photo, video):
        (received,) = ok(client.get(f"{API}/evidence/{item['id']}/custody", headers=documenter.headers))
        leaf = base64.b64decode(received["leaf"])
        # What was hashed is the canonical JSON of exactly the fields shown.
        record = json.loads(leaf)
        assert record["seq"] == received["leaf_index"] and record["object"] == item["digest"]
        assert record["evidence"] == item["id"] and record["action"] == "received"
        assert leaf == json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        leaf_hash = hashlib.sha256(b"\x00" + leaf).digest()
        assert received["leaf_hash"] == leaf_hash.hex()
        # A third party checks the proof against the live signed head (researchers get hourly heads:
        # tests/api/test_oracles.py).
        head = ok(client.get(f"{API}/custody/tree-head", headers=coordinator.headers))
        check_signature(client, coordinator, head)
        params = {"leaf_index": received["leaf_index"], "tree_size": head["tree_size"]}
        proof = ok(client.get(f"{API}/custody/proof/inclusion", params=params, headers=coordinator.headers))
        assert proof.keys() == {"leaf_index", "tree_size", "leaf_hash", "audit_path"}
        assert proof["leaf_hash"] == leaf_hash.hex()
        root = rfc9162_inclusion_root(
            proof["leaf_index"],
            proof["tree_size"],
            leaf_hash,
            [bytes.fromhex(h) for h in proof["audit_path"]],
        )
        assert root is not None and root.hex() == head["root_hash"]
        # A tampered leaf does not reach the signed root.
        forged = hashlib.sha256(b"\x00" + leaf.replace(b"received", b"recEived")).digest()
        assert (
            rfc9162_inclusion_root(
                proof["leaf_index"],
                proof["tree_size"],
                forged,
                [bytes.fromhex(h) for h in proof["audit_path"]],
            )
            != root
        )


def test_every_inclusion_proof_of_a_small_ledger_verifies(client: TestClient, documenter: Account) -> None:
    empty = ok(client.get(f"{API}/custody/tree-head", headers=documenter.headers))
    assert empty["tree_size"] == 0 and empty["root_hash"] == hashlib.sha256(b"").hexdigest()
    check_signature(client, documenter, empty)
    case = create_case(client, documenter)
    for i in range(7):
        put_raw(client, documenter, case["id"], f"file {i}".encode())
    head = ok(client.get(f"{API}/custody/tree-head", headers=documenter.headers))
    assert head["tree_size"] == 7
    for size in range(1, 8):
        for index in range(size):
            params = {"leaf_index": index, "tree_size": size}
            proof = ok(
                client.get(f"{API}/custody/proof/inclusion", params=params, headers=documenter.headers)
            )
            path = [bytes.fromhex(h) for h in proof["audit_path"]]
            root = rfc9162_inclusion_root(index, size, bytes.fromhex(proof["leaf_hash"]), path)
            assert root is not None
            if size == 7:
                assert root.hex() == head["root_hash"]


def test_signed_heads_are_consistent_with_each_other(
    client: TestClient, documenter: Account, coordinator: Account
) -> None:
    case = create_case(client, documenter)
    heads = []
    for batch in (1, 2, 3, 5):
        for i in range(batch):
            put_raw(client, documenter, case["id"], f"{batch}-{i}".encode())
        heads.append(ok(client.get(f"{API}/custody/tree-head", headers=coordinator.headers)))
    assert [h["tree_size"] for h in heads] == [1, 3, 6, 11]
    # Nothing new: the same head again, not a new signature.
    assert ok(client.get(f"{API}/custody/tree-head", headers=coordinator.headers)) == heads[-1]
    for older in heads:
        check_signature(client, coordinator, older)
        again = ok(
            client.get(
                f"{API}/custody/tree-head",
                params={"tree_size": older["tree_size"]},
                headers=coordinator.headers,
            )
        )
        assert again == older
        for newer in heads:
            if newer["tree_size"] < older["tree_size"]:
                continue
            params = {"first": older["tree_size"], "second": newer["tree_size"]}
            proof = ok(
                client.get(f"{API}/custody/proof/consistency", params=params, headers=coordinator.headers)
            )
            assert proof.keys() == {"first", "second", "consistency_path"}
            path = [bytes.fromhex(h) for h in proof["consistency_path"]]
            old_root, new_root = bytes.fromhex(older["root_hash"]), bytes.fromhex(newer["root_hash"])
            assert rfc9162_consistent(older["tree_size"], newer["tree_size"], old_root, new_root, path)
            if older["tree_size"] < newer["tree_size"]:
                assert not rfc9162_consistent(
                    older["tree_size"], newer["tree_size"], hashlib.sha256(b"forked").digest(), new_root, path
                )


def test_proof_requests_outside_the_ledger_are_refused(client: TestClient, documenter: Account) -> None:
    case = create_case(client, documenter)
    put_raw(client, documenter, case["id"], b"one")
    put_raw(client, documenter, case["id"], b"two")
    for url, params, field in [
        ("/custody/proof/inclusion", {"leaf_index": 2, "tree_size": 2}, "query.leaf_index"),
        ("/custody/proof/inclusion", {"leaf_index": 0, "tree_size": 3}, "query.tree_size"),
        ("/custody/proof/inclusion", {"leaf_index": -1, "tree_size": 1}, "query.leaf_index"),
        ("/custody/proof/consistency", {"first": 2, "second": 1}, "query.first"),
        ("/custody/proof/consistency", {"first": 1, "second": 9}, "query.second"),
    ]:
        problem = ok(client.get(API + url, params=params, headers=documenter.headers), 422)
        assert problem["errors"][0]["field"] == field, (url, params)
    assert (
        client.get(
            f"{API}/custody/tree-head", params={"tree_size": 1}, headers=documenter.headers
        ).status_code
        == 404
    )


def test_the_database_refuses_to_change_or_delete_ledger_rows(
    client: TestClient, ctx: AppContext, documenter: Account
) -> None:
    case = create_case(client, documenter)
    put_raw(client, documenter, case["id"], b"evidence")
    ok(client.get(f"{API}/custody/tree-head", headers=documenter.headers))
    for table, column in (("custody_event", "action"), ("custody_tree_head", "tree_size")):
        model = sa.table(table, sa.column(column))
        for statement in (sa.update(model).values({column: model.c[column]}), sa.delete(model)):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), ctx.db.engine.begin() as conn:
                conn.execute(statement)
        with ctx.db.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(model)).scalar_one() == 1


def test_concurrent_appends_keep_the_ledger_gapless(
    client: TestClient, ctx: AppContext, documenter: Account
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    case = create_case(client, documenter)
    with ThreadPoolExecutor(8) as pool:
        items = list(
            pool.map(lambda i: put_raw(client, documenter, case["id"], os.urandom(64 * 1024)), range(24))
        )
    with ctx.db.engine.connect() as conn:
        indexes = (
            conn.execute(sa.text("SELECT leaf_index FROM custody_event ORDER BY leaf_index")).scalars().all()
        )
    assert indexes == list(range(24))
    assert len({i["id"] for i in items}) == 24


@requires_openssl
def test_tree_heads_carry_an_rfc3161_token_from_the_configured_tsa(
    make_settings, documenter: Account, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from evidence_store.tsp import verify_timestamp_token

    tsa_dir = tmp_path / "tsa"
    tsa_dir.mkdir()
    tsa = make_tsa(tsa_dir)
    with serve_tsa(tsa) as tsa_url:
        settings: Settings = make_settings(tsa_urls=[f"{tsa_url}/error", f"{tsa_url}/rsa"])
        with TestClient(create_app(settings)) as client:
            case = create_case(client, documenter)
            put_raw(client, documenter, case["id"], b"timestamped")
            head = ok(client.get(f"{API}/custody/tree-head", headers=documenter.headers))
    assert head["tsa_url"] == f"{tsa_url}/rsa"  # the failing TSA was skipped
    token = base64.b64decode(head["timestamp_token"])
    info = verify_timestamp_token(token, hashlib.sha256(signed_bytes(head)).digest())
    assert info.signer_subject.endswith("Test TSA RSA") or "Test TSA RSA" in info.signer_subject
