"""Each endpoint's signing secret: generated, shown once, stored encrypted.

The secret must be usable to sign every delivery, so it cannot be hashed like a password or
an API key. It is stored encrypted with Fernet (AES-128-CBC with HMAC-SHA256, from
``cryptography``) under a key from the environment: ``WEBHOOK_SECRETS_KEY`` when set (a
Fernet key, ``Fernet.generate_key()``), else derived from ``SECRET_KEY`` (SHA-256 of a
labelled string). A database dump alone therefore does not give away the secrets. Rotating
``SECRET_KEY`` without setting ``WEBHOOK_SECRETS_KEY`` to the old derived key makes the
stored secrets unreadable: the endpoints then need new secrets (docs/integrations.md).
"""

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet
from django.conf import settings

PREFIX = "whsec_"


def secret_generate() -> str:
    """A new signing secret in the Standard Webhooks form: ``whsec_`` + base64 of 32 random bytes."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _fernet() -> Fernet:
    key = settings.WEBHOOK_SECRETS_KEY
    if not key:
        digest = hashlib.sha256(f"crm.webhooks.secrets:{settings.SECRET_KEY}".encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    return Fernet(key)


def secret_encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def secret_decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()
