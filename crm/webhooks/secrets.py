"""Each endpoint's signing secret: generated, shown once, stored encrypted.

The secret must be usable to sign every delivery, so it cannot be hashed like a password or
an API key. It is kept encrypted with the CRM's stored-secrets key (``core.secrets``:
Fernet under ``STORED_SECRETS_KEYS``, else ``SECRET_KEY``; rotatable by listing the new key
first). A database dump alone therefore does not give the secrets away. A secret
encrypted under a key no longer listed cannot be read: the endpoint then needs a new one.
"""

import base64
import secrets

PREFIX = "whsec_"


def secret_generate() -> str:
    """A new signing secret in the Standard Webhooks form: ``whsec_`` + base64 of 32 random bytes."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
