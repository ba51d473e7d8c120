"""The message log and the outbox: read-only lists, each message's detail with its HTML in a
sandboxed frame (``frames``), its text, headers and history."""

from functools import partial

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from unfold.admin import TabularInline

from core.admin_tools import LargeTableAdmin, ReadOnly, customer_link
from messaging.admin.frames import headers_table, html_frame, html_response, text_block
from messaging.admin.preview import preview_html_view, preview_view
from messaging.models import Message, MessageEvent, OutboxEmail
from messaging.selectors import (
    COMPLAINT_RATE_ALARM,
    COMPLAINT_RATE_WARNING,
    SENDER_HEALTH_CACHE_SECONDS,
    sender_health_report,
)


class MessageEventInline(ReadOnly, TabularInline):
    model = MessageEvent
    fields = ["status", "provider_event", "at", "detail"]
    readonly_fields = fields
    extra = 0
    ordering = ["at", "id"]
    verbose_name = "status change"
    verbose_name_plural = "history"


def _search(queryset, term: str):
    """An address is looked up whole (the address index); anything else is a part of the
    subject, or a whole key ("ticket-reply:12")."""
    term = term.strip()
    if "@" in term and " " not in term:
        return queryset.filter(to_email=term.lower())
    if ":" in term and " " not in term:
        return queryset.filter(key=term)
    return queryset.filter(subject__icontains=term)


SUMMARY = ["status", "to_email", "customer_link", "shop", "kind", "subject", "from_email", "reply_to"]


@admin.register(Message)
class MessageAdmin(ReadOnly, LargeTableAdmin):
    list_display = ["id", "to_email", "subject_or_template", "kind", "status", "shop", "created_at", "sent_at"]
    list_display_links = ["id", "subject_or_template"]
    list_filter = ["status", "kind", "shop"]
    list_select_related = ["shop"]
    search_fields = ["to_email"]  # read by get_search_results below
    search_help_text = "A whole address, a key (ticket-reply:12), or part of a subject."
    ordering = ["-id"]
    inlines = [MessageEventInline]
    # Each shop's complaint rate over 30 days, above the log (Gmail's and Yahoo's limit).
    list_before_template = "admin/messaging/message/sender_health.html"
    fieldsets = [
        (
            None,
            {"fields": ["status", "to_email", "customer_link", "shop", "kind", "subject", "from_email", "reply_to"]},
        ),
        ("HTML", {"fields": ["html_part"]}),
        ("Text", {"fields": ["text_part"]}),
        ("Headers", {"classes": ["collapse"], "fields": ["header_table", "message_id", "provider_message_id"]}),
        (
            "Sending",
            {
                "classes": ["collapse"],
                "fields": [
                    *("key", "template", "attempts", "last_error", "next_attempt_at", "claimed_until"),
                    *("created_at", "sent_at"),
                ],
            },
        ),
    ]
    readonly_fields = [
        *SUMMARY,
        *("html_part", "text_part", "header_table", "message_id", "provider_message_id", "key", "template"),
        *("attempts", "last_error", "next_attempt_at", "claimed_until", "created_at", "sent_at"),
    ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "sender_health": sender_health_report(),
            "sender_health_minutes": SENDER_HEALTH_CACHE_SECONDS // 60,
            "complaint_warning": f"{COMPLAINT_RATE_WARNING * 100:.1f} %",
            "complaint_alarm": f"{COMPLAINT_RATE_ALARM * 100:.1f} %",
        }
        return super().changelist_view(request, extra_context)

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return _search(queryset, search_term), False

    @admin.display(description="subject", ordering="subject")
    def subject_or_template(self, message):
        return message.subject or f"({message.template}, not rendered yet)"

    @admin.display(description="customer")
    def customer_link(self, message):
        return customer_link(message.customer_id, message.to_email) if message.customer_id else "—"

    @admin.display(description="HTML")
    def html_part(self, message):
        if not message.html:
            return "Not rendered yet: a message is rendered when it is sent."
        return html_frame(reverse("admin:messaging_message_html", args=[message.pk]), title=message.subject)

    @admin.display(description="text")
    def text_part(self, message):
        return text_block(message.text) if message.text else "—"

    @admin.display(description="headers")
    def header_table(self, message):
        return headers_table(message.headers)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/html/", view(self.html_view), name="messaging_message_html"),
            path("preview/", view(partial(preview_view, self)), name="messaging_preview"),
            path("preview/html/", view(partial(preview_html_view, self)), name="messaging_preview_html"),
            *super().get_urls(),
        ]

    def html_view(self, request, pk: int):
        """The message's HTML alone, for the detail page's sandboxed frame."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return html_response(get_object_or_404(Message.objects.only("html"), pk=pk).html)


@admin.register(OutboxEmail)
class OutboxEmailAdmin(ReadOnly, LargeTableAdmin):
    """What the outbox backend kept instead of sending (the embedded default)."""

    list_display = ["id", "to", "subject", "from_email", "created_at"]
    list_display_links = ["id", "subject"]
    ordering = ["-id"]
    search_fields = ["=to"]
    fieldsets = [
        (None, {"fields": ["to", "from_email", "subject", "message_link", "created_at"]}),
        ("HTML", {"fields": ["html_part"]}),
        ("Text", {"fields": ["text_part"]}),
        ("Headers", {"classes": ["collapse"], "fields": ["header_table"]}),
        ("Raw message", {"classes": ["collapse"], "fields": ["raw_message"]}),
    ]
    readonly_fields = [
        *("to", "from_email", "subject", "message_link", "created_at"),
        *("html_part", "text_part", "header_table", "raw_message"),
    ]

    @admin.display(description="in the message log")
    def message_link(self, row):
        if row.message_id is None:
            return "—"
        url = reverse("admin:messaging_message_change", args=[row.message_id])
        return format_html('<a href="{}">Message {}</a>', url, row.message_id)

    @admin.display(description="HTML")
    def html_part(self, row):
        if not row.html:
            return "—"
        return html_frame(reverse("admin:messaging_outboxemail_html", args=[row.pk]), title=row.subject)

    @admin.display(description="text")
    def text_part(self, row):
        return text_block(row.text) if row.text else "—"

    @admin.display(description="headers")
    def header_table(self, row):
        return headers_table(row.headers)

    @admin.display(description="MIME")
    def raw_message(self, row):
        return text_block(row.raw)

    def get_urls(self):
        return [
            path("<int:pk>/html/", self.admin_site.admin_view(self.html_view), name="messaging_outboxemail_html"),
            *super().get_urls(),
        ]

    def html_view(self, request, pk: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return html_response(get_object_or_404(OutboxEmail.objects.only("html"), pk=pk).html)
