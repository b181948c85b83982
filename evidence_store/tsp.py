"""Trusted time-stamps: the client side of RFC 3161 (Time-Stamp Protocol), with RFC 5652 CMS checks.

``request_timestamp(url, digest)`` sends a ``TimeStampReq`` (v1, SHA-256 ``messageImprint``, a random
64-bit nonce, ``certReq`` TRUE) as ``application/timestamp-query`` over HTTP (RFC 3161 §3.4) and
verifies the ``TimeStampResp`` it gets back. ``verify_timestamp_token(der, digest)`` runs the same
checks offline on a stored ``.tsr`` file (a whole ``TimeStampResp``) or on a bare token:

1. the response status is granted (0) or grantedWithMods (1);
2. the token is a CMS ``SignedData`` with exactly one signer, whose ``eContentType`` is id-ct-TSTInfo;
3. ``TSTInfo.messageImprint`` is SHA-256 over the expected data, and the nonce matches the request's;
4. the ``contentType`` signed attribute is id-ct-TSTInfo and the ``messageDigest`` signed attribute equals
   the signer's digest of the ``eContent`` (the DER ``TSTInfo``);
5. the signature verifies, over the DER of the signed attributes re-tagged as ``SET OF`` (RFC 5652
   §5.4), with the public key of the certificate the signer identifier names, taken from the token's
   own certificate set (RSA PKCS #1 v1.5, ECDSA or Ed25519; SHA-256/384/512);
6. that certificate is the one the ESS ``signingCertificate(V2)`` attribute names (RFC 2634 / RFC 5035),
   carries the id-kp-timeStamping extended key usage (RFC 3161 §2.3), and was valid at ``genTime``.

Trust in the TSA itself (its certificate chain) is not decided here: ``TimestampInfo`` reports the
signer's subject and certificate SHA-256 so a reader can compare them with what the TSA publishes,
and ``trusted_certificates`` pins the accepted signer certificates when the caller knows them.

DER is decoded and encoded by a minimal codec in this module (X.690 definite-length TLVs only).

Errors (all ``EvidenceStoreError``)::

    TimestampError                      root of this module's errors
    ├── TimestampUnavailableError       the TSA could not be reached or answered HTTP failure
    ├── TimestampRejectedError          the TSA answered with a status other than granted
    └── TimestampFormatError            bytes that are not the expected DER structure (also ValueError)
    TimestampVerificationError          a token that does not prove what it claims (IntegrityError,
                                        also TimestampError)
"""

from __future__ import annotations

import hashlib
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from evidence_store.digest import Digest
from evidence_store.errors import EvidenceStoreError, IntegrityError

__all__ = [
    "Der",
    "TimestampError",
    "TimestampFormatError",
    "TimestampInfo",
    "TimestampRejectedError",
    "TimestampRequest",
    "TimestampResponse",
    "TimestampUnavailableError",
    "TimestampVerificationError",
    "build_timestamp_request",
    "decode_der",
    "der_boolean",
    "der_integer",
    "der_null",
    "der_octet_string",
    "der_oid",
    "der_sequence",
    "request_timestamp",
    "verify_timestamp_response",
    "verify_timestamp_token",
]

#: Largest response accepted from a TSA; real tokens with a certificate chain are a few KiB.
MAX_RESPONSE_BYTES = 1024 * 1024

OID_SHA256 = "2.16.840.1.101.3.4.2.1"
OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_TST_INFO = "1.2.840.113549.1.9.16.1.4"
OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SIGNING_CERTIFICATE = "1.2.840.113549.1.9.16.2.12"
OID_SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"

