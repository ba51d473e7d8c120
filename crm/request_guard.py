"""Refuses a NUL character anywhere in a request's path or query string with 400.

No column can hold NUL (PostgreSQL refuses it in text, and it is never part of a valid id,
date, email or search term), so a NUL in a filter, page, search or cursor parameter only
ever turned into a database error and a 500 deep inside some list. Checking once here
covers every admin list, change page and API list, including third-party ones.
"""

import logging

from django.http import HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

NUL = "\x00"


class RejectNulMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        problem = None
        if NUL in request.path:
            problem = "path", "The request's path contains a NUL character."
        else:
            for name, values in request.GET.lists():
                if NUL in name or any(NUL in value for value in values):
                    shown = name.replace(NUL, "\\0")
                    problem = shown, f"The query parameter '{shown}' contains a NUL character."
                    break
        if problem is None:
            return self.get_response(request)
        field, message = problem
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": message, "errors": {field: [message]}}, status=400)
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


class AdminBadParameterMiddleware:
    """An admin page read (GET or HEAD) that fails on a value is answered 400, not 500.

    An admin GET writes nothing, so a ``ValueError``, ``OverflowError``, ``ValidationError``
    or database ``DataError`` while building or rendering one comes from its parameters:
    an id or filter value past what the column holds (``?shop__id__exact=99999999999999999999``
    on SQLite, a one-to-one primary key in the URL), or a number where a third-party filter
    expects one. Django's own filters already turn most of these into "?e=1"; this catches
    the rest, in every list, filter and change page at once (exceptions raised while a
    template response renders reach ``process_exception`` too). Each is logged with its
    traceback, so a real bug still shows in the logs.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.core.exceptions import ValidationError
        from django.db import DataError
        from django.urls import reverse

        if request.method not in ("GET", "HEAD") or not request.path.startswith(reverse("admin:index")):
            return None
        if not isinstance(exception, ValueError | OverflowError | ValidationError | DataError):
            return None
        logger.warning("Admin page refused a parameter: %s %s", request.path, exception, exc_info=exception)
        return HttpResponse(
            "A parameter of this page cannot be read: a value is out of range or of the wrong kind.",
            status=400,
            content_type="text/plain; charset=utf-8",
        )


def client_address(request) -> str | None:
    """The client's address: REMOTE_ADDR, or behind ``TRUSTED_PROXY_COUNT`` proxies that each
    append to X-Forwarded-For, the entry the outermost trusted proxy added. Entries to the
    left of it are whatever the client sent and are never trusted (sign-in lockouts key on
    this: a forged header must not spread failures onto someone else's address)."""
    from django.conf import settings

    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return request.META.get("REMOTE_ADDR")
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    return hops[-proxies] if len(hops) >= proxies else request.META.get("REMOTE_ADDR")


def document_parameter_400s(result, generator, request, public):
    """drf-spectacular postprocessing hook: every API operation that takes a query or path
    parameter may answer 400 (RejectNulMiddleware), in the API's error shape; say so."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            takes_parameters = any(p.get("in") in ("query", "path") for p in operation.get("parameters", []))
            if takes_parameters and "400" not in operation["responses"]:
                operation["responses"]["400"] = {
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    "description": "A parameter cannot be read (for example, it contains a NUL character).",
                }
    return result
