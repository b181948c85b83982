"""RFC 3161 time-stamps against a real (openssl) TSA on loopback: request, response and token checks."""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes

from evidence_store.digest import Digest
from evidence_store.tsp import (
    OID_SHA256,
    Der,
    TimestampError,
    TimestampFormatError,
    TimestampRejectedError,
    TimestampUnavailableError,
    TimestampVerificationError,
    build_timestamp_request,
    decode_der,
    der_boolean,
    der_integer,
    der_oid,
    request_timestamp,
    verify_timestamp_response,
    verify_timestamp_token,
)
from tests.evidence_store.conftest_ledger import (
    DEFAULT_POLICY,
    OTHER_POLICY,
    TSA_KINDS,
    LoopbackTsa,
    make_tsa,
    requires_openssl,
    serve_tsa,
)

DATA_DIGEST = hashlib.sha256(b"precedent-tree-head-v1\n8\n...").digest()
OTHER_DIGEST = hashlib.sha256(b"something else").digest()


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> LoopbackTsa:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    return make_tsa(tmp_path_factory.mktemp("tsa"))


@pytest.fixture(scope="module")
def tsa_url(tsa: LoopbackTsa) -> Iterator[str]:
    with serve_tsa(tsa) as url:
        yield url


@pytest.fixture(scope="module", params=TSA_KINDS)
def granted(request: pytest.FixtureRequest, tsa_url: str) -> tuple[str, bytes]:
    """A response from each TSA (RSA and ECDSA) over DATA_DIGEST: (kind, .tsr bytes)."""
    kind: str = request.param
    return kind, request_timestamp(f"{tsa_url}/{kind}", DATA_DIGEST).response_der


def _children(der: bytes) -> list[Der]:
    return decode_der(der).children()


def _signed_data(response: bytes) -> Der:
    """Dig the CMS SignedData out of a TimeStampResp."""
    return _children(response)[1].children()[1].children()[0]


def _tst_info(response: bytes) -> bytes:
    """Dig the DER TSTInfo out of a TimeStampResp."""
    return _signed_data(response).children()[2].children()[1].children()[0].content


def _signed_attributes(response: bytes) -> bytes:
    """Dig the DER signed attributes ([0] IMPLICIT) of the only signer out of a TimeStampResp."""
    return _signed_data(response).children()[-1].children()[0].children()[3].raw


def _flip(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


# --------------------------------------------------------------------------- DER codec


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, "020100"),
        (127, "02017f"),
        (128, "02020080"),
        (256, "02020100"),
        (-128, "020180"),
        (-129, "0202ff7f"),
    ],
)
def test_integers_encode_in_minimal_twos_complement(value: int, encoded: str) -> None:
    assert der_integer(value).hex() == encoded


def test_oid_and_boolean_encodings() -> None:
    assert der_oid(OID_SHA256).hex() == "0609608648016503040201"
    assert der_boolean(True).hex() == "0101ff"


def test_request_is_a_v1_sha256_request_with_nonce_and_cert_req() -> None:
    request = build_timestamp_request(DATA_DIGEST, nonce=0x1234)
    version, imprint, nonce, cert_req = _children(request.der)
    assert version.content == b"\x01"
    assert imprint.children()[1].content == DATA_DIGEST
    assert nonce.content == b"\x12\x34"
    assert cert_req.raw == b"\x01\x01\xff"


def test_each_request_gets_a_fresh_nonce() -> None:
    assert build_timestamp_request(DATA_DIGEST).nonce != build_timestamp_request(DATA_DIGEST).nonce


def test_request_accepts_a_digest_object_and_refuses_other_lengths() -> None:
    assert build_timestamp_request(Digest.from_bytes(DATA_DIGEST)).digest == DATA_DIGEST
    with pytest.raises(ValueError, match="32 bytes"):
        build_timestamp_request(b"short")


