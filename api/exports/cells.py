"""Cells of the tables Precedent writes (CSV and XLSX) that no spreadsheet program runs as a formula.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel and LibreOffice
when the file is opened: text a documenter typed (a title, an employer, a place) could then call out or run
something on a coordinator's laptop. CSV cells from user input that start so get an apostrophe in front
(OWASP's advice on CSV injection); XLSX cells are stored as text, so they keep their exact value.
"""

from __future__ import annotations

from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """Return `value` so that no spreadsheet program reads it as a formula (for CSV)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def as_text_cells(row: Any) -> None:
    """Store every string cell of an openpyxl row as text, never as a formula (for XLSX)."""
    for cell in row:
        if isinstance(cell.value, str) and cell.value.startswith(_FORMULA_START):
            cell.data_type = "s"
