from django.conf import settings
from django.http import JsonResponse

CHUNKED_UNREADABLE = (
    "This server cannot read a chunked body (Transfer-Encoding: chunked): send the body with a Content-Length header."
)


def _refused(status: int, message: str) -> JsonResponse:
    return JsonResponse({"detail": message, "errors": {"body": [message]}}, status=status)


def _over_limit(length: int, limit: int) -> JsonResponse:
    return _refused(413, f"The request body is {length} bytes; the limit is {limit} bytes.")


class ApiBodySizeLimitMiddleware:
    """Refuse API request bodies over ``API_MAX_BODY_BYTES`` with 413, before reading them;
    read a chunked body (no Content-Length), or refuse it with 411 where the server cannot.

    Django reads a WSGI body by its Content-Length, so a chunked one would be read as empty
    (and answered "Expected an object"). gunicorn, the shipped server, undoes the chunking
    and says so (``wsgi.input_terminated``): the body is read here, up to the limit. The
    development server (``runserver``) passes the chunks on undone, so the client is told to
    send a Content-Length. Under ASGI the server has read the whole body already."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            limit = settings.API_MAX_BODY_BYTES
            if _chunked(request) and (refused := _read_chunked(request, limit)):
                return refused
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                return _over_limit(length, limit)
        return self.get_response(request)


def _chunked(request) -> bool:
    return (
        "wsgi.input" in request.META
        and not request.META.get("CONTENT_LENGTH")
        and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    )


def _read_chunked(request, limit: int) -> JsonResponse | None:
    if not request.META.get("wsgi.input_terminated"):
        return _refused(411, CHUNKED_UNREADABLE)
    body = request.META["wsgi.input"].read(limit + 1)
    if len(body) > limit:
        return _refused(413, f"The request body is over {limit} bytes; the limit is {limit} bytes.")
    # What Django's HttpRequest.body caches the body it read in: read here instead.
    request._body = body
    request.META["CONTENT_LENGTH"] = str(len(body))
    return None
