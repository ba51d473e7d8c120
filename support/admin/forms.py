"""The desk's admin forms.

``TicketForm``, the ticket page's working form: besides the ticket's own fields, a reply
box, a macro to apply and a ticket to merge into. ``TicketAdmin`` runs them through the
services.

Choosing a macro fills the reply box with its text for this customer (``ticket_macro.js``
asks the admin's macro-preview endpoint), to edit before sending: what is sent is what the
box holds. With the box left empty (no JavaScript), the macro's own text is sent.

``BusinessHoursForm``: opening times per weekday and closed dates, instead of raw JSON."""

import re
from datetime import date, time

from django import forms
from django.core.exceptions import ValidationError
from unfold.widgets import (
    BASE_INPUT_CLASSES,
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
)

from support.models import BusinessHours, Macro, Ticket
from support.sla import MIDNIGHT
from support.text import MAX_BODY


class TicketForm(forms.ModelForm):
    reply = forms.CharField(
        required=False,
        max_length=MAX_BODY,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 8}),
        help_text="What the customer gets, line breaks included (HTML is cleaned).",
    )
    reply_as = forms.ChoiceField(
        choices=[("public", "Public reply to the customer"), ("note", "Internal note (staff only)")],
        initial="public",
        required=False,
        widget=UnfoldAdminSelectWidget,
    )
    macro = forms.ModelChoiceField(
        Macro.objects.filter(is_active=True),
        required=False,
        widget=UnfoldAdminSelectWidget,
        help_text="Puts its text for this customer in the reply box, to edit before sending; "
        "on save it also adds its tags, and sets its status unless you choose one.",
    )
    # Set by ticket_macro.js when it puts the macro's text in the box: the box is then what
    # is sent, even emptied; without it (no JavaScript) the macro's own text is sent.
    macro_in_box = forms.BooleanField(required=False, widget=forms.HiddenInput)
    merge_into = forms.IntegerField(
        required=False,
        min_value=1,
        widget=UnfoldAdminIntegerFieldWidget,
        help_text="Ticket number of the same customer: this ticket's messages move there and it closes.",
    )

    class Meta:
        model = Ticket
        fields = [
            "customer",
            "order",
            "subject",
            "channel",
            "status",
            "priority",
            "assignee",
            "team",
            "tags",
            "review",
            "csat",
            "external_id",
            "shop",
        ]

    def clean_merge_into(self):
        number = self.cleaned_data.get("merge_into")
        if not number:
            return None
        target = Ticket.objects.filter(pk=number).first()
        if target is None:
            raise forms.ValidationError(f"There is no ticket #{number}.")
        if self.instance.pk == target.pk:
            raise forms.ValidationError("A ticket cannot be merged into itself.")
        if self.instance.customer_id != target.customer_id:
            raise forms.ValidationError(f"Ticket #{number} belongs to another customer.")
        if target.status == Ticket.Status.CLOSED:
            raise forms.ValidationError(f"Ticket #{number} is closed.")
        return target

    class Media:
        js = ["support/ticket_macro.js"]
        css = {"all": ["support/ticket_page.css"]}


WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
# What a new set of business hours starts from: Monday to Friday, 09:00 to 17:00.
OFFICE_HOURS = {str(day): ["09:00", "17:00"] for day in range(5)}


class TimeInput(forms.TimeInput):
    input_type = "time"  # the browser's own time picker, HH:MM

    def __init__(self):
        super().__init__(format="%H:%M", attrs={"class": " ".join(BASE_INPUT_CLASSES)})


def weekly_summary(weekly: dict) -> str:
    """ "Mon–Fri 09:00–17:00; Sat 10:00–14:00": runs of days with the same hours."""
    runs: list[list] = []  # [first day, last day, span]
    for day in range(7):
        span = weekly.get(str(day))
        if span and runs and runs[-1][1] == day - 1 and runs[-1][2] == span:
            runs[-1][1] = day
        elif span:
            runs.append([day, day, span])
    short = [name[:3] for name in WEEKDAYS]

    def hours(span):
        return "all day" if span == ["00:00", MIDNIGHT] else f"{span[0]}–{span[1]}"

    return "; ".join(f"{short[a]}{f'–{short[b]}' if b > a else ''} {hours(span)}" for a, b, span in runs) or "closed"


