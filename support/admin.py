"""The support desk in the admin: the ticket queue (open tickets by due time) with each
ticket's thread, SLA policies and business hours, reviews to moderate, NPS answers.

The agent's working views (macros, merge, CSAT, escalation) and role-based limits come
with the rest of issue 5."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from customers.admin import LargeTableAdmin
from support.models import (
    BusinessHours,
    NpsResponse,
    Review,
    ReviewModeration,
    SlaPolicy,
    Team,
    Ticket,
    TicketMessage,
)


class TicketMessageInline(admin.TabularInline):
    model = TicketMessage
    extra = 0
    fields = ["created_at", "author_kind", "author", "public", "body"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


def _customer_link(customer_id, customer):
    url = reverse("admin:customers_customer_change", args=[customer_id])
    return format_html('<a href="{}">{}</a>', url, customer)


@admin.register(Ticket)
class TicketAdmin(LargeTableAdmin):
    list_display = [
        "id",
        "subject",
        "customer_link",
        "status",
        "priority",
        "assignee",
        "first_response_due_at",
        "resolution_due_at",
    ]
    list_filter = ["status", "priority", "channel", "team", "assignee"]
    list_select_related = ["customer", "assignee"]
    search_fields = ["=id", "subject", "=customer__email_normalized"]
    raw_id_fields = ["customer", "order", "review"]
    autocomplete_fields = ["tags"]
    readonly_fields = [
        "created_at",
        "first_responded_at",
        "solved_at",
        "sla_policy",
        "first_response_due_at",
        "resolution_due_at",
        "first_response_left_minutes",
        "resolution_left_minutes",
    ]
    ordering = ["resolution_due_at", "-id"]
    inlines = [TicketMessageInline]

    @admin.display(description="customer")
    def customer_link(self, ticket):
        return _customer_link(ticket.customer_id, ticket.customer)


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "priority", "value_band", "first_response_minutes", "resolution_minutes", "is_active"]
    list_filter = ["priority", "value_band", "is_active"]


@admin.register(BusinessHours)
class BusinessHoursAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(Review)
class ReviewAdmin(LargeTableAdmin):
    list_display = ["id", "product", "rating", "title", "customer_link", "verified_buyer", "status", "created_at"]
    list_filter = ["status", "rating", "verified_buyer"]
    list_select_related = ["product", "customer"]
    search_fields = ["=product__sku", "title", "=customer__email_normalized"]
    raw_id_fields = ["customer", "product", "responded_by"]
    ordering = ["-id"]
    actions = ["publish", "reject"]

    @admin.display(description="customer")
    def customer_link(self, review):
        return _customer_link(review.customer_id, review.customer)

    @admin.action(description="Publish")
    def publish(self, request, queryset):
        self.message_user(request, f"{queryset.update(status=Review.Status.PUBLISHED)} published.")

    @admin.action(description="Reject")
    def reject(self, request, queryset):
        self.message_user(request, f"{queryset.update(status=Review.Status.REJECTED)} rejected.")


@admin.register(ReviewModeration)
class ReviewModerationAdmin(admin.ModelAdmin):
    list_display = ["__str__", "auto_publish_min_rating", "verified_buyers_only"]

    def has_add_permission(self, request):
        return not ReviewModeration.objects.exists()


@admin.register(NpsResponse)
class NpsResponseAdmin(LargeTableAdmin):
    list_display = ["id", "customer", "score", "category", "created_at"]
    list_filter = ["score"]
    list_select_related = ["customer"]
    raw_id_fields = ["customer", "shop"]
    search_fields = ["=customer__email_normalized"]
    ordering = ["-id"]
