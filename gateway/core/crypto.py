"""Encryption at rest with the instance key (AES-256-GCM); each value is bound to what it belongs to."""
from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = b"\x01"


class WrongKey(Exception):
    """The data was encrypted with another key, or was changed."""


def encrypt(key: bytes, plaintext: bytes, context: str) -> bytes:
    """context names the owner (e.g. 'face-template:42'), so a value copied to another row does not decrypt."""
    nonce = os.urandom(12)
    return VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, context.encode())


def decrypt(key: bytes, blob: bytes, context: str) -> bytes:
    if not blob.startswith(VERSION) or len(blob) < 29:
        raise WrongKey("not a value encrypted by this gateway")
    try:
        return AESGCM(key).decrypt(blob[1:13], blob[13:], context.encode())
    except InvalidTag:
        raise WrongKey(
            "encrypted data cannot be read with this instance's encryption.key: the key file was replaced "
            "or the data was changed"
        ) from None
