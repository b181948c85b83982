"""Command line: ``python -m evidence_store verify PATH [--public-key FILE] [--tsa-ca FILE]... [--json]``.

PATH is a bundle ``.zip`` (BagIt, RFC 8493; read in place), an unpacked bag folder, or a copy of
the blob store. Needs only Python 3.10+ and the ``cryptography`` and ``rfc3161-client`` packages
(``pip install precedent-evidence`` gives the same as the ``precedent-verify`` command).

Exit status: 0 when every check passed against the organisation's published key, 1 when any check
failed (each failure is printed, naming the file or leaf index with expected and found values) or when
no ``--public-key`` was given (a forger can replace the key shipped inside, so nothing is proven without
the published one), 2 when PATH or the key cannot be used, or the verifier could not finish.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from evidence_store.treehead import KeyFormatError, load_public_key
from evidence_store.tsa_chain import load_trusted_roots
from evidence_store.tsp import TimestampError
from evidence_store.verify import VerificationInputError, VerificationReport, verify_path

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNUSABLE = 2


class _Progress:
    """Print "hashed N/M blobs" to a stream, at most once a second, and at the end."""

    def __init__(self, stream: TextIO) -> None:
        """Write progress lines to ``stream``."""
        self._stream = stream
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        """Report progress after each blob."""
        now = time.monotonic()
        if done != total and now - self._last < 1.0:
            return
        self._last = now
        self._stream.write(f"hashed {done}/{total} blobs\n")
        self._stream.flush()


def _parser() -> argparse.ArgumentParser:
    """Build the argument parser."""
    parser = argparse.ArgumentParser(
        prog="precedent-verify"
        if Path(sys.argv[0]).stem == "precedent-verify"
        else "python -m evidence_store",
        description="Verify Precedent evidence offline: bundles (BagIt zip or folder) and store copies.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser(
        "verify",
        help="verify a bundle .zip, an unpacked bag, or a store copy",
        description="Check every digest, the signed custody tree head, inclusion proofs and time-stamps.",
    )
    verify.add_argument("path", type=Path, help="bundle .zip, bag folder, or store copy folder")
    verify.add_argument(
        "--public-key",
        type=Path,
        metavar="FILE",
        help="the organisation's published Ed25519 public key (PEM); without it nothing is VERIFIED (exit 1)",
    )
    verify.add_argument(
        "--tsa-ca",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="the time-stamping authority's CA certificate (PEM or DER; repeatable): check the token's chain",
    )
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def _print_report(report: VerificationReport, out: TextIO) -> None:
    """Print a human-readable report."""
    out.write(f"{report.kind}: {report.target}\n")
    for line in report.checked:
        out.write(f"  check {line}\n")
    for line in report.notes:
        out.write(f"  note  {line}\n")
    for problem in report.problems:
        out.write(f"  FAIL  {problem}\n")
    if report.ok:
        out.write("VERIFIED: every check passed; every file is bound to the signed ledger\n")
    else:
        out.write(f"FAILED: {len(report.problems)} problem(s)\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    public_key = None
    if args.public_key is not None:
        try:
            public_key = load_public_key(args.public_key.read_bytes())
        except (OSError, KeyFormatError) as exc:
            print(f"error: cannot use public key {args.public_key}: {exc}", file=sys.stderr)
            return EXIT_UNUSABLE
    try:
        tsa_roots = [path.read_bytes() for path in args.tsa_ca]
        if tsa_roots:
            load_trusted_roots(tsa_roots)
    except (OSError, TimestampError) as exc:
        print(f"error: cannot use the TSA CA certificate(s): {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    try:
        report = verify_path(
            args.path, public_key=public_key, tsa_roots=tsa_roots, progress=_Progress(sys.stderr)
        )
    except (VerificationInputError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except Exception as exc:  # a recipient gets a refusal, never a traceback
        print(
            f"error: the verifier could not finish ({type(exc).__name__}: {exc}); NOT verified",
            file=sys.stderr,
        )
        return EXIT_UNUSABLE
    if public_key is None:
        report.problem(
            "--public-key",
            "not given: the signature was checked only with the key shipped inside, which a forger can "
            "replace; pass the organisation's published key",
        )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        _print_report(report, sys.stdout)
    return EXIT_OK if report.ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