#: Digest algorithms accepted for signatures and certificate ids: name -> (hashlib name, primitive).
_DIGESTS: dict[str, tuple[str, type[hashes.HashAlgorithm]]] = {
    OID_SHA256: ("sha256", hashes.SHA256),
    "2.16.840.1.101.3.4.2.2": ("sha384", hashes.SHA384),
    "2.16.840.1.101.3.4.2.3": ("sha512", hashes.SHA512),
}
#: Signature algorithm OID -> (key type, digest OID or None when the digest algorithm decides).
_SIGNATURES: dict[str, tuple[str, str | None]] = {
    "1.2.840.113549.1.1.1": ("rsa", None),  # rsaEncryption
    "1.2.840.113549.1.1.11": ("rsa", OID_SHA256),
    "1.2.840.113549.1.1.12": ("rsa", "2.16.840.1.101.3.4.2.2"),
    "1.2.840.113549.1.1.13": ("rsa", "2.16.840.1.101.3.4.2.3"),
    "1.2.840.10045.2.1": ("ecdsa", None),  # id-ecPublicKey, used by some signers
    "1.2.840.10045.4.3.2": ("ecdsa", OID_SHA256),
    "1.2.840.10045.4.3.3": ("ecdsa", "2.16.840.1.101.3.4.2.2"),
    "1.2.840.10045.4.3.4": ("ecdsa", "2.16.840.1.101.3.4.2.3"),
    "1.3.101.112": ("ed25519", None),
}
_STATUS_NAMES = {
    0: "granted",
    1: "grantedWithMods",
    2: "rejection",
    3: "waiting",
    4: "revocationWarning",
    5: "revocationNotification",
}
_FAILURE_NAMES = {
    0: "badAlg",
    2: "badRequest",
    5: "badDataFormat",
    14: "timeNotAvailable",
    15: "unacceptedPolicy",
    16: "unacceptedExtension",
    17: "addInfoNotAvailable",
    25: "systemFailure",
}

# X.690 universal tag numbers used here.
_BOOLEAN, _INTEGER, _BIT_STRING, _OCTET_STRING, _NULL, _OID = 1, 2, 3, 4, 5, 6
_SEQUENCE, _SET, _GENERALIZED_TIME = 16, 17, 24
_UNIVERSAL, _CONTEXT = 0, 2


class TimestampError(EvidenceStoreError):
    """Root of the errors raised by the time-stamp client."""


class TimestampUnavailableError(TimestampError):
    """The TSA could not be reached, timed out, or answered with an HTTP error."""


class TimestampRejectedError(TimestampError):
    """The TSA answered, but did not grant a time-stamp."""

    def __init__(self, status: int, text: str, failures: Sequence[str]) -> None:
        """Describe the TSA's status, free text and failure reasons."""
        name = _STATUS_NAMES.get(status, f"status {status}")
        detail = "; ".join(part for part in (text, ", ".join(failures)) if part)
        super().__init__(f"TSA did not grant a time-stamp: {name}" + (f" ({detail})" if detail else ""))
        self.status = status
        self.text = text
        self.failures = list(failures)


class TimestampFormatError(TimestampError, ValueError):
    """Bytes that are not the DER structure RFC 3161 / RFC 5652 prescribe."""


class TimestampVerificationError(IntegrityError, TimestampError):
    """A time-stamp token that does not prove what it claims."""


# --------------------------------------------------------------------------- DER codec (X.690)


@dataclass(frozen=True, slots=True)
class Der:
    """One decoded DER TLV: its tag, and its exact bytes (header and content)."""

    tag_class: int
    constructed: bool
    tag: int
    raw: bytes
    header_length: int

    @property
    def content(self) -> bytes:
        """Return the content octets (without tag and length)."""
        return self.raw[self.header_length :]

    def children(self) -> list[Der]:
        """Return the TLVs inside a constructed value."""
        if not self.constructed:
            raise TimestampFormatError(f"expected a constructed value, got primitive tag {self.tag}")
        content, items, offset = self.content, [], 0
        while offset < len(content):
            item, offset = _read_tlv(content, offset)
            items.append(item)
        return items

    def is_universal(self, tag: int) -> bool:
        """Return whether this is the universal type ``tag``."""
        return self.tag_class == _UNIVERSAL and self.tag == tag

    def is_context(self, tag: int) -> bool:
        """Return whether this is the context-specific tag ``[tag]``."""
        return self.tag_class == _CONTEXT and self.tag == tag


def decode_der(data: bytes) -> Der:
    """Decode exactly one DER TLV spanning all of ``data``."""
    item, end = _read_tlv(data, 0)
    if end != len(data):
        raise TimestampFormatError(f"{len(data) - end} bytes follow the DER value")
    return item


