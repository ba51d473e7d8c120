from django.contrib import admin

from crm import admin_360, admin_users  # noqa: F401  (register the customer 360 page, users and roles)
from crm.models import IdempotencyRecord


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ["key", "shop", "status_code", "created_at"]
    list_filter = ["shop"]
    list_select_related = ["shop"]
    search_fields = ["=key"]
    ordering = ["-created_at"]
    readonly_fields = ["shop", "key", "request_fingerprint", "status_code", "response_body", "created_at"]

    def has_add_permission(self, request):
        return False
