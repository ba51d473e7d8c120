"""Flows in the admin: the list (on or off, trigger, customers in, completed, exited) and
each flow's page, which draws the steps top to bottom with how many customers are at each
now and how many passed it, over the steps' own forms (edited in place, added, removed,
dragged into a new order). Switching a flow on or off is an action of its own, asked
twice and kept for those with ``campaigns.activate_flow`` (marketers and managers).
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from unfold.admin import ModelAdmin, StackedInline

from campaigns.admin.campaign_forms import VariantForm
from campaigns.experiments.report import EmailReport, email_report
from campaigns.flows import steps as step_kinds
from campaigns.flows.engine import flow_activate, flow_step_remove
from campaigns.flows.triggers import TriggerError, params_clean
from campaigns.models import Email, Flow, FlowRun, FlowStep, FlowStepRun, RunStatus, StepKind, Variant, WinnerMetric
from core.admin_tools import LargeTableAdmin, customer_link
from loyalty.services import rewards_available
from messaging.authored import authored_problems


def _count(queryset, column: str) -> Subquery:
    counted = queryset.order_by().values(column).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


class FlowStepForm(forms.ModelForm):
    """One step, edited in place: its kind and parameters, and for a send step the email's
    first variant (subject, preheader, body), its holdout, the metric a winner is picked on
    and the smallest uplift to detect. More variants (B, C …): the email's page, linked."""

    params = forms.JSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='e.g. {"minutes": 1440}, {"until_hour": 9}, {"rule": {…}, "no": "exit"}, {"tag": "vip"}, '
        '{"points": 100, "reason": "…"}, {"reward_id": 3}, {"subject": "…", "body": "…"}, '
        '{"branches": [{"label": "A", "weight": 1}, {"label": "B", "weight": 1}]}',
    )
    subject = forms.CharField(required=False, max_length=300, help_text="Send email: the subject (variant A).")
    preheader = forms.CharField(required=False, max_length=200)
    body = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}), help_text="Send email: HTML.")
    holdout_percent = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=50,
        initial=0,
        help_text="Send email: this share, drawn at random, gets nothing (the baseline of the uplift).",
    )
    winner_metric = forms.ChoiceField(
        required=False,
        choices=WinnerMetric.choices,
        initial=WinnerMetric.CONVERSIONS,
        help_text="Send email: what the best variant is judged on (never opens).",
    )
    min_uplift_percent = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=1000,
        initial=20,
        label="Smallest uplift to detect (%)",
        help_text="Send email: until each variant has the customers this needs, the results say 'not enough data yet'.",
    )

    class Meta:
        model = FlowStep
        fields = ["position", "kind", "params"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        email = self.instance.email if self.instance.pk and self.instance.email_id else None
        variant = email.variants.order_by("id").first() if email else None
        if variant is not None:
            self.initial.update(subject=variant.subject, preheader=variant.preheader, body=variant.body)
        if email is not None:
            self.initial["holdout_percent"] = email.holdout_percent
            self.initial["winner_metric"] = email.winner_metric
            self.initial["min_uplift_percent"] = email.min_uplift_percent

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if not kind:
            return data
        is_send = kind == StepKind.SEND_EMAIL
        if is_send:
            for name in ("subject", "body"):
                text = (data.get(name) or "").strip()
                if not text:
                    self.add_error(name, "A send step needs this.")
                elif problems := authored_problems(text):
                    self.add_error(name, problems)
        try:
            data["params"] = step_kinds.params_clean(kind, data.get("params") or {}, has_email=is_send)
        except step_kinds.StepError as error:
            self.add_error("params", f"{error.field}: {error}")
            return data
        flow = getattr(self.instance, "flow", None) if self.instance.flow_id else None
        if kind == StepKind.REWARD_CODE and flow is not None:
            offered = rewards_available(shop=flow.shop).filter(pk=data["params"]["reward_id"]).exists()
            if not offered:
                self.add_error("params", "reward_id: no such reward on offer in this flow's shop.")
        return data

    def save(self, commit=True):
        step = super().save(commit=False)
        data = self.cleaned_data
        if step.kind == StepKind.SEND_EMAIL:
            email = step.email or Email(shop_id=step.flow.shop_id)
            if not email.pk:  # named once, by its first subject: positions change, the name stays
                email.name = f"{step.flow.name}: {data['subject']}"[:200]
            email.holdout_percent = data.get("holdout_percent") or 0
            email.winner_metric = data.get("winner_metric") or WinnerMetric.CONVERSIONS
            email.min_uplift_percent = data.get("min_uplift_percent") or 20
            email.save()
            variant = email.variants.order_by("id").first() or Variant(email=email, label="A")
            variant.subject, variant.preheader, variant.body = data["subject"], data.get("preheader", ""), data["body"]
            variant.save()
            step.email = email
        if commit:
            step.save()
        return step


class FlowStepFormSet(BaseInlineFormSet):
    """Two steps at one position would run in an order nobody chose: refused, naming it."""

    def clean(self):
        super().clean()
        seen: dict[int, int] = {}
        for number, form in enumerate(self.forms, start=1):
            if not hasattr(form, "cleaned_data") or not form.cleaned_data or self._should_delete_form(form):
                continue
            position = form.cleaned_data.get("position")
            if position is None:
                continue
            if position in seen:
                form.add_error(
                    "position", f"Step {seen[position]} is at position {position} too: give each step its own."
                )
            else:
                seen[position] = number


class FlowStepInline(StackedInline):
    model = FlowStep
    form = FlowStepForm
    formset = FlowStepFormSet
    extra = 0
    ordering_field = "position"
    fields = [
        "position",
        "kind",
        "params",
        "subject",
        "preheader",
        "body",
        "holdout_percent",
        "winner_metric",
        "min_uplift_percent",
        "variants",
        "here_now",
        "passed",
    ]
    readonly_fields = ["variants", "here_now", "passed"]

    def get_queryset(self, request):
        steps = super().get_queryset(request).select_related("email", "flow")
        return steps.annotate(
            n_here=_count(FlowRun.objects.filter(step=OuterRef("pk"), status=RunStatus.ACTIVE), "step"),
            n_passed=_count(FlowStepRun.objects.filter(step=OuterRef("pk")), "step"),
        )

    @admin.display(description="variants")
    def variants(self, step):
        """The email's variants are edited on its own page (an inline cannot hold an inline)."""
        # ``flow-email-only``: flow_steps.js hides the row on steps of other kinds.
        if step.kind != StepKind.SEND_EMAIL or not step.email_id:
            return format_html(
                '<span class="flow-email-only">{}</span>',
                "Send email: save the step first, then add variants B, C … on the email's page.",
            )
        return format_html(
            '<a class="flow-email-link flow-email-only" href="{}">Variants, weights and A/B settings of this email</a>',
            reverse("admin:campaigns_email_change", args=[step.email_id]),
        )

    @admin.display(description="customers at this step now")
    def here_now(self, step):
        return f"{getattr(step, 'n_here', 0):,}"

    @admin.display(description="customers who passed it")
    def passed(self, step):
        return f"{getattr(step, 'n_passed', 0):,}"


class FlowForm(forms.ModelForm):
    trigger_params = forms.JSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text='e.g. {"segment_id": 4}, {"event_type": "cart_abandoned", "delay_minutes": 60}, {"days": 7}, '
        '{"stages": ["at_risk", "lapsed"]}, {"field": "birthday", "offset_days": -7}, {"max_rating": 2}',
    )

    class Meta:
        model = Flow
        fields = [
            "name",
            "shop",
            "description",
            "trigger",
            "trigger_params",
            "exit_on_order",
            "exit_on_unsubscribe",
            "reentry",
            "reentry_days",
        ]

    def clean(self):
        data = super().clean()
        if data.get("trigger"):
            try:
                data["trigger_params"] = params_clean(data["trigger"], data.get("trigger_params") or {})
            except TriggerError as error:
                self.add_error("trigger_params", f"{error.field}: {error}")
        return data