@requires_openssl
def test_openssl_reads_our_request(tsa: LoopbackTsa, tmp_path: Path) -> None:
    (tmp_path / "q.tsq").write_bytes(build_timestamp_request(DATA_DIGEST, nonce=42).der)
    shown = subprocess.run(
        ["openssl", "ts", "-query", "-in", "q.tsq", "-text"], cwd=tmp_path, capture_output=True, check=True
    ).stdout.decode()
    assert "Hash Algorithm: sha256" in shown
    assert "Certificate required: yes" in shown
    assert "Nonce: 0x2A" in shown


# --------------------------------------------------------------------------- granted tokens


def test_granted_token_verifies(granted: tuple[str, bytes], tsa: LoopbackTsa) -> None:
    kind, response = granted
    info = verify_timestamp_token(response, DATA_DIGEST)
    assert info.message_imprint == DATA_DIGEST
    assert info.policy == DEFAULT_POLICY
    assert abs(info.gen_time - datetime.now(UTC)) < timedelta(minutes=5)
    assert info.accuracy_microseconds == 1_500_100
    assert f"Test TSA {kind.upper()}" in info.signer_subject
    assert info.signer_certificate_sha256 == tsa.certificate(kind).fingerprint(hashes.SHA256()).hex()


def test_client_returns_verified_response_with_matching_nonce(tsa_url: str) -> None:
    answer = request_timestamp(f"{tsa_url}/rsa", Digest.from_bytes(DATA_DIGEST))
    assert answer.info.nonce is not None
    assert verify_timestamp_token(answer.token_der, DATA_DIGEST, nonce=answer.info.nonce) == answer.info


def test_bare_token_verifies_like_the_whole_response(granted: tuple[str, bytes]) -> None:
    _, response = granted
    token = _children(response)[1].raw
    assert verify_timestamp_token(token, DATA_DIGEST) == verify_timestamp_token(response, DATA_DIGEST)


