"""The loyalty programme in the admin: settings, tiers, earning rules and rewards for
marketers; each customer's points (read-only, from the ledger) with a manual adjustment
for managers; the ledger itself, append-only; codes; tier changes; the referral queue.

Nothing here writes points directly: the adjustment goes through ``loyalty.services``."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Q, Subquery, Sum
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import pluralize
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import action

from core.admin_tools import LargeTableAdmin, ReadOnly, customer_link
from core.errors import DomainError
from core.figures import money_text
from customers.models import Order, Shop
from customers.services.currency import base_currency
from loyalty.admin.forms import AdjustForm, PastOrdersCreditForm, ProgrammeForm, ShopJoinForm
from loyalty.groups import shop_group_join
from loyalty.history import past_orders_credit, past_orders_credit_preview
from loyalty.models import (
    Account,
    EarningRule,
    PastOrdersCredit,
    PointsEntry,
    Programme,
    Referral,
    Reward,
    RewardCode,
    RewardKind,
    RuleTierMultiplier,
    Tier,
    TierBasis,
    TierChange,
)
from loyalty.programme import programme_get
from loyalty.referrals import referral_code_of, referrals_review, referrals_settle
from loyalty.selectors import history, points_liability
from loyalty.services import points_adjust

ADJUST = "loyalty.adjust_points"
CHANGE_SHOP = "customers.change_shop"
LIABILITY = "loyalty.view_liability"
RECENT_ENTRIES = 50


def entry_source(entry: PointsEntry) -> str:
    """Where an entry's points came from, as staff know it: an order by the shop's own order
    number, linked to the order (select ``order__shop`` with the entries: no query per row);
    anything else as recorded ("code:7", "adjust", "expiry")."""
    if entry.order_id is None:
        return entry.source
    order = entry.order
    url = reverse("admin:customers_order_change", args=[entry.order_id])
    return format_html('<a href="{}">order {}</a> ({})', url, order.external_id, order.shop.name)


def orders_numbered(number: str):
    """The orders a shop numbered so, in any shop: each read through its (shop, number) index."""
    return Order.objects.filter(shop_id__in=list(Shop.objects.values_list("pk", flat=True)), external_id=number)


class ReadOnlyAdmin(ReadOnly, ModelAdmin):
    """Rows that only services write: listed and opened, never added, changed or deleted here."""


@admin.register(Programme)
class ProgrammeAdmin(ModelAdmin):
    """One settings row: the list goes straight to it. Managers credit past orders from here."""

    form = ProgrammeForm
    change_form_template = "admin/loyalty/programme/change_form.html"
    fieldsets = [
        (None, {"fields": ["name", "is_active", "starts_at", "pending_days", "point_value"]}),
        ("Tiers", {"fields": ["tier_basis", "tier_term", "tier_grace_days"]}),
        ("Expiry", {"fields": ["expiry_mode", "expiry_months", "expiry_warning_days", "refund_expired_codes"]}),
        ("Referrals", {"fields": ["referral_weekly_cap"]}),
    ]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not Programme.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        programme = Programme.objects.first()
        if programme is not None:
            return redirect("admin:loyalty_programme_change", programme.pk)
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_credit": may_credit_past_orders(request.user)}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        credit = self.admin_site.admin_view(self.credit_view)
        return [path("credit-past-orders/", credit, name="loyalty_credit_past_orders"), *super().get_urls()]

    def credit_view(self, request):
        """Credit the orders placed before the programme started: a day, what it would credit
        (orders, customers, points, the liability), then confirm (POST). Managers only."""
        if not may_credit_past_orders(request.user):
            raise PermissionDenied
        bound = request.method == "POST" or "since" in request.GET
        form = PastOrdersCreditForm((request.POST if request.method == "POST" else request.GET) if bound else None)
        preview = None
        if bound and form.is_valid():
            since = form.cleaned_data["since"]
            try:
                if request.method == "POST":
                    credit = past_orders_credit(since=since, staff_id=request.user.pk)
                    messages.success(request, credit_message(credit))
                    return redirect("admin:loyalty_pastorderscredit_changelist")
                preview = past_orders_credit_preview(since=since)
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
        context = {
            **self.admin_site.each_context(request),
            "title": "Credit past orders",
            "form": form,
            "preview": preview,
            "programme": programme_get(),
            "opts": self.opts,
        }
        return TemplateResponse(
            request, "admin/loyalty/programme/credit_past_orders.html", context, status=400 if form.errors else 200
        )


def may_credit_past_orders(user) -> bool:
    """Whoever may adjust points by hand and see the liability (managers)."""
    return user.has_perm(ADJUST) and user.has_perm(LIABILITY)


def credit_summary(credit: PastOrdersCredit) -> str:
    """What a credit of past orders credited, in the words the message after it and the list
    of credits both use: "3 orders of 2 customers: 265 points (2.65 USD of liability)"."""
    return (
        f"{credit.orders:,} order{pluralize(credit.orders)} of {credit.customers:,} "
        f"customer{pluralize(credit.customers)}: {credit.points:,} point{pluralize(credit.points)} "
        f"({money_text(credit.value, credit.currency)} of liability)"
    )


def credit_message(credit: PastOrdersCredit) -> str:
    return (
        f"Orders placed since {credit.since:%Y-%m-%d} now earn points. Credited {credit_summary(credit)}. "
        "The points arrive within a minute, as the follow-up work runs."
    )


@admin.register(PastOrdersCredit)
class PastOrdersCreditAdmin(ReadOnlyAdmin):
    """Who credited past orders, from when, and what it was worked out to credit."""

    list_display = ["created_at", "staff", "since", "previous_start", "credited"]
    list_select_related = ["staff"]
    actions_list = ["credit_past_orders"]  # a button above the list, for managers

    @action(description="Credit past orders…", url_path="credit", permissions=["credit_past_orders"])
    def credit_past_orders(self, request):
        return redirect("admin:loyalty_credit_past_orders")

    def has_credit_past_orders_permission(self, request):
        return may_credit_past_orders(request.user)

    @admin.display(description="credited")
    def credited(self, credit):
        return credit_summary(credit)


@admin.register(Tier)
class TierAdmin(ModelAdmin):
    list_display = ["name", "rank", "enter", "keep", "multiplier_shown", "priority_support"]
    ordering = ["rank"]

    def get_queryset(self, request):
        # What the thresholds count (spend or points) is the programme's: read in the list's query.
        basis = Programme.objects.filter(pk=1).values("tier_basis")[:1]
        return super().get_queryset(request).annotate(basis=Subquery(basis))

    @admin.display(description="to enter", ordering="enter_threshold")
    def enter(self, tier):
        return _threshold(tier.enter_threshold, tier.basis)

    @admin.display(description="to keep")
    def keep(self, tier):
        return _threshold(tier.keep_threshold, tier.basis)

    @admin.display(description="points multiplier")
    def multiplier_shown(self, tier):
        return f"× {tier.multiplier.normalize():f}"


def _threshold(value, basis) -> str:
    """A tier threshold in what it counts: money spent (the default basis) or points earned."""
    if basis == TierBasis.POINTS:
        return f"{value:,.0f} points"
    return money_text(value, base_currency())


class RuleTierMultiplierInline(TabularInline):
    model = RuleTierMultiplier
    extra = 0


@admin.register(EarningRule)
class EarningRuleAdmin(ModelAdmin):
    list_display = ["name", "kind", "points_per_unit", "rounding", "points", "event_type", "is_active", "valid_until"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "event_type"]
    inlines = [RuleTierMultiplierInline]


@admin.register(Reward)
class RewardAdmin(ModelAdmin):
    list_display = ["name", "kind", "value_shown", "cost", "shop", "is_active", "valid_until", "issued_count"]
    list_filter = ["kind", "is_active", "shop"]
    search_fields = ["name", "product_sku"]
    readonly_fields = ["issued_count"]

    @admin.display(description="value", ordering="value")
    def value_shown(self, reward):
        if reward.kind == RewardKind.FIXED_AMOUNT:
            return money_text(reward.value, base_currency())
        if reward.kind == RewardKind.PERCENTAGE:
            return f"{reward.value.normalize():f}%"
        return "—"

    @admin.display(description="cost", ordering="points_cost")
    def cost(self, reward):
        return f"{reward.points_cost:,} points"


@admin.register(Account)
class AccountAdmin(LargeTableAdmin, ReadOnlyAdmin):
    """A customer's points in one shop group (one row per customer and group), with the
    customer's total over all their groups. The figures are the ledger's sums; managers
    adjust from here."""

    list_display = ["customer", "group", "points", "pending_points", "total_points", "tier", "tier_since", "updated_at"]
    list_filter = ["tier", "group"]
    list_select_related = ["customer", "group", "tier"]
    search_fields = ["customer__email_normalized", "referral_code"]
    search_help_text = "An exact email or referral code."
    fields = [
        "customer_link",
        "group",
        "points",
        "total_points",
        "pending_points",
        "tier",
        "tier_since",
        "tier_grace_until",
        "referral",
        "recent",
    ]
    readonly_fields = fields
    change_list_template = "admin/loyalty/account/change_list.html"
    change_form_template = "admin/loyalty/account/change_form.html"

    def get_queryset(self, request):
        # The customer's total over their accounts, in the page's one query.
        total = (
            Account.objects.filter(customer_id=OuterRef("customer_id"))
            .values("customer_id")
            .annotate(total=Sum("balance"))
            .values("total")
        )
        return super().get_queryset(request).annotate(customer_total=Subquery(total))

    @admin.display(description="balance", ordering="balance")
    def points(self, account):
        return f"{account.balance:,} points"

    @admin.display(description="pending", ordering="pending")
    def pending_points(self, account):
        return f"{account.pending:,} points"

    @admin.display(description="customer's total (all groups)")
    def total_points(self, account):
        return f"{account.customer_total or 0:,} points"

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(customer__email_normalized=term.lower()) | queryset.filter(referral_code=term), False

    @admin.display(description="referral code")
    def referral(self, account):
        return referral_code_of(account.customer_id, account.group_id)  # made on first use, like the API's

    @admin.display(description="customer")
    def customer_link(self, account):
        return customer_link(account.customer_id, str(account.customer))

    @admin.display(description=f"last {RECENT_ENTRIES} ledger entries")
    def recent(self, account):
        rows = format_html_join(
            "",
            # Numbers are spelled out first: format_html escapes its arguments into strings,
            # and a string refuses the "+" sign format (the admin then showed "-" instead).
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    e.created_at.strftime("%Y-%m-%d %H:%M"),
                    e.get_kind_display(),
                    f"{e.available:+,}",
                    f"{e.pending:+,}",
                    entry_source(e),
                    e.reason,
                )
                for e in history(account.customer_id, account.group_id).select_related("order__shop")[:RECENT_ENTRIES]
            ),
        )
        full = (
            reverse("admin:loyalty_pointsentry_changelist")
            + f"?customer__id__exact={account.customer_id}&group__id__exact={account.group_id}"
        )
        return format_html(
            '<table id="ledger"><thead><tr><th>when</th><th>what</th><th>points available</th><th>points pending</th>'
            '<th>source</th><th>reason</th></tr></thead><tbody>{}</tbody></table><p><a href="{}">Full history</a></p>',
            rows,
            full,
        )

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_join": request.user.has_perm(CHANGE_SHOP),
            "can_credit": may_credit_past_orders(request.user),
        }
        if request.user.has_perm(LIABILITY):
            extra_context["liability"] = points_liability()
            extra_context["base_currency"] = base_currency()
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_adjust": request.user.has_perm(ADJUST)}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        adjust = self.admin_site.admin_view(self.adjust_view)
        join = self.admin_site.admin_view(self.join_view)
        return [
            path("<int:pk>/adjust/", adjust, name="loyalty_account_adjust"),
            path("join-group/", join, name="loyalty_shop_join_group"),
            *super().get_urls(),
        ]

    def join_view(self, request):
        """Put a shop in another shop group, merging its customers' points there (managers:
        whoever may change shops)."""
        if not request.user.has_perm(CHANGE_SHOP):
            raise PermissionDenied
        form = ShopJoinForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            shop, group = form.cleaned_data["shop"], form.cleaned_data["group"]
            try:
                merged = shop_group_join(shop_id=shop.pk, group_id=group.pk)
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                messages.success(request, f"{shop} is now in {group}; {merged} customers' points merged.")
                return redirect("admin:loyalty_account_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": "Put a shop in another shop group",
            "form": form,
            "opts": self.opts,
        }
        return TemplateResponse(
            request, "admin/loyalty/account/join_group.html", context, status=400 if form.errors else 200
        )

    def adjust_view(self, request, pk: int):
        """Add or take points by hand, with a reason, as the signed-in manager."""
        if not request.user.has_perm(ADJUST):
            raise PermissionDenied
        account = get_object_or_404(Account.objects.select_related("customer"), pk=pk)
        form = AdjustForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                points_adjust(
                    customer=account.customer,
                    group_id=account.group_id,
                    points=form.cleaned_data["points"],
                    reason=form.cleaned_data["reason"],
                    staff_id=request.user.pk,
                )
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                messages.success(request, f"{form.cleaned_data['points']:+} points for {account.customer}.")
                return redirect("admin:loyalty_account_change", pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Adjust the points of {account.customer}",
            "account": account,
            "form": form,
            "opts": self.opts,
        }
        return TemplateResponse(
            request, "admin/loyalty/account/adjust.html", context, status=400 if form.errors else 200
        )


@admin.register(PointsEntry)
class PointsEntryAdmin(LargeTableAdmin, ReadOnlyAdmin):
    """The ledger: append-only, so only listed and read."""

    list_display = [
        *("created_at", "customer", "group", "kind", "available", "pending", "source_of", "reason", "staff", "api_key")
    ]
    list_filter = ["kind"]
    list_select_related = ["customer", "group", "staff", "api_key", "order__shop"]
    raw_id_fields = ["customer"]
    search_fields = ["=source", "=key"]  # what the search box offers; the search itself is below
    search_help_text = "A shop's order number (as on the order), or an exact source such as code:7."

    @admin.display(description="source")
    def source_of(self, entry):
        return entry_source(entry)

    def get_search_results(self, request, queryset, search_term):
        """An order's entries by the shop's order number (through the orders' and the
        ledger's indexes), or entries by their exact source or key."""
        term = search_term.strip()
        if not term:
            return queryset, False
        by_order = Q(order_id__in=orders_numbered(term).values("pk"))
        return queryset.filter(by_order | Q(source=term) | Q(key=term)), False


@admin.register(RewardCode)
class RewardCodeAdmin(LargeTableAdmin, ReadOnlyAdmin):
    list_display = ["code", "reward", "customer", "shop", "status", "points_spent", "expires_at", "consumed_at"]
    list_filter = ["status", "shop"]
    list_select_related = ["reward", "customer", "shop"]
    search_fields = ["=code"]


@admin.register(TierChange)
class TierChangeAdmin(LargeTableAdmin, ReadOnlyAdmin):
    list_display = ["created_at", "customer", "group", "from_tier", "to_tier", "reason"]
    list_filter = ["to_tier"]
    list_select_related = ["customer", "group", "from_tier", "to_tier"]


@admin.register(Referral)
class ReferralAdmin(LargeTableAdmin):
    list_display = ["created_at", "referrer", "referee", "group", "status", "hold_reason", "rewarded_at"]
    list_filter = ["status"]
    list_select_related = ["referrer", "referee", "group"]
    """The review queue: referrals held by a guard wait here (filter "held for review") for a
    marketer to approve (paid at the next settlement, within the hour) or reject."""

    fields = ["referrer", "referee", "group", "status", "hold_reason", "reviewed_by", "created_at", "rewarded_at"]
    readonly_fields = fields
    actions = ["approve", "reject"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Approve (pay when the first order has cleared)", permissions=["change"])
    def approve(self, request, queryset):
        decided = referrals_review(
            referral_ids=list(queryset.values_list("pk", flat=True)), approve=True, user=request.user
        )
        paid = referrals_settle()
        self.message_user(request, f"{decided} approved; {paid} paid now, the rest when their first order clears.")

    @admin.action(description="Reject", permissions=["change"])
    def reject(self, request, queryset):
        decided = referrals_review(
            referral_ids=list(queryset.values_list("pk", flat=True)), approve=False, user=request.user
        )
        self.message_user(request, f"{decided} rejected.")
