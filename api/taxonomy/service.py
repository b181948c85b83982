"""Taxonomy queries used by other domains (interim: replaced by the database-backed taxonomy in issue 3)."""

from __future__ import annotations

from sqlmodel import Session

from schemas.case import CategoryNotice


def resolve_case_codes(*, session: Session, codes: list[str]) -> tuple[list[str], list[CategoryNotice]]:  # noqa: ARG001 (interim)
    """Return the codes to file a case under, and notices on any code that was mapped."""
    return list(codes), []


def subtree_codes(*, session: Session, code: str) -> list[str]:  # noqa: ARG001 (interim)
    """Return `code` and every code below it."""
    return [code]