class WeeklyHoursWidget(forms.MultiWidget):
    """Opening and closing time per weekday, as a table of time inputs."""

    template_name = "support/widgets/weekly_hours.html"

    def __init__(self):
        super().__init__([TimeInput() for _ in range(14)])

    def decompress(self, value):
        value = value if isinstance(value, dict) else {}
        pairs = [value.get(str(day)) or ["", ""] for day in range(7)]
        # A time input cannot hold 24:00: midnight at the day's end shows as closing 00:00.
        return ["00:00" if t == MIDNIGHT else t for pair in pairs for t in (list(pair) + ["", ""])[:2]]

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        widgets = context["widget"]["subwidgets"]
        for i, widget in enumerate(widgets):
            widget["attrs"]["aria-label"] = f"{WEEKDAYS[i // 2]} {'closes' if i % 2 else 'opens'}"
        context["widget"]["days"] = [(day, widgets[2 * i], widgets[2 * i + 1]) for i, day in enumerate(WEEKDAYS)]
        return context


class WeeklyHoursField(forms.MultiValueField):
    """``BusinessHours.weekly`` as the SLA clock reads it ({"0": ["09:00", "17:00"], …}, a
    missing day closed), from a time pair per weekday: both times, or neither for a closed day.
    Closing at 00:00 is midnight at the end of the day, stored as "24:00"."""

    widget = WeeklyHoursWidget

    def __init__(self, **kwargs):
        fields = [forms.TimeField(required=False) for _ in range(14)]
        super().__init__(fields, require_all_fields=False, required=False, **kwargs)

    def compress(self, data_list):
        times = list(data_list) or [None] * 14
        weekly, problems = {}, []
        for day, name in enumerate(WEEKDAYS):
            opens, closes = times[2 * day], times[2 * day + 1]
            if opens is None and closes is None:
                continue
            if opens is None or closes is None:
                problems.append(f"{name}: give both the opening and the closing time, or neither for a closed day.")
            elif closes == time(0):  # midnight at the end of the day
                weekly[str(day)] = [f"{opens:%H:%M}", MIDNIGHT]
            elif closes <= opens:
                problems.append(f"{name}: closing time {closes:%H:%M} must come after opening time {opens:%H:%M}.")
            else:
                weekly[str(day)] = [f"{opens:%H:%M}", f"{closes:%H:%M}"]
        if problems:
            raise forms.ValidationError(problems)
        if not weekly:
            raise forms.ValidationError("Open on at least one weekday: with every day closed, no SLA clock could run.")
        return weekly


class HolidaysField(forms.CharField):
    """``BusinessHours.holidays``: closed dates, typed one per line (or separated by commas),
    stored as a sorted list of "YYYY-MM-DD"."""

    widget = UnfoldAdminTextareaWidget(attrs={"rows": 4})

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return "\n".join(str(day) for day in value)
        return value

    def to_python(self, value):
        text = super().to_python(value) or ""
        entries = [entry for entry in re.split(r"[\s,;]+", text) if entry]
        days, wrong = set(), []
        for entry in entries:
            try:
                days.add(date.fromisoformat(entry))
            except ValueError:
                wrong.append(entry)
        if wrong:
            raise forms.ValidationError(
                f"Not a date (YYYY-MM-DD, e.g. 2026-12-25): {', '.join(wrong)}.", code="invalid_date"
            )
        return [f"{day:%Y-%m-%d}" for day in sorted(days)]


class BusinessHoursForm(forms.ModelForm):
    """Business hours as people think of them: a table of opening times per weekday and a
    list of closed dates, stored in the JSON shape the SLA clock reads (``support.sla``)."""

    weekly = WeeklyHoursField(
        label="Opening hours",
        help_text="Leave both times empty for a closed day. Closing at midnight (00:00, or 12:00 AM) means "
        "the end of the day, so midnight to midnight is open all day. Times are in the time zone above.",
    )
    holidays = HolidaysField(
        required=False,
        label="Closed dates",
        help_text="Holidays and other closed days, one per line as YYYY-MM-DD (e.g. 2026-12-25).",
    )

    class Meta:
        model = BusinessHours
        fields = ["name", "time_zone", "weekly", "holidays"]
        help_texts = {"time_zone": "An IANA time zone, e.g. Europe/Berlin or America/New_York."}

    def _update_errors(self, errors):
        # The model's own check (BusinessHours.clean) sees the old value of a field this form
        # refused already ("at least one open weekday" under "Monday: closing time …"): keep
        # only what it says about the other fields.
        if hasattr(errors, "error_dict"):
            errors = ValidationError({f: e for f, e in errors.error_dict.items() if f not in self._errors})
            if not errors.error_dict:
                return
        super()._update_errors(errors)
