"""RFC 3161 tokens checked up to a trusted root (rfc3161-client), on a test PKI built with cryptography.

Tokens are signed here (CMS SignedData over a TSTInfo, ECDSA P-256), so a test can choose every
certificate, validity period and genTime; one test checks tokens from the real ``openssl ts`` TSA.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from evidence_store.digest import Digest
from evidence_store.tsa_chain import (
    ChainInfo,
    TimestampChainError,
    TrustedRootsError,
    verify_token_chain,
)
from evidence_store.tsp import (
    OID_SHA256,
    TimestampError,
    TimestampFormatError,
    TimestampRejectedError,
    TimestampVerificationError,
    build_timestamp_request,
    decode_der,
    der_integer,
    der_null,
    der_octet_string,
    der_oid,
    der_sequence,
)
from tests.evidence_store.conftest_ledger import DEFAULT_POLICY, TSA_KINDS, make_tsa, requires_openssl

DATA_DIGEST = hashlib.sha256(b"precedent-tree-head-v1\n8\n...").digest()
OTHER_DIGEST = hashlib.sha256(b"something else").digest()
NOW = datetime.now(UTC).replace(microsecond=0)
GEN_TIME = NOW - timedelta(minutes=1)
POLICY = "1.3.6.1.4.1.55555.1.1"
SERIAL = 4242

OID_TST_INFO = "1.2.840.113549.1.9.16.1.4"
OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2"
OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"


# --------------------------------------------------------------------------- a test PKI


@dataclass(frozen=True)
class Party:
    """A certificate and its private key."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(Encoding.PEM)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Precedent tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=not ca,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def issue(
    common_name: str,
    issuer: Party | None = None,
    *,
    ca: bool = False,
    usages: Sequence[x509.ObjectIdentifier] | None = (ExtendedKeyUsageOID.TIME_STAMPING,),
    usage_critical: bool = True,
    valid: tuple[datetime, datetime] | None = None,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> Party:
    """Issue a certificate (self-signed when ``issuer`` is None): a CA, or a TSA with ``usages`` as EKU."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    valid = valid or (NOW - timedelta(days=1), NOW + timedelta(days=30))
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer.certificate.subject if issuer else _name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(_key_usage(ca=ca), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if not ca and usages is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(usages)), critical=usage_critical)
    return Party(builder.sign(issuer.key if issuer else key, hashes.SHA256()), key)


@dataclass(frozen=True)
class Pki:
    root: Party
    intermediate: Party
    tsa: Party


@pytest.fixture(scope="module")
def pki() -> Pki:
    """Root CA -> intermediate CA -> TSA (extended key usage timeStamping, critical)."""
    root = issue("Test Root CA", ca=True, valid=(NOW - timedelta(days=400), NOW + timedelta(days=400)))
    intermediate = issue("Test Intermediate CA", root, ca=True)
    return Pki(root, intermediate, issue("Test TSA", intermediate))


# --------------------------------------------------------------------------- a test TSA (CMS signer)


def _tlv(tag: int, content: bytes) -> bytes:
    """Encode a TLV with a one-byte tag and a DER length."""
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    body = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(body)]) + body + content


def _set_of(*items: bytes, sort: bool = True) -> bytes:
    """Encode a SET OF; DER sorts the encodings (X.690 §11.6)."""
    return _tlv(0x31, b"".join(sorted(items) if sort else items))


def _sha256_algorithm() -> bytes:
    return der_sequence(der_oid(OID_SHA256), der_null())


def _tst_info(digest: bytes, gen_time: datetime, hash_oid: str = OID_SHA256) -> bytes:
    imprint = der_sequence(der_sequence(der_oid(hash_oid), der_null()), der_octet_string(digest))
    when = _tlv(0x18, gen_time.strftime("%Y%m%d%H%M%SZ").encode())
    return der_sequence(der_integer(1), der_oid(POLICY), imprint, der_integer(SERIAL), when)


def sign(
    signer: Party,
    digest: bytes = DATA_DIGEST,
    *,
    chain: Sequence[Party] = (),
    gen_time: datetime = GEN_TIME,
    named: Party | None = None,
    der_order: bool = True,
    status: int | None = 0,
    hash_oid: str = OID_SHA256,
) -> bytes:
    """Return a TimeStampResp (or with ``status=None`` a bare token) signed by ``signer``'s key.

    ``named`` is the certificate the SignerInfo and the token claim as the signer (default: ``signer``),
    while the ESS signingCertificateV2 attribute always names ``signer``'s certificate. With
    ``der_order=False`` the certificate set is written in descending order, which DER forbids.
    """
    named = named or signer
    tst_info = _tst_info(digest, gen_time, hash_oid)
    ess = der_sequence(der_sequence(der_sequence(der_octet_string(hashlib.sha256(signer.der).digest()))))
    attributes = _set_of(
        der_sequence(der_oid(OID_CONTENT_TYPE), _set_of(der_oid(OID_TST_INFO))),
        der_sequence(
            der_oid(OID_MESSAGE_DIGEST), _set_of(der_octet_string(hashlib.sha256(tst_info).digest()))
        ),
        der_sequence(der_oid(OID_SIGNING_CERTIFICATE_V2), _set_of(ess)),
    )
    signature = signer.key.sign(attributes, ec.ECDSA(hashes.SHA256()))
    signer_info = der_sequence(
        der_integer(1),
        der_sequence(named.certificate.issuer.public_bytes(), der_integer(named.certificate.serial_number)),
        _sha256_algorithm(),
        b"\xa0" + attributes[1:],  # signed attributes are [0] IMPLICIT SET OF
        der_sequence(der_oid(OID_ECDSA_SHA256)),
        der_octet_string(signature),
    )
    certificates = [named.der, *(party.der for party in chain)]
    signed_data = der_sequence(
        der_integer(3),
        _set_of(_sha256_algorithm()),
        der_sequence(der_oid(OID_TST_INFO), _tlv(0xA0, der_octet_string(tst_info))),
        _tlv(0xA0, b"".join(sorted(certificates, reverse=not der_order))),
        _set_of(signer_info),
    )
    token = der_sequence(der_oid(OID_SIGNED_DATA), _tlv(0xA0, signed_data))
    return token if status is None else der_sequence(der_sequence(der_integer(status)), token)


def _flip(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


# --------------------------------------------------------------------------- honest tokens


def test_honest_token_validates_against_its_root(pki: Pki) -> None:
    info = verify_token_chain(sign(pki.tsa, chain=[pki.intermediate]), DATA_DIGEST, [pki.root.pem])
    assert info == ChainInfo(
        gen_time=GEN_TIME,
        serial_number=SERIAL,
        policy=POLICY,
        message_imprint=DATA_DIGEST,
        tsa_subject="CN=Test TSA,O=Precedent tests",
        tsa_certificate_sha256=pki.tsa.certificate.fingerprint(hashes.SHA256()).hex(),
        chain_subjects=(
            "CN=Test TSA,O=Precedent tests",
            "CN=Test Intermediate CA,O=Precedent tests",
            "CN=Test Root CA,O=Precedent tests",
        ),
        root_certificate_sha256=pki.root.certificate.fingerprint(hashes.SHA256()).hex(),
    )


def test_bare_token_validates_like_the_whole_response(pki: Pki) -> None:
    response = sign(pki.tsa, chain=[pki.intermediate])
    bare = decode_der(response).children()[1].raw
    assert verify_token_chain(bare, DATA_DIGEST, [pki.root.pem]) == verify_token_chain(
        response, DATA_DIGEST, [pki.root.pem]
    )


def test_granted_with_mods_is_a_time_stamp_too(pki: Pki) -> None:
    response = sign(pki.tsa, chain=[pki.intermediate], status=1)
    assert (
        verify_token_chain(response, Digest.from_bytes(DATA_DIGEST), [pki.root.pem]).serial_number == SERIAL
    )


def test_tsa_certified_by_the_root_itself_validates(pki: Pki) -> None:
    tsa = issue("Direct TSA", pki.root)
    info = verify_token_chain(sign(tsa), DATA_DIGEST, [pki.root.der])
    assert info.chain_subjects == ("CN=Direct TSA,O=Precedent tests", "CN=Test Root CA,O=Precedent tests")


def test_trusted_root_is_found_among_several_files_and_pem_bundles(pki: Pki) -> None:
    others = [issue(f"Other Root {n}", ca=True) for n in range(3)]
    bundle = others[0].pem + pki.root.pem + others[1].pem
    info = verify_token_chain(
        sign(pki.tsa, chain=[pki.intermediate]), DATA_DIGEST, [others[2].der, bundle, pki.root.pem]
    )
    assert info.root_certificate_sha256 == pki.root.certificate.fingerprint(hashes.SHA256()).hex()


def test_certificate_set_out_of_der_order_is_accepted(pki: Pki) -> None:
    # openssl ts -reply writes the signer's certificate first; DER wants the set sorted, and
    # rfc3161-client insists. The set is not signed, so the verifier may put it in order.
    response = sign(pki.tsa, chain=[pki.intermediate], der_order=False)
    signed_data = decode_der(response).children()[1].children()[1].children()[0]
    certificates = [certificate.raw for certificate in signed_data.children()[3].children()]
    assert len(certificates) == 2 and certificates != sorted(certificates)
    info = verify_token_chain(response, DATA_DIGEST, [pki.root.pem])
    assert info.chain_subjects[-1] == "CN=Test Root CA,O=Precedent tests"


def test_tsa_certificate_expired_today_but_valid_at_gen_time_passes(pki: Pki) -> None:
    old_tsa = issue("Old TSA", pki.root, valid=(NOW - timedelta(days=90), NOW - timedelta(days=30)))
    then = NOW - timedelta(days=60)
    info = verify_token_chain(sign(old_tsa, gen_time=then), DATA_DIGEST, [pki.root.pem])
    assert info.gen_time == then


@requires_openssl
@pytest.mark.parametrize("kind", TSA_KINDS)
def test_token_from_the_openssl_tsa_validates_against_its_ca(kind: str, tmp_path: Path) -> None:
    tsa = make_tsa(tmp_path)
    response = tsa.reply(build_timestamp_request(DATA_DIGEST).der, kind)
    info = verify_token_chain(response, DATA_DIGEST, [tsa.ca_file.read_bytes()])
    assert info.policy == DEFAULT_POLICY
    assert info.chain_subjects == (
        f"CN=Test TSA {kind.upper()},O=Precedent tests",
        "CN=Precedent Test Root CA",
    )
    assert abs(info.gen_time - datetime.now(UTC)) < timedelta(minutes=5)


# --------------------------------------------------------------------------- untrusted chains


def test_same_token_against_an_unrelated_root_fails_naming_the_chain(pki: Pki) -> None:
    unrelated = issue("Unrelated Root CA", ca=True)
    response = sign(pki.tsa, chain=[pki.intermediate])
    with pytest.raises(TimestampChainError, match="does not chain to a trusted root") as caught:
        verify_token_chain(response, DATA_DIGEST, [unrelated.pem])
    message = str(caught.value)
    assert "unable to get local issuer certificate" in message
    assert "CN=Test TSA,O=Precedent tests <- CN=Test Intermediate CA,O=Precedent tests" in message
    assert "CN=Test Root CA,O=Precedent tests (not found)" in message


def test_token_without_its_intermediate_fails_on_the_chain(pki: Pki) -> None:
    with pytest.raises(TimestampChainError, match="unable to get local issuer certificate"):
        verify_token_chain(sign(pki.tsa), DATA_DIGEST, [pki.root.pem])


def test_a_root_smuggled_into_the_token_is_not_trusted(pki: Pki) -> None:
    # A forger's self-signed "Test Root CA" and TSA, both shipped inside the token.
    fake_root = issue("Test Root CA", ca=True)
    fake_tsa = issue("Test TSA", fake_root)
    with pytest.raises(TimestampChainError, match="does not chain to a trusted root"):
        verify_token_chain(sign(fake_tsa, chain=[fake_root]), DATA_DIGEST, [pki.root.pem])


def test_intermediate_as_the_only_trust_anchor_is_not_enough(pki: Pki) -> None:
    # OpenSSL without partial chains: the path must end at a self-signed root the reader trusts.
    with pytest.raises(TimestampChainError, match="does not chain to a trusted root"):
        verify_token_chain(sign(pki.tsa, chain=[pki.intermediate]), DATA_DIGEST, [pki.intermediate.pem])


LAPSED = (NOW - timedelta(days=30), NOW - timedelta(days=10))
FUTURE = (NOW + timedelta(days=1), NOW + timedelta(days=30))


@pytest.mark.parametrize(
    ("which", "valid"), [("intermediate", LAPSED), ("intermediate", FUTURE), ("root", LAPSED)]
)
def test_ca_certificate_not_valid_at_gen_time_breaks_the_chain(
    pki: Pki, which: str, valid: tuple[datetime, datetime]
) -> None:
    root = issue("Lapsed Root CA", ca=True, valid=valid) if which == "root" else pki.root
    intermediate = issue("Lapsed Intermediate CA", root, ca=True, valid=valid if which != "root" else None)
    tsa = issue("TSA", intermediate)
    reason = "certificate has expired" if valid == LAPSED else "certificate is not yet valid"
    with pytest.raises(TimestampChainError, match=reason) as caught:
        verify_token_chain(sign(tsa, chain=[intermediate]), DATA_DIGEST, [root.pem])
    lapsed = (
        f"CN=Lapsed {which.title()} CA,O=Precedent tests ({valid[0].isoformat()} .. {valid[1].isoformat()})"
    )
    assert f"not valid at genTime: {lapsed}" in str(caught.value)


@pytest.mark.parametrize("valid", [LAPSED, FUTURE])
def test_tsa_certificate_not_valid_at_gen_time_fails(pki: Pki, valid: tuple[datetime, datetime]) -> None:
    # Found by the signature check (step 1), before the path is looked at.
    tsa = issue("Lapsed TSA", pki.intermediate, valid=valid)
    with pytest.raises(TimestampVerificationError, match="outside the TSA certificate's validity"):
        verify_token_chain(sign(tsa, chain=[pki.intermediate]), DATA_DIGEST, [pki.root.pem])


# --------------------------------------------------------------------------- tokens that do not prove it


def test_token_over_another_digest_fails(pki: Pki) -> None:
    response = sign(pki.tsa, OTHER_DIGEST, chain=[pki.intermediate])
    with pytest.raises(TimestampVerificationError, match=f"expected sha256:{DATA_DIGEST.hex()}") as caught:
        verify_token_chain(response, DATA_DIGEST, [pki.root.pem])
    assert not isinstance(caught.value, TimestampChainError)
    assert f"time-stamps sha256:{OTHER_DIGEST.hex()}" in str(caught.value)


def test_token_over_the_same_bytes_with_another_hash_algorithm_fails(pki: Pki) -> None:
    sha384 = "2.16.840.1.101.3.4.2.2"
    response = sign(pki.tsa, DATA_DIGEST, chain=[pki.intermediate], hash_oid=sha384)
    with pytest.raises(TimestampVerificationError, match=f"time-stamps sha384:{DATA_DIGEST.hex()}"):
        verify_token_chain(response, DATA_DIGEST, [pki.root.pem])


@pytest.mark.parametrize("usages", [None, [ExtendedKeyUsageOID.CODE_SIGNING]])
def test_tsa_certificate_without_the_time_stamping_usage_fails(
    pki: Pki, usages: list[x509.ObjectIdentifier] | None
) -> None:
    tsa = issue("Wrong Usage TSA", pki.intermediate, usages=usages)
    with pytest.raises(TimestampVerificationError, match="lacks the id-kp-timeStamping extended key usage"):
        verify_token_chain(sign(tsa, chain=[pki.intermediate]), DATA_DIGEST, [pki.root.pem])


@pytest.mark.parametrize(
    ("usages", "critical", "reason"),
    [
        (
            [ExtendedKeyUsageOID.TIME_STAMPING],
            False,
            "the id-kp-timeStamping extended key usage is not critical",
        ),
        (
            [ExtendedKeyUsageOID.TIME_STAMPING, ExtendedKeyUsageOID.CODE_SIGNING],
            True,
            "has extended key usage 1.3.6.1.5.5.7.3.8, 1.3.6.1.5.5.7.3.3, not id-kp-timeStamping alone",
        ),
    ],
)
def test_time_stamping_usage_must_be_critical_and_alone(
    pki: Pki, usages: list[x509.ObjectIdentifier], critical: bool, reason: str
) -> None:
    # RFC 3161 §2.3; tsp.py accepts both, so these reasons come from this module.
    tsa = issue("Lax Usage TSA", pki.intermediate, usages=usages, usage_critical=critical)
    response = sign(tsa, chain=[pki.intermediate])
    with pytest.raises(
        TimestampVerificationError, match=f"TSA certificate CN=Lax Usage TSA,O=Precedent tests.*{reason}"
    ):
        verify_token_chain(response, DATA_DIGEST, [pki.root.pem])


def test_altered_gen_time_fails_the_signature(pki: Pki) -> None:
    response = sign(pki.tsa, chain=[pki.intermediate])
    stamp = GEN_TIME.strftime("%Y%m%d%H%M%SZ").encode()
    backdated = response.replace(stamp, b"2019" + stamp[4:])
    with pytest.raises(TimestampVerificationError, match="TSTInfo was altered"):
        verify_token_chain(backdated, DATA_DIGEST, [pki.root.pem])


def test_flipped_signature_byte_fails(pki: Pki) -> None:
    response = sign(pki.tsa, chain=[pki.intermediate])
    with pytest.raises(TimestampVerificationError, match="signature does not verify"):
        verify_token_chain(_flip(response, len(response) - 10), DATA_DIGEST, [pki.root.pem])


@pytest.mark.parametrize("same_key", [True, False])
def test_signer_certificate_swapped_for_another_fails_the_ess_binding(pki: Pki, same_key: bool) -> None:
    # The SignerInfo's issuer and serial are not signed; the ESS signingCertificateV2 attribute is,
    # and it names the certificate the TSA signed with (RFC 5035). With the same key the signature
    # still verifies, and rfc3161-client alone would accept the impostor's name.
    key = ec.generate_private_key(ec.SECP256R1())
    genuine = issue("TSA Alpha", pki.intermediate, key=key)
    impostor = issue("TSA Beta", pki.intermediate, key=key if same_key else None)
    response = sign(genuine, chain=[pki.intermediate], named=impostor)
    with pytest.raises(TimestampVerificationError, match="ESS signingCertificate names a different"):
        verify_token_chain(response, DATA_DIGEST, [pki.root.pem])


# --------------------------------------------------------------------------- input that is not a token


def test_rejection_is_reported_as_such(pki: Pki) -> None:
    text = _tlv(0x0C, b"not allowed")  # UTF8String
    rejection = der_sequence(der_sequence(der_integer(2), der_sequence(text)))
    with pytest.raises(TimestampRejectedError, match=r"rejection \(not allowed\)"):
        verify_token_chain(rejection, DATA_DIGEST, [pki.root.pem])


@pytest.mark.parametrize(
    "garbage",
    [b"", b"not der at all", b"\x30\x03\x02\x01", der_integer(5), b"\x30\x00", bytes(range(256)) * 3],
)
def test_garbage_is_a_format_error(pki: Pki, garbage: bytes) -> None:
    with pytest.raises(TimestampFormatError):
        verify_token_chain(garbage, DATA_DIGEST, [pki.root.pem])


def test_every_flipped_or_truncated_byte_gives_a_timestamp_error_or_the_same_answer(pki: Pki) -> None:
    response = sign(pki.tsa, chain=[pki.intermediate])
    honest = verify_token_chain(response, DATA_DIGEST, [pki.root.pem])
    variants = [_flip(response, i) for i in range(len(response))] + [
        response[:n] for n in range(len(response))
    ]
    accepted = 0
    for variant in variants:
        try:
            info = verify_token_chain(variant, DATA_DIGEST, [pki.root.pem])
        except TimestampError:
            continue
        assert info == honest  # only bytes nobody signs or reads (e.g. the SignerInfo version) may change
        accepted += 1
    assert accepted < 5


@pytest.mark.parametrize(
    ("roots", "reason"),
    [
        ([], "no trusted root certificate"),
        ([b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"], "file 1 is not"),
        ([b"\x30\x03\x02\x01\x00"], "file 1 is not a PEM or DER certificate"),
    ],
)
def test_unusable_trusted_roots_are_refused(pki: Pki, roots: list[bytes], reason: str) -> None:
    with pytest.raises(TrustedRootsError, match=reason):
        verify_token_chain(sign(pki.tsa, chain=[pki.intermediate]), DATA_DIGEST, roots)


def test_digest_must_be_32_bytes(pki: Pki) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        verify_token_chain(sign(pki.tsa), DATA_DIGEST[:20], [pki.root.pem])
