"""Who each shop sends as, and the addresses not to send to."""

from django import forms
from django.contrib import admin
from unfold.admin import ModelAdmin

from core.admin_tools import LargeTableAdmin
from messaging.models import SenderIdentity, Suppression


@admin.register(SenderIdentity)
class SenderIdentityAdmin(ModelAdmin):
    list_display = ["shop", "from_name", "from_email", "reply_to", "brand_colour"]
    list_select_related = ["shop"]
    ordering = ["shop__name"]
    fields = ["shop", "from_name", "from_email", "reply_to", "logo_url", "brand_colour", "footer_address"]


class SuppressionForm(forms.ModelForm):
    class Meta:
        model = Suppression
        fields = ["address", "reason", "shop", "detail"]

    def clean_address(self):
        return self.cleaned_data["address"].strip().lower()


@admin.register(Suppression)
class SuppressionAdmin(LargeTableAdmin):
    """Addresses not to send to. Adding one by hand is allowed (a customer asked on the
    phone); the send-time check reads this table."""

    form = SuppressionForm
    list_display = ["address", "reason", "shop", "detail", "created_at"]
    list_filter = ["reason", "shop"]
    list_select_related = ["shop"]
    search_fields = ["=address"]
    search_help_text = "A whole address."
    ordering = ["-id"]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip().lower()
        return (queryset.filter(address=term) if term else queryset), False

    def has_change_permission(self, request, obj=None):
        return False  # a suppression is added or removed, not edited
