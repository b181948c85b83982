"""Trust in a time-stamp: RFC 3161 tokens checked up to a trusted TSA root (RFC 5652 CMS, RFC 5280 paths).

``verify_token_chain(response_der, message_digest, trusted_roots)`` decides whether a stored ``.tsr``
(a whole ``TimeStampResp`` or a bare ``TimeStampToken``) time-stamps ``message_digest`` on the word of
a TSA that chains to one of the roots the reader trusts:

1. the token is intact and about ``message_digest`` (``tsp.verify_timestamp_token``): SHA-256
   messageImprint, TSTInfo and signed attributes covered by the signature, the ESS
   signingCertificate(V2) attribute naming the signer's certificate, that certificate valid at
   ``genTime``. First, because a path is validated *at genTime*, which means nothing until the
   signature vouches for it (OpenSSL checks the path before the signature, and would call a
   back-dated token "not yet valid" rather than altered);
2. ``rfc3161-client`` parses it as strict DER and reads the same messageImprint and signer certificate
   (two parsers that disagree about what was signed are a reason to refuse, not to pick one);
3. the signer's certificate carries the extended key usage id-kp-timeStamping, critical, as its only
   purpose (RFC 3161 §2.3);
4. ``rfc3161-client`` verifies the signature with OpenSSL's ``PKCS7_verify`` under the time-stamping
   purpose, and the path from the signer's certificate through the token's own certificates to a
   trusted root, every certificate valid at ``genTime`` (not now: a time-stamp outlives its TSA
   certificate).

Chain building and path validation are left to ``rfc3161-client`` (Trail of Bits) because a
maintained library is preferable to extending the hand-written DER code of ``tsp.py``. The
token's certificates reach OpenSSL only as untrusted path material, never as the library's
"intermediates", which it puts in the trust store (a self-signed certificate smuggled into a token
would become a root there).

The hand-written ``tsp.py`` still requests time-stamps from a TSA, checks stored tokens without a
trust anchor (step 1, including the ESS binding that ``rfc3161-client`` does not check: the
SignerInfo's issuer and serial are not signed), and does one structural chore here: it sorts the
token's certificate set into DER order when the library refuses its order (``openssl ts -reply``
writes the signer's certificate first). That set is not signed, so its order changes nothing verified.

Errors (all ``TimestampError``, from ``tsp.py`` unless marked)::

    TimestampFormatError          bytes that are not a DER TimeStampResp or token (also ValueError)
    TimestampRejectedError        the stored response is a refusal, not a time-stamp
    TimestampVerificationError    wrong digest, wrong key usage, bad signature (IntegrityError)
    └── TimestampChainError       no valid path to a trusted root at genTime (this module)
    TrustedRootsError             the trusted-root input holds no certificate (this module; also ValueError)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import rfc3161_client
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes

from evidence_store.digest import Digest
from evidence_store.tsp import (
    OID_SHA256,
    Der,
    TimestampError,
    TimestampFormatError,
    TimestampInfo,
    TimestampRejectedError,
    TimestampVerificationError,
    decode_der,
    der_integer,
    der_sequence,
    verify_timestamp_token,
)

__all__ = [
    "ChainInfo",
    "TimestampChainError",
    "TrustedRootsError",
    "load_trusted_roots",
    "verify_token_chain",
]

#: Longest path rebuilt for the report (TSA certificate, intermediates, root).
_MAX_CHAIN = 8
_PEM_MARKER = b"-----BEGIN"
_GRANTED, _GRANTED_WITH_MODS = 0, 1
#: What rfc3161-client and cryptography raise on bytes that do not decode.
_MALFORMED = (
    ValueError,
    UnsupportedAlgorithm,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)
# OpenSSL's error stack, as rfc3161-client renders it: ... reason: "...", ... data: "Verify error: ..."
_VERIFY_ERROR_RE = re.compile(r'data: "Verify error: ?([^"]*)"')
_REASON_RE = re.compile(r'reason: "([^"]*)"')


class TimestampChainError(TimestampVerificationError):
    """The TSA certificate has no valid path, at genTime, to a trusted root."""


class TrustedRootsError(TimestampError, ValueError):
    """The trusted-root input (PEM or DER) holds no usable certificate."""


@dataclass(frozen=True, slots=True)
class ChainInfo:
    """What a chain-checked token proves: this SHA-256 digest existed at ``gen_time``, per a trusted TSA."""

    gen_time: datetime
    serial_number: int
    policy: str
    message_imprint: bytes
    tsa_subject: str
    tsa_certificate_sha256: str
    #: RFC 4514 subjects from the TSA certificate (first) to the trusted root (last).
    chain_subjects: tuple[str, ...]
    root_certificate_sha256: str


def load_trusted_roots(files: Sequence[bytes]) -> list[x509.Certificate]:
    """Read trusted roots from file contents, each PEM (one or more certificates) or one DER certificate."""
    if isinstance(files, bytes | bytearray):  # one file passed bare: bytes is a Sequence of ints
        files = [bytes(files)]
    roots: list[x509.Certificate] = []
    for number, data in enumerate(files, 1):
        try:
            found = (
                x509.load_pem_x509_certificates(data)
                if _PEM_MARKER in data
                else [x509.load_der_x509_certificate(data)]
            )
        except ValueError as exc:
            raise TrustedRootsError(
                f"trusted root file {number} is not a PEM or DER certificate: {exc}"
            ) from exc
        roots += [certificate for certificate in found if certificate not in roots]
    if not roots:
        raise TrustedRootsError("no trusted root certificate was given")
    return roots


def verify_token_chain(
    response_der: bytes, message_digest: bytes | Digest, trusted_roots: Sequence[bytes]
) -> ChainInfo:
    """Verify that a .tsr time-stamps ``message_digest`` and that its TSA chains to a trusted root."""
    expected = message_digest.bytes if isinstance(message_digest, Digest) else message_digest
    if len(expected) != hashlib.sha256().digest_size:
        raise ValueError(f"a SHA-256 digest has 32 bytes, got {len(expected)}")
    roots = load_trusted_roots(trusted_roots)
    info = _verify_intact(response_der, expected)
    token = _read_token(response_der)
    _check_imprint(token, expected)
    if token.signer.fingerprint(hashes.SHA256()).hex() != info.signer_certificate_sha256:
        raise TimestampVerificationError(
            "rfc3161-client finds another signer certificate than tsp.py verified: the token is ambiguous"
        )
    _check_time_stamping_usage(token.signer)
    path = _chain_path(token.signer, token.certificates, roots)
    _verify_with_library(token, expected, roots, path)
    if path[-1] not in roots:  # OpenSSL found a path; rebuilding it for the report must not differ
        raise TimestampChainError(f"cannot rebuild the path that was verified: {_describe(path)}")
    return ChainInfo(
        gen_time=info.gen_time,  # to the fraction of a second (rfc3161-client drops the fraction)
        serial_number=info.serial_number,
        policy=info.policy,
        message_imprint=info.message_imprint,
        tsa_subject=token.signer.subject.rfc4514_string(),
        tsa_certificate_sha256=info.signer_certificate_sha256,
        chain_subjects=tuple(certificate.subject.rfc4514_string() for certificate in path),
        root_certificate_sha256=path[-1].fingerprint(hashes.SHA256()).hex(),
    )


# --------------------------------------------------------------------------- parsing


def _verify_intact(response_der: bytes, expected: bytes) -> TimestampInfo:
    """Run tsp.py's checks of the token against itself (step 1)."""
    try:
        return verify_timestamp_token(response_der, expected)
    except TimestampError:
        raise
    except _MALFORMED as exc:  # e.g. cryptography's InvalidVersion, which is not a ValueError
        raise TimestampFormatError(f"malformed certificate in the time-stamp token: {exc}") from exc


