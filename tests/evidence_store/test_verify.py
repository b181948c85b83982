"""The offline verifier: bundles (zip and folder) and store copies, as a library and as a command."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evidence_store.bag import BagWriter
from evidence_store.binding import MANIFEST_PATH, BundleMember, bundle_manifest
from evidence_store.blobstore import LocalBlobStore
from evidence_store.canonical import canonical_json
from evidence_store.merkle import MerkleTree, leaf_hash
from evidence_store.treehead import SignedTreeHead, TreeHead, key_id, public_key_pem
from evidence_store.tsp import build_timestamp_request
from evidence_store.verify import (
    VerificationInputError,
    VerificationReport,
    custody_bundle_files,
    event_line,
    verify_bag_dir,
    verify_bag_zip,
    verify_path,
    verify_store_dir,
)
from tests.evidence_store.conftest_ledger import LoopbackTsa, make_tsa

BAG = "case-42_2024-05-01"
PHOTO = os.urandom(200_000)
TESTIMONY = "Мяне звольнілі за ўдзел у прафсаюзе.\n".encode() * 50
LEDGER_SIZE = 40
CASE_EVENTS = (3, 7, 8, 39)
PROJECT_ROOT = Path(__file__).resolve().parents[2]


EXPORT_ID = "5b0c1f3e-8f5e-4f7e-9a51-7d0e5f1c2a10"
PHOTO_ID = "0f4b7a52-3c1d-4e8b-8a6f-2b9d1c3e4f50"
#: What the server enters in the ledger before it streams the bundle: every member with its digest.
MANIFEST = bundle_manifest(
    export_id=EXPORT_ID,
    audience="internal",
    exported_at="2024-05-01T12:59:00.000Z",
    case={"id": "9a1e2d3c-4b5a-4f6e-8d7c-1a2b3c4d5e6f", "reference": "case-42"},
    members=[
        BundleMember(
            path="data/exhibits/photo.jpg",
            sha256=hashlib.sha256(PHOTO).hexdigest(),
            size=len(PHOTO),
            role="exhibit",
            fields={"exhibit_id": "E-1", "evidence_id": PHOTO_ID, "derived_from": None},
        ),
        BundleMember(
            path="data/records/testimony.txt",
            sha256=hashlib.sha256(TESTIMONY).hexdigest(),
            size=len(TESTIMONY),
            role="record",
            fields={},
        ),
    ],
)
#: Ledger records that receive a stored blob: index -> (evidence id, bytes).
RECEIVED = {3: (PHOTO_ID, PHOTO), 5: ("t", TESTIMONY), 9: ("e", b""), 11: ("b", b"third blob")}
MANIFEST_EVENT = 39


def _record(i: int) -> dict[str, object]:
    record: dict[str, object] = {
        "seq": i,
        "action": "hashed",
        "actor": f"user-{i % 5}",
        "object_sha256": hashlib.sha256(i.to_bytes(4, "big")).hexdigest(),
        "timestamp": f"2024-05-01T12:{i:02d}:00.000Z",
        "notes": "фота з пратэсту",
    }
    if i in RECEIVED:
        evidence, data = RECEIVED[i]
        record |= {
            "action": "received",
            "evidence": evidence,
            "object": f"sha256:{hashlib.sha256(data).hexdigest()}",
        }
    if i == MANIFEST_EVENT:
        details = {"export": EXPORT_ID, "audience": "internal", "kind": "bundle"}
        record |= {
            "action": "exported",
            "object": f"sha256:{hashlib.sha256(MANIFEST).hexdigest()}",
            "details": details,
        }
    return record


@dataclass
class Ledger:
    """A custody ledger with a signed (and time-stamped) tree head."""

    key: Ed25519PrivateKey
    leaves: list[bytes]
    tree: MerkleTree
    signed: SignedTreeHead
    tsr: bytes | None

    def bundle_files(self, indexes: tuple[int, ...] = CASE_EVENTS) -> dict[str, bytes]:
        return custody_bundle_files(
            tree=self.tree,
            signed_head=self.signed,
            public_key=self.key.public_key(),
            leaves={i: self.leaves[i] for i in indexes},
            timestamp_response=self.tsr,
        )


def _make_ledger(key: Ed25519PrivateKey, tsa: LoopbackTsa | None) -> Ledger:
    leaves = [canonical_json(_record(i)) for i in range(LEDGER_SIZE)]
    tree = MerkleTree(leaf_hash(leaf) for leaf in leaves)
    head = TreeHead(LEDGER_SIZE, tree.root(), "2024-05-01T13:00:00.000Z")
    signed = SignedTreeHead.sign(head, key)
    tsr = None
    if tsa is not None:
        tsr = tsa.reply(build_timestamp_request(hashlib.sha256(head.signed_bytes()).digest()).der)
    return Ledger(key, leaves, tree, signed, tsr)


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> LoopbackTsa | None:
    if shutil.which("openssl") is None:
        return None  # the time-stamp checks are then skipped; everything else still runs
    return make_tsa(tmp_path_factory.mktemp("tsa"))


@pytest.fixture(scope="module")
def ledger(tsa: LoopbackTsa | None) -> Ledger:
    return _make_ledger(Ed25519PrivateKey.generate(), tsa)


def _bag_bytes(payload: dict[str, bytes]) -> bytes:
    writer = BagWriter(BAG, created=datetime(2024, 5, 1, tzinfo=UTC))

    def stream() -> Iterator[bytes]:
        for path, data in payload.items():
            yield from writer.add_payload(path, [data])
        yield from writer.finish({"Source-Organization": "BKDP", "External-Identifier": "case-42"})

    return b"".join(stream())


def _payload(ledger: Ledger, custody: dict[str, bytes] | None = None) -> dict[str, bytes]:
    files = {
        "exhibits/photo.jpg": PHOTO,
        "records/testimony.txt": TESTIMONY,
        "records/manifest.json": MANIFEST,
    }
    files |= {f"custody/{name}": data for name, data in (custody or ledger.bundle_files()).items()}
    return files


@pytest.fixture
def bundle(ledger: Ledger, tmp_path: Path) -> Path:
    path = tmp_path / "bundle.zip"
    path.write_bytes(_bag_bytes(_payload(ledger)))
    return path


@pytest.fixture
def key_file(ledger: Ledger, tmp_path: Path) -> Path:
    """The organisation's published key, as a recipient holds it."""
    path = tmp_path / "published.pem"
    path.write_bytes(public_key_pem(ledger.key))
    return path


