"""Wire contracts of the security audit log (GET /api/v1/audit, admins only)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from schemas.base import Schema
from schemas.enums import Role


def _moment(value: object) -> object:
    """Read an ISO 8601 day (`2026-03-01`) as a date and anything longer as a date and time (UTC if no offset)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                return date.fromisoformat(text)
            moment = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(
                "give an ISO 8601 date (2026-03-01) or date and time (2026-03-01T14:30Z)"
            ) from exc
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return value


Moment = Annotated[datetime | date, BeforeValidator(_moment)]


class AuditQuery(Schema):
    """Filters of the audit log; every one given must hold (AND). Newest events first."""

    actor: uuid.UUID | None = Field(default=None, description="Id of the account that acted.")
    action: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[a-z][a-z0-9._-]*$",
        description="An action or its beginning: `identity.` finds `identity.read`; `access.denied` the denials.",
    )
    target_type: str | None = Field(
        default=None,
        max_length=32,
        pattern=r"^[a-z][a-z_]*$",
        description="Kind of object acted on: `person`, `case`, `evidence`, `user`, `export`, ...",
    )
    target_id: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="Id of the object; also finds events about several objects that list this one.",
    )
    from_: Moment | None = Field(
        default=None,
        alias="from",
        description="From this moment (a day: from its start), ISO 8601; UTC if no offset.",
    )
    to: Moment | None = Field(
        default=None, description="Up to this moment (a day: to its end), ISO 8601; UTC if no offset."
    )
    cursor: str | None = Field(
        default=None, max_length=2048, description="`next_cursor` of the previous page."
    )
    limit: int = Field(default=50, ge=1, le=500, description="Page size (CSV: every matching event).")
    format: Literal["json", "csv"] = Field(default="json", description="`csv` streams every matching event.")

    @model_validator(mode="after")
    def _period_in_order(self) -> AuditQuery:
        start, end = self.since(), self.until()
        if start is not None and end is not None and end <= start:
            raise ValueError("`to` must not be before `from`")
        return self

    def since(self) -> datetime | None:
        """The first moment of the period (inclusive), or None."""
        if self.from_ is None or isinstance(self.from_, datetime):
            return self.from_
        return datetime(self.from_.year, self.from_.month, self.from_.day, tzinfo=UTC)

    def until(self) -> datetime | None:
        """The moment after the period (exclusive): a day given as `to` is counted whole."""
        if self.to is None:
            return None
        if isinstance(self.to, datetime):
            return self.to + timedelta(microseconds=1)
        return datetime(self.to.year, self.to.month, self.to.day, tzinfo=UTC) + timedelta(days=1)

    def filters(self) -> dict[str, Any]:
        """The filters alone (no paging, no format), in a stable form a cursor can be bound to."""
        return self.model_dump(
            mode="json", include={"actor", "action", "target_type", "target_id", "from_", "to"}
        )


class AuditEventRead(Schema):
    """One event of the audit log: who (account and role), did what, to which object, when. Ids, no names."""

    id: int
    at: datetime
    actor_id: uuid.UUID | None
    actor_username: str | None = Field(description="The account's name (admins only see this log).")
    actor_role: Role | None
    action: str
    target_type: str | None
    target_id: str | None
    details: dict[str, Any]
