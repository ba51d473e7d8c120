from django.contrib import admin
from unfold.admin import ModelAdmin

from crm.models import IdempotencyRecord, ScheduledRun, TaskFailure


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ModelAdmin):
    list_display = ["key", "shop", "status_code", "created_at"]
    list_filter = ["shop"]
    list_select_related = ["shop"]
    search_fields = ["=key"]
    ordering = ["-created_at"]
    readonly_fields = ["shop", "key", "request_fingerprint", "status_code", "response_body", "created_at"]

    def has_add_permission(self, request):
        return False


@admin.register(TaskFailure)
class TaskFailureAdmin(ModelAdmin):
    """Background tasks that failed for good, newest first: what each was for and why."""

    list_display = ["task", "error_summary", "failed_at"]
    list_filter = ["task"]
    search_fields = ["task", "error"]
    date_hierarchy = "failed_at"
    readonly_fields = ["task", "task_id", "arguments", "error", "traceback", "failed_at"]
    list_per_page = 50

    @admin.display(description="error")
    def error_summary(self, obj):
        return obj.error[:120]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ScheduledRun)
class ScheduledRunAdmin(ModelAdmin):
    """The last run of each scheduled task (beat's or the in-process scheduler's); read-only."""

    list_display = ["name", "task", "last_run_at", "last_status", "duration"]
    list_filter = ["last_status"]
    ordering = ["name"]
    readonly_fields = ["name", "task", "last_run_at", "last_status", "last_error", "duration"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