def _extract(zip_path: Path, into: Path) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(into)
    return into / BAG


def _flip_byte(path: Path, offset: int) -> None:
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _items(report: VerificationReport) -> list[str]:
    return [p.item for p in report.problems]


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evidence_store", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT_ROOT,
    )


def _tampered_events(
    ledger: Ledger, change: Callable[[dict[str, object]], None], index: int
) -> dict[str, bytes]:
    """Return bundle custody files whose events.jsonl line for ``index`` was changed."""
    files = ledger.bundle_files()
    lines = []
    for line in files["events.jsonl"].splitlines():
        event = json.loads(line)
        if event["leaf_index"] == index:
            change(event)
        lines.append(json.dumps(event, ensure_ascii=False).encode())
    files["events.jsonl"] = b"\n".join(lines) + b"\n"
    return files


# --------------------------------------------------------------------------- clean bundles


def test_clean_bundle_zip_verifies(bundle: Path, ledger: Ledger) -> None:
    report = verify_bag_zip(bundle)
    assert report.ok, report.problems
    text = "\n".join(report.checked)
    # 2 files, the manifest, 7 custody files (4 JSON/PEM, 3 for checking by hand), and the time-stamp token
    files = 10 + (ledger.tsr is not None)
    assert f"{files} of {files} payload files" in text
    assert "Payload-Oxum" in text
    assert f"tree head signed by key {key_id(ledger.key)}: {LEDGER_SIZE} records" in text
    assert f"{len(CASE_EVENTS)} of {len(CASE_EVENTS)} custody events proven included" in text
    if ledger.tsr is not None:
        assert "RFC 3161 time-stamp over the tree head" in text
    assert any("key shipped in the files" in note for note in report.notes)
    assert "1 of 1 exhibits and statements bound to proven custody events" in text


