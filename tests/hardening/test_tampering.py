"""A tampering campaign: random flipped bytes in stored blobs, in ledger rows and in an exported bundle. Every
flip must be caught, and the damaged item named. The CI budget is small; PRECEDENT_TAMPER_FLIPS raises it and
PRECEDENT_TAMPER_SEED replays a run."""

from __future__ import annotations

import io
import os
import random
import struct
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.context import AppContext
from api.custody import check
from evidence_store.treehead import load_public_key
from evidence_store.verify import verify_bag_zip
from tests.conftest import Account
from tests.factories import API, create_case, make_jpeg, ok, put_raw, upload

FLIPS = int(os.environ.get("PRECEDENT_TAMPER_FLIPS", "6"))
SEED = int(os.environ.get("PRECEDENT_TAMPER_SEED", "20261125"))


def _blob_path(ctx: AppContext, digest: str) -> Path:
    hex_ = digest.removeprefix("sha256:")
    return ctx.settings.evidence_dir / "sha256" / hex_[:2] / hex_[2:4] / hex_


def _flip(path: Path, offset: int) -> None:
    path.chmod(0o644)
    with path.open("r+b") as file:
        file.seek(offset)
        byte = file.read(1)[0]
        file.seek(offset)
        file.write(bytes([byte ^ 0x01]))


def _drop_append_only(ctx: AppContext) -> None:
    """What an intruder with the database owner's rights could do."""
    with ctx.db.engine.begin() as conn:
        if ctx.db.is_sqlite:
            conn.execute(sa.text("DROP TRIGGER IF EXISTS custody_event_no_update"))
        else:
            conn.execute(sa.text("ALTER TABLE custody_event DISABLE TRIGGER custody_event_append_only"))


def _findings(ctx: AppContext) -> list[check.Finding]:
    return check.verify_everything(ctx=ctx).findings


def test_every_flipped_byte_in_blobs_and_ledger_rows_is_caught_and_named(
    client: TestClient, ctx: AppContext, coordinator: Account
) -> None:
    rng = random.Random(SEED)
    case = create_case(client, coordinator)
    items = [
        upload(client, coordinator, case["id"], make_jpeg(color=(n * 40, 10, 10)), filename=f"p{n}.jpg")
        for n in range(3)
    ]
    items.append(put_raw(client, coordinator, case["id"], rng.randbytes(300_000), filename="clip.mp4"))
    ok(client.get(f"{API}/custody/tree-head", headers=coordinator.headers))
    assert _findings(ctx) == []
    _drop_append_only(ctx)
    with ctx.db.engine.connect() as conn:
        ledger_size = conn.execute(sa.text("SELECT count(*) FROM custody_event")).scalar_one()
    caught = 0
    for _ in range(FLIPS):
        # a stored file
        item = rng.choice(items)
        path = _blob_path(ctx, item["digest"])
        offset = rng.randrange(path.stat().st_size)
        _flip(path, offset)
        findings = _findings(ctx)
        assert any(item["id"] in f.item and "do not match" in f.message for f in findings), (offset, findings)
        _flip(path, offset)  # put it back: the next round starts clean
        caught += 1
        # a ledger row's hashed bytes
        index = rng.randrange(ledger_size)
        with ctx.db.engine.begin() as conn:
            leaf = bytes(
                conn.execute(
                    sa.text("SELECT leaf FROM custody_event WHERE leaf_index = :i"), {"i": index}
                ).scalar_one()
            )
            position = rng.randrange(len(leaf))
            forged = leaf[:position] + bytes([leaf[position] ^ 0x01]) + leaf[position + 1 :]
            conn.execute(
                sa.text("UPDATE custody_event SET leaf = :l WHERE leaf_index = :i"), {"l": forged, "i": index}
            )
        findings = _findings(ctx)
        assert any(f.item == f"leaf {index}" for f in findings), (index, position, findings)
        with ctx.db.engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE custody_event SET leaf = :l WHERE leaf_index = :i"), {"l": leaf, "i": index}
            )
        caught += 1
    assert (
        _findings(ctx) == []
    )  # every repair restored a clean store: the checks have no memory of old damage
    print(f"tampering: {caught} flips in blobs and ledger rows, {caught} caught")


