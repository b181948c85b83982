"""No oracles: what a caller sees must not move with what they may not see (issue 19).

Written as the adversary: a documenter probing whether the organisation holds a file (by uploading it into
their own case), and a researcher watching the custody ledger, the search totals and the statistics while
restricted cases are worked on.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.custody import service as custody_service
from api.evidence import service as evidence_service
from evidence_store.blobstore import LocalBlobStore
from tests.api.test_custody import check_signature, rfc9162_consistent, rfc9162_inclusion_root
from tests.conftest import Account
from tests.factories import API, create_case, create_person, involve, make_jpeg, ok, patch

# ---- uploads of bytes already held --------------------------------------------------------------------------


def _photo() -> bytes:
    """A JPEG with camera EXIF, a serial and GPS, made unique by 16 random bytes after its end."""
    return make_jpeg() + os.urandom(16)


def _send(client: TestClient, who: Account, case_id: str, data: bytes, via: str) -> Any:
    if via == "raw":
        return client.put(
            f"{API}/cases/{case_id}/evidence",
            content=data,
            headers={**who.headers, "Content-Type": "application/octet-stream"},
        )
    return client.post(
        f"{API}/cases/{case_id}/evidence",
        files={"file": ("photo.jpg", data, "application/octet-stream")},
        headers=who.headers,
    )


#: Fields that differ between any two uploads (new item, other bytes), whatever the store held before.
_PER_UPLOAD = {"id", "digest", "created_at"}


def _shape(response: Any) -> tuple[int, list[str], dict[str, Any]]:
    """Status, header names, and the body without the fields every new item has of its own."""
    body = response.json()
    return (
        response.status_code,
        sorted(response.headers),
        {k: v for k, v in body.items() if k not in _PER_UPLOAD},
    )


@pytest.mark.parametrize("via", ["raw", "multipart"])
def test_uploading_a_file_held_in_a_case_one_cannot_see_answers_like_a_new_file(
    client: TestClient,
    documenter: Account,
    documenter2: Account,
    monkeypatch: pytest.MonkeyPatch,
    via: str,
) -> None:
    held = _photo()
    elsewhere = create_case(client, documenter2, confidentiality="restricted")
    holder_item = ok(_send(client, documenter2, elsewhere["id"], held, via), 201)
    # The holder rehashes it later: a rehash dated before the prober's upload must not show through.
    ok(client.post(f"{API}/evidence/{holder_item['id']}/verify", headers=documenter2.headers))
    mine = create_case(client, documenter)
    assert client.get(f"{API}/cases/{elsewhere['id']}", headers=documenter.headers).status_code == 404

    inspected: list[str] = []
    real_extract = evidence_service.extract_metadata
    monkeypatch.setattr(
        evidence_service,
        "extract_metadata",
        lambda file, media_type: inspected.append(media_type) or real_extract(file, media_type),
    )
    fresh = _send(client, documenter, mine["id"], _photo(), via)
    work_for_fresh = list(inspected)
    probe = _send(client, documenter, mine["id"], held, via)
    work_for_probe = inspected[len(work_for_fresh) :]

    assert _shape(probe) == _shape(fresh), "the answer must not tell that the bytes were already held"
    answer = probe.json()
    assert answer["integrity"] == {"status": "ok", "checked_at": None}
    assert answer["created_by"] == str(documenter.user_id)
    # The same work either way: the metadata of held bytes is read again (its cost is the bulk of the time).
    assert work_for_probe == work_for_fresh == ["image/jpeg"]
    # The prober's custody record of the probe is shaped as that of a new file, and is the only one.
    (fresh_event,) = ok(
        client.get(f"{API}/evidence/{fresh.json()['id']}/custody", headers=documenter.headers)
    )
    (probe_event,) = ok(client.get(f"{API}/evidence/{answer['id']}/custody", headers=documenter.headers))
    assert probe_event["action"] == fresh_event["action"] == "received"
    assert probe_event["details"] == fresh_event["details"]
    assert probe_event["actor_id"] == str(documenter.user_id)


def _count_calls(monkeypatch: pytest.MonkeyPatch, calls: list[str]) -> None:
    """Record every fsync, link and unlink the local store makes."""
    for name in ("fsync", "link", "unlink"):
        real = getattr(os, name)

        def counted(*args: Any, _real: Callable[..., Any] = real, _name: str = name, **kwargs: Any) -> Any:
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(os, name, counted)


def test_committing_bytes_already_stored_makes_the_same_system_calls_as_new_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalBlobStore(tmp_path / "store")
    held = b"the minutes of the meeting"
    with store.begin_write() as writer:
        writer.write(held)
        assert writer.commit().created
    # Two new blobs whose digests share a shard (so the second finds its shard folder made)...
    shard_mates: dict[str, list[bytes]] = {}
    counter = 0
    while not any(len(v) == 2 for v in shard_mates.values()):
        data = f"minutes {counter}".encode()
        shard_mates.setdefault(hashlib.sha256(data).hexdigest()[:4], []).append(data)
        counter += 1
    first_in_shard, second_in_shard = next(v for v in shard_mates.values() if len(v) == 2)

    def commit(data: bytes) -> tuple[bool, list[str]]:
        calls: list[str] = []
        with monkeypatch.context() as patched:
            _count_calls(patched, calls)
            with store.begin_write() as writer:
                writer.write(data)
                created = writer.commit().created
        return created, calls

    new_shard = commit(first_in_shard)
    old_shard = commit(second_in_shard)
    duplicate = commit(held)
    assert new_shard[0] and old_shard[0] and not duplicate[0]
    assert sorted(duplicate[1]) == sorted(old_shard[1]) == sorted(new_shard[1])
    assert duplicate[1].count("fsync") == 4, "the file, a folder whose entries changed, both shard levels"


# ---- what a researcher sees of restricted work ---------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[timedelta], None]:
    """Set the ledger's clock (its records' times and its hourly heads) to half past this hour plus an offset.

    Half past, so that records made together fall in one hour whenever the test runs.
    """
    start = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)

    def move(offset: timedelta) -> None:
        monkeypatch.setattr(custody_service, "utcnow", lambda: start + offset)

    move(timedelta(0))
    return move


def _researcher_view(client: TestClient, researcher: Account, item_id: str) -> dict[str, Any]:
    """Everything a researcher reads that counts cases, people or ledger records."""
    headers = researcher.headers
    stats = {
        group: ok(client.get(f"{API}/stats", params={"group_by": group}, headers=headers))
        for group in ("category", "year", "country", "victim_status")
    }
    taxonomy = ok(client.get(f"{API}/taxonomy", params={"counts": "true"}, headers=headers))
    cases = ok(client.get(f"{API}/cases", params={"exact_total": "true"}, headers=headers))
    research = client.get(f"{API}/exports/research", params={"format": "ndjson"}, headers=headers)
    head = ok(client.get(f"{API}/custody/tree-head", headers=headers))
    return {
        "stats": stats,
        "taxonomy": taxonomy,
        "total": cases["total"],
        "ids": [c["id"] for c in cases["items"]],
        "research_rows": len(research.text.splitlines()),
        "head": head,
        "custody": ok(client.get(f"{API}/evidence/{item_id}/custody", headers=headers)),
    }


def _restricted_work(client: TestClient, coordinator: Account, victim_id: str) -> None:
    """A coordinator works on restricted cases: new, edited, a victim already counted elsewhere, files."""
    secret = create_case(
        client, coordinator, confidentiality="restricted", categories=["A.LIB"], primary_category="A.LIB"
    )
    involve(client, coordinator, secret["id"], person_id=victim_id, role="victim", victim_status="detained")
    current = client.get(f"{API}/cases/{secret['id']}", headers=coordinator.headers)
    edited = patch(
        client, coordinator, f"{API}/cases/{secret['id']}", current.headers["etag"], status="verified"
    )
    assert edited.status_code == 200, edited.text
    item = ok(
        client.put(
            f"{API}/cases/{secret['id']}/evidence",
            content=os.urandom(4096),
            headers={**coordinator.headers, "Content-Type": "application/octet-stream"},
        ),
        201,
    )
    for _ in range(3):
        assert (
            client.get(f"{API}/evidence/{item['id']}/content", headers=coordinator.headers).status_code == 200
        )
    ok(client.post(f"{API}/evidence/{item['id']}/verify", headers=coordinator.headers))


def test_restricted_work_moves_nothing_a_researcher_counts_or_reads_of_the_ledger(
    client: TestClient,
    documenter: Account,
    coordinator: Account,
    researcher: Account,
    clock: Callable[[timedelta], None],
) -> None:
    open_case = create_case(client, documenter, categories=["A.LIB"], primary_category="A.LIB")
    victim = create_person(client, documenter)
    involve(
        client, documenter, open_case["id"], person_id=victim["id"], role="victim", victim_status="detained"
    )
    item = ok(
        client.put(
            f"{API}/cases/{open_case['id']}/evidence",
            content=b"a scan of the dismissal order",
            headers={**documenter.headers, "Content-Type": "application/octet-stream"},
        ),
        201,
    )
    clock(timedelta(hours=2))  # two hours later: everything above is in the researcher's hourly view
    before = _researcher_view(client, researcher, item["id"])
    assert before["total"] == 1 and before["stats"]["year"]["total_people"] == 1
    assert [e["action"] for e in before["custody"]] == ["received"]
    live_before = ok(client.get(f"{API}/custody/tree-head", headers=coordinator.headers))

    _restricted_work(client, coordinator, victim["id"])

    assert _researcher_view(client, researcher, item["id"]) == before
    # The same work does show to those who see everything: the comparison above could have failed.
    live_after = ok(client.get(f"{API}/custody/tree-head", headers=coordinator.headers))
    assert live_after["tree_size"] > live_before["tree_size"] >= before["head"]["tree_size"]
    coordinator_total = ok(
        client.get(f"{API}/cases", params={"exact_total": "true"}, headers=coordinator.headers)
    )
    assert coordinator_total["total"] == 2


def test_a_researcher_proves_a_visible_record_under_the_next_hourly_head(
    client: TestClient,
    documenter: Account,
    coordinator: Account,
    researcher: Account,
    clock: Callable[[timedelta], None],
) -> None:
    case = create_case(client, documenter)
    first = ok(
        client.put(
            f"{API}/cases/{case['id']}/evidence",
            content=b"first file",
            headers={**documenter.headers, "Content-Type": "application/octet-stream"},
        ),
        201,
    )
    clock(timedelta(hours=2))
    earlier = ok(client.get(f"{API}/custody/tree-head", headers=researcher.headers))
    check_signature(client, researcher, earlier)
    assert earlier["tree_size"] == 1 and earlier["timestamp_token"] is None
    # A record appended now is not in the researcher's view until its hour has passed.
    second = ok(
        client.put(
            f"{API}/cases/{case['id']}/evidence",
            content=b"second file",
            headers={**documenter.headers, "Content-Type": "application/octet-stream"},
        ),
        201,
    )
    assert ok(client.get(f"{API}/evidence/{second['id']}/custody", headers=researcher.headers)) == []
    (received,) = ok(client.get(f"{API}/evidence/{second['id']}/custody", headers=documenter.headers))
    too_far = client.get(
        f"{API}/custody/proof/inclusion",
        params={"leaf_index": received["leaf_index"], "tree_size": received["leaf_index"] + 1},
        headers=researcher.headers,
    )
    problem = ok(too_far, 422)
    assert problem["errors"][0]["field"] == "query.tree_size"
    assert str(received["leaf_index"] + 1) not in problem["errors"][0]["message"], (
        "the live size stays unsaid"
    )

    clock(timedelta(hours=4))
    later = ok(client.get(f"{API}/custody/tree-head", headers=researcher.headers))
    check_signature(client, researcher, later)
    assert later["tree_size"] == 2
    (seen,) = ok(client.get(f"{API}/evidence/{second['id']}/custody", headers=researcher.headers))
    assert seen == received
    leaf_hash = hashlib.sha256(b"\x00" + base64.b64decode(seen["leaf"])).digest()
    params = {"leaf_index": seen["leaf_index"], "tree_size": later["tree_size"]}
    proof = ok(client.get(f"{API}/custody/proof/inclusion", params=params, headers=researcher.headers))
    path = [bytes.fromhex(h) for h in proof["audit_path"]]
    root = rfc9162_inclusion_root(seen["leaf_index"], later["tree_size"], leaf_hash, path)
    assert root is not None and root.hex() == later["root_hash"]
    params = {"first": earlier["tree_size"], "second": later["tree_size"]}
    consistency = ok(
        client.get(f"{API}/custody/proof/consistency", params=params, headers=researcher.headers)
    )
    assert rfc9162_consistent(
        earlier["tree_size"],
        later["tree_size"],
        bytes.fromhex(earlier["root_hash"]),
        bytes.fromhex(later["root_hash"]),
        [bytes.fromhex(h) for h in consistency["consistency_path"]],
    )
    # The earlier hourly head is served again byte for byte; a size that was never an hour's is not.
    again = client.get(f"{API}/custody/tree-head", params={"tree_size": 1}, headers=researcher.headers)
    assert ok(again) == earlier
    assert first["id"] != second["id"]


def test_a_researcher_cannot_fetch_heads_signed_between_the_hours(
    client: TestClient,
    documenter: Account,
    coordinator: Account,
    researcher: Account,
    clock: Callable[[timedelta], None],
) -> None:
    case = create_case(client, documenter)
    for n in range(3):
        ok(
            client.put(
                f"{API}/cases/{case['id']}/evidence",
                content=f"file {n}".encode(),
                headers={**documenter.headers, "Content-Type": "application/octet-stream"},
            ),
            201,
        )
        # A coordinator's look at the live ledger stores a signed head of each size, dated to the moment.
        ok(client.get(f"{API}/custody/tree-head", headers=coordinator.headers))
    clock(timedelta(hours=2))
    for size in (1, 2):
        assert ok(
            client.get(f"{API}/custody/tree-head", params={"tree_size": size}, headers=coordinator.headers)
        )
        hidden = client.get(
            f"{API}/custody/tree-head", params={"tree_size": size}, headers=researcher.headers
        )
        assert ok(hidden, 404)["detail"] == f"No tree head was signed for tree size {size}."
    assert ok(client.get(f"{API}/custody/tree-head", headers=researcher.headers))["tree_size"] == 3
