from django.apps import AppConfig


class MessagingConfig(AppConfig):
    """The email channel (docs/email.md); imports only ``customers`` and ``core``."""

    name = "messaging"
    verbose_name = "Email"

    def ready(self):
        from anymail.signals import tracking

        # Registers the double opt-in's email template (messaging.rendering.TEMPLATES), and
        # the deploy check of the webhooks' secret (messaging.webhook_auth).
        from messaging import consent, webhook_auth  # noqa: F401

        # The providers' tracking webhooks (anymail's views under /anymail/): delivered,
        # bounced, complained … recorded by messaging.tracking.
        from messaging.tracking import tracking_received

        tracking.connect(tracking_received, dispatch_uid="messaging.tracking")