@dataclass(frozen=True, slots=True)
class _Token:
    """A granted response as rfc3161-client reads it, with the parts checked here."""

    response: rfc3161_client.TimeStampResponse
    hash_oid: str
    imprint: bytes
    gen_time: datetime
    certificates: list[x509.Certificate]
    signer: x509.Certificate


def _read_token(data: bytes) -> _Token:
    """Parse a TimeStampResp or a bare token with rfc3161-client; find the signer's certificate."""
    response = _parse(data)
    if response.status == _GRANTED_WITH_MODS:  # the library accepts only granted; the token is the same
        response = _parse(_granted_response(response.time_stamp_token()))
    elif response.status != _GRANTED:
        raise TimestampRejectedError(response.status, " / ".join(response.status_string), [])
    try:  # the library decodes the token's parts lazily, on first access
        tst_info, signed_data = response.tst_info, response.signed_data
        certificates = [_load_certificate(der) for der in sorted(signed_data.certificates)]
        signers = [(info.issuer, info.serial_number) for info in signed_data.signer_infos]
        imprint = tst_info.message_imprint
        hash_oid, message, gen_time = imprint.hash_algorithm.dotted_string, imprint.message, tst_info.gen_time
    except _MALFORMED as exc:
        raise TimestampFormatError(f"malformed time-stamp token: {exc}") from exc
    if len(signers) != 1:
        raise TimestampVerificationError(f"token must have exactly one signer, has {len(signers)}")
    issuer, serial = signers[0]
    for certificate in certificates:
        if certificate.issuer == issuer and certificate.serial_number == serial:
            return _Token(response, hash_oid, message, gen_time, certificates, certificate)
    raise TimestampVerificationError(
        f"token does not include the signer's certificate (issuer {issuer.rfc4514_string()}, serial {serial})"
    )


