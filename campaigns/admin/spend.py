"""Marketing spend in the admin: entered row by row, or imported from a CSV
(``campaigns.attribution.spend``). Marketers and managers (crm/roles.py)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from unfold.admin import ModelAdmin

from campaigns.attribution.spend import (
    FIRST_YEAR,
    LAST_YEAR,
    SpendImportError,
    channel_normalize,
    spend_amount_base,
    spend_import,
)
from campaigns.models import AttributionSettings, MarketingSpend


class SpendForm(forms.ModelForm):
    class Meta:
        model = MarketingSpend
        fields = ["channel", "campaign", "month", "amount", "currency"]

    def clean_month(self):
        month = self.cleaned_data["month"].replace(day=1)
        if not FIRST_YEAR <= month.year <= LAST_YEAR:
            raise forms.ValidationError(f"Choose a month in {FIRST_YEAR} to {LAST_YEAR}.")
        return month

    def clean_channel(self):
        return channel_normalize(self.cleaned_data["channel"])

    def clean(self):
        data = super().clean()
        currency = (data.get("currency") or "").upper()
        data["currency"] = currency
        if data.get("amount") is not None and currency:
            try:
                self.instance.amount_base = spend_amount_base(amount=data["amount"], currency=currency)
            except ValueError as error:
                self.add_error("currency", str(error))
        return data


class SpendImportForm(forms.Form):
    file = forms.FileField(help_text="CSV with a header: channel, campaign, month (YYYY-MM), amount, currency.")


@admin.register(MarketingSpend)
class MarketingSpendAdmin(ModelAdmin):
    form = SpendForm
    list_display = ["month", "channel", "campaign", "amount", "currency", "amount_base"]
    list_filter = ["channel"]
    search_fields = ["channel", "campaign"]
    ordering = ["-month", "channel", "campaign"]
    show_full_result_count = False
    change_list_template = "admin/campaigns/marketingspend/change_list.html"

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_view)
        return [path("import/", view, name="campaigns_marketingspend_import"), *super().get_urls()]

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = SpendImportForm(request.POST or None, request.FILES or None)
        problems: list[str] = []
        if request.method == "POST" and form.is_valid():
            try:
                text = form.cleaned_data["file"].read().decode("utf-8-sig")
                count = spend_import(text=text)
            except UnicodeDecodeError:
                problems = ["The file is not UTF-8 text."]
            except SpendImportError as error:
                problems = error.problems
            else:
                self.message_user(request, f"{count} spend rows imported.", messages.SUCCESS)
                return redirect("admin:campaigns_marketingspend_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": "Import marketing spend",
            "form": form,
            "problems": problems,
            "opts": self.model._meta,
        }
        return TemplateResponse(
            request, "admin/campaigns/marketingspend/import.html", context, status=400 if problems else 200
        )


@admin.register(AttributionSettings)
class AttributionSettingsAdmin(ModelAdmin):
    """The one row of the attribution settings (made by a migration). No adding: checking
    for a row would cost every admin page a query; ``AttributionSettings.current()`` reads
    the first row."""

    list_display = ["__str__", "click_window_hours", "open_window_hours", "half_life_hours"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
