"""Field encryption for phone and ID numbers; the key never lives in the database."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crm_store.errors import DataKeyError

KEY_BYTES = 32
NONCE_BYTES = 12
KEY_CHECK_LABEL = b"bankbot data key check v1"
_VERSION = b"\x01"  # first byte of every ciphertext, so keys or algorithms can rotate later


def new_key_text() -> str:
    """A fresh random key as URL-safe base64 text (the form BANKBOT_DATA_KEY takes)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def decode_key(text: str) -> bytes:
    """Turn the key text into 32 bytes, or say clearly what is wrong with it."""
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode())
    except ValueError as exc:
        raise DataKeyError("BANKBOT_DATA_KEY is not valid base64") from exc
    if len(raw) != KEY_BYTES:
        raise DataKeyError("BANKBOT_DATA_KEY must decode to 32 bytes")
    return raw


def write_key_file(path: Path, key: str | None = None) -> str:
    """Create a key file (a fresh key unless one is given) readable by its owner only, on
    disk before this returns; return the key text. An existing file is never overwritten."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = key or new_key_text()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(fd, 0o600)  # whatever the umask
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return key


def read_key_file(path: Path) -> str:
    """Read a key file, refusing one that others can read."""
    if path.stat().st_mode & 0o077:
        raise DataKeyError(f"{path.name} must have 0600 permissions")
    return path.read_text().strip()


class FieldCipher:
    """AES-256-GCM for single fields, plus a keyed hash for change detection."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)
        self._mac_key = hashlib.sha256(b"bankbot-row-hash" + key).digest()
        self._check = hmac.new(key, KEY_CHECK_LABEL, hashlib.sha256).hexdigest()
        self._code_key = hmac.new(key, b"bankbot bind code hash v1", hashlib.sha256).digest()

    def encrypt(self, plaintext: str) -> bytes:
        """Encrypt one value with a fresh nonce."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext.encode(), None)

    def decrypt(self, blob: bytes) -> str:
        """Decrypt one value; a wrong key is a clear error, not garbage."""
        if not blob or blob[:1] != _VERSION:
            raise DataKeyError("unknown ciphertext format")
        nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, None).decode()
        except InvalidTag as exc:
            raise DataKeyError("data key does not match the stored data") from exc

    def row_hash(self, *values: object) -> str:
        """A keyed digest of a row's values: equal input gives an equal digest."""
        text = "\x1f".join("" if v is None else str(v) for v in values)
        return hmac.new(self._mac_key, text.encode(), hashlib.sha256).hexdigest()

    def key_check(self) -> str:
        """A MAC of a fixed label under the key: stored to recognise the key, never the key."""
        return self._check

    def code_hash(self, code: str) -> str:
        """A keyed hash of a one-time bind code (a key derived from the data key)."""
        normal = code.strip().upper().encode()
        return hmac.new(self._code_key, normal, hashlib.sha256).hexdigest()