def _read_tlv(data: bytes, offset: int) -> tuple[Der, int]:
    """Read the TLV starting at ``offset``; return it and the offset just after it."""
    start = offset
    if offset >= len(data):
        raise TimestampFormatError("truncated DER: missing tag")
    first = data[offset]
    offset += 1
    tag = first & 0x1F
    if tag == 0x1F:  # high tag number form: base-128 digits, high bit = more follow
        tag = 0
        while True:
            if offset >= len(data):
                raise TimestampFormatError("truncated DER: tag number")
            byte = data[offset]
            offset += 1
            tag = (tag << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
    if offset >= len(data):
        raise TimestampFormatError("truncated DER: missing length")
    length = data[offset]
    offset += 1
    if length == 0x80:
        raise TimestampFormatError("indefinite length is not allowed in DER")
    if length > 0x80:
        count = length & 0x7F
        if count > 8 or offset + count > len(data):
            raise TimestampFormatError("bad DER length")
        length = int.from_bytes(data[offset : offset + count], "big")
        offset += count
    end = offset + length
    if end > len(data):
        raise TimestampFormatError(f"truncated DER: value needs {length} bytes, {len(data) - offset} left")
    node = Der(first >> 6, bool(first & 0x20), tag, bytes(data[start:end]), offset - start)
    return node, end


def _expect(node: Der, tag: int, what: str) -> Der:
    """Return ``node`` if it is the universal type ``tag``; raise naming ``what`` otherwise."""
    if not node.is_universal(tag):
        raise TimestampFormatError(
            f"{what}: expected universal tag {tag}, got class {node.tag_class} tag {node.tag}"
        )
    return node


def _int(node: Der, what: str) -> int:
    """Return the value of a DER INTEGER."""
    content = _expect(node, _INTEGER, what).content
    if not content:
        raise TimestampFormatError(f"{what}: empty INTEGER")
    return int.from_bytes(content, "big", signed=True)


def _oid(node: Der, what: str) -> str:
    """Return the dotted form of a DER OBJECT IDENTIFIER."""
    content = _expect(node, _OID, what).content
    if not content or content[-1] & 0x80:
        raise TimestampFormatError(f"{what}: malformed OBJECT IDENTIFIER")
    arcs, value = [], 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in [first, arcs[0] - 40 * first, *arcs[1:]])


def _octets(node: Der, what: str) -> bytes:
    """Return the content of a primitive DER OCTET STRING."""
    if node.constructed:
        raise TimestampFormatError(f"{what}: constructed OCTET STRING is not DER")
    return _expect(node, _OCTET_STRING, what).content


def _length(n: int) -> bytes:
    """Encode a DER length."""
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag_byte: int, content: bytes) -> bytes:
    """Encode one TLV with a single-byte tag."""
    return bytes([tag_byte]) + _length(len(content)) + content


def der_sequence(*items: bytes) -> bytes:
    """Encode a SEQUENCE of already encoded items."""
    return _tlv(0x30, b"".join(items))


def der_integer(value: int) -> bytes:
    """Encode an INTEGER in minimal two's complement."""
    size = (value if value >= 0 else ~value).bit_length() // 8 + 1
    return _tlv(0x02, value.to_bytes(size, "big", signed=True))


def der_boolean(value: bool) -> bytes:
    """Encode a BOOLEAN (DER: TRUE is 0xFF)."""
    return _tlv(0x01, b"\xff" if value else b"\x00")


def der_null() -> bytes:
    """Encode NULL."""
    return b"\x05\x00"


def der_octet_string(value: bytes) -> bytes:
    """Encode an OCTET STRING."""
    return _tlv(0x04, value)


def der_oid(dotted: str) -> bytes:
    """Encode an OBJECT IDENTIFIER given in dotted form."""
    arcs = [int(part) for part in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40):
        raise ValueError(f"not an OBJECT IDENTIFIER: {dotted!r}")
    body = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return _tlv(0x06, bytes(body))


# --------------------------------------------------------------------------- request


@dataclass(frozen=True, slots=True)
class TimestampRequest:
    """A DER TimeStampReq and the values its response must echo."""

    der: bytes
    digest: bytes
    nonce: int
    policy: str | None = None


@dataclass(frozen=True, slots=True)
class TimestampInfo:
    """What a verified token proves: this SHA-256 digest existed at ``gen_time``, per this TSA."""

    gen_time: datetime
    serial_number: int
    policy: str
    message_imprint: bytes
    nonce: int | None
    accuracy_microseconds: int | None
    signer_subject: str
    signer_certificate_sha256: str


@dataclass(frozen=True, slots=True)
class TimestampResponse:
    """A verified TSA answer: the bytes to store as ``.tsr``, the token inside it, and what it proves."""

    response_der: bytes
    token_der: bytes
    info: TimestampInfo


