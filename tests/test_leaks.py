"""The leak scanner itself must find what it looks for, or every 'zero occurrences' would mean nothing."""

from __future__ import annotations

import io
import zipfile

from docx import Document
from openpyxl import Workbook

from tests.leaks import find

NAME = "Канарэйка Таямнічая"


def test_it_finds_a_name_inside_a_docx() -> None:
    doc = Document()
    doc.add_paragraph(f"Witness: {NAME}")
    out = io.BytesIO()
    doc.save(out)
    assert find(out.getvalue(), [NAME]) == ["!word/document.xml: " + NAME]


def test_it_finds_a_name_inside_an_xlsx_and_a_nested_zip() -> None:
    book = Workbook()
    book.active.append(["x", NAME])
    inner = io.BytesIO()
    book.save(inner)
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as archive:
        archive.writestr("bag/data/exhibit.xlsx", inner.getvalue())
    assert any(NAME in hit and "exhibit.xlsx!" in hit for hit in find(outer.getvalue(), [NAME]))


def test_it_finds_escaped_and_utf16_forms() -> None:
    assert find(NAME.encode("utf-16-le"), [NAME])
    assert find(NAME.encode("unicode_escape"), [NAME])
    assert find(b"nothing here", [NAME]) == []
