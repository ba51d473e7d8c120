"""Which arm each customer is in: random, stable per (salt, customer), the same anywhere.

The draw hashes the salt and the customer's id (BLAKE2b, 8 bytes) into a number in [0, 1):
the first ``holdout_share`` of that range is the holdout, the rest is cut in proportion to
the weights. A customer drawn once is drawn the same on a retry, on another worker or after
an upgrade, so a re-run never moves anyone between arms.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

HOLDOUT = -1


def uniform(unit_ids: np.ndarray, salt: str) -> np.ndarray:
    """A number in [0, 1) per id, fixed by (salt, id)."""
    prefix = salt.encode() + b":"
    out = np.empty(len(unit_ids), dtype=np.float64)
    for i, unit in enumerate(unit_ids.tolist()):
        digest = hashlib.blake2b(prefix + str(unit).encode(), digest_size=8).digest()
        out[i] = int.from_bytes(digest, "big") / 2.0**64
    return out


def assign(unit_ids: np.ndarray, salt: str, weights: Sequence[float], holdout_share: float) -> np.ndarray:
    """The arm index per id (``HOLDOUT`` = -1 for the holdout)."""
    if not weights or min(weights) <= 0:
        raise ValueError("Every arm needs a positive weight.")
    if not 0 <= holdout_share < 1:
        raise ValueError("The holdout share is in [0, 1).")
    u = uniform(np.asarray(unit_ids), salt)
    arms = np.full(len(u), HOLDOUT, dtype=np.int64)
    treated = u >= holdout_share
    rest = (u[treated] - holdout_share) / (1 - holdout_share)
    edges = np.cumsum(np.asarray(weights, dtype=np.float64))
    edges /= edges[-1]
    arms[treated] = np.minimum(np.searchsorted(edges, rest, side="right"), len(weights) - 1)
    return arms
