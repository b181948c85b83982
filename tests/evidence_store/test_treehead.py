"""Signed tree heads: the exact signed bytes, Ed25519 signatures, and the signing key file."""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evidence_store.treehead import (
    KeyFormatError,
    SignedTreeHead,
    TreeHead,
    TreeHeadFormatError,
    TreeHeadSignatureError,
    format_timestamp,
    key_id,
    load_or_create_signing_key,
    load_public_key,
    public_key_pem,
    sign_tree_head,
    tree_head_signed_bytes,
    verify_tree_head,
)

ROOT = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
HEAD = TreeHead(8, ROOT, "2024-05-01T12:00:00.123Z")
VERIFY_FILES = ("-in", "head.txt", "-sigfile", "head.sig")


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_signed_bytes_follow_the_documented_recipe() -> None:
    assert tree_head_signed_bytes(HEAD) == (
        b"precedent-tree-head-v1\n8\n"
        b"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328\n"
        b"2024-05-01T12:00:00.123Z\n"
    )
    assert HEAD.signed_bytes() == tree_head_signed_bytes(HEAD)


def test_signature_verifies_and_any_changed_field_breaks_it(key: Ed25519PrivateKey) -> None:
    signature = sign_tree_head(HEAD, key)
    verify_tree_head(HEAD, signature, key.public_key())
    for changed in (
        TreeHead(9, ROOT, HEAD.timestamp),
        TreeHead(8, bytes(32), HEAD.timestamp),
        TreeHead(8, ROOT, "2024-05-01T12:00:00.124Z"),
    ):
        with pytest.raises(TreeHeadSignatureError, match="does not verify"):
            verify_tree_head(changed, signature, key.public_key())


def test_wrong_key_fails(key: Ed25519PrivateKey) -> None:
    signature = sign_tree_head(HEAD, key)
    with pytest.raises(TreeHeadSignatureError):
        verify_tree_head(HEAD, signature, Ed25519PrivateKey.generate().public_key())


def test_truncated_signature_fails(key: Ed25519PrivateKey) -> None:
    with pytest.raises(TreeHeadSignatureError, match="64 bytes"):
        verify_tree_head(HEAD, sign_tree_head(HEAD, key)[:63], key.public_key())


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_an_outsider_can_verify_with_openssl(key: Ed25519PrivateKey, tmp_path: Path) -> None:
    # The recipe of the module docstring, with nothing from this code base but the three values.
    (tmp_path / "head.txt").write_bytes(
        f"precedent-tree-head-v1\n{HEAD.tree_size}\n{HEAD.root_hash.hex()}\n{HEAD.timestamp}\n".encode()
    )
    (tmp_path / "head.sig").write_bytes(sign_tree_head(HEAD, key))
    (tmp_path / "public-key.pem").write_bytes(public_key_pem(key))
    result = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "public-key.pem", "-rawin", *VERIFY_FILES],
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert b"Signature Verified Successfully" in result.stdout


@pytest.mark.parametrize(
    "timestamp",
    [
        "2024-05-01T12:00:00Z",
        "2024-05-01T12:00:00.123456Z",
        "2024-05-01T12:00:00.123+00:00",
        "2024-05-01 12:00:00.123Z",
        "2024-02-30T12:00:00.000Z",
        "2024-05-01T12:00:00.١٢٣Z",
        "",
    ],
)
def test_timestamps_other_than_utc_milliseconds_are_refused(timestamp: str) -> None:
    with pytest.raises(TreeHeadFormatError):
        TreeHead(1, ROOT, timestamp)


@pytest.mark.parametrize(("size", "root"), [(-1, ROOT), (True, ROOT), (1, ROOT[:31]), (1, ROOT.hex())])
def test_bad_sizes_and_roots_are_refused(size: object, root: object) -> None:
    with pytest.raises(TreeHeadFormatError):
        TreeHead(size, root, HEAD.timestamp)  # type: ignore[arg-type]


