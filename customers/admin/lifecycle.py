"""Admin for what the CRM derives: lifecycle settings, CLV models (with a health chart),
stage history and the signals other apps feed. Imported by ``customers.admin``."""

from django.contrib import admin
from django.db.models import Q
from django.shortcuts import redirect
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin

from core.admin_tools import LargeTablePaginator
from core.figures import amount_text, days_text, money_text
from customers.figure_notes import figure_notes, p_alive_text, with_base_currency
from customers.models import ClvModel, CustomerMetrics, CustomerSignal, LifecycleSettings, Stage, StageChange
from customers.services.currency import base_currency

CLV_BANDS = [
    ("none", "No prediction", Q(metrics__clv_predicted__isnull=True)),
    ("0-50", "Under 50", Q(metrics__clv_predicted__lt=50)),
    ("50-200", "50 to 200", Q(metrics__clv_predicted__gte=50, metrics__clv_predicted__lt=200)),
    ("200-500", "200 to 500", Q(metrics__clv_predicted__gte=200, metrics__clv_predicted__lt=500)),
    ("500+", "500 and more", Q(metrics__clv_predicted__gte=500)),
]
# One-time buyers' P(alive) is 1 by construction (figure_notes.p_alive_text): they are a
# band of their own, not "high".
REPEAT = Q(metrics__purchase_days__gte=2)
P_ALIVE_BANDS = [
    ("low", "Below 30%", REPEAT & Q(metrics__p_alive__lt=0.3)),
    ("mid", "30% to 70%", REPEAT & Q(metrics__p_alive__gte=0.3, metrics__p_alive__lt=0.7)),
    ("high", "70% and above", REPEAT & Q(metrics__p_alive__gte=0.7)),
    ("one_time", "Not estimated (one-time buyers)", Q(metrics__purchase_days=1)),
]


class _BandFilter(admin.SimpleListFilter):
    bands: list = []

    def lookups(self, request, model_admin):
        return [(key, label) for key, label, _ in self.bands]

    def queryset(self, request, queryset):
        for key, _, condition in self.bands:
            if self.value() == key:
                return queryset.filter(condition)
        return queryset


class ClvBandFilter(_BandFilter):
    title = with_base_currency("predicted CLV, 12 months")
    parameter_name = "clv_band"
    bands = CLV_BANDS


class PAliveFilter(_BandFilter):
    title = "P(alive)"
    parameter_name = "p_alive"
    bands = P_ALIVE_BANDS


class StageFilter(admin.SimpleListFilter):
    title = "lifecycle stage"
    parameter_name = "stage"

    def lookups(self, request, model_admin):
        return Stage.choices

    def queryset(self, request, queryset):
        return queryset.filter(metrics__stage=self.value()) if self.value() else queryset


class RfmSegmentFilter(admin.SimpleListFilter):
    title = "RFM segment"
    parameter_name = "rfm"

    def lookups(self, request, model_admin):
        return CustomerMetrics._meta.get_field("rfm_segment").choices

    def queryset(self, request, queryset):
        return queryset.filter(metrics__rfm_segment=self.value()) if self.value() else queryset


@admin.register(LifecycleSettings)
class LifecycleSettingsAdmin(ModelAdmin):
    """One row: the list goes straight to it."""

    fieldsets = [
        (
            "Lifecycle stages",
            {
                "fields": [
                    "new_days",
                    "lapsed_days",
                    "lapsed_p_alive",
                    "at_risk_p_alive",
                    "overdue_factor",
                    "reactivated_days",
                    "signal_days",
                ]
            },
        ),
        (
            "Lifetime value",
            {
                "fields": [
                    "time_unit",
                    "monthly_discount_rate",
                    "margin",
                    "simple_lifespan_years",
                    "min_repeat_buyers",
                    "holdout_days",
                ]
            },
        ),
    ]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not LifecycleSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        settings_row = LifecycleSettings.load()
        return redirect("admin:customers_lifecyclesettings_change", settings_row.pk)


