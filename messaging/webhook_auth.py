"""The guard in front of django-anymail's webhook views (``/anymail/<provider>/…``, tracking
in messaging/tracking.py, inbound email in support/inbound/webhooks.py).

**No secret, no basic-auth webhook.** Most providers (Postmark, SendGrid, Brevo, Amazon SES,
Mailjet, SparkPost …) prove a webhook call is theirs only by the HTTP basic auth of
``ANYMAIL_WEBHOOK_SECRET``. Without that setting anymail merely warns and accepts anyone's
call: a forged bounce would suppress an address for every shop, a forged inbound email would
open a ticket. So such a call is refused with a 403 until the secret is set, and writes
nothing. Which views these are is anymail's own judgement: a view whose
``warn_if_no_basic_auth`` holds once built with the current settings (SendGrid, Resend and
Mailtrap turn it off themselves when their signing key is configured). Providers that sign
their calls (Mailgun, Mandrill, Postal, MailerSend, Unisender Go, Resend with its svix
secret …) keep working without the secret: anymail refuses a bad signature with a 400.

**A body anymail cannot read is a 400.** anymail's views parse the provider's format with
no guard: a body that is not JSON, or JSON of another shape, raises a ``ValueError``,
``KeyError``, ``TypeError`` … which Django makes a 500, and the sender retries it for days.
Such an error raised while anymail reads the request (before it hands any event to the
CRM's receivers) becomes a 400 naming the provider. The view answered no 200, so
``TrackingBatchMiddleware`` records nothing of it. An error in a receiver, or in the
recording after the view, is the CRM's and stays a 5xx: a database error there must make the
provider try again.

``webhook_secret_issues`` is the same judgement for ``manage.py check --deploy``.
"""

from __future__ import annotations

import traceback
import warnings

from anymail.exceptions import AnymailInsecureWebhookWarning
from anymail.webhooks.base import AnymailBasicAuthMixin, AnymailCoreWebhookView
from django.conf import settings
from django.core.checks import Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.db import DatabaseError, InterfaceError
from django.http import JsonResponse

# What anymail's parsing raises on a body of the wrong shape (JSONDecodeError and
# UnicodeDecodeError are ValueErrors).
UNREADABLE_BODY_ERRORS = (ValueError, LookupError, TypeError, AttributeError)
NOT_CONFIGURED_DETAIL = (
    "The webhook secret is not configured: {esp}'s webhooks are authenticated by HTTP basic auth, "
    "and are refused until ANYMAIL_WEBHOOK_SECRET is set."
)
UNREADABLE_DETAIL = "The webhook's body could not be read as {esp}'s format."


def _anymail_view(view_func) -> tuple[type[AnymailCoreWebhookView], dict] | None:
    view_class = getattr(view_func, "view_class", None)
    if isinstance(view_class, type) and issubclass(view_class, AnymailCoreWebhookView):
        return view_class, getattr(view_func, "view_initkwargs", {})
    return None


def relies_on_missing_basic_auth(view_class: type[AnymailCoreWebhookView], initkwargs: dict | None = None) -> bool:
    """Whether the view, built with the current settings, has only basic auth to check a
    call by and no secret for it (anymail's condition for its insecure-webhook warning)."""
    if not issubclass(view_class, AnymailBasicAuthMixin):
        return False
    anymail = getattr(settings, "ANYMAIL", None) or {}
    if anymail.get("WEBHOOK_SECRET") or getattr(settings, "ANYMAIL_WEBHOOK_SECRET", None):
        return False  # anymail checks every call's basic auth
    try:
        view = view_class(**(initkwargs or {}))
    except ImproperlyConfigured:
        return False  # a signing provider without its key: anymail's view says so itself
    return bool(view.warn_if_no_basic_auth and not view.basic_auth)


def _raised_in_a_receiver(exc: BaseException) -> bool:
    """Whether the exception passed through a signal's dispatch: raised by one of the CRM's
    receivers of anymail's events, not by anymail reading the request."""
    return any(
        frame.f_globals.get("__name__") == "django.dispatch.dispatcher"
        for frame, _ in traceback.walk_tb(exc.__traceback__)
    )


class AnymailWebhookGuardMiddleware:
    """The guard of the module docstring; touches only requests routed to anymail's views."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        found = _anymail_view(view_func)
        if found and relies_on_missing_basic_auth(*found):
            return JsonResponse({"detail": NOT_CONFIGURED_DETAIL.format(esp=found[0].esp_name)}, status=403)
        return None

    def process_exception(self, request, exception):
        match = getattr(request, "resolver_match", None)
        found = _anymail_view(match.func) if match else None
        if (
            found is None
            or not isinstance(exception, UNREADABLE_BODY_ERRORS)
            or isinstance(exception, (DatabaseError, InterfaceError, SuspiciousOperation))
            or _raised_in_a_receiver(exception)
        ):
            return None
        return JsonResponse({"detail": UNREADABLE_DETAIL.format(esp=found[0].esp_name)}, status=400)


def _configured_backends() -> set[str]:
    backends = {getattr(settings, "EMAIL_BACKEND", "") or ""}
    backends.add((getattr(settings, "MESSAGING_MAILER", None) or {}).get("BACKEND", ""))
    backends |= {entry.get("BACKEND", "") for entry in (getattr(settings, "MAILERS", None) or {}).values()}
    return {b for b in backends if b.startswith("anymail.backends.")}


def webhook_secret_issues() -> list[str]:
    """The providers of the configured anymail backends whose webhooks would be refused
    for want of ANYMAIL_WEBHOOK_SECRET (each named once)."""
    from anymail.urls import urlpatterns

    providers = {backend.split(".")[2] for backend in _configured_backends()}
    refused: list[str] = []
    for pattern in urlpatterns:
        name = pattern.name or ""
        found = _anymail_view(pattern.callback)
        if found is None or not any(name.startswith(f"{p}_") for p in providers):
            continue
        if relies_on_missing_basic_auth(*found) and found[0].esp_name not in refused:
            refused.append(found[0].esp_name)
    return refused


@register(Tags.security, deploy=True)
def check_webhook_secret(app_configs, **kwargs) -> list[Warning]:
    with warnings.catch_warnings():  # building a view without the secret warns; said below
        warnings.simplefilter("ignore", AnymailInsecureWebhookWarning)
        refused = webhook_secret_issues()
    return [
        Warning(
            f"Email is sent through anymail's {esp} backend, but ANYMAIL_WEBHOOK_SECRET is not set: "
            f"{esp}'s tracking and inbound webhooks (/anymail/…) are refused with a 403, so bounces, "
            "complaints and inbound email are not received.",
            hint="Set ANYMAIL_WEBHOOK_SECRET=user:password and put the same credentials in the webhook "
            "URLs in the provider's dashboard "
            "(docs/email.md, 'Bounces, complaints and other provider events').",
            id="messaging.W001",
        )
        for esp in refused
    ]
