"""Failed API authentications, counted per client address in the cache.

An address with ``API_AUTH_FAILURE_LIMIT`` failures (unknown, revoked or malformed keys)
within ``API_AUTH_FAILURE_SECONDS`` is locked out for that many seconds: a key that is not
already known from the cache gets 429 with ``Retry-After``, before any database lookup.
Only failures count; a valid key neither counts nor lifts a lockout.

DRF's own throttles run after authentication, too late for requests that fail it, so this
sits in the authentication class. The address is the one the admin's sign-in lockout uses
(``crm.request_guard.client_address``): ``REMOTE_ADDR``, or behind ``TRUSTED_PROXY_COUNT``
proxies the ``X-Forwarded-For`` entry the outermost of them added. The counters live in
the default cache (local memory, or Redis when ``REDIS_URL`` is set, shared by every
worker then).
"""

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache

from crm.request_guard import client_address as trusted_client_address


def client_address(request) -> str:
    return trusted_client_address(request) or ""


def _cache_keys(address: str) -> tuple[str, str]:
    # Hashed: an address from a proxy header may be long or hold any character.
    digest = hashlib.sha256(address.encode()).hexdigest()[:32]
    return f"crm:auth-failures:{digest}", f"crm:auth-lockout:{digest}"


def auth_lockout_remaining(*, address: str) -> int:
    """Seconds until ``address`` may try keys again; 0 when it is not locked out."""
    until = cache.get(_cache_keys(address)[1])
    if until is None:
        return 0
    return max(1, math.ceil(until - time.time()))


def auth_failure_record(*, address: str) -> None:
    """Count a failed authentication; the one that reaches the limit starts a lockout."""
    failures_key, lockout_key = _cache_keys(address)
    window = settings.API_AUTH_FAILURE_SECONDS
    cache.add(failures_key, 0, window)
    try:
        failures = cache.incr(failures_key)
    except ValueError:  # the count expired between add and incr
        cache.set(failures_key, 1, window)
        failures = 1
    if failures >= settings.API_AUTH_FAILURE_LIMIT:
        cache.set(lockout_key, time.time() + window, window)
        cache.delete(failures_key)


def auth_failures_reset(*, address: str) -> None:
    cache.delete_many(list(_cache_keys(address)))
