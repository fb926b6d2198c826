"""AES-256-GCM secret box for secrets stored in the database, with key ids and rotation.

A sealed value looks like ``v1:<key id>:<body>``:

- ``v1``: format version;
- key id: 8 hex characters naming the key that sealed it (see ``key_id``), so retired keys stay readable;
- body: unpadded base64url of ``nonce (12 bytes) + ciphertext + tag (16 bytes)``.

The associated data is ``"<table>.<column>:<row_id>"`` (``row_id`` through ``str()``), so a value copied into another
row or column does not open. Row ids must therefore be known before sealing.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable, Iterator
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
VERSION = "v1"
EXTENSION_NAME = "medianest_secretbox"
_KEY_ID_LABEL = b"medianest key id v1\x00"


class CryptoError(Exception):
    """A sealed value could not be opened. Messages never contain plaintext, ciphertext or keys."""


def parse_key(text: str, *, name: str = "MEDIANEST_ENCRYPTION_KEY") -> bytes:
    """Decode a base64 (standard or urlsafe, padding optional) 32-byte key; ValueError names ``name``, not the key."""
    compact = (text or "").strip().replace("-", "+").replace("_", "/")
    try:
        key = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{name} must be base64 of {KEY_BYTES} bytes (not valid base64)") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"{name} must be base64 of {KEY_BYTES} bytes (got {len(key)})")
    return key


def generate_key() -> str:
    """A new random key as standard base64 text, ready for MEDIANEST_ENCRYPTION_KEY."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def key_id(key: bytes) -> str:
    """A short stable name for a key; a labelled hash, so it reveals nothing usable about the key."""
    return hashlib.sha256(_KEY_ID_LABEL + key).hexdigest()[:8]


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _associated_data(table: str, column: str, row_id: Any) -> bytes:
    if row_id is None:
        raise ValueError(f"{table}.{column}: row_id is required to seal or open a secret")
    return f"{table}.{column}:{row_id}".encode()


class SecretBox:
    """Seals with the current key; opens with the current key or any old one."""

    def __init__(self, current_key: bytes, old_keys: Iterable[bytes] = ()):
        self._keys: dict[str, AESGCM] = {}
        for key in (current_key, *old_keys):
            if len(key) != KEY_BYTES:
                raise ValueError(f"encryption keys must be {KEY_BYTES} bytes (got {len(key)})")
            kid = key_id(key)
            if kid in self._keys:
                continue  # the same key listed twice (e.g. current also among old keys)
            self._keys[kid] = AESGCM(key)
        self.current_key_id = key_id(current_key)

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    def __repr__(self) -> str:
        return f"SecretBox(current={self.current_key_id}, keys={self.key_ids})"

    def seal(self, plaintext: str, *, table: str, column: str, row_id: Any) -> str:
        if not isinstance(plaintext, str):
            raise TypeError(f"{table}.{column}: only str values can be sealed")
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self.current_key_id].encrypt(
            nonce, plaintext.encode("utf-8"), _associated_data(table, column, row_id)
        )
        return f"{VERSION}:{self.current_key_id}:{_b64url(nonce + sealed)}"

    def open(self, token: str, *, table: str, column: str, row_id: Any) -> str:
        where = f"{table}.{column} for row {row_id}"
        associated = _associated_data(table, column, row_id)
        kid, raw = self._parse(token, where)
        aead = self._keys.get(kid)
        if aead is None:
            raise CryptoError(f"cannot decrypt {where}: unknown key id {kid} (is the old key still configured?)")
        try:
            plaintext = aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated)
        except InvalidTag:
            raise CryptoError(f"cannot decrypt {where}: wrong key or tampered value") from None
        try:
            return plaintext.decode("utf-8")
        except UnicodeDecodeError:
            raise CryptoError(f"cannot decrypt {where}: value is not text") from None

    def needs_rotation(self, token: str) -> bool:
        """True when the value was sealed with a key other than the current one."""
        kid, _ = self._parse(token, "value")
        return kid != self.current_key_id

    def rotate(self, token: str, *, table: str, column: str, row_id: Any) -> str:
        """Open with whichever key sealed it and seal again with the current key."""
        plaintext = self.open(token, table=table, column=column, row_id=row_id)
        return self.seal(plaintext, table=table, column=column, row_id=row_id)

    def rotate_values(
        self, rows: Iterable[tuple[Any, str | None]], *, table: str, column: str
    ) -> Iterator[tuple[Any, str]]:
        """Yield ``(row_id, new_token)`` for each row sealed with an old key; empty values are skipped."""
        for row_id, token in rows:
            if token and self.needs_rotation(token):
                yield row_id, self.rotate(token, table=table, column=column, row_id=row_id)

    @staticmethod
    def _parse(token: str, where: str) -> tuple[str, bytes]:
        if not isinstance(token, str):
            raise CryptoError(f"cannot decrypt {where}: malformed value")
        parts = token.split(":")
        if len(parts) != 3:
            raise CryptoError(f"cannot decrypt {where}: malformed value")
        version, kid, body = parts
        if version != VERSION:
            raise CryptoError(f"cannot decrypt {where}: unknown format version")
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            raise CryptoError(f"cannot decrypt {where}: malformed value") from None
        # The decoder skips stray characters; insist on the exact encoding we write.
        if _b64url(raw) != body or len(raw) < NONCE_BYTES + TAG_BYTES:
            raise CryptoError(f"cannot decrypt {where}: malformed value")
        return kid, raw


def _old_key_texts(value: str | Iterable[str] | None) -> list[str]:
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [item.strip() for item in items if item and item.strip()]


def init_app(app) -> SecretBox:
    """Build the app's SecretBox from MEDIANEST_ENCRYPTION_KEY and MEDIANEST_OLD_ENCRYPTION_KEYS."""
    text = app.config.get("MEDIANEST_ENCRYPTION_KEY")
    if not text:
        raise ValueError("MEDIANEST_ENCRYPTION_KEY is not set")
    current = parse_key(text)
    old = [
        parse_key(item, name=f"MEDIANEST_OLD_ENCRYPTION_KEYS entry {n}")
        for n, item in enumerate(_old_key_texts(app.config.get("MEDIANEST_OLD_ENCRYPTION_KEYS")), start=1)
    ]
    box = SecretBox(current, old)
    app.extensions[EXTENSION_NAME] = box
    return box


def secret_box() -> SecretBox:
    """The current app's SecretBox (set up by ``init_app``)."""
    box = current_app.extensions.get(EXTENSION_NAME)
    if box is None:
        raise RuntimeError("medianest.crypto.init_app(app) has not been called for this app")
    return box


def rotate_values(
    rows: Iterable[tuple[Any, str | None]], *, table: str, column: str, box: SecretBox | None = None
) -> Iterator[tuple[Any, str]]:
    """``SecretBox.rotate_values`` on the current app's box unless ``box`` is given."""
    return (box or secret_box()).rotate_values(rows, table=table, column=column)
