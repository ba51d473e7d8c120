from django.conf import settings
from django.http import JsonResponse


class ApiBodySizeLimitMiddleware:
    """Refuse API request bodies over ``API_MAX_BODY_BYTES`` with 413, before reading them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            limit = settings.API_MAX_BODY_BYTES
            if length > limit:
                message = f"The request body is {length} bytes; the limit is {limit} bytes."
                return JsonResponse({"detail": message, "errors": {"body": [message]}}, status=413)
        return self.get_response(request)
