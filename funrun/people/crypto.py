"""Encryption at rest and keyed hashing for the NIK.

The NIK is stored encrypted (AES-256-GCM) so a copy of the database does not reveal it,
and as an HMAC so the database can still find duplicates and enforce uniqueness.
Both keys are derived from ``FUNRUN_DATA_KEY`` with HKDF, one per purpose.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

#: First byte of every ciphertext, so the format can change without guessing.
_FORMAT_V1 = b"\x01"


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


class DataCipher:
    """Encrypts, decrypts and hashes personal identifiers with one master key."""

    def __init__(self, key_b64: str) -> None:
        try:
            master = base64.urlsafe_b64decode(key_b64.encode())
        except (binascii.Error, ValueError) as exc:
            raise ValueError("FUNRUN_DATA_KEY must be URL-safe base64") from exc
        if len(master) < 32:
            raise ValueError("FUNRUN_DATA_KEY must decode to at least 32 bytes")
        self._aead = AESGCM(_derive(master, b"funrun/nik/encrypt"))
        self._hash_key = _derive(master, b"funrun/nik/lookup")

    def encrypt(self, plaintext: str, *, context: bytes = b"nik") -> bytes:
        """Encrypt ``plaintext``; ``context`` binds the ciphertext to its column."""
        nonce = os.urandom(12)
        return _FORMAT_V1 + nonce + self._aead.encrypt(nonce, plaintext.encode(), context)

    def decrypt(self, blob: bytes, *, context: bytes = b"nik") -> str:
        """Decrypt a value made by :meth:`encrypt`."""
        if blob[:1] != _FORMAT_V1:
            raise ValueError("unknown ciphertext format")
        nonce, body = blob[1:13], blob[13:]
        return self._aead.decrypt(nonce, body, context).decode()

    def lookup_hash(self, value: str) -> str:
        """Keyed hash used to find and de-duplicate a NIK without decrypting."""
        return hmac.new(self._hash_key, value.encode(), hashlib.sha256).hexdigest()


def data_cipher() -> DataCipher:
    """The app's cipher, built once at start-up."""
    return current_app.extensions["funrun_data_cipher"]


def mask_nik(nik: str) -> str:
    """Show only the region code and the last two digits: ``3174**********01``."""
    return nik[:4] + "*" * (len(nik) - 6) + nik[-2:]
