from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = "Customers and commerce"

    def ready(self):
        from django.contrib.auth.models import Group
        from django.db.backends.signals import connection_created
        from django.db.models.signals import m2m_changed

        from customers.accents import sqlite_functions_register
        from customers.services.api_keys import role_permissions_changed

        # SQLite's crm_unaccent, which PostgreSQL has from migration 0018.
        connection_created.connect(sqlite_functions_register, dispatch_uid="customers_sqlite_functions")

        # A role's keys follow a change to its permissions at once (see the receiver).
        m2m_changed.connect(role_permissions_changed, sender=Group.permissions.through, dispatch_uid="role-permissions")
