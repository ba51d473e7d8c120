from django.contrib import admin, messages
from django.db.models import Exists, OuterRef
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from unfold.admin import ModelAdmin, StackedInline, TabularInline

from core.admin_tools import AuditHistoryMixin, CountryFilter, LargeTableAdmin, customer_link
from core.figures import amount_text, days_text, money_text
from customers.admin.drilldown import DrilldownFilter
from customers.admin.lifecycle import (
    ClvBandFilter,
    PAliveFilter,
    RfmSegmentFilter,
    StageFilter,
    metrics_summary,
    stage_history,
)
from customers.figure_notes import ONE_TIME_BUYER, figure_notes, p_alive_text, with_base_currency
from customers.models import (
    ApiKey,
    ConsentSource,
    Customer,
    CustomerIdentity,
    CustomerMerge,
    CustomerMetrics,
    Event,
    ExchangeRate,
    Order,
    OrderLine,
    PendingUpdate,
    Product,
    Refund,
    Shop,
    ShopGroup,
    ShopTag,
    Tag,
)
from customers.search import SEARCH_HELP, SEARCH_HINT, customer_search
from customers.services.api_keys import api_key_material, api_key_revoke, api_keys_forget
from customers.services.consent import customers_consent_withdraw, identities_consent_set
from customers.services.currency import base_currency
from customers.services.pending_updates import pending_updates_mark


