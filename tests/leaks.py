"""Byte-level leak scanning: look for canary strings in any bytes, inside zip containers (bundles, DOCX,
XLSX) too, in the encodings a document might use: UTF-8, UTF-16, escapes, and XML/HTML character
references (openpyxl writes every non-ASCII letter as `&#1050;`)."""

from __future__ import annotations

import html
import io
import zipfile
from collections.abc import Iterable


def _byte_forms(needle: str) -> set[bytes]:
    return {
        needle.encode("utf-8"),
        needle.encode("utf-16-le"),
        needle.encode("utf-16-be"),
        needle.encode("unicode_escape"),
    }


def find(blob: bytes, needles: Iterable[str], *, where: str = "") -> list[str]:
    """Return 'where: needle' for every needle found anywhere in blob (recursing into zip members)."""
    needles = list(needles)
    # Character references and entities decoded, case folded: "&#1050;анарэйка" is "Канарэйка".
    text = html.unescape(blob.decode("utf-8", errors="replace")).casefold()
    found = []
    for needle in needles:
        if needle.casefold() in text or any(form in blob for form in _byte_forms(needle)):
            found.append(f"{where or '<bytes>'}: {needle}")
    if blob[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            for name in archive.namelist():
                found += find(archive.read(name), needles, where=f"{where}!{name}")
    return found
