"""JSON instead of Django's HTML pages for errors raised outside DRF views under /api/, and
503 instead of 500 while the database cannot be reached (for every page).

- ``not_found`` and ``server_error`` are the project's ``handler404``/``handler500``;
  Django calls them with ``DEBUG`` off.
- ``ApiErrorPagesMiddleware`` covers what they do not: with ``DEBUG`` on (``make demo``)
  Django answers an unknown URL with its HTML debug page, so under /api/ any 404 or 500 that
  is not JSON is replaced by the API's error body; and an exception from a view (the admin's
  included) that says the database is unreachable becomes a 503 there too.
- DRF views turn the same exceptions into the same 503 in crm.api.errors.
"""

import logging
import sys
import threading
import time

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.views import defaults

logger = logging.getLogger(__name__)

# What a lost database connection raises (refused, reset, server shutting down, too many
# clients); SQLite's "database is locked" is an OperationalError too, and as transient.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
# Seconds a client is told to wait before retrying while the database is unreachable.
DATABASE_RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE_DETAIL = "The database is unavailable for the moment; retry after the time in Retry-After."


def is_api(request) -> bool:
    return request.path.startswith("/api/")


def _not_found_detail(request) -> str:
    path = request.path
    detail = f"No API endpoint at {path}."
    if path.endswith("/") and path != "/api/":
        detail += f" API paths have no trailing slash: {path.rstrip('/')}"
    else:
        detail += " Ids in paths are numbers; see /api/v1/schema/ for the paths."
    return detail


def api_not_found(request) -> JsonResponse:
    return JsonResponse({"detail": _not_found_detail(request), "errors": {}}, status=404)


_log_lock = threading.Lock()
_log_state = {"last": 0.0, "refused": 0}
LOG_EVERY_SECONDS = 10.0


def log_database_unavailable(request, exc: BaseException | None) -> None:
    """One line per LOG_EVERY_SECONDS and process, with how many requests were refused since:
    an outage under load would otherwise write a line per request."""
    now = time.monotonic()
    with _log_lock:
        _log_state["refused"] += 1
        if now - _log_state["last"] < LOG_EVERY_SECONDS:
            return
        refused, _log_state["refused"], _log_state["last"] = _log_state["refused"], 0, now
    logger.error(
        "Database unavailable: %s %s answered 503 (%d refused in this process since the last such line): %s",
        request.method,
        request.path,
        refused,
        str(exc).strip().splitlines()[0] if exc else "",
    )


def database_unavailable(request, exc: BaseException | None = None) -> HttpResponse:
    log_database_unavailable(request, exc)
    if is_api(request):
        response = JsonResponse({"detail": DATABASE_UNAVAILABLE_DETAIL, "errors": {}}, status=503)
    else:
        response = HttpResponse(
            "<!doctype html><title>Service unavailable</title><h1>Service unavailable</h1>"
            "<p>The database cannot be reached for the moment. Try again in a few seconds.</p>",
            status=503,
        )
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


def not_found(request, exception=None):
    if is_api(request):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


def server_error(request):
    # Django calls this inside its ``except`` block, so the exception is the one handled now.
    exc = sys.exc_info()[1]
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return database_unavailable(request, exc)
    if is_api(request):
        return JsonResponse({"detail": "Internal server error.", "errors": {}}, status=500)
    return defaults.server_error(request)


def _remember_exception(sender, request=None, **kwargs) -> None:
    """``got_request_exception`` receiver: Django sends it inside its ``except`` block for an
    exception that becomes a 500, wherever it was raised (a middleware included)."""
    if request is not None:
        request.crm_unhandled_exception = sys.exc_info()[1]


BAD_REQUEST = "Bad request: the request could not be read as sent (an invalid Host header, for example)."


class ApiErrorPagesMiddleware:
    """Second in MIDDLEWARE (after AfterResponseMiddleware): sees every other layer's answer."""

    def __init__(self, get_response):
        self.get_response = get_response
        got_request_exception.connect(_remember_exception, dispatch_uid="crm.api.handlers.remember_exception")

    def __call__(self, request):
        response = self.get_response(request)
        exc = getattr(request, "crm_unhandled_exception", None)
        if response.status_code == 500 and isinstance(exc, DATABASE_UNAVAILABLE):
            # With DEBUG on, Django answered with its debug page instead of calling server_error.
            return database_unavailable(request, exc)
        if (
            is_api(request)
            and response.status_code in (400, 404, 500)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            if response.status_code == 404:
                return api_not_found(request)
            if response.status_code == 400:  # Django's own page: a SuspiciousOperation (a bad Host)
                return JsonResponse({"detail": BAD_REQUEST, "errors": {}}, status=400)
            return JsonResponse({"detail": "Internal server error.", "errors": {}}, status=500)
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, DATABASE_UNAVAILABLE):
            return database_unavailable(request, exception)
        return None