@admin.register(ClvModel)
class ClvModelAdmin(ModelAdmin):
    list_display = ["fitted_at", "status", "shop", "observation_end", "n_customers", "n_repeat_buyers", "fit_time"]
    list_filter = ["status", "shop"]
    readonly_fields = [
        "fitted_at",
        "status",
        "message",
        "shop",
        "observation_end",
        "time_unit",
        "n_customers",
        "n_repeat_buyers",
        "parameters",
        "health",
        "fit_time",
    ]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="parameters")
    def parameters(self, obj: ClvModel):
        if obj.status != ClvModel.Status.FITTED:
            return "—"
        return format_html(
            "BG/NBD r={} α={} a={} b={} (log-likelihood {})<br>Gamma-Gamma p={} q={} v={}",
            *(f"{value:.4f}" for value in (obj.r, obj.alpha, obj.a, obj.b)),
            f"{obj.bgnbd_log_likelihood:,.1f}",
            *(f"{value:.4f}" for value in (obj.p, obj.q, obj.v)),
        )

    @admin.display(description="fit took", ordering="fit_seconds")
    def fit_time(self, obj: ClvModel) -> str:
        return f"{obj.fit_seconds:.2f} s"

    @admin.display(description="health: holdout check")
    def health(self, obj: ClvModel):
        return holdout_chart(obj.holdout)


def holdout_chart(holdout: dict):
    """Predicted vs actual purchases per customer in the holdout period, by calibration
    frequency, as an inline SVG bar chart (no script, nothing fetched)."""
    if not holdout:
        return "No holdout check for this model."
    if "error" in holdout:
        return holdout["error"]
    buckets = holdout["buckets"]
    top = max([b["predicted"] for b in buckets] + [b["actual"] for b in buckets] + [1e-9])
    width, height, bar, gap = 64, 160, 22, 4
    bars = []
    for i, b in enumerate(buckets):
        x = 40 + i * width
        for j, (key, color) in enumerate((("predicted", "#79aec8"), ("actual", "#417690"))):
            h = b[key] / top * height
            bars.append((x + j * (bar + gap), f"{10 + height - h:.1f}", bar, f"{h:.1f}", color, f"{key}: {b[key]:.2f}"))
        bars.append(None)
    svg_bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>',
        [b for b in bars if b],
    )
    labels = format_html_join(
        "",
        '<text x="{}" y="{}" font-size="11" text-anchor="middle">{}</text>',
        [(40 + i * width + bar, height + 26, b["frequency"]) for i, b in enumerate(buckets)],
    )
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        [(b["frequency"], f"{b['customers']:,}", f"{b['predicted']:.3f}", f"{b['actual']:.3f}") for b in buckets],
    )
    return format_html(
        "<p>Calibration to {}, then {} days held out. Mean purchases per customer in the holdout, by "
        "repeat purchases in calibration: <b style='color:#79aec8'>predicted</b> vs "
        "<b style='color:#417690'>actual</b>. Total predicted {}, actual {}.</p>"
        '<svg role="img" aria-label="Predicted vs actual holdout purchases" width="{}" height="{}">{}{}'
        '<text x="40" y="{}" font-size="11">repeat purchases in calibration</text></svg>'
        "<table><tr><th>frequency</th><th>customers</th><th>predicted</th><th>actual</th></tr>{}</table>",
        holdout["calibration_end"],
        holdout["holdout_days"],
        f"{holdout['predicted_total']:,.0f}",
        f"{holdout['actual_total']:,}",
        40 + len(buckets) * width,
        height + 50,
        svg_bars,
        labels,
        height + 44,
        rows,
    )


@admin.register(StageChange)
class StageChangeAdmin(ModelAdmin):
    list_display = ["changed_at", "customer", "from_stage", "to_stage", "why"]
    # The shop that first saw the customer: the dashboard's stage flows per shop lead here.
    list_filter = ["to_stage", "from_stage", "customer__first_seen_shop"]
    paginator = LargeTablePaginator
    show_full_result_count = False
    raw_id_fields = ["customer"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="why")
    def why(self, change):
        return change.reason_shown


