"""How every Celery task of the CRM is declared: one decorator, one list of retryable errors.

``crm_task`` is ``shared_task`` with the policy every task shares:

- **Retry what an outage raises**, with exponential backoff and jitter: a lost database
  (Django's ``OperationalError``/``InterfaceError``, which wrap psycopg's), a lost broker or
  cache (redis-py's and kombu's errors), and the builtin connection errors. None of these
  is a subclass of the builtin ``ConnectionError`` that the tasks used to list, so before
  this a task that met an outage failed at once and its work was dropped.
- **A time limit on every task**: a soft one that raises inside the task, a hard one 30 s
  later that kills it. The broker's visibility timeout (``CELERY_BROKER_TRANSPORT_OPTIONS``)
  is longer than the longest hard limit, so a task is never handed to a second worker
  while the first still runs it, and a task whose worker was killed is redone within
  minutes.
- The backoff is capped below the visibility timeout, since a retry waiting on its
  countdown is held unacknowledged by the worker.

Every task is idempotent (it takes ids and converges), so a retry or a redelivery after a
killed worker gives the same state. A task that fails for good is recorded for the staff
(``crm.TaskFailure``, written from Celery's ``task_failure`` signal).

In eager mode (the embedded default, no broker) nothing is retried: Celery would re-run
the task inside itself and wait on its own result.
"""

import kombu.exceptions
import redis.exceptions
from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

RETRYABLE: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    kombu.exceptions.OperationalError,
    ConnectionError,
    TimeoutError,
)

# Seconds, hard; the soft limit is 30 s less. The longest task measured on a million
# customers (one segment's first fill) takes about 20 s.
DEFAULT_TIME_LIMIT = 120
MAX_BACKOFF = 120  # seconds, below the visibility timeout
MAX_RETRIES = 40  # with the jittered backoff (a minute on average once capped), about half an hour of outage


def crm_task(*, time_limit: int = DEFAULT_TIME_LIMIT, **options):
    """``shared_task`` with the CRM's retry and time-limit policy (see the module docstring)."""
    eager = settings.CELERY_TASK_ALWAYS_EAGER
    return shared_task(
        autoretry_for=() if eager else RETRYABLE,
        retry_backoff=2,
        retry_backoff_max=MAX_BACKOFF,
        retry_jitter=True,
        max_retries=MAX_RETRIES,
        soft_time_limit=time_limit - 30,
        time_limit=time_limit,
        **options,
    )
