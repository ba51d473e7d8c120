"""Connections' signing secrets, encrypted at rest.

The key comes from the environment: ``CONNECTOR_SECRETS_KEY`` if set, else ``SECRET_KEY``
(settings ``CONNECTOR_SECRETS_KEY``). Changing it makes the stored secrets unreadable:
each connection's secret must then be entered again (its deliveries are refused with 401
meanwhile, and Shopify retries them for 48 hours).

The scheme uses the standard library only (the project has no ``cryptography``
dependency): encrypt-then-MAC, with HMAC-SHA256 as the pseudo-random function.
Two keys are derived from the master key; a random 16-byte nonce; the keystream is
HMAC(enc_key, nonce ‖ counter); the tag is HMAC(mac_key, version ‖ nonce ‖ ciphertext),
checked with ``hmac.compare_digest`` before anything is decrypted. Stored as
``v1:<base64url>``; the version prefix lets a later scheme (AES-GCM through
``cryptography``) read the old one while re-encrypting.
"""

import base64
import hashlib
import hmac
import os

from django.conf import settings

VERSION = b"v1"
NONCE = 16
TAG = 32


class SecretUnreadable(Exception):
    """The stored secret was encrypted with another key (or altered)."""


def _keys() -> tuple[bytes, bytes]:
    master = (getattr(settings, "CONNECTOR_SECRETS_KEY", "") or settings.SECRET_KEY).encode()
    enc = hmac.new(master, b"crm.connectors.secrets/encrypt", hashlib.sha256).digest()
    mac = hmac.new(master, b"crm.connectors.secrets/authenticate", hashlib.sha256).digest()
    return enc, mac


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (length + 31) // 32
    return b"".join(hmac.new(key, nonce + i.to_bytes(4, "big"), hashlib.sha256).digest() for i in range(blocks))


def secret_encrypt(plain: str) -> str:
    enc, mac = _keys()
    data = plain.encode()
    nonce = os.urandom(NONCE)
    cipher = bytes(a ^ b for a, b in zip(data, _keystream(enc, nonce, len(data)), strict=False))
    tag = hmac.new(mac, VERSION + nonce + cipher, hashlib.sha256).digest()
    return f"{VERSION.decode()}:{base64.urlsafe_b64encode(nonce + cipher + tag).decode()}"


def secret_decrypt(stored: str) -> str:
    version, _, encoded = stored.partition(":")
    if version.encode() != VERSION:
        raise SecretUnreadable(f"Unknown secret format {version!r}.")
    try:
        raw = base64.urlsafe_b64decode(encoded.encode())
    except ValueError as exc:
        raise SecretUnreadable("The stored secret is damaged.") from exc
    if len(raw) < NONCE + TAG:
        raise SecretUnreadable("The stored secret is damaged.")
    nonce, cipher, tag = raw[:NONCE], raw[NONCE:-TAG], raw[-TAG:]
    enc, mac = _keys()
    if not hmac.compare_digest(tag, hmac.new(mac, VERSION + nonce + cipher, hashlib.sha256).digest()):
        raise SecretUnreadable("The stored secret was encrypted with another key: enter it again.")
    return bytes(a ^ b for a, b in zip(cipher, _keystream(enc, nonce, len(cipher)), strict=False)).decode()
