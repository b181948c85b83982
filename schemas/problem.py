"""RFC 9457 problem details: the body of every error response (media type application/problem+json)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FieldError(BaseModel):
    """One invalid input, located by its field path."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(
        description="Dotted path of the offending field, e.g. `body.occurred_from` or `query.category`."
    )
    message: str
    type: str = Field(
        description="Machine-readable error kind, e.g. `missing`, `extra_forbidden`, `unknown_code`."
    )


class Problem(BaseModel):
    """An RFC 9457 problem; extension members are allowed."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(default="about:blank", description="URI reference identifying the problem type.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = Field(default=None, description="Present on validation problems (422).")
