"""Outbound webhooks in the admin: each shop's endpoints, and the delivery log.

Managers add and change endpoints (the signing secret is shown once, when the endpoint is
made or given a new secret) and send deliveries again; marketers read both; support agents
see neither (``crm.roles``). Every action calls a service (``crm.webhooks.services``).
"""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.urls import reverse
from unfold.admin import ModelAdmin

from core.admin_tools import LargeTableAdmin, ReadOnly
from crm.webhooks.events import sources_start
from crm.webhooks.models import EventType, OutboundDelivery, WebhookEndpoint
from crm.webhooks.selectors import endpoints_switched_off
from crm.webhooks.services import (
    WebhookError,
    deliveries_resend,
    endpoint_check,
    endpoint_create,
    endpoint_secret_rotate,
    endpoints_enable,
)


class EndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(choices=EventType.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookEndpoint
        fields = ["shop", "url", "description", "events", "active"]

    def clean(self):
        data = super().clean()
        if "url" in data and "events" in data:
            try:
                data["events"] = endpoint_check(url=data["url"], events=data["events"])
            except WebhookError as error:
                self.add_error(error.field, error.message)
        return data


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ModelAdmin):
    form = EndpointForm
    list_display = ["url", "shop", "event_list", "active", "state"]
    list_filter = ["active", "shop"]
    list_select_related = ["shop"]
    search_fields = ["url", "description"]
    ordering = ["shop", "url"]
    readonly_fields = ["consecutive_failures", "failing_since", "disabled_at", "disabled_reason", "created_at"]
    actions = ["switch_on", "new_secret"]

    @admin.display(description="events")
    def event_list(self, obj):
        return ", ".join(obj.events)

    @admin.display(description="state")
    def state(self, obj):
        if not obj.active and obj.disabled_reason:
            return obj.disabled_reason
        if obj.consecutive_failures:
            return f"{obj.consecutive_failures} failed attempts in a row"
        return "ok" if obj.active else "off"

    def changelist_view(self, request, extra_context=None):
        if off := endpoints_switched_off():
            messages.error(
                request, f"{off} webhook endpoint(s) were switched off after repeated failures: see their state."
            )
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change):
        if change:
            switched_on = "active" in form.changed_data and obj.active
            if switched_on:
                obj.active = False  # switched on below, as the action does: failures forgotten
            super().save_model(request, obj, form, change)
            if switched_on:
                endpoints_enable([obj.pk])
                obj.refresh_from_db()
            sources_start(obj.events)  # an event newly chosen is heard from now on
            return
        endpoint, secret = endpoint_create(shop=obj.shop, url=obj.url, events=obj.events, description=obj.description)
        if not obj.active:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False)
        obj.pk = endpoint.pk
        obj.refresh_from_db()
        request.webhook_secrets = [(obj, secret)]

    def response_add(self, request, obj, post_url_continue=None):
        """The new endpoint's secret, on a page of its own, once."""
        return self._secrets_page(request, getattr(request, "webhook_secrets", []), "Endpoint added")

    def _secrets_page(self, request, secrets, title: str):
        return TemplateResponse(
            request,
            "admin/crm/webhookendpoint/secret.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "secrets": secrets,
                "back": reverse("admin:crm_webhookendpoint_changelist"),
                "opts": self.model._meta,
            },
        )

    @admin.action(description="Switch back on", permissions=["change"])
    def switch_on(self, request, queryset):
        self.message_user(request, f"{endpoints_enable(queryset.values_list('pk', flat=True))} switched on.")

    @admin.action(description="Give a new signing secret", permissions=["change"])
    def new_secret(self, request, queryset):
        secrets = [
            (endpoint, endpoint_secret_rotate(endpoint=endpoint)) for endpoint in queryset.select_related("shop")
        ]
        return self._secrets_page(request, secrets, "New signing secrets")


@admin.register(OutboundDelivery)
class OutboundDeliveryAdmin(ReadOnly, LargeTableAdmin):
    list_display = [
        "id",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "error",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "event_type"]
    list_select_related = ["endpoint"]
    raw_id_fields = ["endpoint"]
    search_fields = ["=message_id", "=event_key"]
    ordering = ["-id"]
    actions = ["resend"]

    @admin.display(description="last error")
    def error(self, obj):
        return obj.last_error[:120]

    def has_resend_permission(self, request):
        return request.user.has_perm("crm.resend_outbounddelivery")

    @admin.action(description="Send again", permissions=["resend"])
    def resend(self, request, queryset):
        self.message_user(request, f"{deliveries_resend(queryset.values_list('pk', flat=True))} will be sent again.")