def _load_certificate(der: bytes) -> x509.Certificate:
    """Load a certificate and decode now the fields read later (cryptography decodes them lazily)."""
    certificate = x509.load_der_x509_certificate(der)
    _ = (certificate.subject, certificate.issuer, certificate.serial_number)
    _ = (certificate.not_valid_before_utc, certificate.not_valid_after_utc)
    return certificate


def _parse(data: bytes) -> rfc3161_client.TimeStampResponse:
    """Parse a TimeStampResp, or a bare TimeStampToken wrapped in a granted one, with rfc3161-client."""
    try:
        return _decode(data)
    except ValueError as exc:
        try:
            return _decode(_granted_response(data))
        except ValueError:
            raise TimestampFormatError(
                f"not a DER RFC 3161 TimeStampResp or time-stamp token: {exc}"
            ) from exc


def _decode(data: bytes) -> rfc3161_client.TimeStampResponse:
    """Parse a TimeStampResp, putting a certificate set that is not in DER order in order first."""
    try:
        return rfc3161_client.decode_timestamp_response(data)
    except ValueError as exc:
        if "InvalidSetOrdering" not in str(exc) or "SignedData::certificates" not in str(exc):
            raise
        return rfc3161_client.decode_timestamp_response(_with_sorted_certificates(data))


def _granted_response(token_der: bytes) -> bytes:
    """Wrap a TimeStampToken in a TimeStampResp whose PKIStatusInfo is granted."""
    return der_sequence(der_sequence(der_integer(_GRANTED)), token_der)


def _with_sorted_certificates(response_der: bytes) -> bytes:
    """Return the response with the token's certificates in DER order (X.690 §11.6); nothing else moves."""
    try:
        response = decode_der(response_der)
        # TimeStampResp[1] = ContentInfo; ContentInfo[1] = [0] EXPLICIT; [0][0] = SignedData
        signed_data = response.children()[1].children()[1].children()[0]
        index = next(i for i, field in enumerate(signed_data.children()) if field.is_context(0))
        certificates = signed_data.children()[index]
        content = b"".join(sorted(item.raw for item in certificates.children()))
    except (IndexError, StopIteration, TimestampFormatError):
        return response_der  # the library's own error will say what is wrong
    # Sorting keeps every length, so each enclosing header stays valid as it is.
    return _replace(response, [1, 1, 0, index], certificates.raw[: certificates.header_length] + content)


def _replace(node: Der, path: Sequence[int], new: bytes) -> bytes:
    """Return ``node``'s bytes with the descendant at child indexes ``path`` replaced by ``new``."""
    if not path:
        return new
    children = [child.raw for child in node.children()]
    children[path[0]] = _replace(node.children()[path[0]], path[1:], new)
    return node.raw[: node.header_length] + b"".join(children)


# --------------------------------------------------------------------------- checks


def _check_imprint(token: _Token, expected: bytes) -> None:
    """Check that the token time-stamps SHA-256 ``expected`` (the library compares only the bytes)."""
    if token.hash_oid != OID_SHA256 or token.imprint != expected:
        name = "sha256" if token.hash_oid == OID_SHA256 else f"hash {token.hash_oid}"
        raise TimestampVerificationError(
            f"token time-stamps {name}:{token.imprint.hex()}, expected sha256:{expected.hex()}"
        )


