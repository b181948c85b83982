"""Settings: one BaseSettings read from PRECEDENT_* environment variables, injected into create_app().

Unsafe defaults are refused outside dev mode: in production a secret key must be given explicitly.
"""

from __future__ import annotations

import os
import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Everything the server writes (database, keys, evidence, exports, backups) is its account's alone: the umask the
# CLI sets at start, and the modes given where each file and folder is made, so either alone keeps them private.
PRIVATE_UMASK = 0o077
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def make_private_dir(path: Path) -> Path:
    """Create a folder (and its missing parents) readable by this account only; return it."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    return path


class Mode(StrEnum):
    DEV = "dev"
    PRODUCTION = "production"


class StorageBackend(StrEnum):
    LOCAL = "local"
    S3 = "s3"


class Settings(BaseSettings):
    """Every setting Precedent reads; each is documented in docs/configuration.md."""

    model_config = SettingsConfigDict(env_prefix="PRECEDENT_", extra="ignore", validate_default=True)

    mode: Mode = Mode.DEV
    data_dir: Path = Path("./var")
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    secret_key: SecretStr | None = None
    identity_key: SecretStr | None = None

    token_ttl_minutes: int = Field(default=12 * 60, ge=1, le=60 * 24 * 30)
    api_token_ttl_days: int = Field(default=365, ge=1, le=3650)
    login_max_failures: int = Field(default=5, ge=1)
    login_ip_max_failures: int = Field(default=30, ge=1)
    # Failures of clients that never signed in to the account, from every address together.
    login_account_max_failures: int = Field(default=20, ge=1)
    login_window_seconds: int = Field(default=15 * 60, ge=1)

    max_upload_bytes: int = Field(default=2 * 1024**3, ge=1)
    max_json_bytes: int = Field(default=2 * 1024**2, ge=1024)

    storage_backend: StorageBackend = StorageBackend.LOCAL
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None

    tsa_urls: list[str] = Field(default_factory=list)
    cors_origins: list[str] = Field(default_factory=list)
    trust_proxy_headers: bool = False
    # Roles that may read identities must have a second factor before they do (on by default in production).
    require_2fa: bool | None = None
    log_level: str = "INFO"
    # Organisation shown on exports and bundles (bag-info Source-Organization).
    organisation_name: str = "Precedent"

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.mode is Mode.PRODUCTION:
            if self.secret_key is None or len(self.secret_key.get_secret_value()) < 32:
                raise ValueError(
                    "PRECEDENT_SECRET_KEY (at least 32 characters) is required in production mode"
                )
            if self.storage_backend is StorageBackend.S3 and not self.s3_bucket:
                raise ValueError("PRECEDENT_S3_BUCKET is required when PRECEDENT_STORAGE_BACKEND=s3")
        return self

    @property
    def second_factor_required(self) -> bool:
        """PRECEDENT_REQUIRE_2FA, defaulting to on in production mode and off in dev mode."""
        return self.mode is Mode.PRODUCTION if self.require_2fa is None else self.require_2fa

    @property
    def resolved_database_url(self) -> str:
        """Return the database URL, defaulting to SQLite inside the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'precedent.sqlite3').resolve()}"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def evidence_dir(self) -> Path:
        return self.data_dir / "evidence"

    @property
    def custody_key_path(self) -> Path:
        """The Ed25519 key that signs the custody ledger's tree heads (created on first start)."""
        return self.keys_dir / "custody-ed25519.pem"

    def secret_key_bytes(self) -> bytes:
        """Return the server secret, generating and persisting one in the data folder in dev mode."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        return _dev_secret(self.keys_dir)


def _dev_secret(keys_dir: Path) -> bytes:
    path = keys_dir / "secret.key"
    if not path.exists():
        make_private_dir(keys_dir)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            # link() refuses to replace: a concurrent first start keeps whichever key landed first.
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip().encode()


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings read from the environment."""
    return Settings()
