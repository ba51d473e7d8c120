from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = "Customers and commerce"

    def ready(self):
        from django.contrib.auth.models import Group
        from django.db.models.signals import m2m_changed

        from customers.services.api_keys import role_permissions_changed

        # A role's keys follow a change to its permissions at once (see the receiver).
        m2m_changed.connect(role_permissions_changed, sender=Group.permissions.through, dispatch_uid="role-permissions")
