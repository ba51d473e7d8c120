from django.apps import AppConfig
from django.db.backends.signals import connection_created


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = "Loyalty programme"

    def ready(self):
        from loyalty.expressions import sqlite_functions_register

        connection_created.connect(sqlite_functions_register, dispatch_uid="loyalty_sqlite_functions")
