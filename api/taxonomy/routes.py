"""The precedent taxonomy and the HURIDOCS vocabularies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.deps import Require, SessionDep
from api.problems import problem_responses
from api.routing import SessionRoute
from api.taxonomy import service as taxonomy_service
from schemas.base import QueryText, Schema
from schemas.taxonomy_api import LocalNodeCreate, TaxonomyNodeDetail, TaxonomyNodeRead, VocabularyRead

router = APIRouter(route_class=SessionRoute, prefix="/taxonomy", tags=["taxonomy"])
vocabularies_router = APIRouter(route_class=SessionRoute, prefix="/vocabularies", tags=["taxonomy"])

Reader = Annotated[Actor, Depends(Require(Permission.TAXONOMY_READ))]
Manager = Annotated[Actor, Depends(Require(Permission.TAXONOMY_MANAGE))]


class TreeQuery(Schema):
    counts: bool = Field(default=False, description="Add rolled-up counts of the cases you may see.")
    q: QueryText | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Find nodes by label in en, be or ru; returns a flat list.",
    )


@router.get("", response_model=list[TaxonomyNodeRead], responses=problem_responses(401, 403, 422))
def get_tree(
    query: Annotated[TreeQuery, Query()], session: SessionDep, actor: Reader
) -> list[TaxonomyNodeRead]:
    """The taxonomy as a list of areas with nested children; with `q`, the matching nodes as a flat list."""
    if query.q:
        return taxonomy_service.search(session=session, q=query.q)
    return taxonomy_service.tree(session=session, actor=actor, counts=query.counts)


@router.get("/{code}", response_model=TaxonomyNodeDetail, responses=problem_responses(401, 403, 404))
def get_node(code: str, session: SessionDep, actor: Reader) -> TaxonomyNodeDetail:
    """One node with its ancestors, children, its own and inherited norms (each marked verified or not)."""
    return taxonomy_service.node_detail(session=session, code=code)


@router.post(
    "/{code}/children",
    response_model=TaxonomyNodeDetail,
    status_code=201,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def add_local_node(
    code: str, node_in: LocalNodeCreate, session: SessionDep, actor: Manager
) -> TaxonomyNodeDetail:
    """Add a local node under any node (admins). Its code `<parent>.x-<slug>` can never clash with shipped ones."""
    return taxonomy_service.add_local_node(session=session, actor=actor, parent_code=code, node_in=node_in)


@vocabularies_router.get("", response_model=list[VocabularyRead], responses=problem_responses(401, 403))
def list_vocabularies(session: SessionDep, actor: Reader) -> list[VocabularyRead]:
    """The HURIDOCS controlled vocabularies used as facets (perpetrator, location, detention types, ...)."""
    return taxonomy_service.vocabularies(session=session)
