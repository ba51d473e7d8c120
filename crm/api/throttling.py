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

``ApiKeyRateThrottle`` (DRF's throttle hook, after authentication) limits each key to
``API_RATE_PER_KEY`` requests per window: a counter per key and window in the same cache.

While Redis is down (config.cache.OptionalRedisCache) both count in this process's memory
instead (``counter_cache``), so the limits still hold, per process, through an outage.
"""

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from rest_framework.throttling import BaseThrottle

from crm.request_guard import client_address as trusted_client_address

_local_counters = LocMemCache("crm-api-counters", {"OPTIONS": {"MAX_ENTRIES": 100_000}})


class _CounterCache:
    """The default cache, or this process's memory while the default cache is unavailable."""

    @staticmethod
    def _shared_ok() -> bool:
        return getattr(cache, "available", True)

    def _do(self, name, *args):
        if self._shared_ok():
            result = getattr(cache, name)(*args)
            if self._shared_ok():
                return result
        return getattr(_local_counters, name)(*args)

    def get(self, key):
        return self._do("get", key)

    def set(self, key, value, timeout):
        return self._do("set", key, value, timeout)

    def delete_many(self, keys):
        # Both: counts made in memory during an outage must not outlive a reset either.
        _local_counters.delete_many(keys)
        cache.delete_many(keys)

    def count(self, key: str, timeout: int) -> int:
        """Add one to the counter ``key`` (made with ``timeout`` if new) and return it."""
        if self._shared_ok():
            if hasattr(cache, "count"):  # config.cache.OptionalRedisCache: one round trip
                value = cache.count(key, timeout)
                if value is not None:
                    return value
            else:
                return _add_and_incr(cache, key, timeout)
        return _add_and_incr(_local_counters, key, timeout)


def _add_and_incr(backend, key: str, timeout: int) -> int:
    backend.add(key, 0, timeout)
    try:
        return backend.incr(key)
    except ValueError:  # the count expired between add and incr
        backend.set(key, 1, timeout)
        return 1


counter_cache = _CounterCache()


def client_address(request) -> str:
    return trusted_client_address(request) or ""


def _cache_keys(address: str) -> tuple[str, str]:
    # Hashed: an address from a proxy header may be long or hold any character.
    digest = hashlib.sha256(address.encode()).hexdigest()[:32]
    return f"crm:auth-failures:{digest}", f"crm:auth-lockout:{digest}"


def auth_lockout_remaining(*, address: str) -> int:
    """Seconds until ``address`` may try keys again; 0 when it is not locked out."""
    until = counter_cache.get(_cache_keys(address)[1])
    if until is None:
        return 0
    return max(1, math.ceil(until - time.time()))


def auth_failure_record(*, address: str) -> None:
    """Count a failed authentication; the one that reaches the limit starts a lockout."""
    failures_key, lockout_key = _cache_keys(address)
    window = settings.API_AUTH_FAILURE_SECONDS
    failures = counter_cache.count(failures_key, window)
    if failures >= settings.API_AUTH_FAILURE_LIMIT:
        counter_cache.set(lockout_key, time.time() + window, window)
        counter_cache.delete_many([failures_key])


def auth_failures_reset(*, address: str) -> None:
    counter_cache.delete_many(list(_cache_keys(address)))


_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"6000/minute"`` as (6000, 60): requests and the window in seconds."""
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period.strip()[:1].lower()]


class ApiKeyRateThrottle(BaseThrottle):
    """At most ``API_RATE_PER_KEY`` requests per key and fixed window (a minute by default).

    A counter per key and window, not DRF's list of request times, which at thousands a
    minute would move tens of kilobytes through the cache on every request. A fixed window
    lets a key that used its whole allowance at the end of one window use it again at the
    start of the next: at most twice the rate over any one window. A request without a key
    is refused by authentication, not here.
    """

    def allow_request(self, request, view) -> bool:
        prefix = getattr(request.auth, "prefix", None)  # unique per key, never reused
        if prefix is None or not settings.API_RATE_PER_KEY:  # empty: no limit
            return True
        limit, window = parse_rate(settings.API_RATE_PER_KEY)
        now = time.time()
        slot = int(now // window)
        self._wait = (slot + 1) * window - now
        return counter_cache.count(f"crm:rate:key:{prefix}:{window}:{slot}", window + 1) <= limit

    def wait(self) -> float:
        return self._wait
