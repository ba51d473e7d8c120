from django.apps import AppConfig


class MessagingConfig(AppConfig):
    """The email channel (docs/email.md); imports only ``customers`` and ``core``."""

    name = "messaging"
    verbose_name = "Email"

    def ready(self):
        # Registers the double opt-in's email template (messaging.rendering.TEMPLATES).
        from messaging import consent  # noqa: F401