def _digest_bytes(digest: bytes | Digest) -> bytes:
    """Return the 32 raw bytes of a SHA-256 digest given as bytes or Digest."""
    raw = digest.bytes if isinstance(digest, Digest) else digest
    if len(raw) != hashlib.sha256().digest_size:
        raise ValueError(f"a SHA-256 digest has 32 bytes, got {len(raw)}")
    return raw


def build_timestamp_request(
    digest: bytes | Digest, *, nonce: int | None = None, policy: str | None = None
) -> TimestampRequest:
    """Build a v1 TimeStampReq for a SHA-256 digest, with a random nonce and certReq TRUE."""
    raw = _digest_bytes(digest)
    nonce = secrets.randbits(64) if nonce is None else nonce
    imprint = der_sequence(der_sequence(der_oid(OID_SHA256), der_null()), der_octet_string(raw))
    parts = [der_integer(1), imprint]
    if policy is not None:
        parts.append(der_oid(policy))
    # certReq TRUE: the TSA must include its certificate, so the token verifies on its own offline.
    parts += [der_integer(nonce), der_boolean(True)]
    return TimestampRequest(der=der_sequence(*parts), digest=raw, nonce=nonce, policy=policy)


def request_timestamp(
    url: str, digest: bytes | Digest, *, timeout: float = 10.0, policy: str | None = None
) -> TimestampResponse:
    """Ask the TSA at ``url`` to time-stamp a SHA-256 digest; return the verified response."""
    request = build_timestamp_request(digest, policy=policy)
    body = _post_query(url, request.der, timeout)
    info = verify_timestamp_response(body, request)
    return TimestampResponse(response_der=body, token_der=_split_response(body)[1], info=info)