def test_format_timestamp_gives_utc_milliseconds() -> None:
    minsk = timezone(timedelta(hours=3))
    assert (
        format_timestamp(datetime(2024, 5, 1, 15, 0, 0, 123999, tzinfo=minsk)) == "2024-05-01T12:00:00.123Z"
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        format_timestamp(datetime(2024, 5, 1))  # noqa: DTZ001 (the point of the test)


def test_tree_head_now_is_current() -> None:
    head = TreeHead.now(3, ROOT)
    stamped = datetime.strptime(head.timestamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - stamped) < timedelta(seconds=5)


# --------------------------------------------------------------------------- keys


def test_key_id_is_sha256_of_the_raw_public_key(key: Ed25519PrivateKey) -> None:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert key_id(key) == key_id(key.public_key()) == hashlib.sha256(raw).hexdigest()


def test_public_key_pem_round_trips(key: Ed25519PrivateKey) -> None:
    pem = public_key_pem(key)
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert key_id(load_public_key(pem)) == key_id(key)


def test_load_public_key_refuses_other_keys() -> None:
    rsa_like = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = rsa_like.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(KeyFormatError, match="Ed25519"):
        load_public_key(pem)
    with pytest.raises(KeyFormatError):
        load_public_key(b"not a key")


def test_signing_key_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "tree-head.key"
    created = load_or_create_signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert key_id(load_or_create_signing_key(path)) == key_id(created)
    assert [p.name for p in tmp_path.iterdir()] == ["tree-head.key"]  # no temporary file left


def test_existing_key_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "tree-head.key"
    original = load_or_create_signing_key(path)
    before = path.read_bytes()
    for _ in range(3):
        assert key_id(load_or_create_signing_key(path)) == key_id(original)
    assert path.read_bytes() == before


def test_a_key_created_concurrently_wins_over_ours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "tree-head.key"
    theirs = Ed25519PrivateKey.generate()
    theirs_pem = theirs.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    real_generate = Ed25519PrivateKey.generate

    def generate_while_another_process_publishes() -> Ed25519PrivateKey:
        path.write_bytes(theirs_pem)  # the other process finishes between our check and our link()
        return real_generate()

    monkeypatch.setattr(Ed25519PrivateKey, "generate", generate_while_another_process_publishes)
    assert key_id(load_or_create_signing_key(path)) == key_id(theirs)
    assert path.read_bytes() == theirs_pem


def test_a_key_file_of_another_type_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tree-head.key"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(KeyFormatError, match="Ed25519"):
        load_or_create_signing_key(path)


# --------------------------------------------------------------------------- tree-head.json


def test_signed_tree_head_json_round_trips(key: Ed25519PrivateKey) -> None:
    signed = SignedTreeHead.sign(HEAD, key)
    text = signed.to_json()
    assert text.endswith(b"}\n")
    assert list(json.loads(text)) == ["key_id", "root_hash", "signature", "timestamp", "tree_size"]
    parsed = SignedTreeHead.from_json(text)
    assert parsed == signed
    parsed.verify(key.public_key())


def test_signed_tree_head_names_the_wrong_key(key: Ed25519PrivateKey) -> None:
    signed = SignedTreeHead.sign(HEAD, key)
    other = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(TreeHeadSignatureError, match="names signing key"):
        signed.verify(other)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tree_size", "8"),
        ("tree_size", True),
        ("root_hash", ROOT.hex().upper()),
        ("root_hash", ROOT.hex()[:-2]),
        ("signature", "00" * 63),
        ("key_id", "abc"),
        ("timestamp", None),
        ("timestamp", "2024-05-01T12:00:00Z"),
    ],
)
def test_malformed_tree_head_json_is_refused(key: Ed25519PrivateKey, field: str, value: object) -> None:
    data = SignedTreeHead.sign(HEAD, key).to_dict()
    data[field] = value
    with pytest.raises(TreeHeadFormatError):
        SignedTreeHead.from_json(json.dumps(data))


def test_tree_head_json_must_be_a_json_object() -> None:
    with pytest.raises(TreeHeadFormatError):
        SignedTreeHead.from_json(b"[1, 2]")
    with pytest.raises(TreeHeadFormatError, match="not valid JSON"):
        SignedTreeHead.from_json(b"{")
