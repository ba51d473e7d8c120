"""Inbound emails in the admin (Support → Inbound emails): what reached the desk and what
was done with each, newest first, read-only. The raw message is shown as text, escaped;
the ticket it went to is a link."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from core.admin_tools import LargeTableAdmin, ReadOnly
from support.models import InboundEmail


@admin.register(InboundEmail)
class InboundEmailAdmin(ReadOnly, LargeTableAdmin):
    list_display = ("received_at", "from_email", "subject", "outcome", "ticket_link", "via")
    list_filter = ("outcome", "via")
    search_fields = ("=from_email", "=message_key")
    ordering = ("-id",)
    fields = (
        "received_at", "via", "message_key", "from_email", "recipient", "subject",
        "outcome", "detail", "ticket_link", "original",
    )  # fmt: skip
    readonly_fields = fields

    def get_queryset(self, request):
        # The list shows no original: not read for 50 rows (an email with files weighs megabytes).
        queryset = super().get_queryset(request)
        return queryset.defer("raw") if request.resolver_match.url_name.endswith("changelist") else queryset

    @admin.display(description="ticket")
    def ticket_link(self, email):
        if email.ticket_id is None:
            return "—"
        return format_html(
            '<a href="{}">#{}</a>', reverse("admin:support_ticket_change", args=[email.ticket_id]), email.ticket_id
        )

    @admin.display(description="original message")
    def original(self, email):
        text = bytes(email.raw)[:200_000].decode("utf-8", errors="replace")
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)