def _step_summary(step: FlowStep, number_of: dict[int, int]) -> str:
    p = step.params or {}

    def where(target) -> str:
        return {"next": "the next step", "exit": "exit"}.get(target, f"step {number_of.get(target, '?')}")

    if step.kind == StepKind.WAIT:
        if "until_hour" in p:
            return f"until {p['until_hour']}:00, customer's time"
        minutes = p.get("minutes", 0)
        return f"{minutes // 1440} d {minutes % 1440 // 60} h {minutes % 60} min".replace(" 0 h 0 min", "")
    if step.kind == StepKind.CONDITION:
        return f"yes: next step; no: {where(p.get('no', 'exit'))}"
    if step.kind == StepKind.SPLIT:
        return "; ".join(f"{b['label']} ({b['weight']}): {where(b.get('goto', 'next'))}" for b in p.get("branches", []))
    if step.kind == StepKind.SEND_EMAIL and step.email_id:
        labels = [v.label for v in step.email.variants.all()]
        holdout = f" · holdout {step.email.holdout_percent} %" if step.email.holdout_percent else ""
        return f"variant{'s' if len(labels) != 1 else ''} {', '.join(labels)}{holdout}"
    if step.kind == StepKind.ADD_TAG:
        return p.get("tag", "")
    if step.kind == StepKind.BONUS_POINTS:
        return f"{p.get('points', 0)} points"
    if step.kind == StepKind.OPEN_TICKET:
        return p.get("subject", "")
    if step.kind == StepKind.REWARD_CODE:
        return f"reward {p.get('reward_id')}"
    return ""


