from django.apps import AppConfig


class MessagingConfig(AppConfig):
    """The email channel (docs/email.md); imports only ``customers`` and ``core``."""

    name = "messaging"
    verbose_name = "Email"
