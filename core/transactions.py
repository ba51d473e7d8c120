"""Running a write in a transaction that is re-run when a concurrent one got in its way."""

from collections.abc import Callable

from django.db import IntegrityError, OperationalError, transaction

ATTEMPTS = 3
# PostgreSQL errors (psycopg class names) that a second try resolves.
RETRYABLE = ("DeadlockDetected", "SerializationFailure")


def atomic_retrying[T](fn: Callable[[], T], *, retry_integrity_errors: bool = False) -> T:
    """``fn()`` in ``transaction.atomic``, re-run after a deadlock or serialization failure.

    With ``retry_integrity_errors``, a unique-key clash is re-run too: right for upserts that
    check first and insert after, where a concurrent request may insert the same key between.
    """
    for attempt in range(ATTEMPTS):
        try:
            with transaction.atomic():
                return fn()
        except (IntegrityError, OperationalError) as exc:
            retryable = (
                retry_integrity_errors if isinstance(exc, IntegrityError) else type(exc.__cause__).__name__ in RETRYABLE
            )
            if attempt == ATTEMPTS - 1 or not retryable:
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")
