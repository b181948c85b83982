"""Digest value object and block-wise hashing; expected values come from hashlib directly."""

from __future__ import annotations

import dataclasses
import hashlib
import io
from pathlib import Path

import pytest

from evidence_store import Digest, EvidenceStoreError, InvalidDigest, hash_file, hash_stream

HELLO = b"hello\n"
HELLO_HEX = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"  # sha256sum of "hello\n"


class TestDigestForm:
    def test_string_form_is_prefixed_lowercase_hex(self) -> None:
        assert str(Digest(HELLO_HEX)) == f"sha256:{HELLO_HEX}"

    def test_parse_round_trips_the_string_form(self) -> None:
        digest = Digest.parse(f"sha256:{HELLO_HEX}")
        assert digest.hex == HELLO_HEX
        assert Digest.parse(str(digest)) == digest

    def test_from_hex_accepts_sha256sum_output(self) -> None:
        assert Digest.from_hex(HELLO_HEX) == Digest.parse(f"sha256:{HELLO_HEX}")

    def test_bytes_are_the_raw_hash(self) -> None:
        digest = Digest(HELLO_HEX)
        assert digest.bytes == hashlib.sha256(HELLO).digest()
        assert Digest.from_bytes(digest.bytes) == digest

    def test_equal_digests_are_interchangeable_keys(self) -> None:
        first, second = Digest(HELLO_HEX), Digest.parse(f"sha256:{HELLO_HEX}")
        assert first == second
        assert {first: "a"}[second] == "a"

    def test_digest_is_immutable(self) -> None:
        digest = Digest(HELLO_HEX)
        with pytest.raises(dataclasses.FrozenInstanceError):
            digest.hex = "0" * 64  # type: ignore[misc]

    def test_repr_shows_the_string_form(self) -> None:
        assert repr(Digest(HELLO_HEX)) == f"Digest('sha256:{HELLO_HEX}')"


class TestMalformedDigests:
    @pytest.mark.parametrize(
        "text",
        [
            pytest.param(HELLO_HEX, id="bare-hex"),
            pytest.param(f"sha256:{HELLO_HEX.upper()}", id="uppercase-hex"),
            pytest.param(f"SHA256:{HELLO_HEX}", id="uppercase-prefix"),
            pytest.param(f"sha-256:{HELLO_HEX}", id="wrong-prefix"),
            pytest.param(f"sha512:{HELLO_HEX}", id="other-algorithm"),
            pytest.param(f"sha256:{HELLO_HEX[:-1]}", id="too-short"),
            pytest.param(f"sha256:{HELLO_HEX}0", id="too-long"),
            pytest.param(f"sha256:{HELLO_HEX}\n", id="trailing-newline"),
            pytest.param(f" sha256:{HELLO_HEX}", id="leading-space"),
            pytest.param(f"sha256:{HELLO_HEX[:-1]}g", id="non-hex"),
            pytest.param("sha256:../../../etc/passwd", id="path-traversal"),
            pytest.param("", id="empty"),
        ],
    )
    def test_parse_rejects_anything_but_the_one_form(self, text: str) -> None:
        with pytest.raises(InvalidDigest):
            Digest.parse(text)

    def test_parse_rejects_non_strings(self) -> None:
        with pytest.raises(InvalidDigest):
            Digest.parse(hashlib.sha256(HELLO).digest())  # type: ignore[arg-type]

    def test_constructor_rejects_malformed_hex(self) -> None:
        with pytest.raises(InvalidDigest):
            Digest("../" + HELLO_HEX[3:])

    def test_from_bytes_rejects_wrong_length(self) -> None:
        with pytest.raises(InvalidDigest):
            Digest.from_bytes(b"\x00" * 31)

    def test_invalid_digest_is_a_value_error_and_a_library_error(self) -> None:
        with pytest.raises(InvalidDigest) as caught:
            Digest.parse("nope")
        assert isinstance(caught.value, ValueError)
        assert isinstance(caught.value, EvidenceStoreError)


class _RecordingStream(io.BytesIO):
    """A BytesIO that records the size of every read request."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.requested: list[int] = []

    def read(self, size: int | None = -1, /) -> bytes:
        self.requested.append(-1 if size is None else size)
        return super().read(size)


class TestHashing:
    @pytest.mark.parametrize("length", [0, 1, 4095, 4096, 4097, 3 * 4096 + 5])
    def test_hash_stream_matches_hashlib(self, length: int) -> None:
        data = bytes(range(256)) * (length // 256 + 1)
        data = data[:length]
        digest, size = hash_stream(io.BytesIO(data), block_size=4096)
        assert digest.hex == hashlib.sha256(data).hexdigest()
        assert size == length

    def test_hash_stream_reads_fixed_size_blocks_only(self) -> None:
        stream = _RecordingStream(b"x" * 10_000)
        hash_stream(stream, block_size=1024)
        assert set(stream.requested) == {1024}

    def test_hash_stream_rejects_a_non_positive_block_size(self) -> None:
        with pytest.raises(ValueError, match="block_size"):
            hash_stream(io.BytesIO(b""), block_size=0)

    def test_hash_file_matches_hashlib(self, tmp_path: Path) -> None:
        data = b"evidence " * 300_000  # 2.6 MiB: several default-size blocks
        path = tmp_path / "exhibit.bin"
        path.write_bytes(data)
        assert hash_file(path) == (Digest(hashlib.sha256(data).hexdigest()), len(data))

    def test_empty_file_has_the_well_known_empty_digest(self, tmp_path: Path) -> None:
        path = tmp_path / "empty"
        path.touch()
        digest, size = hash_file(path)
        assert str(digest) == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        assert size == 0
