"""Marketing consent's history in the admin: read-only for everyone, managers included,
because it is the evidence of what each customer agreed to, when and how; and the list of
erased addresses that may not be subscribed again."""

from django.contrib import admin

from core.admin_tools import LargeTableAdmin, ReadOnly
from customers.models import ConsentEvent, ErasedEmail
from customers.services.customers import normalize_email
from customers.services.erased_emails import email_hash


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


@admin.register(ErasedEmail)
class ErasedEmailAdmin(ReadOnly, LargeTableAdmin):
    """Addresses erased at their owner's request, as keyed hashes: a shop's payload cannot
    subscribe them again (docs/privacy.md). Searched by the whole address, hashed here."""

    list_display = ["hash_start", "erased_at"]
    fields = ["email_hash", "erased_at"]
    search_fields = ["email_hash"]
    search_help_text = "A whole email address: is it on the erased list?"
    ordering = ["-id"]

    @admin.display(description="address (keyed hash)")
    def hash_start(self, row):
        return f"{row.email_hash[:16]}…"

    def get_search_results(self, request, queryset, search_term):
        normalized = normalize_email(search_term)
        if not normalized:
            return queryset, False
        return queryset.filter(email_hash=email_hash(normalized)), False
