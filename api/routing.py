"""Small shared pieces of route signatures: If-Match, list paging parameters, ETag responses."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Query, Response

from api.records import etag

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='The ETag from your last GET (e.g. `"v3"`). Required: a stale one gets 412, none gets 428.',
    ),
]
Cursor = Annotated[str | None, Query(max_length=2048, description="`next_cursor` of the previous page.")]
Limit = Annotated[int, Query(ge=1, le=200, description="Page size.")]


def with_etag(response: Response, version: int) -> None:
    """Send the record's version as its ETag."""
    response.headers["ETag"] = etag(version)
