"""The mailboxes the CRM reads over IMAP (the support mailbox): how far each was read, its
last run's error, and the messages the handler failed on, which stay in the mailbox and are
tried again (``messaging.imap``). Read-only: deleting a failure would make the next run
take the message as handled and move it away unread."""

from django.contrib import admin
from django.db.models import Count
from unfold.admin import ModelAdmin, TabularInline

from core.admin_tools import ReadOnly
from messaging.models import ImapFailure, ImapMailbox


class ImapFailureInline(ReadOnly, TabularInline):
    model = ImapFailure
    fields = ["uid", "attempts", "subject", "message_id", "error", "first_failed_at", "last_failed_at"]
    readonly_fields = fields
    extra = 0
    ordering = ["uid"]
    verbose_name = "message that failed"
    verbose_name_plural = "messages that failed (they stay in the mailbox)"


@admin.register(ImapMailbox)
class ImapMailboxAdmin(ReadOnly, ModelAdmin):
    list_display = ["key", "last_run_at", "received", "failed", "last_error"]
    ordering = ["key"]
    inlines = [ImapFailureInline]
    fields = ["key", "last_run_at", "last_error", "received", "uidvalidity", "last_uid", "lease_until"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(failed_count=Count("failures"))

    @admin.display(description="messages that failed", ordering="failed_count")
    def failed(self, row) -> int:
        return row.failed_count