def test_clean_bundle_folder_verifies(bundle: Path, tmp_path: Path) -> None:
    report = verify_bag_dir(_extract(bundle, tmp_path / "out"))
    assert report.ok, report.problems
    assert report.kind == "bag-dir"


def test_supplied_public_key_replaces_the_shipped_one(bundle: Path, ledger: Ledger) -> None:
    report = verify_bag_zip(bundle, public_key=ledger.key.public_key())
    assert report.ok, report.problems
    assert not any("key shipped" in note for note in report.notes)


def test_bag_without_custody_is_refused_as_bound_to_nothing(tmp_path: Path) -> None:
    path = tmp_path / "plain.zip"
    path.write_bytes(_bag_bytes({"exhibits/photo.jpg": PHOTO}))
    report = verify_bag_zip(path)
    assert _items(report) == ["data/custody/", MANIFEST_PATH]


def test_bag_made_by_bagit_python_verifies(tmp_path: Path) -> None:
    import bagit

    folder = tmp_path / "made-by-loc"
    (folder / "фото").mkdir(parents=True)
    (folder / "фото" / "знімак.jpg").write_bytes(PHOTO)
    (folder / "50% discount.txt").write_bytes(b"percent in a name")
    bagit.make_bag(str(folder), {"Contact-Name": "Test"}, checksums=["sha256", "sha512"])
    report = verify_bag_dir(folder)
    # Every BagIt check passes; only the binding to a signed ledger is missing, and that refuses it.
    assert _items(report) == ["data/custody/", MANIFEST_PATH], report.problems


# --------------------------------------------------------------------------- damaged payload


def test_flipped_payload_byte_in_the_zip_is_named(bundle: Path) -> None:
    data = bundle.read_bytes()
    offset = data.index(PHOTO[1000:1100]) + 50
    _flip_byte(bundle, offset)
    report = verify_bag_zip(bundle)
    assert set(_items(report)) == {"data/exhibits/photo.jpg"}
    problem = next(p for p in report.problems if "CRC-32" not in p.message)
    assert problem.expected == hashlib.sha256(PHOTO).hexdigest()
    flipped = bytearray(PHOTO)
    flipped[1050] ^= 0x01
    assert problem.found == hashlib.sha256(flipped).hexdigest()
    # The zip's own check fails too: unzip tools would refuse the entry.
    assert any("CRC-32" in p.message for p in report.problems)


def test_flipped_payload_byte_fails_the_cli_naming_the_file(bundle: Path) -> None:
    _flip_byte(bundle, bundle.read_bytes().index(TESTIMONY[:64]) + 10)
    result = _run_cli("verify", str(bundle))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL  data/records/testimony.txt: content does not match" in result.stdout
    assert f"expected {hashlib.sha256(TESTIMONY).hexdigest()}" in result.stdout


def test_flipped_payload_byte_in_a_folder_is_named(bundle: Path, tmp_path: Path) -> None:
    folder = _extract(bundle, tmp_path / "out")
    _flip_byte(folder / "data/exhibits/photo.jpg", 0)
    # Named twice: its bag manifest line and the signed bundle manifest both disagree with it.
    assert set(_items(verify_bag_dir(folder))) == {"data/exhibits/photo.jpg"}


def test_missing_and_unlisted_payload_files_are_named(bundle: Path, tmp_path: Path) -> None:
    folder = _extract(bundle, tmp_path / "out")
    (folder / "data/exhibits/photo.jpg").unlink()
    (folder / "data/exhibits/planted.jpg").write_bytes(b"not in any manifest")
    report = verify_bag_dir(folder)
    assert set(_items(report)) == {"data/exhibits/photo.jpg", "data/exhibits/planted.jpg", "bag-info.txt"}
    messages = " ".join(p.message for p in report.problems)
    assert "listed in manifest-sha256.txt but missing" in messages
    assert "not listed in manifest-sha512.txt" in messages
    assert "Payload-Oxum" in messages


