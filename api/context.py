"""The application's long-lived parts, built once per process from Settings and kept on `app.state.ctx`."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa

from api.config import Settings
from api.db import Database
from api.sealing import Sealer, load_key

log = logging.getLogger("precedent")


@dataclass
class AppContext:
    settings: Settings
    db: Database
    secret: bytes
    sealer: Sealer

    @classmethod
    def build(cls, settings: Settings) -> AppContext:
        """Open the database and load (or, on a fresh install, create) the keys in the data folder."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.resolved_database_url)
        secret = settings.secret_key_bytes()
        identity_key = settings.identity_key.get_secret_value() if settings.identity_key else None
        key_path = settings.keys_dir / "identity.key"
        may_create = identity_key is None and not key_path.exists() and not _sealed_identities_exist(db)
        sealer = Sealer(load_key(configured=identity_key, path=key_path, may_create=may_create))
        return cls(settings=settings, db=db, secret=secret, sealer=sealer)

    def close(self) -> None:
        self.db.dispose()


def _sealed_identities_exist(db: Database) -> bool:
    try:
        with db.engine.connect() as conn:
            return conn.execute(sa.text("SELECT 1 FROM person_identity LIMIT 1")).first() is not None
    except sa.exc.DBAPIError:
        # Not migrated yet: nothing sealed can exist.
        return False