class ApiKeyInline(TabularInline):
    model = ApiKey
    extra = 0
    fields = ["name", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


def _forget_keys(shops) -> None:
    api_keys_forget(prefixes=list(ApiKey.objects.filter(shop__in=shops).values_list("prefix", flat=True)))


@admin.register(ShopGroup)
class ShopGroupAdmin(ModelAdmin):
    """A manager puts shops in one group to let them share profiles and loyalty balances."""

    list_display = ["name", "created_at"]
    search_fields = ["name"]


@admin.register(Shop)
class ShopAdmin(ModelAdmin):
    list_display = ["slug", "name", "group", "is_active", "created_at"]
    list_filter = ["is_active"]
    list_select_related = ["group"]
    autocomplete_fields = ["group"]
    search_fields = ["slug", "name"]
    inlines = [ApiKeyInline]

    def get_readonly_fields(self, request, obj=None):
        # Moving an existing shop to another group moves its customers' points too: that is
        # the loyalty admin's "Put a shop in another group" (``loyalty.groups``), not this form.
        return ["group"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        _forget_keys([obj])  # a deactivated shop's keys stop working at once

    def delete_model(self, request, obj):
        _forget_keys([obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        _forget_keys(queryset)
        super().delete_queryset(request, queryset)


@admin.register(ApiKey)
class ApiKeyAdmin(AuditHistoryMixin, ModelAdmin):
    list_display = ["prefix", "shop", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["shop", ("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["shop"]
    search_fields = ["prefix", "name", "shop__slug"]
    autocomplete_fields = ["shop"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        return ["shop", "name", "role"] if obj is None else ["shop", "name", "role", *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is None else ["shop", *self.readonly_fields]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.prefix, key, obj.key_hash = api_key_material()
            super().save_model(request, obj, form, change)
            messages.warning(request, f"The new API key, shown only this once: {key}")
            return
        super().save_model(request, obj, form, change)
        api_keys_forget(prefixes=[obj.prefix])  # a new role applies at once

    def delete_model(self, request, obj):
        api_keys_forget(prefixes=[obj.prefix])
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        api_keys_forget(prefixes=list(queryset.values_list("prefix", flat=True)))
        super().delete_queryset(request, queryset)

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke(self, request, queryset):
        for api_key in queryset:
            api_key_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")


@admin.register(Tag)
class TagAdmin(ModelAdmin):
    search_fields = ["name"]


def _metrics(customer: Customer) -> CustomerMetrics | None:
    try:
        return customer.metrics
    except CustomerMetrics.DoesNotExist:
        return None


class IdentityInline(StackedInline):
    """What each shop knows of the customer, one block per shop: a table row of its 17
    fields was 2,600 px wide on a 1440 px screen.

    Its marketing consent is where staff change a customer's consent to one shop's email
    (only those who may change customers: the form is read-only to the rest); the change is
    written by ``identities_consent_set``, with its history (``CustomerAdmin.save_formset``).
    """

    model = CustomerIdentity
    extra = 0
    autocomplete_fields = ["shop"]
    readonly_fields = ["marketing_consent_at"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("shop", "external_id"),
                    "email",
                    ("first_name", "last_name"),
                    ("phone", "country"),
                    ("birthday", "time_zone"),
                    "marketing_consent",
                    "marketing_consent_at",
                ]
            },
        ),
        (
            "Acquisition",
            {
                "fields": ["first_seen_at", "source", ("utm_source", "utm_medium", "utm_campaign")],
                "classes": ["collapse"],
            },
        ),
    ]


# Who may merge duplicate customers and undo merges (docs/merge.md).
MERGE_PERMISSION = "customers.merge_customers"


class MergedFilter(admin.SimpleListFilter):
    """Records merged into another customer are kept, emptied, so the merge can be undone
    (docs/merge.md): staff can leave them out, or list them."""

    title = "merged"
    parameter_name = "merged"

    def lookups(self, request, model_admin):
        return [("no", "Not merged away"), ("yes", "Merged into another")]

    def queryset(self, request, queryset):
        if self.value() not in ("yes", "no"):
            return queryset
        away = Exists(CustomerMerge.objects.filter(merged_id=OuterRef("pk"), undone_at__isnull=True))
        return queryset.filter(away) if self.value() == "yes" else queryset.exclude(away)


# The most customers whose consent one click of the admin action withdraws (a list of ids).
WITHDRAW_AT_ONCE = 10_000

# A list column: its heading in the notes above the table, and its ``FigureNotes`` entry.
COLUMN_NOTES = {
    "stage": ("Stage", "stage"),
    "rfm_segment": ("RFM", "rfm"),
    "p_alive": ("P(alive)", "p_alive"),
    "clv_predicted": ("CLV 12 mo", "clv_predicted"),
    "orders_count_shown": ("Orders", "orders"),
    "net_revenue_shown": ("Revenue", "clv_historical"),
    "last_order": ("Last order", "last_order"),
}


@admin.register(Customer)
class CustomerAdmin(AuditHistoryMixin, LargeTableAdmin):
    # Compact enough for a 1440 px screen with the sidebar open: one column for who (name over
    # email), the lifecycle columns (what a list of a million customers is read for), then
    # the figures, right-aligned, with their currency in the heading (customer_list.css).
    list_display = [
        "who",
        "stage",
        "rfm_segment",
        "p_alive",
        "clv_predicted",
        "orders_count_shown",
        "net_revenue_shown",
        "last_order",
        "view_360",
    ]
    list_display_links = ["who"]
    list_filter = [
        DrilldownFilter,
        StageFilter,
        RfmSegmentFilter,
        ClvBandFilter,
        PAliveFilter,
        "marketing_consent",
        "first_seen_shop",
        CountryFilter,
        MergedFilter,
    ]
    list_select_related = ["first_seen_shop", "metrics"]
    # The search box, and what other admins' customer pickers (autocomplete_fields) need;
    # get_search_results does the work.
    search_fields = ["email"]
    search_help_text = SEARCH_HINT
    search_help = SEARCH_HELP  # in full, above the list:
    list_before_template = "admin/customers/customer/search_help.html"
    autocomplete_fields = ["tags", "first_seen_shop"]
    ordering = ["-id"]
    inlines = [IdentityInline]
    fieldsets = [
        ("Lifecycle and value", {"fields": ["lifecycle", "stage_history"]}),
        (
            "Profile",
            {
                "fields": [
                    "email",
                    ("first_name", "last_name"),
                    ("phone", "country"),
                    ("birthday", "time_zone"),
                    "tags",
                    "marketing_consent",
                    "marketing_consent_at",
                ]
            },
        ),
        (
            "Orders",
            {
                "fields": [
                    ("orders_count", "net_revenue_money", "aov_money"),
                    ("first_order_at", "last_order_at", "aggregates_updated_at"),
                ]
            },
        ),
        (
            "Acquisition",
            {
                "fields": [
                    ("first_seen_at", "first_seen_shop", "source"),
                    ("utm_source", "utm_medium", "utm_campaign"),
                    ("created_at", "updated_at"),
                ],
                "classes": ["collapse"],
            },
        ),
    ]
    readonly_fields = [
        "lifecycle",
        "stage_history",
        # The merged consent (the latest any shop said): changed per shop, below, with its history.
        "marketing_consent",
        "marketing_consent_at",
        *Customer.AGGREGATE_FIELDS,
        "net_revenue_money",
        "aov_money",
        "first_seen_at",
        "created_at",
        "updated_at",
    ]

    change_list_template = "admin/customers/customer/change_list.html"
    actions = ["withdraw_email_consent", "merge_duplicates"]

    class Media:
        css = {"all": ["customers/customer_list.css"]}

    # A customer is never deleted: their orders stay for the accounts and the points ledger
    # with them (the database refuses it too). Their personal data is erased instead, from
    # a privacy request (crm.privacy), which keeps every figure adding up.
    NOT_DELETED = (
        "Customers are not deleted: their orders stay for the accounts, and their points ledger with "
        "them. To remove a person's data, add a privacy request of kind 'erasure' for them "
        "(Privacy requests) and erase it from there."
    )

    def has_delete_permission(self, request, obj=None):
        return False

    def delete_view(self, request, object_id, extra_context=None):
        self.message_user(request, self.NOT_DELETED, messages.ERROR)
        return HttpResponseRedirect(reverse("admin:customers_customer_change", args=[object_id]))

    @admin.display(description="")
    def view_360(self, obj):
        return customer_link(obj.pk, "360")

    @admin.display(description="customer", ordering="id")
    def who(self, obj):
        """The name over the email (either alone if the other is empty), in one column."""
        name = " ".join(part for part in (obj.first_name, obj.last_name) if part)
        if name and obj.email:
            local, at, domain = obj.email.partition("@")  # a long address breaks before its domain
            return format_html(
                '<span class="who">{}<br><small class="email">{}<wbr>{}{}</small></span>', name, local, at, domain
            )
        return name or obj.email or f"Customer #{obj.pk}"

    @admin.display(description="stage", ordering="metrics__stage")
    def stage(self, obj):
        metrics = _metrics(obj)
        return metrics.get_stage_display() if metrics else "—"

    @admin.display(description="RFM")
    def rfm_segment(self, obj):
        metrics = _metrics(obj)
        return (metrics.get_rfm_segment_display() or "—") if metrics else "—"

    # Not sortable: with no index on a figure that changes daily (see docs/architecture.md),
    # sorting a million customers by it took 2.7 s; the CLV band filter finds the top ones.
    @admin.display(description=with_base_currency("CLV 12 mo"))
    def clv_predicted(self, obj):
        metrics = _metrics(obj)
        return amount_text(metrics.clv_predicted if metrics else None)

    @admin.display(description="P(alive)")
    def p_alive(self, obj):
        text = p_alive_text(_metrics(obj))
        if text == ONE_TIME_BUYER:  # the list is narrow: the whole sentence on hover
            return format_html('<span class="not-estimated" title="{}">not estimated</span>', ONE_TIME_BUYER)
        return text

    @admin.display(description="orders", ordering="orders_count")
    def orders_count_shown(self, obj):
        return f"{obj.orders_count:,}"

    @admin.display(description=with_base_currency("revenue"), ordering="net_revenue")
    def net_revenue_shown(self, obj):
        return amount_text(obj.net_revenue)

    @admin.display(description="net revenue (historical CLV)")
    def net_revenue_money(self, obj):
        return money_text(obj.net_revenue, base_currency())

    @admin.display(description="average order value")
    def aov_money(self, obj):
        return money_text(obj.avg_order_value, base_currency()) if obj.orders_count else "—"

    @admin.display(description="last order", ordering="last_order_at")
    def last_order(self, obj):
        if obj.last_order_at is None:
            return "—"
        day = timezone.localdate(obj.last_order_at)
        ago = (timezone.localdate() - day).days
        return format_html(
            '<span title="{}">{}</span>', "today" if ago == 0 else f"{days_text(ago)} ago", f"{day:%Y-%m-%d}"
        )

    def changelist_view(self, request, extra_context=None):
        # What each column shown means, one click away above the table.
        notes = figure_notes()
        columns = [COLUMN_NOTES[c] for c in self.get_list_display(request) if c in COLUMN_NOTES]
        extra_context = {**(extra_context or {}), "column_notes": [(h, getattr(notes, n)) for h, n in columns]}
        return super().changelist_view(request, extra_context)

    @admin.display(description="lifecycle and value")
    def lifecycle(self, obj):
        return metrics_summary(_metrics(obj))

    @admin.display(description="stage history")
    def stage_history(self, obj):
        return stage_history(list(obj.stage_changes.all()[:20]))

    def save_formset(self, request, form, formset, change):
        """A shop identity's marketing consent, ticked or unticked here, is set by the consent
        service after the rest of the form is saved, so it is recorded as a consent event
        (source "admin", by this staff member) like every other change of it."""
        if formset.model is not CustomerIdentity:
            return super().save_formset(request, form, formset, change)
        wanted: list[tuple[CustomerIdentity, bool | None]] = []
        for identity_form in formset.forms:
            if "marketing_consent" in identity_form.changed_data and identity_form not in formset.deleted_forms:
                identity = identity_form.instance
                wanted.append((identity, identity_form.cleaned_data["marketing_consent"]))
                # Saved as it was (a new identity: unknown); the service makes the change.
                identity.marketing_consent = identity_form.initial.get("marketing_consent")
        super().save_formset(request, form, formset, change)
        events = identities_consent_set(
            changes={identity.pk: value for identity, value in wanted},
            source=ConsentSource.ADMIN,
            by_id=request.user.pk,
        )
        if events:
            self.message_user(request, f"Marketing consent changed at {_shops(len(events))}, with its history.")

    @admin.action(description="Withdraw marketing email consent (every shop)", permissions=["change"])
    def withdraw_email_consent(self, request, queryset):
        """A customer asked (on the phone, by email) for no more marketing."""
        ids = list(queryset.values_list("pk", flat=True)[: WITHDRAW_AT_ONCE + 1])
        if len(ids) > WITHDRAW_AT_ONCE:
            self.message_user(request, f"Select at most {WITHDRAW_AT_ONCE:,} customers at a time.", messages.ERROR)
            return
        events = customers_consent_withdraw(customer_ids=ids, source=ConsentSource.ADMIN, by_id=request.user.pk)
        customers = len({e.customer_id for e in events})
        where = _shops(len(events))
        self.message_user(request, f"Marketing consent withdrawn for {customers} customer(s), at {where}.")

    @admin.action(description="Merge the two selected customers…", permissions=["merge"])
    def merge_duplicates(self, request, queryset):
        """Two records of one person: open the merge's preview (the older record stays; the
        page can swap them). The merge itself composes every app, so its page is the merge
        log's (``crm.admin.merging``), reached here by its URL's name."""
        ids = sorted(queryset.values_list("pk", flat=True)[:3])
        if len(ids) != 2:
            self.message_user(
                request, "Select exactly two customers: the record that stays and its duplicate.", messages.ERROR
            )
            return None
        return redirect(f"{reverse('admin:customers_customermerge_merge')}?survivor={ids[0]}&merged={ids[1]}")

    def has_merge_permission(self, request):
        return request.user.has_perm(MERGE_PERMISSION)

    def get_search_results(self, request, queryset, search_term):
        """Every way an agent can name a customer (``customers.search``); also what other
        admins' ``autocomplete_fields = ["customer"]`` search with."""
        if not search_term.strip():
            return queryset, False
        search = customer_search(search_term)
        if search.notice and not _is_autocomplete(request):
            self.message_user(request, search.notice, messages.WARNING if search.where is None else messages.INFO)
        if search.where is None:
            return queryset.none(), False
        return queryset.filter(search.where), False


def _shops(count: int) -> str:
    return f"{count} shop{'s' if count != 1 else ''}"


def _is_autocomplete(request) -> bool:
    """An autocomplete widget's request: its JSON has no room for a message, which would
    otherwise show on the next page the agent opens."""
    return request.resolver_match is not None and request.resolver_match.url_name == "autocomplete"


@admin.register(CustomerIdentity)
class CustomerIdentityAdmin(LargeTableAdmin):
    list_display = ["external_id", "shop", "customer", "created_at"]
    list_filter = ["shop"]
    list_select_related = ["shop", "customer"]
    search_fields = ["=external_id"]
    raw_id_fields = ["customer"]
    autocomplete_fields = ["shop"]
    ordering = ["-id"]


@admin.register(ShopTag)
class ShopTagAdmin(LargeTableAdmin):
    """The tags each shop sent (what its key reads); the staff's own are the customer's tags."""

    list_display = ["tag", "shop", "customer"]
    list_filter = ["shop"]
    list_select_related = ["tag", "shop", "customer"]
    raw_id_fields = ["customer"]
    autocomplete_fields = ["shop", "tag"]
    ordering = ["-id"]


@admin.register(ExchangeRate)
class ExchangeRateAdmin(ModelAdmin):
    list_display = ["currency", "rate_to_base", "updated_at"]
    search_fields = ["currency"]


@admin.register(Product)
class ProductAdmin(LargeTableAdmin):
    list_display = ["sku", "name", "category", "price", "currency", "shop"]
    list_filter = ["shop", "category"]
    list_select_related = ["shop"]
    search_fields = ["=sku", "name"]
    autocomplete_fields = ["shop"]
    ordering = ["shop", "sku"]


class OrderLineInline(TabularInline):
    model = OrderLine
    extra = 0
    raw_id_fields = ["product"]


class RefundInline(TabularInline):
    model = Refund
    extra = 0
    readonly_fields = ["amount_base"]


class MarksFollowUp:
    """An order or refund changed in the admin marks its customers in the outbox of
    follow-up work (in the admin's transaction), so their figures, points and segments
    follow within the periodic drain, as after a change through the API."""

    def _customer_ids(self, obj) -> set[int]:
        return {obj.customer_id} if isinstance(obj, Order) else {obj.order.customer_id}

    def save_model(self, request, obj, form, change):
        before = set()
        if change:
            before = self._customer_ids(type(obj).objects.select_related().get(pk=obj.pk))
        super().save_model(request, obj, form, change)
        pending_updates_mark(before | self._customer_ids(obj))

    def delete_model(self, request, obj):
        customers = self._customer_ids(obj)
        super().delete_model(request, obj)
        pending_updates_mark(customers)

    def delete_queryset(self, request, queryset):
        customers = set().union(*(self._customer_ids(o) for o in queryset.select_related()))
        super().delete_queryset(request, queryset)
        pending_updates_mark(customers)


@admin.register(Order)
class OrderAdmin(MarksFollowUp, LargeTableAdmin):
    list_display = ["external_id", "shop", "customer_360", "placed_at", "status", "total", "currency", "total_base"]
    list_filter = ["status", "shop"]
    list_select_related = ["shop", "customer"]
    search_help_text = "An order's external id or the customer's email (exact)."
    raw_id_fields = ["customer"]
    autocomplete_fields = ["shop"]
    ordering = ["-placed_at"]
    inlines = [OrderLineInline, RefundInline]
    readonly_fields = ["customer_360", "total_base", "exchange_rate", "created_at", "updated_at"]

    @admin.display(description="customer")
    def customer_360(self, order):
        return customer_link(order.customer_id, order.customer) if order.customer_id else "—"

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        if "@" in term:
            customers = Customer.objects.filter(email_normalized=term.lower()).values("pk")
            return queryset.filter(customer_id__in=customers), False
        return queryset.filter(external_id__iexact=term), False  # the index on UPPER(external_id)

    def get_search_fields(self, request):
        return ["external_id"]


@admin.register(Refund)
class RefundAdmin(MarksFollowUp, LargeTableAdmin):
    list_display = ["order", "amount", "amount_base", "reason", "refunded_at"]
    list_select_related = ["order"]
    search_fields = ["=order__external_id", "=external_id"]
    raw_id_fields = ["order"]
    ordering = ["-refunded_at"]


@admin.register(Event)
class EventAdmin(LargeTableAdmin):
    list_display = ["type", "customer", "shop", "occurred_at"]
    list_filter = ["type", "shop"]
    list_select_related = ["customer", "shop"]
    search_fields = ["=customer__email_normalized", "=external_id"]
    raw_id_fields = ["customer"]
    autocomplete_fields = ["shop"]
    ordering = ["-occurred_at"]


class FailingFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("failing", "Failing (3+ attempts)"), ("waiting", "Waiting")]

    def queryset(self, request, queryset):
        if self.value() == "failing":
            return queryset.filter(attempts__gte=3)
        if self.value() == "waiting":
            return queryset.filter(attempts=0)
        return queryset


@admin.register(PendingUpdate)
class PendingUpdateAdmin(LargeTableAdmin):
    """The outbox of follow-up work: customers whose figures, points and segments are behind
    their data. Normally empty or seconds old; a growing age means the workers are down or
    behind, and attempts with an error mean the work keeps failing (the error says why)."""

    list_display = ["customer", "marked_at", "attempts", "claimed_until", "error_summary"]
    list_filter = [FailingFilter]
    search_fields = ["=customer__id", "=customer__email_normalized"]
    raw_id_fields = ["customer"]
    ordering = ["marked_at"]
    readonly_fields = ["customer", "marked_at", "claimed_until", "attempts", "last_error"]

    @admin.display(description="last error")
    def error_summary(self, obj):
        return obj.last_error[:120]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(OrderLine)
class OrderLineAdmin(LargeTableAdmin):
    list_display = ["order", "sku", "name", "quantity", "unit_price"]
    list_select_related = ["order"]
    search_fields = ["=sku", "=order__external_id"]
    raw_id_fields = ["order", "product"]
    ordering = ["-id"]