def test_every_flipped_byte_in_an_exported_bundle_is_caught(
    client: TestClient, coordinator: Account, tmp_path: Path
) -> None:
    rng = random.Random(SEED + 1)
    case = create_case(client, coordinator)
    upload(client, coordinator, case["id"], make_jpeg(), filename="arrest.jpg")
    upload(client, coordinator, case["id"], b"Order no. 17\n" * 50, filename="order.txt")
    bundle = client.get(
        f"{API}/cases/{case['id']}/bundle", params={"audience": "internal"}, headers=coordinator.headers
    )
    assert bundle.status_code == 200
    blob = bundle.content
    key = load_public_key(
        ok(client.get(f"{API}/custody/key", headers=coordinator.headers))["public_key_pem"].encode()
    )
    clean = tmp_path / "clean.zip"
    clean.write_bytes(blob)
    assert verify_bag_zip(clean, public_key=key).ok
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        original = {name: archive.read(name) for name in archive.namelist()}
        spans = []
        for info in archive.infolist():
            name_len, extra_len = struct.unpack(
                "<HH", blob[info.header_offset + 26 : info.header_offset + 30]
            )
            start = info.header_offset + 30 + name_len + extra_len
            spans.append((info.filename, start, start + info.compress_size))
    caught = named = harmless = 0
    for n in range(FLIPS * 4):
        offset = rng.randrange(len(blob))
        damaged = tmp_path / f"damaged-{n}.zip"
        damaged.write_bytes(blob[:offset] + bytes([blob[offset] ^ 0x01]) + blob[offset + 1 :])
        report = verify_bag_zip(damaged, public_key=key)
        inside = next((name for name, start, end in spans if start <= offset < end), None)
        if inside is not None:
            # A file's stored bytes: always caught, and the file named.
            assert not report.ok, f"flip at {offset} in {inside} went unnoticed"
            member = inside.split("/", 1)[1]
            assert any(member in str(p) for p in report.problems), (offset, inside, report.problems)
            caught += 1
            named += 1
        elif report.ok:
            # Zip bookkeeping (e.g. "version made by"): passing is right only if no file's bytes changed.
            with zipfile.ZipFile(damaged) as archive:
                assert {name: archive.read(name) for name in archive.namelist()} == original, offset
            harmless += 1
        else:
            caught += 1
    assert caught + harmless == FLIPS * 4
    print(
        f"tampering: {FLIPS * 4} flips in a bundle: {caught} caught ({named} inside a file, each named), "
        f"{harmless} in zip bookkeeping that changed no file"
    )


@pytest.mark.skipif(not os.environ.get("PRECEDENT_TAMPER_EXHAUSTIVE"), reason="make stress: flips every byte")
def test_no_single_bit_flip_anywhere_in_a_bundle_changes_its_content_unnoticed(
    client: TestClient, coordinator: Account, tmp_path: Path
) -> None:
    case = create_case(client, coordinator)
    upload(client, coordinator, case["id"], make_jpeg(), filename="arrest.jpg")
    upload(client, coordinator, case["id"], b"Order no. 17\n" * 50, filename="order.txt")
    blob = client.get(f"{API}/cases/{case['id']}/bundle", headers=coordinator.headers).content
    key = load_public_key(
        ok(client.get(f"{API}/custody/key", headers=coordinator.headers))["public_key_pem"].encode()
    )
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        original = {name: archive.read(name) for name in archive.namelist()}
    damaged, missed = tmp_path / "damaged.zip", []
    for offset in range(len(blob)):
        for bit in (0x01, 0x80):
            damaged.write_bytes(blob[:offset] + bytes([blob[offset] ^ bit]) + blob[offset + 1 :])
            if verify_bag_zip(damaged, public_key=key).ok:
                with zipfile.ZipFile(damaged) as archive:
                    if {name: archive.read(name) for name in archive.namelist()} != original:
                        missed.append((offset, bit))
    assert missed == []
    print(f"tampering: {2 * len(blob)} single-bit flips over every byte of a bundle, none missed")
