"""The campaign form in the admin: audience, schedule, the automatic winner and the email's
holdout; each variant's subject, preheader and body checked as authored templates
(``messaging.authored``), every problem shown on its field."""

from django import forms
from django.utils import timezone
from unfold.widgets import (
    UnfoldAdminCheckboxSelectMultipleWidget,
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminSelectWidget,
)

from campaigns.campaigns.actions import FIRST_SEND_AT, MAX_AHEAD
from campaigns.local_time import in_quiet_hours
from campaigns.models import Campaign, Email, Segment, SendingPolicy, Timing, Variant, WinnerMetric
from messaging.authored import authored_problems


class CampaignForm(forms.ModelForm):
    # The email's own settings, edited with the campaign (one email per campaign).
    holdout_percent = forms.IntegerField(
        min_value=0,
        max_value=50,
        initial=0,
        widget=UnfoldAdminIntegerFieldWidget,
        help_text="This share of the audience, drawn at random, gets nothing: the baseline of the uplift (0–50).",
    )
    winner_metric = forms.ChoiceField(
        choices=WinnerMetric.choices,
        initial=WinnerMetric.CLICKS,
        widget=UnfoldAdminSelectWidget,
        help_text="What the automatic winner is judged on; never opens (Apple Mail fakes them). Conversions "
        "and revenue are counted over the attribution's click window after each customer's draw.",
    )
    min_uplift_percent = forms.IntegerField(
        min_value=1,
        max_value=1000,
        initial=20,
        widget=UnfoldAdminIntegerFieldWidget,
        help_text="The smallest uplift (relative, %) the test should detect: until each variant has the customers "
        "that needs, the results say 'not enough data yet' and no winner is picked.",
    )

    class Meta:
        model = Campaign
        fields = [
            "name",
            "shop",
            "segments",
            "excluded_segments",
            "timing",
            "send_at",
            "local_hour",
            "cap_hours",
            "auto_winner",
            "test_percent",
            "test_hours",
        ]
        widgets = {
            "segments": UnfoldAdminCheckboxSelectMultipleWidget,
            "excluded_segments": UnfoldAdminCheckboxSelectMultipleWidget,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("segments", "excluded_segments"):
            if name in self.fields:  # not on a read-only page
                self.fields[name].queryset = Segment.objects.order_by("name")
        email = self.instance.email if self.instance.email_id else None
        if email is not None and "holdout_percent" in self.fields:
            self.fields["holdout_percent"].initial = email.holdout_percent
            self.fields["winner_metric"].initial = email.winner_metric
            self.fields["min_uplift_percent"].initial = email.min_uplift_percent

    def clean(self):
        data = super().clean()
        timing, hour = data.get("timing"), data.get("local_hour")
        send_at = data.get("send_at")
        if send_at is not None and not (FIRST_SEND_AT <= send_at <= timezone.now() + MAX_AHEAD):
            self.add_error("send_at", f"Choose a time from 2000 to {MAX_AHEAD.days} days from now.")
        if hour is not None and not 0 <= hour <= 23:
            self.add_error("local_hour", "The hour of the customer's day is from 0 to 23.")
        elif timing == Timing.LOCAL_HOUR:
            policy = SendingPolicy.current()
            if hour is None:
                self.add_error("local_hour", "Choose the hour of the customer's day to send at.")
            elif in_quiet_hours(hour, policy.quiet_start, policy.quiet_end):
                self.add_error(
                    "local_hour",
                    f"{hour}:00 is in the quiet hours ({policy.quiet_start}:00 to {policy.quiet_end}:00): "
                    "it would wait until they end.",
                )
            if data.get("auto_winner"):
                self.add_error(
                    "auto_winner",
                    "An automatic winner needs one send time: send at a time, not at each customer's hour.",
                )
        targets = set(data.get("segments") or [])
        if targets & set(data.get("excluded_segments") or []):
            self.add_error("excluded_segments", "A segment cannot be both a target and an exclusion.")
        return data

    def email_for(self, campaign: Campaign, pending: Email | None) -> Email:
        """The campaign's email with this form's settings (a new one for a new campaign)."""
        email = campaign.email if campaign.email_id else (pending or Email())
        email.shop = campaign.shop
        email.name = campaign.name
        email.holdout_percent = self.cleaned_data["holdout_percent"]
        email.winner_metric = self.cleaned_data["winner_metric"]
        email.min_uplift_percent = self.cleaned_data["min_uplift_percent"]
        return email


class VariantForm(forms.ModelForm):
    class Meta:
        model = Variant
        fields = ["label", "weight", "subject", "preheader", "body", "send_hour"]

    def _authored(self, name: str) -> str:
        value = self.cleaned_data.get(name) or ""
        if problems := authored_problems(value):
            raise forms.ValidationError(problems)
        return value

    def clean_subject(self):
        return self._authored("subject")

    def clean_preheader(self):
        return self._authored("preheader")

    def clean_body(self):
        return self._authored("body")
