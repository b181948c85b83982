"""Alembic environment: the target metadata is every SQLModel table in api.models."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context
from sqlalchemy import pool
from sqlmodel import SQLModel

import api.models  # noqa: F401  (registers every table on SQLModel.metadata)
from api.db import normalise_url
from api.models.base import UTCDateTime

config = context.config
target_metadata = SQLModel.metadata


def _render_item(type_: str, obj: object, autogen_context: object) -> str | bool:  # noqa: ARG001
    # Migrations stay independent of model code: the UTC decorator is a plain timezone-aware DateTime.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(*, dialect: str, **kwargs: object) -> None:
    from api.migrate import include_object_for

    context.configure(
        target_metadata=target_metadata,
        render_item=_render_item,
        include_object=include_object_for(dialect),
        compare_type=True,
        compare_server_default=False,
        render_as_batch=True,
        **kwargs,  # type: ignore[arg-type]
    )


def _url() -> str:
    """The URL given by api.migrate, or (for the plain `alembic` command) the one from PRECEDENT_* settings."""
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from api.config import get_settings

        url = get_settings().resolved_database_url
    return str(normalise_url(url))


def run_migrations_offline() -> None:
    url = _url()
    _configure(dialect=sa.engine.make_url(url).get_backend_name(), url=url, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(dialect=connection.dialect.name, connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = sa.create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as conn:
        _configure(dialect=conn.dialect.name, connection=conn)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