def test_edited_tag_file_is_caught_by_the_tag_manifest(bundle: Path, tmp_path: Path) -> None:
    folder = _extract(bundle, tmp_path / "out")
    info = folder / "bag-info.txt"
    info.write_text(info.read_text().replace("case-42", "case-43"))
    report = verify_bag_dir(folder)
    assert set(_items(report)) == {"bag-info.txt"}
    assert "tagmanifest-sha256.txt" in report.problems[0].message


def test_unreadable_zip_is_a_failure(tmp_path: Path) -> None:
    path = tmp_path / "truncated.zip"
    path.write_bytes(b"PK\x03\x04 this is not a whole zip")
    report = verify_bag_zip(path)
    assert not report.ok
    assert "not a readable zip" in report.problems[0].message


# --------------------------------------------------------------------------- path tricks in the zip


def _rezip(source: Path, target: Path, extra: dict[str, bytes], symlink: str | None = None) -> None:
    """Copy a bundle zip, adding entries (and optionally a symbolic link entry)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            new.writestr(info, old.read(info))
        for name, data in extra.items():
            new.writestr(name, data)
        if symlink is not None:
            link = zipfile.ZipInfo(symlink)
            link.external_attr = (0o120777 << 16) | 0
            new.writestr(link, "/etc/passwd")


@pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")
def test_path_tricks_in_the_zip_are_reported(bundle: Path, tmp_path: Path) -> None:
    tricked = tmp_path / "tricked.zip"
    _rezip(
        bundle,
        tricked,
        {
            f"{BAG}/data/../../escape.txt": b"x",
            f"{BAG}/data/a\\b.txt": b"x",
            "loose.txt": b"x",
            f"{BAG}/data/exhibits/photo.jpg": b"a second entry with the same name",
        },
        symlink=f"{BAG}/data/link",
    )
    report = verify_bag_zip(tricked)
    problems = {p.item: p.message for p in report.problems}
    assert "unsafe zip entry" in problems[f"{BAG}/data/../../escape.txt"]
    assert "backslash" in problems[f"{BAG}/data/a\\b.txt"]
    assert "outside the bag folder" in problems["loose.txt"]
    assert "appears 2 times" in problems[f"{BAG}/data/exhibits/photo.jpg"]
    assert "symbolic link" in problems["data/link"]


def test_two_top_level_folders_are_reported(bundle: Path, tmp_path: Path) -> None:
    tricked = tmp_path / "two.zip"
    _rezip(bundle, tricked, {"other-bag/bagit.txt": b"BagIt-Version: 1.0\n"})
    report = verify_bag_zip(tricked)
    assert "(zip)" in _items(report)


def test_manifest_lines_escaping_the_bag_are_reported(bundle: Path, tmp_path: Path) -> None:
    folder = _extract(bundle, tmp_path / "out")
    manifest = folder / "manifest-sha256.txt"
    manifest.write_text(
        manifest.read_text() + f"{'0' * 64}  data/../../../etc/passwd\n{'0' * 64}  bag-info.txt\n"
    )
    report = verify_bag_dir(folder)
    messages = [p.message for p in report.problems if p.item.startswith("manifest-sha256.txt line")]
    assert any("unsafe path" in m for m in messages)
    assert any("outside data/" in m for m in messages)


# --------------------------------------------------------------------------- custody


def test_altered_event_leaf_is_named_by_leaf_index(ledger: Ledger, tmp_path: Path) -> None:
    def rewrite_actor(event: dict[str, object]) -> None:
        record = json.loads(base64.b64decode(str(event["leaf"])))
        record["actor"] = "someone-else"
        event["leaf"] = base64.b64encode(canonical_json(record)).decode()
        event["actor"] = "someone-else"
        del event["leaf_hash"]

    path = tmp_path / "forged.zip"
    path.write_bytes(_bag_bytes(_payload(ledger, _tampered_events(ledger, rewrite_actor, 7))))
    report = verify_bag_zip(path)
    assert _items(report) == ["leaf 7"]
    assert "the proof holds for the original leaf" in report.problems[0].message
    assert report.problems[0].expected == leaf_hash(ledger.leaves[7]).hex()


def test_flipped_byte_in_an_event_leaf_is_named(bundle: Path, ledger: Ledger, tmp_path: Path) -> None:
    folder = _extract(bundle, tmp_path / "out")
    events = folder / "data/custody/events.jsonl"
    lines = events.read_bytes().splitlines(keepends=True)
    event = json.loads(lines[1])
    leaf = bytearray(base64.b64decode(event["leaf"]))
    leaf[10] ^= 0x01
    event["leaf"] = base64.b64encode(bytes(leaf)).decode()
    lines[1] = json.dumps(event, ensure_ascii=False).encode() + b"\n"
    events.write_bytes(b"".join(lines))
    report = verify_bag_dir(folder)
    named = _items(report)
    assert "data/custody/events.jsonl" in named  # the payload manifest notices the file changed
    assert f"leaf {CASE_EVENTS[1]}" in named  # and the custody check names the event
    leaf_problem = next(p for p in report.problems if p.item == f"leaf {CASE_EVENTS[1]}")
    assert leaf_problem.found == leaf_hash(bytes(leaf)).hex()


def test_changed_shown_field_is_named(ledger: Ledger, tmp_path: Path) -> None:
    def change_shown_actor(event: dict[str, object]) -> None:
        event["actor"] = "nobody"

    path = tmp_path / "shown.zip"
    path.write_bytes(_bag_bytes(_payload(ledger, _tampered_events(ledger, change_shown_actor, 3))))
    report = verify_bag_zip(path)
    # Leaf 3 receives the photo: once it is not proven, neither is the photo.
    assert _items(report) == ["leaf 3", "data/exhibits/photo.jpg"]
    problem = report.problems[0]
    assert "shown field 'actor'" in problem.message
    assert (problem.expected, problem.found) == ('"user-3"', '"nobody"')


def test_event_without_proof_and_bad_lines_are_reported(ledger: Ledger, tmp_path: Path) -> None:
    files = ledger.bundle_files()
    files["events.jsonl"] += event_line(12, ledger.leaves[12]) + b"{not json\n"
    path = tmp_path / "extra.zip"
    path.write_bytes(_bag_bytes(_payload(ledger, files)))
    problems = {p.item: p.message for p in verify_bag_zip(path).problems}
    assert problems["leaf 12"] == "no inclusion proof in proofs.json"
    assert "malformed event line" in problems[f"data/custody/events.jsonl line {len(CASE_EVENTS) + 2}"]


def test_wrong_public_key_fails_the_signature(bundle: Path, tmp_path: Path) -> None:
    other = Ed25519PrivateKey.generate()
    key_file = tmp_path / "published.pem"
    key_file.write_bytes(public_key_pem(other))
    report = verify_bag_zip(bundle, public_key=other.public_key())
    problems = {p.item: p for p in report.problems}
    assert "names signing key" in problems["data/custody/tree-head.json"].message
    assert problems["data/custody/public-key.pem"].expected == key_id(other)
    result = _run_cli("verify", str(bundle), "--public-key", str(key_file))
    assert result.returncode == 1
    assert "FAIL  data/custody/tree-head.json: signature check failed" in result.stdout


def test_head_signed_by_an_impostor_passes_only_without_the_published_key(
    ledger: Ledger, tsa: LoopbackTsa | None, tmp_path: Path
) -> None:
    impostor = _make_ledger(Ed25519PrivateKey.generate(), None)
    path = tmp_path / "impostor.zip"
    path.write_bytes(_bag_bytes(_payload(impostor)))
    assert verify_bag_zip(path).ok  # self-consistent...
    report = verify_bag_zip(path, public_key=ledger.key.public_key())
    assert "data/custody/tree-head.json" in _items(report)  # ...but not signed by the organisation


def test_altered_tree_head_fails_signature_and_proofs(ledger: Ledger, tmp_path: Path) -> None:
    files = ledger.bundle_files()
    head = json.loads(files["tree-head.json"])
    head["tree_size"] = LEDGER_SIZE + 1
    files["tree-head.json"] = json.dumps(head).encode()
    path = tmp_path / "head.zip"
    path.write_bytes(_bag_bytes(_payload(ledger, files)))
    report = verify_bag_zip(path)
    named = _items(report)
    assert "data/custody/tree-head.json" in named
    assert {f"leaf {i}" for i in CASE_EVENTS} <= set(named)  # proofs are for another tree size


def test_timestamp_of_another_head_fails(ledger: Ledger, tsa: LoopbackTsa | None, tmp_path: Path) -> None:
    if tsa is None:
        pytest.skip("needs the openssl command")
    files = ledger.bundle_files()
    files["tree-head.tsr"] = tsa.reply(build_timestamp_request(hashlib.sha256(b"another head").digest()).der)
    path = tmp_path / "tsr.zip"
    path.write_bytes(_bag_bytes(_payload(ledger, files)))
    report = verify_bag_zip(path)
    assert _items(report) == ["data/custody/tree-head.tsr"]
    assert "time-stamp token check failed" in report.problems[0].message


def test_custody_files_without_a_tree_head_are_reported(ledger: Ledger, tmp_path: Path) -> None:
    files = ledger.bundle_files()
    del files["tree-head.json"]
    path = tmp_path / "headless.zip"
    path.write_bytes(_bag_bytes(_payload(ledger, files)))
    assert _items(verify_bag_zip(path)) == ["data/custody/tree-head.json", MANIFEST_PATH]


def test_custody_bundle_files_refuses_leaves_outside_the_signed_tree(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="leaf 5"):
        custody_bundle_files(
            tree=ledger.tree,
            signed_head=ledger.signed,
            public_key=ledger.key.public_key(),
            leaves={5: b"not the leaf"},
        )


def test_event_line_shows_the_record_fields(ledger: Ledger) -> None:
    line = json.loads(event_line(3, ledger.leaves[3]))
    assert line["leaf_index"] == 3
    assert base64.b64decode(line["leaf"]) == ledger.leaves[3]
    assert line["leaf_hash"] == leaf_hash(ledger.leaves[3]).hex()
    assert line["actor"] == "user-3"
    with pytest.raises(ValueError, match="reserved"):
        event_line(0, b'{"leaf":"x"}')
    assert json.loads(event_line(0, b"\x00binary")).keys() == {"leaf_index", "leaf", "leaf_hash"}


# --------------------------------------------------------------------------- store copies


@pytest.fixture
def store_copy(ledger: Ledger, tmp_path: Path) -> Path:
    store = LocalBlobStore(tmp_path / "store", fsync=False)
    for blob in (PHOTO, TESTIMONY, b"", b"third blob"):
        with store.begin_write() as writer:
            writer.write(blob)
            writer.commit()
    custody = store.root / "custody"
    custody.mkdir()
    (custody / "ledger.jsonl").write_bytes(
        b"".join(event_line(i, leaf) for i, leaf in enumerate(ledger.leaves))
    )
    (custody / "tree-head.json").write_bytes(ledger.signed.to_json())
    (custody / "public-key.pem").write_bytes(public_key_pem(ledger.key))
    if ledger.tsr is not None:
        (custody / "tree-head.tsr").write_bytes(ledger.tsr)
    return store.root


def _blob_path(root: Path, data: bytes) -> Path:
    hex_digest = hashlib.sha256(data).hexdigest()
    return root / "sha256" / hex_digest[:2] / hex_digest[2:4] / hex_digest


def test_clean_store_copy_verifies_with_progress(store_copy: Path) -> None:
    calls: list[tuple[int, int]] = []
    report = verify_store_dir(store_copy, progress=lambda done, total: calls.append((done, total)))
    assert report.ok, report.problems
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    text = "\n".join(report.checked)
    assert "4 of 4 blobs hash to their names" in text
    assert f"Merkle root of the first {LEDGER_SIZE} ledger records equals the signed root" in text


def test_store_cli_exits_zero_and_shows_progress(store_copy: Path, key_file: Path) -> None:
    result = _run_cli("verify", str(store_copy), "--public-key", str(key_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hashed 4/4 blobs" in result.stderr
    assert "VERIFIED" in result.stdout


def test_corrupted_blob_is_named(store_copy: Path) -> None:
    path = _blob_path(store_copy, PHOTO)
    _flip_byte(path, 12345)
    report = verify_store_dir(store_copy)
    name = str(path.relative_to(store_copy))
    assert _items(report) == [name]
    assert report.problems[0].expected == hashlib.sha256(PHOTO).hexdigest()


def test_stray_file_in_the_blob_store_is_reported(store_copy: Path) -> None:
    misplaced = _blob_path(store_copy, b"third blob")
    target = store_copy / "sha256" / "00" / "00"
    target.mkdir(parents=True)
    shutil.copy(misplaced, target / misplaced.name)
    report = verify_store_dir(store_copy)
    assert _items(report) == [f"sha256/00/00/{misplaced.name}"]
    assert "unexpected file" in report.problems[0].message


def test_altered_ledger_record_fails_the_root_and_is_named(store_copy: Path, ledger: Ledger) -> None:
    ledger_file = store_copy / "custody" / "ledger.jsonl"
    lines = ledger_file.read_bytes().splitlines(keepends=True)
    record = _record(17) | {"actor": "rewritten"}
    forged = json.loads(event_line(17, canonical_json(record)))
    forged["leaf_hash"] = json.loads(lines[17])["leaf_hash"]  # keep the old hash: caught by the check
    lines[17] = json.dumps(forged).encode() + b"\n"
    ledger_file.write_bytes(b"".join(lines))
    report = verify_store_dir(store_copy)
    problems = {p.item: p for p in report.problems}
    assert set(problems) == {"leaf 17", "custody/ledger.jsonl"}
    assert "differs from the signed root" in problems["custody/ledger.jsonl"].message
    assert problems["custody/ledger.jsonl"].expected == ledger.signed.head.root_hash.hex()


def test_ledger_past_the_signed_head_is_a_note(store_copy: Path) -> None:
    with (store_copy / "custody" / "ledger.jsonl").open("ab") as ledger_file:
        ledger_file.write(event_line(LEDGER_SIZE, canonical_json(_record(LEDGER_SIZE))))
    report = verify_store_dir(store_copy)
    assert report.ok, report.problems
    assert any("1 ledger record(s) after the signed tree head" in note for note in report.notes)


def test_truncated_ledger_is_reported(store_copy: Path) -> None:
    ledger_file = store_copy / "custody" / "ledger.jsonl"
    lines = ledger_file.read_bytes().splitlines(keepends=True)
    ledger_file.write_bytes(b"".join(lines[:-1]))
    report = verify_store_dir(store_copy)
    assert _items(report) == ["custody/ledger.jsonl"]
    assert (report.problems[0].expected, report.problems[0].found) == (str(LEDGER_SIZE), str(LEDGER_SIZE - 1))


def test_reordered_ledger_is_reported(store_copy: Path) -> None:
    ledger_file = store_copy / "custody" / "ledger.jsonl"
    lines = ledger_file.read_bytes().splitlines(keepends=True)
    lines[4], lines[5] = lines[5], lines[4]
    ledger_file.write_bytes(b"".join(lines))
    named = _items(verify_store_dir(store_copy))
    assert {"leaf 5", "leaf 4", "custody/ledger.jsonl"} == set(named)


# --------------------------------------------------------------------------- command line


def test_cli_clean_bundle_exits_zero(bundle: Path, key_file: Path) -> None:
    result = _run_cli("verify", str(bundle), "--public-key", str(key_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith(
        "VERIFIED: every check passed; every file is bound to the signed ledger"
    )


def test_cli_without_the_published_key_never_says_verified(bundle: Path) -> None:
    result = _run_cli("verify", str(bundle))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "VERIFIED" not in result.stdout
    assert "FAIL  --public-key: not given" in result.stdout


def test_cli_json_output(bundle: Path, key_file: Path) -> None:
    result = _run_cli("verify", str(bundle), "--json", "--public-key", str(key_file))
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["kind"] == "bag-zip"
    assert report["problems"] == []


def test_cli_unusable_inputs_exit_two(tmp_path: Path) -> None:
    assert _run_cli("verify", str(tmp_path / "missing.zip")).returncode == 2
    (tmp_path / "empty").mkdir()
    assert _run_cli("verify", str(tmp_path / "empty")).returncode == 2
    (tmp_path / "bad.pem").write_text("not a key")
    assert (
        _run_cli("verify", str(tmp_path / "empty"), "--public-key", str(tmp_path / "bad.pem")).returncode == 2
    )


def test_verify_path_refuses_a_folder_that_is_neither(tmp_path: Path) -> None:
    with pytest.raises(VerificationInputError, match="neither a bag"):
        verify_path(tmp_path)


def test_verifier_loads_no_web_or_database_framework(bundle: Path, key_file: Path) -> None:
    code = (
        "import sys\n"
        "from evidence_store.__main__ import main\n"
        f"status = main(['verify', {str(bundle)!r}, '--public-key', {str(key_file)!r}])\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "bad = loaded & {'fastapi', 'starlette', 'pydantic', 'sqlmodel', 'sqlalchemy', 'boto3', 'api', 'schemas'}\n"
        "sys.exit(10 if bad else status)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=PROJECT_ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zip_is_read_without_extracting(
    bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    before = set(tmp_path.rglob("*"))
    assert verify_bag_zip(bundle).ok
    assert set(tmp_path.rglob("*")) == before


def test_zip_source_checks_deflated_entries_with_bounded_memory(tmp_path: Path) -> None:
    # A highly compressible payload: the reader inflates it in bounded steps.
    zeros = b"\x00" * 20_000_000
    writer = BagWriter(BAG)
    data = b"".join(
        [
            *writer.add_payload("records/zeros.json", [zeros], compress=True),
            *writer.finish({}),
        ]
    )
    path = tmp_path / "zeros.zip"
    path.write_bytes(data)
    assert len(data) < 100_000
    report = verify_bag_zip(path)
    assert "1 of 1 payload files (20000000 bytes) match" in "\n".join(report.checked)
    assert _items(report) == ["data/custody/", MANIFEST_PATH]  # read whole; refused only as unbound


# --------------------------------------------------------------------------- the TSA's certificate chain


def test_tsa_chain_is_checked_only_when_the_recipient_supplies_the_tsa_root(
    bundle: Path, key_file: Path, tsa: LoopbackTsa | None, tmp_path: Path
) -> None:
    if tsa is None:
        pytest.skip("needs the openssl command")
    without = _run_cli("verify", str(bundle), "--public-key", str(key_file))
    assert without.returncode == 0, without.stdout
    assert "the TSA's certificate chain was NOT checked" in without.stdout
    with_root = _run_cli("verify", str(bundle), "--public-key", str(key_file), "--tsa-ca", str(tsa.ca_file))
    assert with_root.returncode == 0, with_root.stdout + with_root.stderr
    assert "certificate chain valid at that time up to the TSA root you supplied" in with_root.stdout
    assert "NOT checked" not in with_root.stdout
    (tmp_path / "stranger").mkdir()
    stranger = make_tsa(tmp_path / "stranger")
    wrong = _run_cli("verify", str(bundle), "--public-key", str(key_file), "--tsa-ca", str(stranger.ca_file))
    assert wrong.returncode == 1
    assert "FAIL  data/custody/tree-head.tsr: time-stamp token check failed" in wrong.stdout
    (tmp_path / "junk.pem").write_text("not a certificate")
    junk = _run_cli(
        "verify", str(bundle), "--public-key", str(key_file), "--tsa-ca", str(tmp_path / "junk.pem")
    )
    assert junk.returncode == 2
    assert "cannot use the TSA CA certificate" in junk.stderr
