"""A printable case sheet: HTML with print CSS, rendered from a redacted case (Jinja2, autoescaped)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from schemas.export import ExportCase

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
# Inline styles only, no scripts: the sheet must print from a browser with JavaScript off.
SHEET_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"


def write_sheet(case: ExportCase, *, audience: str) -> bytes:
    """Render one case as a printable HTML page."""
    html = _env.get_template("sheet.html.j2").render(
        case=case,
        audience=audience,
        lang=case.language or "en",
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    return html.encode()