def flow_drawing(flow: Flow) -> str:
    """The steps top to bottom, each with how many are there now and how many passed it
    (two grouped counts, whatever the number of steps)."""
    steps = list(flow.steps.select_related("email").prefetch_related("email__variants").order_by("position", "id"))
    if not steps:
        return format_html("<p>{}</p>", "No steps yet: add them below.")
    here = dict(
        FlowRun.objects.filter(flow=flow, status=RunStatus.ACTIVE)
        .values_list("step_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    passed = dict(FlowStepRun.objects.filter(step__flow=flow).values_list("step_id").annotate(n=Count("pk")).order_by())
    number_of = {s.pk: i for i, s in enumerate(steps, 1)}
    boxes = format_html_join(
        mark_safe('<div class="flow-arrow" aria-hidden="true">↓</div>'),  # noqa: S308 (a constant)
        '<div class="flow-step" data-step="{}"><strong>{}. {}</strong> <span>{}</span><br>'
        "<small>{} here now · {} passed</small>{}</div>",
        (
            (
                s.pk,
                number_of[s.pk],
                s.get_kind_display(),
                _step_summary(s, number_of),
                f"{here.get(s.pk, 0):,}",
                f"{passed.get(s.pk, 0):,}",
                format_html(' · <a href="#results-step-{}">A/B results</a>', s.pk)
                if s.kind == StepKind.SEND_EMAIL and s.email_id
                else "",
            )
            for s in steps
        ),
    )
    return format_html('<div class="flow-drawing">{}</div>', boxes)


@dataclass(frozen=True)
class StepResults:
    """One send step's A/B results, as the flow page shows them under the form."""

    number: int  # as the drawing numbers the step
    step: FlowStep
    report: EmailReport
    winner_id: int | None  # the variant the statistics pick, if any
    metric: str
    min_uplift: int
    email_url: str


def flow_results(flow: Flow) -> list[StepResults]:
    """Each send step's report (``email_report``: the variants and the holdout, their counts,
    conversions and revenue, the differences and the verdict). A flow has no automatic
    winner: the winner shown is the one the statistics would pick, for the marketer to act
    on. A fixed number of queries per send step, whatever the number of sends."""
    steps = list(flow.steps.select_related("email").order_by("position", "id"))
    out = []
    for number, step in enumerate(steps, 1):
        if step.kind != StepKind.SEND_EMAIL or step.email is None:
            continue
        report = email_report(step.email)
        winner = report.verdict.winner if report.verdict else None
        out.append(
            StepResults(
                number=number,
                step=step,
                report=report,
                winner_id=next((a.counts.variant_id for a in report.arms if winner and a.label == winner), None),
                metric=step.email.get_winner_metric_display().lower(),
                min_uplift=step.email.min_uplift_percent,
                email_url=reverse("admin:campaigns_email_change", args=[step.email_id]),
            )
        )
    return out


@admin.register(Flow)
class FlowAdmin(ModelAdmin):
    form = FlowForm
    inlines = [FlowStepInline]
    list_display = ["name", "shop", "trigger", "status", "in_flow", "completed", "exited"]
    list_filter = ["active", "trigger", "shop"]
    search_fields = ["name"]
    list_select_related = ["shop"]
    ordering = ["name", "id"]
    readonly_fields = ["status", "drawing"]
    actions = ["switch_on", "switch_off"]

    def get_fieldsets(self, request, obj=None):
        main = (None, {"fields": ["name", "shop", "description", "status"]})
        trigger = ("Trigger", {"fields": ["trigger", "trigger_params"]})
        rules = ("Exits and re-entry", {"fields": ["exit_on_order", "exit_on_unsubscribe", "reentry", "reentry_days"]})
        if obj is None:
            return [main, trigger, rules]
        return [main, ("The flow", {"fields": ["drawing"]}), trigger, rules]

    def get_queryset(self, request):
        runs = FlowRun.objects.filter(flow=OuterRef("pk"))
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_active=_count(runs.filter(status=RunStatus.ACTIVE), "flow"),
                n_completed=_count(runs.filter(status=RunStatus.COMPLETED), "flow"),
                n_exited=_count(runs.filter(status=RunStatus.EXITED), "flow"),
            )
        )

    @admin.display(description="status", ordering="active")
    def status(self, flow):
        return "On" if flow.active else "Off"

    @admin.display(description="in the flow", ordering="n_active")
    def in_flow(self, flow):
        return f"{flow.n_active:,}"

    @admin.display(description="completed", ordering="n_completed")
    def completed(self, flow):
        return f"{flow.n_completed:,}"

    @admin.display(description="exited", ordering="n_exited")
    def exited(self, flow):
        return f"{flow.n_exited:,}"

    @admin.display(description="steps")
    def drawing(self, flow):
        # The theme reads a read-only field more than once: draw it once per page.
        if not hasattr(flow, "_drawing"):
            flow._drawing = flow_drawing(flow)
        return flow._drawing

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk:
            context["flow_results"] = flow_results(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def has_activate_permission(self, request):
        return request.user.has_perm("campaigns.activate_flow")

    def _switch(self, request, queryset, on: bool):
        word = "on" if on else "off"
        if request.POST.get("confirm") != "yes":
            return TemplateResponse(
                request,
                "admin/campaigns/flow/switch_confirm.html",
                {
                    **self.admin_site.each_context(request),
                    "title": f"Switch {word} {queryset.count()} flow(s)?",
                    "flows": queryset,
                    "word": word,
                    "action": request.POST.get("action"),
                    "opts": self.model._meta,
                },
            )
        done, refused = 0, []
        for flow in queryset:
            try:
                with transaction.atomic():
                    flow_activate(flow=flow, active=on)
                done += 1
            except (TriggerError, step_kinds.StepError) as error:
                refused.append(f"{flow.name}: {error}")
        if done:
            self.message_user(request, f"Switched {word}: {done} flow(s).", messages.SUCCESS)
        for problem in refused:
            self.message_user(request, f"Not switched on. {problem}", messages.ERROR)
        return None

    @admin.action(description="Switch on (asks first)", permissions=["activate"])
    def switch_on(self, request, queryset):
        return self._switch(request, queryset, True)

    @admin.action(description="Switch off (asks first)", permissions=["activate"])
    def switch_off(self, request, queryset):
        return self._switch(request, queryset, False)

    def save_formset(self, request, form, formset, change):
        # A removed step hands its customers to the step after it first (flow_step_remove).
        for removed in getattr(formset, "deleted_forms", []):
            if removed.instance.pk:
                flow_step_remove(step=removed.instance)
        super().save_formset(request, form, formset, change)
        problems = step_kinds.step_targets_problems(list(form.instance.steps.order_by("position", "id")))
        for problem in problems:
            self.message_user(request, problem, messages.WARNING)


class FlowEmailVariantInline(StackedInline):
    model = Variant
    form = VariantForm
    extra = 0
    min_num = 1
    # No send hour: a flow sends when the customer reaches the step (its own waits say when).
    fields = ["label", "weight", "subject", "preheader", "body"]


@admin.register(Email)
class FlowEmailAdmin(ModelAdmin):
    """A flow's send-step email on a page of its own: its variants (A, B …, with weights),
    the holdout share, the winner metric and the smallest uplift to detect. The flow page
    links here from each send step (an inline of the flow cannot hold the variants' inline).
    Campaigns' emails are edited on the campaign's page, so only flows' emails are here. A
    variant that was sent is not deleted (its sends keep it: the form says so)."""

    inlines = [FlowEmailVariantInline]
    list_display = ["name", "shop", "holdout_percent", "winner_metric"]
    list_select_related = ["shop"]
    search_fields = ["name"]
    ordering = ["name", "id"]
    fields = ["name", "flow_step_link", "holdout_percent", "winner_metric", "min_uplift_percent"]
    readonly_fields = ["name", "flow_step_link"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(flow_step__isnull=False).select_related("flow_step__flow")

    def has_module_permission(self, request):
        return False  # reached from the flow page, not listed on its own

    def has_add_permission(self, request):
        return False  # made by the flow's send step

    def has_delete_permission(self, request, obj=None):
        return False  # removed with its step, on the flow page

    @admin.display(description="flow step")
    def flow_step_link(self, email):
        step = email.flow_step
        return format_html(
            '<a href="{}#results-step-{}">{}</a>',
            reverse("admin:campaigns_flow_change", args=[step.flow_id]),
            step.pk,
            f"{step.flow}: back to the flow page",
        )

    def response_change(self, request, obj):
        """Saved: back to the flow, at this step's results (unless "save and continue")."""
        response = super().response_change(request, obj)
        if "_continue" in request.POST or not isinstance(response, HttpResponseRedirect):
            return response
        step = obj.flow_step
        return HttpResponseRedirect(
            f"{reverse('admin:campaigns_flow_change', args=[step.flow_id])}#results-step-{step.pk}"
        )


@admin.register(FlowRun)
class FlowRunAdmin(LargeTableAdmin):
    list_display = ["id", "flow", "who", "step", "status", "due_at", "entered_at", "exit_reason"]
    list_filter = ["status", "flow"]
    list_select_related = ["flow", "step", "customer"]
    raw_id_fields = ["customer", "flow", "step"]
    ordering = ["-id"]
    readonly_fields = [f.name for f in FlowRun._meta.fields]

    @admin.display(description="customer")
    def who(self, run):
        return customer_link(run.customer_id, run.customer.email or run.customer_id)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


__all__ = ["FlowAdmin", "FlowEmailAdmin", "FlowRunAdmin", "FlowStepForm", "flow_results"]
