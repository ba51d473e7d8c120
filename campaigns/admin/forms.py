"""The segment form in the admin: the structured rule builder for dynamic segments, and the
member list (pasted or uploaded as CSV) for static ones. Both are checked whole before
anything is saved; every problem is shown on its field."""

import json

from django import forms
from django.urls import reverse
from unfold.widgets import UnfoldAdminFileFieldWidget, UnfoldAdminSelectWidget, UnfoldAdminTextareaWidget

from campaigns.member_lists import MemberListError, read_member_csv, read_member_lines
from campaigns.models import Segment
from campaigns.segments.rules import RuleError, parse
from campaigns.segments.schema import builder_schema

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


class RuleBuilderWidget(forms.Widget):
    """A hidden input holding the rule as JSON, edited by ``rule_builder.js``."""

    template_name = "campaigns/widgets/rule_builder.html"

    class Media:
        js = ["campaigns/rule_builder.js"]
        css = {"all": ["campaigns/rule_builder.css"]}

    def format_value(self, value):
        if value in (None, ""):
            return ""
        return value if isinstance(value, str) else json.dumps(value)

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["schema"] = builder_schema()
        context["schema_id"] = f"{context['widget']['attrs']['id']}-schema"
        context["preview_url"] = reverse("admin:campaigns_segment_preview")
        return context


class RuleField(forms.Field):
    """The rule as the builder sent it. The form checks it, and only for a dynamic segment: a
    static segment's builder is hidden but still sends its empty first condition, which
    would fail on a field nobody can see."""

    widget = RuleBuilderWidget

    def to_python(self, value):
        return None if value in (None, "") else value


def rule_read(value) -> dict:
    """The builder's JSON as a checked rule; ``forms.ValidationError`` naming each problem."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise forms.ValidationError("The rule is not valid JSON.") from None
        except RecursionError:
            raise forms.ValidationError("The rule is nested too deeply.") from None
    try:
        parse(value)
    except RuleError as error:
        raise forms.ValidationError(error.errors) from None
    except RecursionError:
        raise forms.ValidationError("The rule is nested too deeply.") from None
    return value


class SegmentForm(forms.ModelForm):
    # The member fields are the form's own, not the model's, so the theme does not give them
    # its widgets by itself: they are named here, to look like the fields beside them.
    rule = RuleField(required=False, label="Rule", help_text="Dynamic segments: who the segment is.")
    members_upload = forms.FileField(
        required=False,
        label="Members from CSV",
        widget=UnfoldAdminFileFieldWidget,
        help_text="Static segments: a CSV (comma, semicolon or tab separated) whose first line names "
        "an email or external_id column (and optionally shop, the shop's slug).",
    )
    members_add = forms.CharField(
        required=False,
        label="Add customers",
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text="Static segments: emails or customer ids, separated by new lines, commas, semicolons or spaces.",
    )
    members_remove = forms.CharField(
        required=False,
        label="Remove customers",
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 2}),
        help_text="Static segments: emails or customer ids.",
    )
    upload_mode = forms.ChoiceField(
        choices=[("add", "Add the CSV's customers"), ("replace", "Replace the members with the CSV's customers")],
        initial="add",
        required=False,
        label="CSV mode",
        widget=UnfoldAdminSelectWidget,
    )

    class Meta:
        model = Segment
        fields = ["name", "description", "kind", "owner"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        version = self.instance.current_version if self.instance.pk else None
        if version is not None and not self.is_bound:
            self.initial["rule"] = version.rule
        # The members the form resolved: (add, remove, replace), for the admin to apply.
        self.member_changes: tuple[set, set, set | None] = (set(), set(), None)

    def clean_members_upload(self):
        upload = self.cleaned_data.get("members_upload")
        if upload is None:
            return None
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
        try:
            return read_member_csv(upload)
        except MemberListError as error:
            raise forms.ValidationError(error.errors) from None

    def _listed(self, name):
        try:
            return read_member_lines(self.cleaned_data.get(name) or "")
        except MemberListError as error:
            self.add_error(name, error.errors)
            return set()

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        rule, cleaned["rule"] = cleaned.get("rule"), None
        if kind == Segment.Kind.DYNAMIC:
            if rule is None:
                self.add_error("rule", "A dynamic segment needs a rule.")
            else:
                try:
                    cleaned["rule"] = rule_read(rule)
                except forms.ValidationError as error:
                    self.add_error("rule", error)
        member_fields = ("members_upload", "members_add", "members_remove")
        if kind == Segment.Kind.DYNAMIC:
            for name in member_fields:
                if cleaned.get(name) and name not in self.errors:
                    self.add_error(name, "Only a static segment takes a member list; its rule picks a dynamic one's.")
            return cleaned
        uploaded = cleaned.get("members_upload")
        add, remove = self._listed("members_add"), self._listed("members_remove")
        replace = None
        if uploaded is not None:
            if cleaned.get("upload_mode") == "replace":
                replace = (uploaded | add) - remove
            else:
                add |= uploaded
        self.member_changes = (add, remove, replace)
        return cleaned
