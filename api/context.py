"""The application's long-lived parts, built once per process from Settings and kept on `app.state.ctx`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.config import Settings, StorageBackend, make_private_dir
from api.custody.ledger import LedgerTree
from api.db import Database
from api.sealing import Sealer, load_key
from api.search.text import WordSeal, word_seal
from evidence_store.blobstore import BlobStore, LocalBlobStore
from evidence_store.errors import StorageError
from evidence_store.treehead import load_or_create_signing_key

log = logging.getLogger("precedent")

#: S3 has no lock that dies with a process: only multipart uploads idle this long count as abandoned.
S3_ABANDONED_UPLOAD_SECONDS = 24 * 3600


@dataclass
class AppContext:
    settings: Settings
    db: Database
    secret: bytes
    sealer: Sealer
    blob_store: BlobStore
    signing_key: Ed25519PrivateKey
    ledger: LedgerTree = field(default_factory=LedgerTree)
    words: WordSeal = field(init=False)

    def __post_init__(self) -> None:
        self.words = word_seal(self.sealer)

    @classmethod
    def build(cls, settings: Settings) -> AppContext:
        """Open the database and the blob store; load (or, on a fresh install, create) the keys."""
        make_private_dir(settings.data_dir)
        make_private_dir(settings.keys_dir)
        db = Database(settings.resolved_database_url)
        secret = settings.secret_key_bytes()
        identity_key = settings.identity_key.get_secret_value() if settings.identity_key else None
        key_path = settings.keys_dir / "identity.key"
        may_create = identity_key is None and not key_path.exists() and not _sealed_identities_exist(db)
        sealer = Sealer(load_key(configured=identity_key, path=key_path, may_create=may_create))
        return cls(
            settings=settings,
            db=db,
            secret=secret,
            sealer=sealer,
            blob_store=blob_store_for(settings),
            signing_key=load_or_create_signing_key(settings.custody_key_path),
        )

    def remove_abandoned_uploads(self) -> None:
        """Delete what uploads cut short left in the store (a killed process, a lost connection)."""
        age = S3_ABANDONED_UPLOAD_SECONDS if self.settings.storage_backend is StorageBackend.S3 else 0
        try:
            removed = self.blob_store.cleanup_temporary(older_than_seconds=age)
        except StorageError:
            # The store may be briefly unreachable at start; the next start tries again.
            log.warning("could not clean up abandoned uploads", exc_info=True)
            return
        if removed:
            log.info("removed %d abandoned upload(s) from the evidence store", removed)

    def close(self) -> None:
        self.db.dispose()


def blob_store_for(settings: Settings) -> BlobStore:
    """Return the blob store the settings select: the data folder, or an S3-compatible bucket."""
    if settings.storage_backend is StorageBackend.S3:
        from evidence_store.s3 import S3BlobStore

        if not settings.s3_bucket:
            raise ValueError("PRECEDENT_S3_BUCKET is required when PRECEDENT_STORAGE_BACKEND=s3")
        return S3BlobStore(
            settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key=settings.s3_access_key_id.get_secret_value() if settings.s3_access_key_id else None,
            secret_key=(
                settings.s3_secret_access_key.get_secret_value() if settings.s3_secret_access_key else None
            ),
        )
    return LocalBlobStore(settings.evidence_dir)


#: Every place a value sealed under the identity key is kept: a new key would make each one unreadable.
_SEALED_PLACES = (
    "SELECT 1 FROM person_identity LIMIT 1",
    "SELECT 1 FROM evidence_item WHERE sealed_filename IS NOT NULL LIMIT 1",
    "SELECT 1 FROM evidence_blob WHERE sealed_identifiers IS NOT NULL LIMIT 1",
    "SELECT 1 FROM revision WHERE sealed_identity IS NOT NULL LIMIT 1",
    "SELECT 1 FROM user_account WHERE totp_sealed IS NOT NULL OR totp_pending_sealed IS NOT NULL LIMIT 1",
)


def _sealed_identities_exist(db: Database) -> bool:
    """True when anything sealed under the identity key is stored (then a missing key is never replaced)."""
    for query in _SEALED_PLACES:
        try:
            with db.engine.connect() as conn:
                if conn.execute(sa.text(query)).first() is not None:
                    return True
        except sa.exc.DBAPIError:
            continue  # that table or column is not migrated yet: nothing sealed can be in it
    return False
