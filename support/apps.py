from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "support"
    verbose_name = "Support desk and reviews"

    def ready(self):
        from support.inbound.webhooks import connect
        from support.mail import register_templates

        register_templates()
        connect()