def _check_time_stamping_usage(certificate: x509.Certificate) -> None:
    """Check RFC 3161 §2.3: extended key usage critical, with id-kp-timeStamping as its only purpose."""
    subject = certificate.subject.rfc4514_string()
    try:
        extension = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        raise TimestampVerificationError(
            f"TSA certificate {subject} has no extended key usage; RFC 3161 requires id-kp-timeStamping"
        ) from None
    if list(extension.value) != [x509.oid.ExtendedKeyUsageOID.TIME_STAMPING]:
        purposes = ", ".join(usage.dotted_string for usage in extension.value)
        raise TimestampVerificationError(
            f"TSA certificate {subject} has extended key usage {purposes or 'none'}, "
            "not id-kp-timeStamping alone (RFC 3161 §2.3)"
        )
    if not extension.critical:
        raise TimestampVerificationError(
            f"TSA certificate {subject}: the id-kp-timeStamping extended key usage is not critical"
        )


def _verify_with_library(
    token: _Token,
    expected: bytes,
    roots: Sequence[x509.Certificate],
    path: Sequence[x509.Certificate],
) -> None:
    """Verify signature, purpose and path to a root at genTime with rfc3161-client; explain a failure."""
    builder = rfc3161_client.VerifierBuilder()
    for root in roots:
        builder = builder.add_root_certificate(root)
    try:
        builder.build().verify(token.response, expected)
    except rfc3161_client.VerificationError as exc:
        raise _explain(str(exc), token.gen_time, path) from exc
    except ValueError as exc:  # e.g. OpenSSL cannot re-read the token's CMS structure
        raise TimestampFormatError(f"time-stamp token does not parse for verification: {exc}") from exc


def _explain(
    message: str, gen_time: datetime, path: Sequence[x509.Certificate]
) -> TimestampVerificationError:
    """Turn rfc3161-client's error (often an OpenSSL error stack) into a reason a reader can act on."""
    chain_failure = _VERIFY_ERROR_RE.search(message)
    if chain_failure:
        reason = f"TSA certificate does not chain to a trusted root at genTime {gen_time.isoformat()}: "
        reason += f"{chain_failure[1]} (path found: {_describe(path)})"
        stale = [c for c in path if not c.not_valid_before_utc <= gen_time <= c.not_valid_after_utc]
        if stale:
            reason += "; not valid at genTime: " + ", ".join(_validity(c) for c in stale)
        return TimestampChainError(reason)
    reasons = _REASON_RE.findall(message)
    if reasons:
        return TimestampVerificationError(f"TSA signature does not verify: {'; '.join(reasons)}")
    return TimestampVerificationError(f"time-stamp token does not verify: {message}")


# --------------------------------------------------------------------------- the path, for reports


def _chain_path(
    leaf: x509.Certificate, token_certificates: Sequence[x509.Certificate], roots: Sequence[x509.Certificate]
) -> list[x509.Certificate]:
    """Rebuild leaf -> issuer -> ... as far as the roots and the token's certificates go."""
    path = [leaf]
    candidates = [*roots, *token_certificates]  # a trusted root wins over a same-named token certificate
    while path[-1] not in roots and len(path) < _MAX_CHAIN:
        issuer = next((c for c in candidates if c not in path and _issued_by(path[-1], c)), None)
        if issuer is None:
            break
        path.append(issuer)
    return path


def _issued_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Return whether ``issuer``'s name and key signed ``child``."""
    if child.issuer != issuer.subject:
        return False
    try:
        child.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _describe(path: Sequence[x509.Certificate]) -> str:
    """Return ``subject <- issuer <- ...`` for a message, naming an issuer that was not found."""
    text = " <- ".join(c.subject.rfc4514_string() for c in path)
    if path[-1].issuer != path[-1].subject:
        text += f" <- {path[-1].issuer.rfc4514_string()} (not found)"
    return text


def _validity(certificate: x509.Certificate) -> str:
    """Return ``subject (from .. to)`` for a message."""
    return (
        f"{certificate.subject.rfc4514_string()} ({certificate.not_valid_before_utc.isoformat()} .. "
        f"{certificate.not_valid_after_utc.isoformat()})"
    )
