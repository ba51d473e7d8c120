"""Marketing consent's history in the admin: read-only for everyone, managers included,
because it is the evidence of what each customer agreed to, when and how."""

from django.contrib import admin

from core.admin_tools import LargeTableAdmin, ReadOnly
from customers.models import ConsentEvent


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnly, LargeTableAdmin):
    list_display = ["at", "customer_email", "shop", "state", "source", "by"]
    list_filter = ["given", "source", "shop"]
    list_select_related = ["customer", "shop", "by"]
    search_fields = ["=customer__email_normalized"]
    search_help_text = "A customer's whole email address."
    fields = ["customer", "shop", "given", "at", "source", "by", "shown_text"]
    ordering = ["-id"]  # newest first by the primary key: no sort of the whole table

    @admin.display(description="customer")
    def customer_email(self, event):
        return event.customer.email or str(event.customer)

    @admin.display(description="consent")
    def state(self, event):
        return "given" if event.given else "withdrawn"
