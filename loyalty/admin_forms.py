"""The manual adjustment on a customer's points page (managers only)."""

from django import forms

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
