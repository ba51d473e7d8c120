"""The manual adjustment on a customer's points page (managers only), and putting a shop in
another shop group (with its customers' points)."""

from django import forms

from customers.models import Shop, ShopGroup
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
