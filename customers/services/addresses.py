"""Address fingerprints: two orders ship to the same place when their keys are equal.

The key is the SHA-256 of the address with case, accents, punctuation and spacing
removed ("12 Rue de l'Église, 75001" and "12 rue de l eglise 75001" match), so the CRM can
compare addresses without storing them.
"""

import hashlib
import unicodedata


def address_key(*parts: str) -> str:
    text = unicodedata.normalize("NFKD", " ".join(parts)).casefold()
    letters = "".join(ch for ch in text if ch.isalnum() and not unicodedata.combining(ch))
    return hashlib.sha256(letters.encode()).hexdigest() if letters else ""