@admin.register(CustomerSignal)
class CustomerSignalAdmin(ModelAdmin):
    list_display = ["occurred_at", "customer", "kind", "source", "detail"]
    list_filter = ["kind", "source"]
    raw_id_fields = ["customer"]
    paginator = LargeTablePaginator
    show_full_result_count = False


@admin.register(CustomerMetrics)
class CustomerMetricsAdmin(ModelAdmin):
    """Read-only: the figures are recomputed, never typed in. Shown on the customer page."""

    list_display = ["customer", "stage", "rfm_segment", "clv_12_months", "p_alive_shown", "computed_at"]
    list_filter = ["stage", "rfm_segment"]
    raw_id_fields = ["customer"]
    paginator = LargeTablePaginator
    show_full_result_count = False

    @admin.display(description=with_base_currency("CLV 12 mo"))
    def clv_12_months(self, metrics):
        return amount_text(metrics.clv_predicted)

    @admin.display(description="P(alive)")
    def p_alive_shown(self, metrics):
        return p_alive_text(metrics)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def metrics_summary(metrics: CustomerMetrics | None):
    """The customer page's lifecycle and value block: each figure rounded for people, money
    with its currency, and what it means on hover."""
    if metrics is None:
        return "Not computed yet."
    lifecycle = LifecycleSettings.load()
    notes = figure_notes(lifecycle)
    currency = base_currency()

    def orders(value):
        return "—" if value is None else f"{value:,.1f}"

    scores = ", ".join(f"{k} {v}" for k, v in (("R", metrics.rfm_r), ("F", metrics.rfm_f), ("M", metrics.rfm_m)))
    rows = [
        ("Stage", notes.stage, f"{metrics.get_stage_display()} — {metrics.reason(lifecycle.thresholds())}"),
        (
            "RFM",
            notes.rfm,
            f"{metrics.get_rfm_segment_display()} ({scores})" if metrics.rfm_segment else "not scored yet",
        ),
        ("P(alive)", notes.p_alive, p_alive_text(metrics)),
        (
            "Expected orders",
            "Orders the BG/NBD model expects from the customer in each period ahead (a mean, so often a fraction).",
            f"next 30 days {orders(metrics.expected_purchases_30)}, 90 days {orders(metrics.expected_purchases_90)}, "
            f"365 days {orders(metrics.expected_purchases_365)}",
        ),
        ("Predicted CLV, next 12 months", notes.clv_predicted, money_text(metrics.clv_predicted, currency)),
        ("Simple CLV", notes.clv_simple, money_text(metrics.clv_simple, currency)),
        ("Purchase days", "Days with at least one counted order.", f"{metrics.purchase_days:,}"),
        ("Usual gap", "The median number of days between purchase days.", _gap(metrics.gap_median_days)),
        (
            "Since last order",
            "Days from the customer's last counted order to when these figures were computed.",
            days_text(metrics.days_since_last),
        ),
        ("Computed", "When these figures were last recomputed.", f"{metrics.computed_at:%Y-%m-%d %H:%M}"),
    ]
    return format_html(
        "<table>{}</table><p>{}</p>",
        format_html_join("", '<tr><th title="{}">{}</th><td>{}</td></tr>', ((t, h, v) for h, t, v in rows)),
        notes.clv_differences,
    )


def _gap(days) -> str:
    return "—" if days is None else f"{days_text(days)} (median)"


def stage_history(changes):
    if not changes:
        return "No stage changes yet."
    return format_html(
        "<table><tr><th>when</th><th>from</th><th>to</th><th>why</th></tr>{}</table>",
        format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            [
                (
                    f"{c.changed_at:%Y-%m-%d %H:%M}",
                    c.get_from_stage_display() or "—",
                    c.get_to_stage_display(),
                    c.reason_shown,
                )
                for c in changes
            ],
        ),
    )
