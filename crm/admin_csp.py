"""The admin's Content-Security-Policy: the site's policy plus ``'unsafe-eval'``.

The admin's theme (django-unfold) is built on Alpine.js, which evaluates the expressions in
its ``x-…`` attributes with ``new Function``. Alpine's CSP build cannot run the theme's
templates (they use globals and arrow functions it does not parse), so the admin, and only
the admin, allows eval. Inline scripts stay forbidden (no ``'unsafe-inline'``), scripts
still come only from this site, and every other page (the API docs, the customer-facing
CSAT and review pages) keeps the strict policy. Why that trade is acceptable is in
docs/security.md.
"""

from django.conf import settings
from django.urls import reverse
from django.utils.csp import CSP


def admin_policy() -> dict:
    policy = {key: list(value) for key, value in settings.SECURE_CSP.items()}
    policy["script-src"] = [*policy.get("script-src", [CSP.SELF]), CSP.UNSAFE_EVAL]
    return policy


class AdminCspMiddleware:
    """Gives responses under the admin's URL the admin's policy. It sits after Django's
    ``ContentSecurityPolicyMiddleware`` in ``MIDDLEWARE``, so it sees the response first."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = admin_policy()
        self.prefix = None

    def __call__(self, request):
        response = self.get_response(request)
        if self.prefix is None:
            self.prefix = reverse("admin:index")
        if request.path.startswith(self.prefix) and not hasattr(response, "_csp_config"):
            response._csp_config = self.policy
        return response
