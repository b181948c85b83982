"""Sealing of identity data at rest with AES-256-GCM (GDPR Art. 4(5) pseudonymisation: the key lives apart).

A sealed value is `nonce (12 bytes) || ciphertext+tag`, bound to its row by associated data (the record id),
so a sealed identity copied onto another person's row does not open.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32


class SealError(Exception):
    """A sealed value could not be opened (wrong key, wrong record, or tampered bytes)."""


class Sealer:
    """Seal JSON documents under one AES-256-GCM key; open them only through api.identity.door (audited)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("identity key must be 32 bytes")
        self._aead = AESGCM(key)
        self._key = key
        self.key_id = hashlib.sha256(b"precedent-identity-key\x00" + key).hexdigest()[:16]

    def seal(self, document: dict[str, Any], *, context: str) -> bytes:
        """Encrypt a JSON document, binding it to `context` (e.g. the person id)."""
        nonce = secrets.token_bytes(12)
        plaintext = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
        return nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def derived_key(self, purpose: str) -> bytes:
        """Return a 32-byte key for `purpose` (HKDF-SHA256, RFC 5869), independent of the sealing key's use.

        The search index's keyed word hashes use one: the words of sealed texts are findable, not readable.
        """
        return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose.encode()).derive(
            self._key
        )

    def _open(self, sealed: bytes, *, context: str) -> dict[str, Any]:
        """Decrypt a sealed document, or raise SealError. Only api.identity.door calls this: it records the
        opening in the audit log first (a test fails on any other caller)."""
        try:
            plaintext = self._aead.decrypt(sealed[:12], sealed[12:], context.encode())
        except (InvalidTag, ValueError) as exc:
            raise SealError("sealed identity does not open with this key and record") from exc
        value = json.loads(plaintext)
        if not isinstance(value, dict):
            raise SealError("sealed identity is not a document")
        return value


def load_key(*, configured: str | None, path: Path, may_create: bool) -> bytes:
    """Return the identity key from settings (base64) or its file, creating the file only when allowed."""
    if configured:
        key = base64.b64decode(configured)
        if len(key) != KEY_BYTES:
            raise ValueError("PRECEDENT_IDENTITY_KEY must be 32 bytes, base64-encoded")
        return key
    if path.exists():
        return base64.b64decode(path.read_text().strip())
    if not may_create:
        raise RuntimeError(
            f"identity key {path} is missing but sealed identities exist: restore the key from backup "
            "(or set PRECEDENT_IDENTITY_KEY); a new key would make every identity unreadable"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode())
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)  # never replaces a key another process created first
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return base64.b64decode(path.read_text().strip())
