"""Encryption at rest and keyed hashing for the NIK.

The NIK is stored encrypted (AES-256-GCM) so a copy of the database does not reveal it,
and as an HMAC so the database can still find duplicates and enforce uniqueness.
Both keys are derived from ``FUNRUN_DATA_KEY`` with HKDF-SHA256, one per purpose.

AES-256-GCM is libsodium's (PyNaCl), which needs the CPU's AES instructions (every x86-64
server CPU since 2010, ARMv8 with the crypto extensions); where they are missing the same
cipher comes from cryptography, imported only then because it holds ~8 MB in every web
worker that loads it. Both write and read the same bytes: version, nonce, ciphertext, tag.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Callable

from flask import current_app
from nacl import bindings as sodium
from nacl.exceptions import CryptoError, UnavailableError

#: First byte of every ciphertext, so the format can change without guessing.
_FORMAT_V1 = b"\x01"
_NONCE_BYTES = 12
_TAG_BYTES = 16

#: (nonce, data, associated data) -> ciphertext or plaintext
Aead = Callable[[bytes, bytes, bytes], bytes]


def hkdf_sha256(master: bytes, info: bytes, length: int = 32, salt: bytes = b"") -> bytes:
    """HKDF with SHA-256 (RFC 5869): extract with ``salt`` (none: zeros), then expand."""
    prk = hmac.new(salt or bytes(32), master, hashlib.sha256).digest()
    okm, block = b"", b""
    for counter in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
    return okm[:length]


def _derive(master: bytes, purpose: bytes) -> bytes:
    return hkdf_sha256(master, purpose)


class Forged(ValueError):
    """A ciphertext that does not authenticate under this key and context."""


def aes_gcm(key: bytes, *, hardware: bool | None = None) -> tuple[Aead, Aead]:
    """Encrypt and decrypt with AES-256-GCM under ``key``: libsodium's where the CPU can
    (``hardware`` None: ask it), else cryptography's. Decrypting a forgery raises Forged."""
    if hardware is None:
        try:
            sodium.crypto_aead_aes256gcm_encrypt(b"", None, bytes(12), key)
            hardware = True
        except UnavailableError:
            hardware = False
    if not hardware:
        return _aes_gcm_without_aes_instructions(key)

    def encrypt(nonce: bytes, data: bytes, aad: bytes) -> bytes:
        return sodium.crypto_aead_aes256gcm_encrypt(data, aad, nonce, key)

    def decrypt(nonce: bytes, data: bytes, aad: bytes) -> bytes:
        if len(data) < _TAG_BYTES:  # PyNaCl would fail allocating a negative length
            raise Forged("the ciphertext is shorter than its tag")
        try:
            return sodium.crypto_aead_aes256gcm_decrypt(data, aad, nonce, key)
        except CryptoError as exc:
            raise Forged("the ciphertext does not authenticate") from exc

    return encrypt, decrypt


def _aes_gcm_without_aes_instructions(key: bytes) -> tuple[Aead, Aead]:
    """The same cipher by cryptography, for a CPU libsodium cannot run AES-GCM on."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    cipher = AESGCM(key)

    def decrypt(nonce: bytes, data: bytes, aad: bytes) -> bytes:
        try:
            return cipher.decrypt(nonce, data, aad)
        except InvalidTag as exc:
            raise Forged("the ciphertext does not authenticate") from exc

    return cipher.encrypt, decrypt


class DataCipher:
    """Encrypts, decrypts and hashes personal identifiers with one master key."""

    def __init__(self, key_b64: str) -> None:
        try:
            master = base64.urlsafe_b64decode(key_b64.encode())
        except (binascii.Error, ValueError) as exc:
            raise ValueError("FUNRUN_DATA_KEY must be URL-safe base64") from exc
        if len(master) < 32:
            raise ValueError("FUNRUN_DATA_KEY must decode to at least 32 bytes")
        self._encrypt, self._decrypt = aes_gcm(_derive(master, b"funrun/nik/encrypt"))
        self._hash_key = _derive(master, b"funrun/nik/lookup")

    def encrypt(self, plaintext: str, *, context: bytes = b"nik") -> bytes:
        """Encrypt ``plaintext``; ``context`` binds the ciphertext to its column."""
        nonce = os.urandom(_NONCE_BYTES)
        return _FORMAT_V1 + nonce + self._encrypt(nonce, plaintext.encode(), context)

    def decrypt(self, blob: bytes, *, context: bytes = b"nik") -> str:
        """Decrypt a value made by :meth:`encrypt`."""
        if blob[:1] != _FORMAT_V1:
            raise ValueError("unknown ciphertext format")
        if len(blob) < 1 + _NONCE_BYTES + _TAG_BYTES:  # either engine: one answer
            raise Forged("the ciphertext is shorter than its nonce and tag")
        nonce, body = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        return self._decrypt(nonce, body, context).decode()

    def lookup_hash(self, value: str) -> str:
        """Keyed hash used to find and de-duplicate a NIK without decrypting."""
        return hmac.new(self._hash_key, value.encode(), hashlib.sha256).hexdigest()


def data_cipher() -> DataCipher:
    """The app's cipher, built once at start-up."""
    return current_app.extensions["funrun_data_cipher"]


def mask_nik(nik: str) -> str:
    """Show only the region code and the last two digits: ``3174**********01``."""
    return nik[:4] + "*" * (len(nik) - 6) + nik[-2:]
