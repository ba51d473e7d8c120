"""The support desk in the admin: the ticket queue (open tickets by due time, escalated and
breached first to see) with each ticket's thread, reply box, macros and merge; SLA
policies and business hours; macros; reviews to moderate and answer; NPS and CSAT answers
with CSAT results per agent and team.

Every change a ticket page makes goes through ``support.tickets``, so the SLA clock, the
CSAT invitation and the escalation rules hold whatever the screen."""

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Avg, Count, F, Q
from django.http import FileResponse, Http404, JsonResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince, timeuntil
from unfold.admin import ModelAdmin

from core.admin_tools import AuditHistoryMixin, LargeTableAdmin, customer_link
from core.errors import DomainError
from support.admin.forms import OFFICE_HOURS, BusinessHoursForm, TicketForm, weekly_summary
from support.extensions import VARIABLES
from support.macros import macro_preview
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
    TicketAttachment,
)
from support.reviews import review_respond, reviews_set_status
from support.selectors import ticket_conversation, ticket_customer_context
from support.tickets import TicketData, ticket_merge, ticket_open, ticket_work

INTERNAL_NOTES = "support.view_internal_notes"
REPLY = "Reply"


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
    # The queue fits a 1440 px screen with the sidebar open: the SLA state carries the
    # escalation, and one "next due" column says when the next target falls, and how far off.
    list_display = [
        "id",
        "subject",
        "customer_link",
        "status",
        "priority",
        "sla",
        "next_due",
        "assignee",
        "team",
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
    # The customer is picked by name or email (the customers admin's search); a Support
    # agent may: the picker needs view permission on customers, which the role has.
    autocomplete_fields = ["customer", "tags"]
    raw_id_fields = ["order", "review", "csat", "merged_into"]
    readonly_fields = [
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
    # The page (admin/support/ticket/change_form.html): the conversation and the reply box
    # first, beside the customer; the ticket's fields below, the SLA details folded.
    fieldsets = [
        (REPLY, {"fields": ["reply", "reply_as", "macro", "macro_in_box", "status"]}),
        ("Ticket", {"fields": ["subject", "priority", "assignee", "team", "tags", "channel", "merge_into"]}),
        (
            "SLA and escalation",
            {
                "classes": ["collapse"],
                "fields": [
                    "sla_policy",
                    "sla_state",
                    "first_response_due_at",
                    "resolution_due_at",
                    "first_response_left_minutes",
                    "resolution_left_minutes",
                    "escalated_at",
                    "escalation_reason",
                ],
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
    change_form_template = "admin/support/ticket/change_form.html"
    # The queue: by the next resolution due time, so breached tickets (due in the past) come
    # first, then those about to breach, and those with no due time last (PostgreSQL's default
    # for an ascending order; SQLite puts NULLs first unless told). Read from the partial
    # index of open tickets.
    ordering = [F("resolution_due_at").asc(nulls_last=True), "-id"]

    def get_fieldsets(self, request, obj=None):
        if obj is None:  # adding: the ticket's own fields and the first message
            return [
                (None, {"fields": ["customer", "order", "subject", "channel", "priority", "assignee", "team", "reply"]})
            ]
        return self.fieldsets

    @admin.display(description="customer")
    def customer_link(self, ticket):
        return customer_link(ticket.customer_id, ticket.customer)

    @admin.display(description="SLA", ordering="sla_state")
    def sla(self, ticket):
        state = ticket.get_sla_state_display()
        return format_html("{}<br><small>escalated</small>", state) if ticket.escalated_at else state

    @admin.display(description="next due")  # not sortable: the queue is already in due order
    def next_due(self, ticket):
        """The first response's target while it is owed, else the resolution's: "in 3 hours"
        or "2 hours late", with the exact time on hover."""
        due = ticket.first_response_due_at or ticket.resolution_due_at
        if due is None:
            return "—"
        now = timezone.now()
        text = f"in {timeuntil(due, now, depth=1)}" if due > now else f"{timesince(due, now, depth=1)} late"
        return format_html('<span title="{}">{}</span>', date_format(timezone.localtime(due), "DATETIME_FORMAT"), text)

    def get_urls(self):
        preview = path(
            "<int:ticket_id>/macro-preview/",
            self.admin_site.admin_view(self.macro_preview_view),
            name="support_ticket_macro_preview",
        )
        attachment = path(
            "<int:ticket_id>/attachments/<int:attachment_id>/",
            self.admin_site.admin_view(self.attachment_view),
            name="support_ticket_attachment",
        )
        return [preview, attachment, *super().get_urls()]

    def attachment_view(self, request, ticket_id: int, attachment_id: int):
        """A file a customer emailed with a message of this ticket, to staff who may see the
        ticket (MEDIA_ROOT itself is never served). Always a download, never sniffed or run:
        it is the sender's file, whatever type it claims."""
        ticket = self.get_queryset(request).filter(pk=ticket_id).first()
        if ticket is None or not self.has_view_permission(request, ticket):
            raise Http404("No such ticket.")
        attachment = (
            TicketAttachment.objects.filter(pk=attachment_id, message__ticket_id=ticket.pk, message__public=True)
            .exclude(file="")
            .first()
        )
        if attachment is None:
            raise Http404("No such attachment on this ticket.")
        response = FileResponse(
            attachment.file.open("rb"),
            as_attachment=True,
            filename=attachment.filename,
            content_type=attachment.content_type,
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "sandbox; default-src 'none'"
        return response

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:  # the conversation, the customer beside it, the macro picker's endpoint
            context.update(
                conversation=ticket_conversation(obj, internal_notes=request.user.has_perm(INTERNAL_NOTES)),
                context=ticket_customer_context(obj),
                customer_url=reverse(settings.CUSTOMER_ADMIN_URL_NAME, args=[obj.customer_id]),
                macro_preview_url=reverse("admin:support_ticket_macro_preview", args=[obj.pk]),
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def macro_preview_view(self, request, ticket_id: int):
        """What choosing a macro puts in the reply box: GET ?macro=<id> → the macro's text
        filled in for this ticket's customer, whether it is a note, the status and tags it
        sets, and the variables this customer has no value for. Only for staff who may
        change the ticket; never a 500."""
        ticket = Ticket.objects.select_related("customer", "order").filter(pk=ticket_id).first()
        if ticket is None:
            return JsonResponse({"detail": f"There is no ticket #{ticket_id}."}, status=404)
        if not self.has_change_permission(request, ticket):
            return JsonResponse({"detail": "You may not work this ticket."}, status=403)
        macro_id = request.GET.get("macro", "")
        macro = Macro.objects.filter(pk=macro_id, is_active=True).first() if macro_id.isdigit() else None
        if macro is None:
            errors = {"macro": ["Not found."]}
            return JsonResponse({"detail": "There is no such macro in use.", "errors": errors}, status=404)
        preview = macro_preview(ticket=ticket, macro=macro, agent=request.user)
        return JsonResponse(
            {
                "text": preview.text,
                "reply_as": "public" if macro.public else "note",
                "set_status": macro.set_status,
                "set_status_label": macro.get_set_status_display() if macro.set_status else "",
                "tags": preview.tags,
                "empty": preview.empty,
            }
        )

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
        # The status changes in save_related, after the reply (support.tickets.ticket_work).
        obj.status = form.initial.get("status", obj.status)
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if not change:
            return
        ticket, data = form.instance, form.cleaned_data
        chosen = data.get("status", "")
        try:
            ticket_work(
                ticket=ticket,
                user=request.user,
                reply=data.get("reply") or "",
                public=data.get("reply_as") != "note",
                macro=data.get("macro"),
                macro_in_box=bool(data.get("macro_in_box")),
                status=chosen if chosen != form.initial.get("status") else "",
            )
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
        rows = ((n, v.description, f"“{v.empty}”" if v.empty else "left out") for n, v in sorted(VARIABLES.items()))
        return format_html_join("", "<div><code>{{{{ {} }}}}</code>: {} <small>(no value: {})</small></div>", rows)


@admin.register(SlaPolicy)
class SlaPolicyAdmin(ModelAdmin):
    list_display = ["name", "priority", "value_band", "first_response_minutes", "resolution_minutes", "is_active"]
    list_filter = ["priority", "value_band", "is_active"]


@admin.register(BusinessHours)
class BusinessHoursAdmin(ModelAdmin):
    """Opening times per weekday and closed dates as a form (``BusinessHoursForm``), stored
    in the JSON the SLA clock reads."""

    form = BusinessHoursForm
    list_display = ["name", "time_zone", "opening_hours"]

    def get_changeform_initial_data(self, request):
        return {"weekly": OFFICE_HOURS, **super().get_changeform_initial_data(request)}

    @admin.display(description="opening hours")
    def opening_hours(self, hours):
        return weekly_summary(hours.weekly)


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
    # The ticket's shop: the dashboard's CSAT per shop leads here.
    list_filter = ["rating", "team", "agent", "ticket__shop"]
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
