"""The manual adjustment on a customer's points page (managers only), putting a shop in another
shop group (with its customers' points), the programme's settings, and crediting past orders."""

from django import forms

from customers.models import Shop, ShopGroup
from loyalty.models import Programme
from loyalty.services import MAX_ADJUST


class AdjustForm(forms.Form):
    points = forms.IntegerField(
        min_value=-MAX_ADJUST, max_value=MAX_ADJUST, help_text="Points to add; negative to take away."
    )
    reason = forms.CharField(max_length=255, help_text="Kept on the ledger entry, with your name.")

    def clean_points(self):
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError("Must not be zero.")
        return points


class ShopJoinForm(forms.Form):
    shop = forms.ModelChoiceField(queryset=Shop.objects.select_related("group").order_by("name"))
    group = forms.ModelChoiceField(
        queryset=ShopGroup.objects.order_by("name"),
        help_text="The shop's customers' points move into their accounts in this group.",
    )


class ProgrammeForm(forms.ModelForm):
    """The programme's settings. Its start may move later, never earlier: orders placed before
    it would then earn, customer by customer as they next order, with nobody having seen what
    it costs. Crediting past orders is its own previewed action."""

    class Meta:
        model = Programme
        fields = [
            *("name", "is_active", "starts_at", "pending_days", "point_value", "tier_basis", "tier_term"),
            *("tier_grace_days", "expiry_mode", "expiry_months", "expiry_warning_days", "refund_expired_codes"),
            "referral_weekly_cap",
        ]

    def clean_starts_at(self):
        starts_at = self.cleaned_data["starts_at"]
        before = self.instance.starts_at if self.instance.pk else None
        if before is not None and starts_at is not None and starts_at < before:
            raise forms.ValidationError(
                "The start cannot move earlier here: to let the orders placed before it earn points, "
                "use “Credit past orders”, which shows what it credits first."
            )
        return starts_at


class PastOrdersCreditForm(forms.Form):
    since = forms.DateField(
        label="Credit orders placed since",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The day from which past orders earn their points, as if the programme had run since then.",
    )
