"""The platforms' webhooks skip the middleware that serves people, not platforms.

A burst from Shopify is thousands of deliveries a second, and each is worth one signature
check and one INSERT (``receive``). Behind ``ConnectorIntakeMiddleware`` sit sessions,
CSRF, authentication, messages, the audit log's actor, django-axes, the CSP and clickjacking
headers, the admin's guards and the email providers' webhook guards: about a third of the
intake's CPU, none of it of use to a platform that signs each body and carries no cookie.
So for a path under ``/connectors/`` this middleware calls the view itself.

What runs before it still runs for these paths: the after-response work
(``crm.after_response``), the 503 while the database is down (``crm.api.handlers``) and
``SecurityMiddleware`` (its HTTPS redirect and headers). The checks the skipped layers made
that matter here are made here: a NUL in the path is 400 (``crm.request_guard``), and a
body over ``API_MAX_BODY_BYTES`` is 413 before it is read (Django would refuse it too, with
400, when the view read it). The views keep their own: POST only, the signature checked on
the raw bytes before anything is parsed, the store's dedupe (``receive``).
"""

from django.conf import settings
from django.http import HttpResponse
from django.urls import get_resolver

from crm.request_guard import NUL

PREFIX = "/connectors/"


class ConnectorIntakeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        # Resolved against the connectors' own URLs: the project's whole URL list is
        # five levels of patterns to try before reaching them.
        self.resolver = get_resolver("crm.connectors.urls")

    def __call__(self, request):
        path = request.path_info
        if not path.startswith(PREFIX):
            return self.get_response(request)
        if NUL in path:
            return HttpResponse("The request's path contains a NUL character.", status=400, content_type="text/plain")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.API_MAX_BODY_BYTES:
            message = f"The request body is {length} bytes; the limit is {settings.API_MAX_BODY_BYTES} bytes."
            return HttpResponse(message, status=413, content_type="text/plain")
        match = self.resolver.resolve(path[len(PREFIX) - 1 :])  # Resolver404: Django's 404
        request.resolver_match = match
        return match.func(request, *match.args, **match.kwargs)