@requires_openssl
def test_openssl_verifies_the_stored_response(
    granted: tuple[str, bytes], tsa: LoopbackTsa, tmp_path: Path
) -> None:
    kind, response = granted
    (tmp_path / "reply.tsr").write_bytes(response)
    result = subprocess.run(
        [
            *("openssl", "ts", "-verify", "-in", "reply.tsr", "-digest", DATA_DIGEST.hex()),
            *("-CAfile", str(tsa.ca_file), "-untrusted", str(tsa.cert_file(kind))),
        ],
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_requested_policy_is_checked(tsa: LoopbackTsa) -> None:
    request = build_timestamp_request(DATA_DIGEST, policy=OTHER_POLICY)
    assert verify_timestamp_response(tsa.reply(request.der), request).policy == OTHER_POLICY


def test_pinned_certificate_is_enforced(granted: tuple[str, bytes], tsa: LoopbackTsa) -> None:
    kind, response = granted
    verify_timestamp_token(response, DATA_DIGEST, trusted_certificates=[tsa.certificate(kind)])
    other = "ec" if kind == "rsa" else "rsa"
    with pytest.raises(TimestampVerificationError, match="not among the trusted"):
        verify_timestamp_token(response, DATA_DIGEST, trusted_certificates=[tsa.certificate(other)])


# --------------------------------------------------------------------------- failures


def test_token_for_different_data_fails(granted: tuple[str, bytes]) -> None:
    _, response = granted
    with pytest.raises(TimestampVerificationError, match=f"expected sha256:{OTHER_DIGEST.hex()}"):
        verify_timestamp_token(response, OTHER_DIGEST)


def test_response_to_another_request_fails_on_the_nonce(tsa: LoopbackTsa) -> None:
    request = build_timestamp_request(DATA_DIGEST)
    replay = build_timestamp_request(DATA_DIGEST)
    with pytest.raises(TimestampVerificationError, match="nonce"):
        verify_timestamp_response(tsa.reply(request.der), replay)


def test_token_rewritten_for_other_data_fails_on_the_message_digest(granted: tuple[str, bytes]) -> None:
    # The classic forgery: keep the TSA's signature, swap the time-stamped hash.
    _, response = granted
    forged = response.replace(DATA_DIGEST, OTHER_DIGEST)
    assert _tst_info(forged) != _tst_info(response)
    with pytest.raises(TimestampVerificationError, match="TSTInfo was altered"):
        verify_timestamp_token(forged, OTHER_DIGEST)


def test_altered_gen_time_fails(granted: tuple[str, bytes]) -> None:
    _, response = granted
    tst = _tst_info(response)
    gen_time = decode_der(tst).children()[4]
    assert gen_time.tag == 24  # GeneralizedTime "YYYYMMDDhhmmss.fffZ"
    position = response.index(tst) + tst.index(gen_time.raw) + gen_time.header_length
    backdated = response[:position] + b"2019" + response[position + 4 :]
    with pytest.raises(TimestampVerificationError, match="TSTInfo was altered"):
        verify_timestamp_token(backdated, DATA_DIGEST)


def test_signed_attributes_changed_to_match_a_forged_tstinfo_fail_the_signature(
    granted: tuple[str, bytes],
) -> None:
    _, response = granted
    tst = _tst_info(response)
    forged_tst = tst.replace(DATA_DIGEST, OTHER_DIGEST)
    forged = response.replace(DATA_DIGEST, OTHER_DIGEST)
    # Also rewrite the signed messageDigest attribute to the forged TSTInfo's hash.
    forged = forged.replace(hashlib.sha256(tst).digest(), hashlib.sha256(forged_tst).digest())
    with pytest.raises(TimestampVerificationError, match="signature does not verify"):
        verify_timestamp_token(forged, OTHER_DIGEST)


def test_flipped_signature_byte_fails(granted: tuple[str, bytes]) -> None:
    _, response = granted
    # The SignerInfo signature is the token's last field: flip a byte near the end.
    with pytest.raises(TimestampVerificationError, match="signature does not verify"):
        verify_timestamp_token(_flip(response, len(response) - 10), DATA_DIGEST)


def test_every_byte_of_the_tstinfo_and_signed_attributes_is_protected(granted: tuple[str, bytes]) -> None:
    _, response = granted
    for part in (_tst_info(response), _signed_attributes(response)):
        start = response.index(part)
        for position in range(start, start + len(part)):
            with pytest.raises(TimestampError):
                verify_timestamp_token(_flip(response, position), DATA_DIGEST)


@pytest.mark.parametrize(
    "garbage", [b"", b"\x30\x03\x02\x01", b"not der at all", der_integer(5), b"\x30\x00"]
)
def test_garbage_is_a_format_error(garbage: bytes) -> None:
    with pytest.raises(TimestampFormatError):
        verify_timestamp_token(garbage, DATA_DIGEST)


def test_unreachable_tsa_gives_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # The port is closed again: nothing listens there.
    with pytest.raises(TimestampUnavailableError, match=f"cannot reach TSA http://127.0.0.1:{port}/"):
        request_timestamp(f"http://127.0.0.1:{port}/", DATA_DIGEST, timeout=2)


def test_http_error_from_the_tsa(tsa_url: str) -> None:
    with pytest.raises(TimestampUnavailableError, match="HTTP 500"):
        request_timestamp(f"{tsa_url}/error", DATA_DIGEST)


def test_rejection_names_status_text_and_failure(tsa_url: str) -> None:
    with pytest.raises(TimestampRejectedError, match=r"rejection \(not allowed; badAlg\)") as caught:
        request_timestamp(f"{tsa_url}/reject", DATA_DIGEST)
    assert caught.value.status == 2
    assert caught.value.failures == ["badAlg"]


def test_non_der_answer_is_a_format_error(tsa_url: str) -> None:
    with pytest.raises(TimestampFormatError):
        request_timestamp(f"{tsa_url}/garbage", DATA_DIGEST)


def test_only_http_urls_are_accepted() -> None:
    with pytest.raises(ValueError, match="http or https"):
        request_timestamp("file:///etc/passwd", DATA_DIGEST)
