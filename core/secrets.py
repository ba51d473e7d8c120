"""Secrets the CRM must read back (a shop connection's signing secret, an outbound
webhook's signing key), encrypted at rest with Fernet (``cryptography``: AES-128-CBC with an
HMAC-SHA256 tag, checked before anything is decrypted).

The keys come from the environment: ``STORED_SECRETS_KEYS``, a comma-separated list (the
first encrypts, every one decrypts, so a key is rotated by putting the new one first and
re-saving the secrets), else ``SECRET_KEY``. Each is stretched to a Fernet key with
SHA-256, so any string will do. A secret encrypted under a key no longer listed cannot be
read: it must be entered again.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnreadable(Exception):
    """The stored secret was encrypted with a key no longer configured (or altered)."""


def _fernet() -> MultiFernet:
    keys = [k.strip() for k in (settings.STORED_SECRETS_KEYS or "").split(",") if k.strip()]
    keys = keys or [settings.SECRET_KEY]
    return MultiFernet(
        [Fernet(base64.urlsafe_b64encode(hashlib.sha256(f"crm-stored-secret:{k}".encode()).digest())) for k in keys]
    )


def secret_encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def secret_decrypt(stored: str) -> str:
    try:
        return _fernet().decrypt(stored.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("The stored secret was encrypted with another key: enter it again.") from exc
