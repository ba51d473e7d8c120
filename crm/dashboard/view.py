"""The dashboard page: its filter form (days and shop), the permission, and the cache.

Figures are computed from the rollups (cold: about a dozen small reads) and kept in the
cache (``config/cache.py``: Redis, or each process's memory on the embedded default) under
the rollups' version, so a refresh of the rollups is a miss and anything else a hit.
"""

from datetime import date, timedelta

from django import forms
from django.contrib import admin
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse

from campaigns.attribution.selectors import marketing_figures
from campaigns.models import AttributionModel, AttributionSettings
from crm import roles
from crm.dashboard import days as d
from crm.dashboard.figures import Period, dashboard_figures
from crm.dashboard.models import RollupState
from customers.models import Shop

DEFAULT_DAYS = 30
MAX_DAYS = 5 * 366
EARLIEST = date(1970, 1, 1)
CACHE_SECONDS = 30 * 60
PRESETS = (("Last 7 days", 7), ("Last 30 days", 30), ("Last 90 days", 90), ("Last 12 months", 365))


class DashboardFilters(forms.Form):
    start = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    shop = forms.ModelChoiceField(Shop.objects.order_by("name"), required=False, empty_label="All shops", label="Shop")
    model = forms.ChoiceField(
        label="Attribution", choices=AttributionModel.choices, required=False, initial=AttributionModel.LAST_CLICK
    )

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    def clean(self):
        data = super().clean()
        end = data.get("end") or self.today
        start = data.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        if "end" in self.errors or "start" in self.errors:
            return data
        if end > self.today:
            self.add_error("end", f"Choose a day up to today ({self.today:%d %b %Y}).")
        elif start < EARLIEST or end < EARLIEST:
            # Before it, no shop's data; and the comparison period before it would fall off the calendar.
            self.add_error("start" if start < EARLIEST else "end", f"Choose a day from {EARLIEST:%d %b %Y} on.")
        elif start > end:
            self.add_error("start", "The period starts after it ends.")
        elif (end - start).days + 1 > MAX_DAYS:
            self.add_error("start", "Choose at most five years.")
        data["start"], data["end"] = start, end
        return data

    def period(self) -> Period:
        shop = self.cleaned_data.get("shop")
        return Period(self.cleaned_data["start"], self.cleaned_data["end"], shop.pk if shop else None)


def presets(today: date, shop: Shop | None) -> list[tuple[str, str]]:
    """The quick ranges, as query strings."""
    suffix = f"&shop={shop.pk}" if shop else ""
    out = [(label, f"?start={today - timedelta(days=n - 1)}&end={today}{suffix}") for label, n in PRESETS]
    month = d.month_of(today)
    last_month = d.months_back(month, 1)
    out.append(("This month", f"?start={month}&end={today}{suffix}"))
    out.append(("Last month", f"?start={last_month}&end={d.month_end(last_month)}{suffix}"))
    return out


def figures_cache_key(state: RollupState, today: date, period: Period) -> str:
    """The figures of a period as of a version of the rollups (and a day: "up to today").
    The refresh's moment is in the key with the version: a database restored from a backup,
    or rebuilt, counts versions from where it was, and must not meet another's figures. The
    ``v`` number moves when the cached figures' shape does (v3: money figures carry their
    currency), so a deploy never reads back figures pickled by the code before it."""
    built = f"{state.version}@{state.refreshed_at:%Y%m%dT%H%M%S.%f}"
    return f"crm:dashboard:v3:{built}:{today}:{period.first}:{period.last}:{period.shop_id}"


def dashboard_view(request):
    """``/admin/dashboard/``: the manager's KPIs. Managers and superusers only."""
    if not request.user.has_perm(roles.VIEW_DASHBOARD):
        raise PermissionDenied
    today = d.today()
    # Without filters: the default period, written into the boxes so the page says what it shows.
    data = request.GET or {"start": today - timedelta(days=DEFAULT_DAYS - 1), "end": today}
    form = DashboardFilters(data, today=today)
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "form": form,
        "today": today,
    }
    if not form.is_valid():
        return TemplateResponse(request, "admin/crm/dashboard.html", context, status=400)
    period = form.period()
    state = RollupState.objects.filter(pk=1).first()  # read only: a GET writes no row
    if state is None or state.refreshed_at is None:
        context["not_built"] = True
        return TemplateResponse(request, "admin/crm/dashboard.html", context)
    key = figures_cache_key(state, today, period)
    figures = cache.get(key)
    if figures is None:
        figures = dashboard_figures(period, refreshed_at=state.refreshed_at)
        cache.set(key, figures, CACHE_SECONDS)
    # Campaign and flow revenue, CAC, ROAS and CLV:CAC under the model chosen (three reads,
    # cached beside the figures; the attribution pass runs hourly).
    model = form.cleaned_data.get("model") or AttributionModel.LAST_CLICK
    marketing = cache.get(f"{key}:marketing:v2:{model}")
    if marketing is None:
        marketing = marketing_figures(first=period.first, last=period.last, model=model, shop_id=period.shop_id)
        cache.set(f"{key}:marketing:v2:{model}", marketing, CACHE_SECONDS)
    context.update(
        {
            "dash": figures,
            "charts": figures.charts,
            "presets": presets(today, figures.shop),
            "marketing": marketing,
            "model_label": AttributionModel(model).label,
            "attribution": AttributionSettings.current(),
        }
    )
    return TemplateResponse(request, "admin/crm/dashboard.html", context)
