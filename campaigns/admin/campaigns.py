"""Campaigns in the admin: the list with status and results; each campaign's page with its
audience (counted live as the segments change, with who is left out and why), content
(variants inline, a preview for any customer of the audience, a test to oneself), schedule,
and results per variant with a chart; Send now, Schedule and Cancel as buttons, each
confirmed on a page of its own and allowed to those holding ``campaigns.send_campaign``
(marketers and managers, not agents)."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from unfold.admin import ModelAdmin, StackedInline

from campaigns.admin.campaign_forms import CampaignForm, VariantForm
from campaigns.audience import Exclusion
from campaigns.campaigns.actions import (
    audience_customer,
    campaign_cancel,
    campaign_problems,
    campaign_schedule,
    campaign_send_now,
    campaign_test_send,
    preview_context,
)
from campaigns.campaigns.audience import AudienceCount, audience_count, campaign_cap_hours
from campaigns.campaigns.results_chart import results_chart
from campaigns.experiments.counts import email_totals
from campaigns.experiments.report import email_report
from campaigns.models import Campaign, CampaignStatus, Email, SendingPolicy, Variant
from core.errors import DomainError
from messaging.admin.frames import html_frame, html_response
from messaging.authored import AUTHORED
from messaging.selectors import preview

SEND = "campaigns.send_campaign"
EDITABLE = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)


def recorded_audience(campaign: Campaign) -> AudienceCount:
    """The audience the send pass recorded when the campaign started."""
    counts = dict(campaign.excluded_counts or {})
    total = counts.pop("total", campaign.audience_count or 0)
    return AudienceCount(
        total=total,
        reachable=campaign.audience_count or 0,
        excluded=[(reason, Exclusion.LABELS.get(reason, reason), n) for reason, n in counts.items()],
    )


class VariantInline(StackedInline):
    """The email's variants, on the campaign's page (a variant belongs to the email, which
    belongs to the campaign: the inline's parent is the email)."""

    model = Variant
    form = VariantForm
    extra = 0
    min_num = 1
    fields = ["label", "weight", "subject", "preheader", "body", "send_hour"]

    def __init__(self, parent_model, admin_site):
        super().__init__(Email, admin_site)

    def _editable(self, request, obj) -> bool:
        return obj is None or obj.status in EDITABLE

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and self._editable(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._editable(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._editable(request, obj)


@admin.register(Campaign)
class CampaignAdmin(ModelAdmin):
    form = CampaignForm
    list_display = ["name", "shop", "status", "when", "audience", "sent", "opens", "clicks"]
    list_filter = ["status", "shop", "timing"]
    search_fields = ["name"]
    list_select_related = ["shop"]
    ordering = ["-created_at"]
    show_full_result_count = False
    inlines = [VariantInline]
    change_form_template = "admin/campaigns/campaign/change_form.html"
    fieldsets = [
        (None, {"fields": ["name", "shop", "status"]}),
        (
            "Audience",
            {
                "fields": ["segments", "excluded_segments", "cap_hours"],
                "description": "Who gets it; the count below follows your choices as you make them.",
            },
        ),
        ("Schedule", {"fields": ["timing", "send_at", "local_hour"]}),
        ("Variants and holdout", {"fields": ["holdout_percent", "auto_winner", "test_percent", "test_hours"]}),
        ("Winner", {"fields": ["winner_metric", "min_uplift_percent", "winner", "winner_note"]}),
    ]

    # -- the form ------------------------------------------------------------------------

    readonly_fields = ["status", "winner", "winner_note"]

    def has_change_permission(self, request, obj=None):
        """A campaign that is sending, sent or cancelled is read, not edited."""
        return super().has_change_permission(request, obj) and (obj is None or obj.status in EDITABLE)

    @admin.display(description="holdout percent")
    def holdout_percent(self, campaign):
        return f"{campaign.email.holdout_percent} %"

    @admin.display(description="winner metric")
    def winner_metric(self, campaign):
        return campaign.email.get_winner_metric_display()

    @admin.display(description="smallest uplift to detect")
    def min_uplift_percent(self, campaign):
        return f"{campaign.email.min_uplift_percent} %"

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        kwargs["instance"] = self._email(obj)
        return kwargs

    @staticmethod
    def _email(campaign: Campaign) -> Email:
        if campaign.email_id:
            return campaign.email
        if not hasattr(campaign, "_new_email"):
            campaign._new_email = Email()
        return campaign._new_email

    def save_model(self, request, obj, form, change):
        if obj.status not in EDITABLE:
            raise PermissionDenied
        email = form.email_for(obj, self._email(obj))
        email.save()
        obj.email = email
        super().save_model(request, obj, form, change)

    # -- the list ------------------------------------------------------------------------

    def get_changelist_instance(self, request):
        """The page's results read in one query for all its campaigns."""
        changelist = super().get_changelist_instance(request)
        changelist.result_list = list(changelist.result_list)
        totals = email_totals([c.email_id for c in changelist.result_list])
        for campaign in changelist.result_list:
            campaign.totals = totals.get(campaign.email_id, {})
        return changelist

    @admin.display(description="send time", ordering="send_at")
    def when(self, campaign):
        if campaign.send_at is None:
            return "—"
        moment = timezone.localtime(campaign.send_at).strftime("%-d %b %Y %H:%M")
        return f"{moment}, then {campaign.local_hour}:00 customer's time" if campaign.local_hour is not None else moment

    @admin.display(description="audience")
    def audience(self, campaign):
        return "—" if campaign.audience_count is None else f"{campaign.audience_count:,}"

    def _total(self, campaign, name):
        totals = getattr(campaign, "totals", None)
        return "—" if totals is None or campaign.status == CampaignStatus.DRAFT else f"{totals.get(name, 0):,}"

    @admin.display(description="sent")
    def sent(self, campaign):
        return self._total(campaign, "sent")

    @admin.display(description="opens (unreliable)")
    def opens(self, campaign):
        return self._total(campaign, "opens")

    @admin.display(description="clicks")
    def clicks(self, campaign):
        return self._total(campaign, "clicks")

    # -- the page ------------------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        campaign = self.get_object(request, object_id)
        if campaign is not None:
            extra_context = {**(extra_context or {}), "campaign_page": self._page(request, campaign)}
        return super().change_view(request, object_id, form_url, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "campaign_page": {"audience_url": self._url("audience")}}
        return super().add_view(request, form_url, extra_context)

    def _url(self, name: str, *args) -> str:
        return reverse(f"admin:campaigns_campaign_{name}", args=args)

    def _page(self, request, campaign: Campaign) -> dict:
        now = timezone.now()
        policy = SendingPolicy.current()
        segments = [s.pk for s in campaign.segments.all()]
        excluded = [s.pk for s in campaign.excluded_segments.all()]
        if campaign.status in EDITABLE or campaign.audience_count is None:
            count = audience_count(
                shop_id=campaign.shop_id,
                segment_ids=segments,
                excluded_segment_ids=excluded,
                now=now,
                cap_hours=campaign_cap_hours(campaign, policy),
            )
        else:  # as it was when sending started: now, its own messages would count against the cap
            count = recorded_audience(campaign)
        variants = list(campaign.email.variants.order_by("id"))
        report = email_report(campaign.email)
        arms = [arm.counts for arm in report.arms]
        chosen = next(
            (v for v in variants if str(v.pk) == request.GET.get("variant")), variants[0] if variants else None
        )
        term = request.GET.get("customer", "")[:254].strip()
        customer = audience_customer(campaign, term) if term else None
        preview_frame = None
        if chosen is not None:
            query = urlencode({"variant": chosen.pk, "customer": term})
            preview_frame = html_frame(f"{self._url('preview', campaign.pk)}?{query}", title=chosen.subject)
        return {
            "audience": count,
            "audience_recorded": campaign.status not in EDITABLE and campaign.audience_count is not None,
            "audience_url": self._url("audience"),
            "cap_hours": campaign_cap_hours(campaign, policy),
            "policy": policy,
            "editable": campaign.status in EDITABLE,
            "can_send": request.user.has_perm(SEND),
            "problems": campaign_problems(campaign) if campaign.status in EDITABLE else {},
            "variants": variants,
            "chosen": chosen,
            "customer_term": term,
            "customer_missing": bool(term) and customer is None,
            "customer": customer,
            "preview_frame": preview_frame,
            "test_url": self._url("test", campaign.pk),
            "staff_email": request.user.email,
            "report": report,
            "metric": campaign.email.get_winner_metric_display().lower(),
            "chart": results_chart(arms),
            "actions": {
                "send_now": self._url("send_now", campaign.pk),
                "schedule": self._url("schedule", campaign.pk),
                "cancel": self._url("cancel", campaign.pk),
            },
        }

    # -- views of its own ---------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("audience/", view(self.audience_view), name="campaigns_campaign_audience"),
            path("<int:pk>/preview/", view(self.preview_view), name="campaigns_campaign_preview"),
            path("<int:pk>/test/", view(self.test_view), name="campaigns_campaign_test"),
            path("<int:pk>/send-now/", view(self.act_view), {"act": "send_now"}, name="campaigns_campaign_send_now"),
            path("<int:pk>/schedule/", view(self.act_view), {"act": "schedule"}, name="campaigns_campaign_schedule"),
            path("<int:pk>/cancel/", view(self.act_view), {"act": "cancel"}, name="campaigns_campaign_cancel"),
            *super().get_urls(),
        ]

    def audience_view(self, request):
        """The live audience count: POST {"shop", "segments", "excluded_segments",
        "cap_hours"} → the count and who is left out and why; 400 naming the field."""
        if request.method != "POST":
            return JsonResponse({"detail": "POST a JSON body."}, status=405)
        if not self.has_view_permission(request):
            return JsonResponse({"detail": "You may not see campaigns."}, status=403)
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return JsonResponse({"detail": "The body is not JSON.", "errors": {"body": ["Not JSON."]}}, status=400)
        errors: dict[str, list[str]] = {}

        def ids(name: str, required: bool) -> list[int]:
            value = body.get(name, []) if isinstance(body, dict) else None
            if not isinstance(value, list) or not all(isinstance(v, int) and 0 < v < 2**63 for v in value):
                errors[name] = ["A list of segment ids."]
                return []
            if required and not value:
                errors[name] = ["Choose at least one segment."]
            return value[:200]

        segments, excluded = ids("segments", True), ids("excluded_segments", False)
        shop = body.get("shop") if isinstance(body, dict) else None
        if not isinstance(shop, int) or not 0 < shop < 2**63:
            errors["shop"] = ["Choose a shop."]
        cap = body.get("cap_hours") if isinstance(body, dict) else None
        if cap is not None and (not isinstance(cap, int) or not 0 <= cap <= 24 * 14):
            errors["cap_hours"] = ["Hours from 0 to 336, or empty for the sending policy's."]
        if errors:
            return JsonResponse({"detail": "The audience cannot be counted.", "errors": errors}, status=400)
        count = audience_count(
            shop_id=shop,
            segment_ids=segments,
            excluded_segment_ids=excluded,
            now=timezone.now(),
            cap_hours=SendingPolicy.current().cap_hours if cap is None else cap,
        )
        return JsonResponse(count.as_json())

    def _campaign(self, request, pk: int) -> Campaign:
        campaign = Campaign.objects.select_related("email", "shop").filter(pk=pk).first()
        if campaign is None:
            raise Http404("No such campaign.")
        if not self.has_view_permission(request, campaign):
            raise PermissionDenied
        return campaign

    def preview_view(self, request, pk: int):
        """The chosen variant for the chosen customer of the audience (made-up values for
        none), alone, for its sandboxed frame."""
        campaign = self._campaign(request, pk)
        variant = campaign.email.variants.filter(pk=request.GET.get("variant") or 0).first()
        if variant is None:
            return html_response("")
        term = request.GET.get("customer", "")[:254]
        customer = audience_customer(campaign, term) if term.strip() else None
        context = preview_context(campaign, variant, customer)
        _, rendered = preview(template=AUTHORED, shop_id=campaign.shop_id, context=context)
        return html_response(rendered.html)

    def test_view(self, request, pk: int):
        """POST: the chosen variant, as the chosen customer would get it, to oneself."""
        if request.method != "POST":
            return JsonResponse({"detail": "POST the form."}, status=405)
        campaign = self._campaign(request, pk)
        if not (request.user.has_perm(SEND) or request.user.has_perm("messaging.send_test")):
            raise PermissionDenied
        variant = campaign.email.variants.filter(pk=request.POST.get("variant") or 0).first()
        term = request.POST.get("customer", "")[:254]
        back = f"{reverse('admin:campaigns_campaign_change', args=[pk])}?{urlencode({'customer': term})}#preview"
        if variant is None:
            messages.error(request, "Choose a variant to test.")
            return redirect(back)
        customer = audience_customer(campaign, term) if term.strip() else None
        if term.strip() and customer is None:
            messages.error(request, f"“{term}” is not in this campaign's audience.")
            return redirect(back)
        try:
            campaign_test_send(campaign=campaign, variant=variant, user=request.user, customer=customer)
        except DomainError as error:
            messages.error(request, error.message)
            return redirect(back)
        messages.success(request, f"A test of {variant.label} is on its way to {request.user.email}.")
        return redirect(back)

    def act_view(self, request, pk: int, act: str):
        """Send now, Schedule or Cancel: a confirmation page (GET), then the act (POST)."""
        campaign = self._campaign(request, pk)
        if not request.user.has_perm(SEND):
            raise PermissionDenied
        change_url = reverse("admin:campaigns_campaign_change", args=[pk])
        if request.method == "POST":
            try:
                if act == "send_now":
                    campaign_send_now(campaign=campaign, user=request.user)
                    messages.success(request, f"“{campaign}” is sending: the first messages go within a minute.")
                elif act == "schedule":
                    campaign_schedule(campaign=campaign, user=request.user)
                    messages.success(request, f"“{campaign}” is scheduled for {timezone.localtime(campaign.send_at)}.")
                else:
                    campaign_cancel(campaign=campaign)
                    messages.success(request, f"“{campaign}” is cancelled.")
            except DomainError as error:
                messages.error(request, f"{error.message}")
            return redirect(change_url)
        count = audience_count(
            shop_id=campaign.shop_id,
            segment_ids=[s.pk for s in campaign.segments.all()],
            excluded_segment_ids=[s.pk for s in campaign.excluded_segments.all()],
            now=timezone.now(),
            cap_hours=campaign_cap_hours(campaign),
        )
        titles = {"send_now": "Send now", "schedule": "Schedule", "cancel": "Cancel the campaign"}
        context = {
            **self.admin_site.each_context(request),
            "title": f"{titles[act]}: {campaign}",
            "opts": self.opts,
            "original": campaign,
            "campaign": campaign,
            "act": act,
            "act_label": titles[act],
            "audience": count,
            "problems": campaign_problems(campaign) if act != "cancel" else {},
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/campaigns/campaign/confirm.html", context)


@admin.register(SendingPolicy)
class SendingPolicyAdmin(ModelAdmin):
    """The one row of the sending policy (made by a migration): the frequency cap and the
    quiet hours. No adding: ``SendingPolicy.current()`` reads the first row."""

    list_display = ["__str__", "cap_hours", "quiet_start", "quiet_end"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
