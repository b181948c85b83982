"""A throwaway RFC 3161 time-stamp authority for tests, imported explicitly by the test modules.

Certificates come from the ``openssl`` command line (a root CA and two TSA certificates, RSA and
ECDSA, with ``extendedKeyUsage=critical,timeStamping``); answers come from ``openssl ts -reply``,
called directly or through a tiny HTTP server on loopback. The RSA TSA names its certificate with
ESS signingCertificateV2 (SHA-256), the ECDSA one with the older signingCertificate (SHA-1).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509

requires_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")

TSA_KINDS = ("rsa", "ec")
DEFAULT_POLICY = "1.3.6.1.4.1.55555.1.1"
OTHER_POLICY = "1.3.6.1.4.1.55555.1.2"

_EXTENSIONS = """\
[tsa_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

_TSA_SECTION = """\
[tsa_{kind}]
dir = {directory}
serial = $dir/serial-{kind}
crypto_device = builtin
signer_cert = $dir/tsa-{kind}.crt
certs = $dir/ca.crt
signer_key = $dir/tsa-{kind}.key
signer_digest = sha256
default_policy = {default_policy}
other_policies = {other_policy}
digests = sha256, sha384, sha512
accuracy = secs:1, millisecs:500, microsecs:100
clock_precision_digits = 3
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
{ess_line}
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@dataclass
class LoopbackTsa:
    """A local TSA: its files, and a way to answer a DER TimeStampReq."""

    directory: Path

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.crt"

    def cert_file(self, kind: str) -> Path:
        return self.directory / f"tsa-{kind}.crt"

    def certificate(self, kind: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_file(kind).read_bytes())

    def reply(self, query: bytes, kind: str = "rsa") -> bytes:
        """Return the DER TimeStampResp that ``openssl ts -reply`` gives for ``query``."""
        with tempfile.TemporaryDirectory(dir=self.directory) as work:
            query_file, reply_file = Path(work) / "query.tsq", Path(work) / "reply.tsr"
            query_file.write_bytes(query)
            _openssl(
                "ts", "-reply", "-config", "tsa.cnf", "-section", f"tsa_{kind}",
                "-queryfile", str(query_file), "-out", str(reply_file),
                cwd=self.directory,
            )  # fmt: skip
            return reply_file.read_bytes()


def make_tsa(directory: Path) -> LoopbackTsa:
    """Create a root CA, an RSA and an ECDSA TSA certificate, and the openssl ts configuration."""
    _openssl(
        "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=Precedent Test Root CA", "-days", "3",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    (directory / "ext.cnf").write_text(_EXTENSIONS)
    new_key = {
        "rsa": ["-newkey", "rsa:2048"],
        "ec": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
    }
    sections = []
    for serial, kind in enumerate(TSA_KINDS, 2):
        _openssl(
            "req", "-new", *new_key[kind], "-nodes", "-keyout", f"tsa-{kind}.key", "-out", f"tsa-{kind}.csr",
            "-subj", f"/O=Precedent tests/CN=Test TSA {kind.upper()}",
            cwd=directory,
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", f"tsa-{kind}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-set_serial", str(serial), "-days", "2", "-out", f"tsa-{kind}.crt",
            "-extfile", "ext.cnf", "-extensions", "tsa_ext",
            cwd=directory,
        )  # fmt: skip
        (directory / f"serial-{kind}").write_text("01\n")
        sections.append(
            _TSA_SECTION.format(
                kind=kind,
                directory=directory,
                default_policy=DEFAULT_POLICY,
                other_policy=OTHER_POLICY,
                ess_line="ess_cert_id_alg = sha256" if kind == "rsa" else "",
            )
        )
    (directory / "tsa.cnf").write_text("\n".join(sections))
    return LoopbackTsa(directory)


def rejection_response() -> bytes:
    """Return a DER TimeStampResp with status rejection, text and failInfo badAlg."""
    from evidence_store.tsp import der_integer, der_sequence

    text = b"\x0c\x0bnot allowed"  # UTF8String
    fail_info = b"\x03\x02\x07\x80"  # BIT STRING, 7 unused bits, bit 0 (badAlg) set
    return der_sequence(der_sequence(der_integer(2), der_sequence(text), fail_info))


@contextmanager
def serve_tsa(tsa: LoopbackTsa) -> Iterator[str]:
    """Serve the TSA over HTTP on loopback; yield the base URL.

    Paths: ``/rsa`` and ``/ec`` answer with that TSA, ``/reject`` with a rejection, ``/error``
    with HTTP 500, ``/garbage`` with bytes that are not DER.
    """
    lock = threading.Lock()  # openssl updates the serial file: one answer at a time

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            query = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            kind = self.path.strip("/")
            if kind == "error":
                self.send_error(500, "TSA out of order")
                return
            if kind == "reject":
                body = rejection_response()
            elif kind == "garbage":
                body = b"<html>not a time-stamp</html>"
            else:
                with lock:
                    body = tsa.reply(query, kind)
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Keep test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
