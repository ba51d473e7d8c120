"""The support desk in the admin: the ticket queue (open tickets by due time, escalated and
breached first to see) with each ticket's thread, reply box, macros and merge; SLA
policies and business hours; macros; reviews to moderate and answer; NPS and CSAT answers
with CSAT results per agent and team.

Every change a ticket page makes goes through ``support.tickets``, so the SLA clock, the
CSAT invitation and the escalation rules hold whatever the screen."""

from django.contrib import admin, messages
from django.db.models import Avg, Count, F, Q
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from unfold.admin import ModelAdmin, TabularInline

from core.admin_tools import AuditHistoryMixin, LargeTableAdmin, customer_link
from core.errors import DomainError
from support.admin.forms import TicketForm
from support.extensions import VARIABLES
from support.models import (
    BusinessHours,
    CsatResponse,
    Macro,
    NpsResponse,
    Review,
    ReviewModeration,
    SlaPolicy,
    Team,
    Ticket,
    TicketMessage,
)
from support.reviews import review_respond, reviews_set_status
from support.tickets import TicketData, macro_apply, ticket_merge, ticket_open, ticket_reply, ticket_set_status

INTERNAL_NOTES = "support.view_internal_notes"


class TicketMessageInline(TabularInline):
    """The thread, read-only (new messages come from the reply box). Internal notes only for
    staff allowed to read them."""

    model = TicketMessage
    extra = 0
    fields = ["created_at", "author_kind", "author", "public", "body_html"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        messages = super().get_queryset(request).select_related("author")
        return messages if request.user.has_perm(INTERNAL_NOTES) else messages.filter(public=True)

    @admin.display(description="message")
    def body_html(self, message):
        # Stored sanitised (support.text.sanitise): safe to render as HTML.
        return mark_safe(message.body)  # noqa: S308


class QueueFilter(admin.SimpleListFilter):
    """Open tickets unless asked otherwise: the list agents work from is the queue."""

    title = "view"
    parameter_name = "view"

    def lookups(self, request, model_admin):
        return [("open", "Open tickets (the queue)"), ("all", "All tickets")]

    def choices(self, changelist):
        for value, label in self.lookup_choices:
            yield {
                "selected": (self.value() or "open") == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        if self.value() == "all":
            return queryset
        return queryset.filter(status__in=Ticket.OPEN_STATUSES)


@admin.register(Ticket)
class TicketAdmin(AuditHistoryMixin, LargeTableAdmin):
    form = TicketForm
    list_display = [
        "id",
        "subject",
        "customer_link",
        "status",
        "priority",
        "sla_state",
        "escalated",
        "assignee",
        "team",
        "first_response_due_at",
        "resolution_due_at",
    ]
    list_filter = [
        QueueFilter,
        "sla_state",
        "status",
        "priority",
        "channel",
        "team",
        "assignee",
        ("escalated_at", admin.EmptyFieldListFilter),
    ]
    list_display_links = ["id", "subject"]
    list_select_related = ["customer", "assignee", "team"]
    search_fields = ["=id", "subject", "=customer__email_normalized"]
    raw_id_fields = ["customer", "order", "review", "csat", "merged_into"]
    autocomplete_fields = ["tags"]
    readonly_fields = [
        "customer_360",
        "created_at",
        "first_responded_at",
        "solved_at",
        "sla_policy",
        "sla_state",
        "first_response_due_at",
        "resolution_due_at",
        "first_response_left_minutes",
        "resolution_left_minutes",
        "escalated_at",
        "escalation_reason",
        "merged_into",
    ]
    fieldsets = [
        (None, {"fields": ["customer_360", "subject", "status", "priority", "assignee", "team", "tags", "channel"]}),
        ("Work the ticket", {"fields": ["reply", "reply_as", "macro", "merge_into"]}),
        (
            "SLA and escalation",
            {
                "fields": [
                    "sla_policy",
                    "sla_state",
                    "first_response_due_at",
                    "resolution_due_at",
                    "first_response_left_minutes",
                    "resolution_left_minutes",
                    "escalated_at",
                    "escalation_reason",
                ]
            },
        ),
        (
            "Links",
            {
                "classes": ["collapse"],
                "fields": ["customer", "order", "review", "csat", "merged_into", "external_id", "shop"],
            },
        ),
        ("Times", {"classes": ["collapse"], "fields": ["created_at", "first_responded_at", "solved_at"]}),
    ]
    # The queue: by the next resolution due time, so breached tickets (due in the past) come
    # first, then those about to breach, and those with no due time last (PostgreSQL's default
    # for an ascending order; SQLite puts NULLs first unless told). Read from the partial
    # index of open tickets.
    ordering = [F("resolution_due_at").asc(nulls_last=True), "-id"]
    inlines = [TicketMessageInline]

    def get_fieldsets(self, request, obj=None):
        if obj is None:  # adding: the ticket's own fields and the first message
            return [
                (None, {"fields": ["customer", "order", "subject", "channel", "priority", "assignee", "team", "reply"]})
            ]
        return self.fieldsets

    @admin.display(description="customer")
    def customer_link(self, ticket):
        return customer_link(ticket.customer_id, ticket.customer)

    @admin.display(description="customer (360 view)")
    def customer_360(self, ticket):
        return customer_link(ticket.customer_id, ticket.customer) if ticket.customer_id else "—"

    @admin.display(description="escalated", boolean=True)
    def escalated(self, ticket):
        return ticket.escalated_at is not None

    def save_model(self, request, obj, form, change):
        if not change:
            data = TicketData(
                subject=obj.subject,
                body=form.cleaned_data.get("reply") or "<p>(opened by staff)</p>",
                channel=obj.channel,
                priority=obj.priority,
            )
            ticket, _ = ticket_open(customer=obj.customer, data=data, user=request.user)
            # What the form adds to an opened ticket; an escalation's team stays unless one is chosen.
            ticket.order, ticket.assignee = obj.order, obj.assignee
            ticket.team = obj.team or ticket.team
            ticket.save(update_fields=["order", "assignee", "team", "updated_at"])  # audited, unlike update()
            form.instance = ticket
            obj.pk = ticket.pk
            obj.refresh_from_db()
            return
        status = obj.status
        obj.status = form.initial.get("status", status)
        super().save_model(request, obj, form, change)
        if status != obj.status:
            obj.status = ticket_set_status(ticket=obj, status=status).status

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if not change:
            return
        ticket, data = form.instance, form.cleaned_data
        try:
            if data.get("reply"):
                ticket_reply(
                    ticket=ticket, body=data["reply"], user=request.user, public=data.get("reply_as") != "note"
                )
            if data.get("macro"):
                macro_apply(ticket=ticket, macro=data["macro"], user=request.user)
            if data.get("merge_into"):
                ticket_merge(source=ticket, target=data["merge_into"], user=request.user)
                self.message_user(request, f"Merged into ticket #{data['merge_into'].pk}.")
        except DomainError as error:
            self.message_user(request, str(error), level=messages.ERROR)


@admin.register(Macro)
class MacroAdmin(ModelAdmin):
    list_display = ["name", "public", "set_status", "is_active"]
    list_filter = ["is_active", "public"]
    search_fields = ["name"]
    autocomplete_fields = ["add_tags"]
    readonly_fields = ["variables"]

    @admin.display(description="variables you can use")
    def variables(self, obj=None):
        return format_html_join(
            "", "<div><code>{{{{ {} }}}}</code>: {}</div>", ((n, d) for n, (d, _) in sorted(VARIABLES.items()))
        )


@admin.register(SlaPolicy)
class SlaPolicyAdmin(ModelAdmin):
    list_display = ["name", "priority", "value_band", "first_response_minutes", "resolution_minutes", "is_active"]
    list_filter = ["priority", "value_band", "is_active"]


@admin.register(BusinessHours)
class BusinessHoursAdmin(ModelAdmin):
    list_display = ["name", "time_zone"]


@admin.register(Team)
class TeamAdmin(ModelAdmin):
    search_fields = ["name"]


@admin.register(Review)
class ReviewAdmin(LargeTableAdmin):
    list_display = ["id", "product", "rating", "title", "customer_link", "verified_buyer", "status", "created_at"]
    list_filter = ["status", "rating", "verified_buyer"]
    list_select_related = ["product", "customer"]
    search_fields = ["=product__sku", "title", "=customer__email_normalized"]
    raw_id_fields = ["customer", "product"]
    readonly_fields = [
        "customer",
        "product",
        "rating",
        "title",
        "body",
        "verified_buyer",
        "responded_by",
        "responded_at",
        "created_at",
        "shop",
        "external_id",
    ]
    fields = [
        "customer",
        "product",
        "rating",
        "title",
        "body",
        "verified_buyer",
        "status",
        "response",
        "responded_by",
        "responded_at",
        "created_at",
    ]
    ordering = ["-id"]
    actions = ["publish", "reject"]

    def has_add_permission(self, request):
        return False  # reviews come from customers (API or review link)

    def save_model(self, request, obj, form, change):
        response = obj.response
        obj.response = form.initial.get("response", "")
        super().save_model(request, obj, form, change)
        if "response" in form.changed_data:
            try:
                review_respond(review=obj, text=response, user=request.user)
            except DomainError as error:
                self.message_user(request, str(error), level=messages.ERROR)

    @admin.display(description="customer")
    def customer_link(self, review):
        return customer_link(review.customer_id, review.customer)

    @admin.action(description="Publish", permissions=["change"])
    def publish(self, request, queryset):
        self.message_user(request, f"{reviews_set_status(queryset, Review.Status.PUBLISHED)} published.")

    @admin.action(description="Reject", permissions=["change"])
    def reject(self, request, queryset):
        self.message_user(request, f"{reviews_set_status(queryset, Review.Status.REJECTED)} rejected.")


@admin.register(ReviewModeration)
class ReviewModerationAdmin(ModelAdmin):
    list_display = ["__str__", "auto_publish_min_rating", "verified_buyers_only"]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not ReviewModeration.objects.exists()


@admin.register(NpsResponse)
class NpsResponseAdmin(LargeTableAdmin):
    list_display = ["id", "customer", "score", "category", "created_at"]
    list_filter = ["score"]
    list_select_related = ["customer"]
    raw_id_fields = ["customer", "shop"]
    search_fields = ["=customer__email_normalized"]
    ordering = ["-id"]

    def has_add_permission(self, request):
        return False  # answers come from customers (the API)


@admin.register(CsatResponse)
class CsatResponseAdmin(LargeTableAdmin):
    """CSAT answers, with the results per agent and per team above the list."""

    list_display = ["id", "ticket", "rating", "agent", "team", "created_at"]
    list_filter = ["rating", "team", "agent"]
    list_select_related = ["ticket", "agent", "team"]
    raw_id_fields = ["ticket", "customer", "agent", "team"]
    ordering = ["-id"]
    change_list_template = "admin/support/csatresponse/change_list.html"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "by_agent": csat_results("agent"), "by_team": csat_results("team")}
        return super().changelist_view(request, extra_context)


def csat_results(by: str) -> list[dict]:
    """Answers, mean rating and the share of 4–5 ratings, per agent or per team."""
    rows = (
        CsatResponse.objects.values(f"{by}_id", name=F(f"{by}__username" if by == "agent" else f"{by}__name"))
        .annotate(answers=Count("id"), mean=Avg("rating"), satisfied=Count("id", filter=Q(rating__gte=4)))
        .order_by("-answers")
    )
    return [{**r, "satisfied_share": r["satisfied"] / r["answers"]} for r in rows]
