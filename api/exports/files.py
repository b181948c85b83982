"""A made export file as an HTTP download: shared by the API's export routes and the web export page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Response


def file_response(body: bytes, *, media_type: str, filename: str, record: Any) -> Response:
    """A made export file as a download, with its export id, digest and withheld count in headers."""
    return Response(
        content=body,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Export-Id": str(record.id),
            "X-Export-SHA256": record.sha256,
            "X-Withheld-Count": str(len(record.withheld)),
        },
    )


def stamp() -> str:
    """Today (UTC) for export file names."""
    return datetime.now(UTC).strftime("%Y-%m-%d")
