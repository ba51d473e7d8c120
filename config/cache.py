"""The cache is optional: Redis down is a cache miss, never a failed request.

``OptionalRedisCache`` is Django's own ``RedisCache`` with every operation guarded. A Redis
error (refused, timed out, reset, out of memory) is logged and answered as a miss: ``get``
returns the default, ``get_many`` nothing, ``add``/``set``/``delete``/``touch`` do nothing
and say so (False), ``incr``/``decr`` raise ``ValueError`` as for a key that is not there,
``has_key`` is False. Callers then do what they do on a miss: the API-key lookup reads the
database, the role permissions are read again, and so on.

After an error Redis is not asked again for ``RETRY_SECONDS`` (default 2 s, the ``OPTIONS``
key ``retry_seconds``): every request would otherwise wait for the connection to fail again,
several times. ``available`` says whether the cache is in that state, so that a caller that
needs somewhere to count (the API throttles, crm.api.throttling) can count in the process's
memory instead. The log says once that the cache is down (with the error), once a minute
how many operations were skipped since, and once that it is back.

Why a subclass and not django-redis with ``DJANGO_REDIS_IGNORE_EXCEPTIONS``: that also
swallows errors, but logs every one of them (or none), asks Redis again on every call, and
its ``incr`` answers None where callers expect a number or ``ValueError``; switching would
also change the value format for no gain. This is forty lines over the backend the project
already uses.
"""

import logging
import threading
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

LOG_EVERY_SECONDS = 60.0


class OptionalRedisCache(RedisCache):
    def __init__(self, server, params):
        params = dict(params)
        options = dict(params.get("OPTIONS") or {})
        self.retry_seconds = float(options.pop("retry_seconds", 2.0))
        params["OPTIONS"] = options
        super().__init__(server, params)
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._down_since = 0.0
        self._skipped = 0
        self._last_log = 0.0

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _call(self, miss, fn, *args, **kwargs):
        if not self.available:
            self._note_skip()
            if isinstance(miss, type) and issubclass(miss, Exception):
                raise miss("The cache is unavailable.")
            return miss
        try:
            result = fn(*args, **kwargs)
        except RedisError as exc:
            self._note_error(exc)
            if isinstance(miss, type) and issubclass(miss, Exception):
                raise miss("The cache is unavailable.") from exc
            return miss
        if self._down_since:
            self._note_back()
        return result

    def _note_error(self, exc: Exception) -> None:
        now = time.monotonic()
        with self._lock:
            self._down_until = now + self.retry_seconds
            first = not self._down_since
            if first:
                self._down_since = now
            due = first or now - self._last_log >= LOG_EVERY_SECONDS
            if due:
                self._last_log, skipped, self._skipped = now, self._skipped, 0
        if first:
            logger.warning("Cache unavailable, working without it (Redis: %s: %s)", type(exc).__name__, exc)
        elif due:
            logger.warning(
                "Cache still unavailable after %.0f s; %d operations skipped in the last minute (Redis: %s)",
                now - self._down_since,
                skipped,
                exc,
            )

    def _note_skip(self) -> None:
        with self._lock:
            self._skipped += 1

    def _note_back(self) -> None:
        with self._lock:
            if not self._down_since:
                return
            down_for, self._down_since, self._skipped = time.monotonic() - self._down_since, 0.0, 0
        logger.warning("Cache available again after %.0f s", down_for)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(False, super().add, key, value, timeout=timeout, version=version)

    def get(self, key, default=None, version=None):
        return self._call(default, super().get, key, default=default, version=version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self._call(None, super().set, key, value, timeout=timeout, version=version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(False, super().touch, key, timeout=timeout, version=version)

    def delete(self, key, version=None):
        return self._call(False, super().delete, key, version=version)

    def get_many(self, keys, version=None):
        return self._call({}, super().get_many, keys, version=version)

    def has_key(self, key, version=None):
        return self._call(False, super().has_key, key, version=version)

    def incr(self, key, delta=1, version=None):
        return self._call(ValueError, super().incr, key, delta=delta, version=version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        # Nothing was stored: every key "failed", as Django's contract has it.
        return self._call(list(data), super().set_many, data, timeout=timeout, version=version)

    def delete_many(self, keys, version=None):
        self._call(None, super().delete_many, keys, version=version)

    def count(self, key, timeout, version=None) -> int | None:
        """Add one to the counter ``key``, made with ``timeout`` seconds to live if new, and
        return it, in one round trip (``SET NX EX`` and ``INCR`` pipelined; Django's ``add``
        and ``incr`` take three). None while Redis is unavailable."""
        key = self.make_and_validate_key(key, version=version)

        def run():
            pipe = self._cache.get_client(key, write=True).pipeline(transaction=False)
            pipe.set(key, 0, ex=max(1, int(timeout)), nx=True)
            pipe.incr(key)
            return pipe.execute()[1]

        return self._call(None, run)

    def clear(self):
        return self._call(False, super().clear)
