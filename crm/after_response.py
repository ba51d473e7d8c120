"""Work that can wait until the response has been sent.

A shop's client waits on every single-order POST, and queueing the aggregates task on Redis
cost it 1.5–3 ms for nothing it needs. ``after_response(fn)`` called inside a request runs
``fn`` when the WSGI server closes the response (Django's ``request_finished`` signal),
which it does after writing the body to the socket. Outside a request (management commands,
Celery tasks, services called directly) ``fn`` runs at once.

A failing callback is logged, not raised: by then the data is committed and the response
sent. The work queued this way is derived data that the daily full recompute rebuilds.
"""

import logging
from collections.abc import Callable
from contextvars import ContextVar

from django.core.signals import request_finished

logger = logging.getLogger(__name__)

_pending: ContextVar[list[Callable[[], None]] | None] = ContextVar("after_response_pending", default=None)


def after_response(fn: Callable[[], None]) -> None:
    pending = _pending.get()
    if pending is None:
        fn()
    else:
        pending.append(fn)


def _run_pending(**kwargs) -> None:
    pending = _pending.get()
    _pending.set(None)
    for fn in pending or ():
        try:
            fn()
        except Exception:
            logger.exception("Deferred work failed after the response was sent")


class AfterResponseMiddleware:
    """Opens the per-request list that ``after_response`` fills; first in MIDDLEWARE."""

    def __init__(self, get_response):
        self.get_response = get_response
        request_finished.connect(_run_pending, dispatch_uid="crm.after_response")

    def __call__(self, request):
        _run_pending()  # a previous request's work, had its response never been closed
        _pending.set([])
        return self.get_response(request)