def _post_query(url: str, query: bytes, timeout: float) -> bytes:
    """POST a DER query to the TSA; return the response body or raise TimestampUnavailableError."""
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise ValueError(f"TSA URL must be http or https, got {url!r}")
    http_request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url,
        data=query,
        method="POST",
        headers={"Content-Type": "application/timestamp-query", "Accept": "application/timestamp-reply"},
    )
    try:
        with urllib.request.urlopen(http_request, timeout=timeout) as answer:  # noqa: S310 (scheme checked)
            body: bytes = answer.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise TimestampUnavailableError(f"TSA {url} answered HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise TimestampUnavailableError(f"cannot reach TSA {url}: {exc.reason}") from exc
    except (TimeoutError, OSError) as exc:
        raise TimestampUnavailableError(f"cannot reach TSA {url}: {exc}") from exc
    if len(body) > MAX_RESPONSE_BYTES:
        raise TimestampUnavailableError(f"TSA {url} sent more than {MAX_RESPONSE_BYTES} bytes")
    return body


# --------------------------------------------------------------------------- response and token


def _split_response(response_der: bytes) -> tuple[Der, bytes]:
    """Check a TimeStampResp's status; return (status info, token DER)."""
    response = _expect(decode_der(response_der), _SEQUENCE, "TimeStampResp")
    parts = response.children()
    if not parts:
        raise TimestampFormatError("TimeStampResp is empty")
    status_info = _expect(parts[0], _SEQUENCE, "PKIStatusInfo")
    fields = status_info.children()
    if not fields:
        raise TimestampFormatError("PKIStatusInfo is empty")
    status = _int(fields[0], "PKIStatus")
    if status not in (0, 1):
        raise TimestampRejectedError(status, *_status_details(fields[1:]))
    if len(parts) < 2:
        raise TimestampFormatError("granted TimeStampResp carries no token")
    return status_info, parts[1].raw


def _status_details(fields: Sequence[Der]) -> tuple[str, list[str]]:
    """Return the free text and failure names of a PKIStatusInfo."""
    text, failures = "", []
    for field in fields:
        if field.is_universal(_SEQUENCE):  # PKIFreeText: SEQUENCE OF UTF8String
            text = " / ".join(item.content.decode("utf-8", "replace") for item in field.children())
        elif field.is_universal(_BIT_STRING) and field.content:
            unused, bits = field.content[0], field.content[1:]
            for i in range(len(bits) * 8 - unused):
                if bits[i // 8] & (0x80 >> (i % 8)):
                    failures.append(_FAILURE_NAMES.get(i, f"failure bit {i}"))
    return text, failures


def verify_timestamp_response(response_der: bytes, request: TimestampRequest) -> TimestampInfo:
    """Verify a TSA's answer to ``request``: status, imprint, nonce, policy and signature."""
    _, token = _split_response(response_der)
    info = verify_timestamp_token(token, request.digest, nonce=request.nonce)
    if request.policy is not None and info.policy != request.policy:
        raise TimestampVerificationError(
            f"TSA used policy {info.policy}, the request asked for {request.policy}"
        )
    return info


def verify_timestamp_token(
    token_der: bytes,
    data_digest: bytes | Digest,
    *,
    nonce: int | None = None,
    trusted_certificates: Collection[x509.Certificate] | None = None,
) -> TimestampInfo:
    """Verify offline that a token (or whole .tsr response) time-stamps ``data_digest``; return what it proves."""
    expected = _digest_bytes(data_digest)
    try:
        signed, tst = _parse_token(token_der)
    except IndexError as exc:  # a structure with fewer elements than its ASN.1 type requires
        raise TimestampFormatError(f"malformed time-stamp token: {exc}") from exc
    if tst.hash_oid != OID_SHA256 or tst.imprint != expected:
        raise TimestampVerificationError(
            f"token time-stamps {_DIGESTS.get(tst.hash_oid, (tst.hash_oid,))[0]}:{tst.imprint.hex()}, "
            f"expected sha256:{expected.hex()}"
        )
    if nonce is not None and tst.nonce != nonce:
        raise TimestampVerificationError(f"token nonce is {tst.nonce}, the request sent {nonce}")
    try:
        certificate = _verify_signer(signed)
    except IndexError as exc:
        raise TimestampFormatError(f"malformed signer information: {exc}") from exc
    _check_certificate(certificate, tst.gen_time, trusted_certificates)
    return TimestampInfo(
        gen_time=tst.gen_time,
        serial_number=tst.serial_number,
        policy=tst.policy,
        message_imprint=tst.imprint,
        nonce=tst.nonce,
        accuracy_microseconds=tst.accuracy_microseconds,
        signer_subject=certificate.subject.rfc4514_string(),
        signer_certificate_sha256=certificate.fingerprint(hashes.SHA256()).hex(),
    )


def _parse_token(der: bytes) -> tuple[_SignedData, _TstInfo]:
    """Parse a token, or the token inside a granted TimeStampResp, down to its TSTInfo."""
    top = _expect(decode_der(der), _SEQUENCE, "time-stamp token")
    first = top.children()[:1]
    if first and first[0].is_universal(_SEQUENCE):  # a TimeStampResp: its first field is PKIStatusInfo
        der = _split_response(der)[1]
    signed = _parse_signed_data(der)
    return signed, _parse_tst_info(signed.econtent)


@dataclass(frozen=True, slots=True)
class _SignedData:
    """The parts of a CMS SignedData that time-stamp verification needs."""

    econtent: bytes
    certificates: list[bytes]
    signer: Der


def _parse_signed_data(token_der: bytes) -> _SignedData:
    """Parse ContentInfo -> SignedData (RFC 5652 §3, §5.1) and return its TSTInfo, certificates, signer."""
    content_info = _expect(decode_der(token_der), _SEQUENCE, "ContentInfo").children()
    if len(content_info) != 2 or _oid(content_info[0], "contentType") != OID_SIGNED_DATA:
        raise TimestampFormatError("token is not a CMS SignedData ContentInfo")
    if not content_info[1].is_context(0):
        raise TimestampFormatError("ContentInfo content is not [0] EXPLICIT")
    wrapped = content_info[1].children()
    if len(wrapped) != 1:
        raise TimestampFormatError("ContentInfo [0] must hold exactly one SignedData")
    fields = _expect(wrapped[0], _SEQUENCE, "SignedData").children()
    if len(fields) < 4:
        raise TimestampFormatError("SignedData has too few fields")
    encap = _expect(fields[2], _SEQUENCE, "EncapsulatedContentInfo").children()
    if len(encap) != 2 or _oid(encap[0], "eContentType") != OID_TST_INFO:
        raise TimestampFormatError("SignedData does not encapsulate a TSTInfo")
    if not encap[1].is_context(0) or len(encap[1].children()) != 1:
        raise TimestampFormatError("eContent is not [0] EXPLICIT OCTET STRING")
    econtent = _octets(encap[1].children()[0], "eContent")
    certificates: list[bytes] = []
    for field in fields[3:-1]:
        if field.is_context(0):  # certificates [0] IMPLICIT CertificateSet; [1] would be CRLs
            certificates = [c.raw for c in field.children() if c.is_universal(_SEQUENCE)]
    signer_infos = _expect(fields[-1], _SET, "signerInfos").children()
    # RFC 3161 §2.4.2: the token carries the TSA's signature and no other.
    if len(signer_infos) != 1:
        raise TimestampVerificationError(f"token must have exactly one signer, has {len(signer_infos)}")
    return _SignedData(econtent, certificates, signer_infos[0])


@dataclass(frozen=True, slots=True)
class _TstInfo:
    """The TSTInfo fields (RFC 3161 §2.4.2) that verification reports."""

    policy: str
    hash_oid: str
    imprint: bytes
    serial_number: int
    gen_time: datetime
    accuracy_microseconds: int | None
    nonce: int | None


def _parse_tst_info(der: bytes) -> _TstInfo:
    """Parse a DER TSTInfo."""
    fields = _expect(decode_der(der), _SEQUENCE, "TSTInfo").children()
    if len(fields) < 5:
        raise TimestampFormatError("TSTInfo has too few fields")
    if _int(fields[0], "TSTInfo.version") != 1:
        raise TimestampFormatError("TSTInfo version is not 1")
    imprint = _expect(fields[2], _SEQUENCE, "messageImprint").children()
    if len(imprint) != 2:
        raise TimestampFormatError("messageImprint must have two fields")
    hash_oid = _oid(_expect(imprint[0], _SEQUENCE, "hashAlgorithm").children()[0], "hashAlgorithm")
    accuracy: int | None = None
    nonce: int | None = None
    for field in fields[5:]:
        if field.is_universal(_SEQUENCE):
            accuracy = _accuracy_microseconds(field)
        elif field.is_universal(_INTEGER):
            nonce = _int(field, "nonce")
    return _TstInfo(
        policy=_oid(fields[1], "policy"),
        hash_oid=hash_oid,
        imprint=_octets(imprint[1], "hashedMessage"),
        serial_number=_int(fields[3], "serialNumber"),
        gen_time=_generalized_time(fields[4]),
        accuracy_microseconds=accuracy,
        nonce=nonce,
    )


def _accuracy_microseconds(node: Der) -> int:
    """Return an Accuracy (seconds, [0] millis, [1] micros) in microseconds."""
    total = 0
    for part in node.children():
        value = int.from_bytes(part.content, "big")
        if part.is_universal(_INTEGER):
            total += value * 1_000_000
        elif part.is_context(0):
            total += value * 1_000
        elif part.is_context(1):
            total += value
    return total


_GENERALIZED_TIME_RE = re.compile(r"([0-9]{14})(?:\.([0-9]{1,12}))?Z")


def _generalized_time(node: Der) -> datetime:
    """Parse a DER GeneralizedTime (YYYYMMDDHHMMSS[.fff]Z) as an aware UTC datetime."""
    text = _expect(node, _GENERALIZED_TIME, "genTime").content.decode("ascii", "replace")
    match = _GENERALIZED_TIME_RE.fullmatch(text)
    if not match:
        raise TimestampFormatError(f"genTime {text!r} is not DER GeneralizedTime")
    try:
        moment = datetime.strptime(match[1], "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
    except ValueError as exc:
        raise TimestampFormatError(f"genTime {text!r} is not a real date and time") from exc
    micros = int((match[2] or "0")[:6].ljust(6, "0"))
    return moment.replace(microsecond=micros)


# --------------------------------------------------------------------------- signer


@dataclass(frozen=True, slots=True)
class _SignerInfo:
    """The SignerInfo fields (RFC 5652 §5.3) that signature verification needs."""

    sid: Der
    digest_oid: str
    signed_attrs: Der
    signature_oid: str
    signature: bytes


def _parse_signer_info(node: Der) -> _SignerInfo:
    """Parse a SignerInfo; signed attributes are mandatory for TSTInfo content."""
    fields = _expect(node, _SEQUENCE, "SignerInfo").children()
    if len(fields) < 6 or not fields[3].is_context(0):
        raise TimestampVerificationError("SignerInfo carries no signed attributes")
    return _SignerInfo(
        sid=fields[1],
        digest_oid=_oid(_expect(fields[2], _SEQUENCE, "digestAlgorithm").children()[0], "digestAlgorithm"),
        signed_attrs=fields[3],
        signature_oid=_oid(
            _expect(fields[4], _SEQUENCE, "signatureAlgorithm").children()[0], "signatureAlgorithm"
        ),
        signature=_octets(fields[5], "signature"),
    )


def _signed_attributes(node: Der) -> dict[str, list[Der]]:
    """Return signed attributes as OID -> values, refusing repeated attribute types."""
    attributes: dict[str, list[Der]] = {}
    for attribute in node.children():
        parts = _expect(attribute, _SEQUENCE, "Attribute").children()
        if len(parts) != 2:
            raise TimestampFormatError("Attribute must have a type and a value set")
        oid = _oid(parts[0], "attrType")
        if oid in attributes:
            raise TimestampVerificationError(f"signed attribute {oid} appears twice")
        attributes[oid] = _expect(parts[1], _SET, "attrValues").children()
    return attributes


def _single(attributes: dict[str, list[Der]], oid: str, name: str) -> Der:
    """Return the one value of a mandatory single-valued attribute."""
    values = attributes.get(oid)
    if not values or len(values) != 1:
        raise TimestampVerificationError(f"signed attribute {name} is missing or has several values")
    return values[0]


def _hash(oid: str, data: bytes) -> bytes:
    """Hash ``data`` with the SHA-2 algorithm named by ``oid``."""
    if oid not in _DIGESTS:
        raise TimestampVerificationError(f"unsupported digest algorithm {oid} (SHA-256/384/512 only)")
    return hashlib.new(_DIGESTS[oid][0], data).digest()


def _verify_signer(signed: _SignedData) -> x509.Certificate:
    """Check the signed attributes and the signature; return the signer's certificate."""
    signer = _parse_signer_info(signed.signer)
    attributes = _signed_attributes(signer.signed_attrs)
    if _oid(_single(attributes, OID_CONTENT_TYPE, "contentType"), "contentType") != OID_TST_INFO:
        raise TimestampVerificationError("signed contentType attribute is not id-ct-TSTInfo")
    signed_digest = _octets(_single(attributes, OID_MESSAGE_DIGEST, "messageDigest"), "messageDigest")
    found = _hash(signer.digest_oid, signed.econtent)
    if signed_digest != found:
        raise TimestampVerificationError(
            f"TSTInfo was altered: signed messageDigest {signed_digest.hex()}, TSTInfo hashes to {found.hex()}"
        )
    certificate_der = _find_signer_certificate(signer.sid, signed.certificates)
    try:
        certificate = x509.load_der_x509_certificate(certificate_der)
    # InvalidVersion is no ValueError: a damaged version byte must fail the check, not crash the verifier.
    except (ValueError, x509.InvalidVersion) as exc:
        raise TimestampFormatError(f"signer certificate is not a valid X.509 certificate: {exc}") from exc
    _check_ess_certificate_id(attributes, certificate_der)
    # RFC 5652 §5.4: the signature covers the signed attributes DER-encoded as an explicit SET OF,
    # not with the [0] IMPLICIT tag they carry inside SignerInfo.
    message = b"\x31" + signer.signed_attrs.raw[1:]
    _verify_signature(certificate, signer, message)
    return certificate


def _find_signer_certificate(sid: Der, certificates: Sequence[bytes]) -> bytes:
    """Return the certificate that the SignerIdentifier names, from the token's certificate set."""
    for candidate in certificates:
        if _certificate_matches(sid, candidate):
            return candidate
    raise TimestampVerificationError(
        "token does not include the signer's certificate (was the request sent with certReq TRUE?)"
    )


def _certificate_matches(sid: Der, certificate_der: bytes) -> bool:
    """Return whether ``sid`` (issuerAndSerialNumber or [0] subjectKeyIdentifier) names this certificate."""
    tbs = _expect(decode_der(certificate_der), _SEQUENCE, "Certificate").children()[0].children()
    if tbs and tbs[0].is_context(0):  # skip the explicit version
        tbs = tbs[1:]
    if sid.is_universal(_SEQUENCE):
        issuer, serial = sid.children()[:2]
        # Compare the issuer's exact DER, as the signer wrote it; re-encoding could hide a difference.
        return issuer.raw == tbs[2].raw and serial.raw == tbs[0].raw
    if sid.is_context(0):
        try:
            ski = x509.load_der_x509_certificate(certificate_der).extensions.get_extension_for_class(
                x509.SubjectKeyIdentifier
            )
        except (x509.ExtensionNotFound, ValueError, x509.InvalidVersion):
            return False
        return ski.value.digest == sid.content
    return False


def _check_ess_certificate_id(attributes: dict[str, list[Der]], certificate_der: bytes) -> None:
    """Check that the ESS signing-certificate attribute names the certificate that verified the signature."""
    # Without this binding a forger could swap in another certificate for the same key.
    if OID_SIGNING_CERTIFICATE_V2 in attributes:
        value = _single(attributes, OID_SIGNING_CERTIFICATE_V2, "signingCertificateV2")
        first = value.children()[0].children()[0].children()  # certs[0] = ESSCertIDv2
        hash_oid = OID_SHA256
        if first[0].is_universal(_SEQUENCE):  # hashAlgorithm present (DEFAULT sha256 when absent)
            hash_oid = _oid(first[0].children()[0], "ESSCertIDv2.hashAlgorithm")
            first = first[1:]
        named, found = _octets(first[0], "certHash"), _hash(hash_oid, certificate_der)
    elif OID_SIGNING_CERTIFICATE in attributes:
        value = _single(attributes, OID_SIGNING_CERTIFICATE, "signingCertificate")
        named = _octets(value.children()[0].children()[0].children()[0], "certHash")
        # ESSCertID (RFC 2634) fixes SHA-1; here it identifies a certificate, it does not sign anything.
        found = hashlib.sha1(certificate_der, usedforsecurity=False).digest()
    else:
        raise TimestampVerificationError("token has no ESS signingCertificate attribute (RFC 3161 §2.4.1)")
    if named != found:
        raise TimestampVerificationError(
            "ESS signingCertificate names a different certificate than the signer's"
        )


def _verify_signature(certificate: x509.Certificate, signer: _SignerInfo, message: bytes) -> None:
    """Verify the SignerInfo signature over ``message`` with the certificate's public key."""
    if signer.signature_oid not in _SIGNATURES:
        raise TimestampVerificationError(f"unsupported signature algorithm {signer.signature_oid}")
    kind, digest_oid = _SIGNATURES[signer.signature_oid]
    digest_oid = digest_oid or signer.digest_oid
    if digest_oid not in _DIGESTS:
        raise TimestampVerificationError(f"unsupported digest algorithm {digest_oid} (SHA-256/384/512 only)")
    algorithm = _DIGESTS[digest_oid][1]()
    key = certificate.public_key()
    try:
        if kind == "rsa" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signer.signature, message, padding.PKCS1v15(), algorithm)
        elif kind == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signer.signature, message, ec.ECDSA(algorithm))
        elif kind == "ed25519" and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signer.signature, message)
        else:
            raise TimestampVerificationError(
                f"signature algorithm {signer.signature_oid} does not fit a {type(key).__name__}"
            )
    except InvalidSignature:
        raise TimestampVerificationError(
            f"TSA signature does not verify with the certificate of {certificate.subject.rfc4514_string()}"
        ) from None


def _check_certificate(
    certificate: x509.Certificate, gen_time: datetime, trusted: Collection[x509.Certificate] | None
) -> None:
    """Check the signer certificate's key usage, validity at genTime, and optional pinning."""
    try:
        usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is None or x509.oid.ExtendedKeyUsageOID.TIME_STAMPING not in usage:
        raise TimestampVerificationError("TSA certificate lacks the id-kp-timeStamping extended key usage")
    if not certificate.not_valid_before_utc <= gen_time <= certificate.not_valid_after_utc:
        raise TimestampVerificationError(
            f"genTime {gen_time.isoformat()} is outside the TSA certificate's validity "
            f"({certificate.not_valid_before_utc.isoformat()} .. {certificate.not_valid_after_utc.isoformat()})"
        )
    if trusted is not None and certificate not in trusted:
        fingerprint = certificate.fingerprint(hashes.SHA256()).hex()
        raise TimestampVerificationError(
            f"TSA certificate sha256:{fingerprint} is not among the trusted ones"
        )
