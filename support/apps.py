from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "support"
    verbose_name = "Support desk and reviews"

    def ready(self):
        from support.mail import register_templates

        register_templates()
