"""Shops' platform connections and the webhooks they sent (crm/connectors/)."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin
from unfold.widgets import UnfoldAdminPasswordWidget

from core.admin_tools import LargeTableAdmin
from core.secrets import secret_encrypt
from crm.connectors.models import Platform, ShopConnection, WebhookDelivery
from crm.connectors.processing import deliveries_replay
from crm.connectors.receive import connections_forget


class ShopConnectionForm(forms.ModelForm):
    """The signing secret is written, never shown: the field says whether one is set."""

    secret = forms.CharField(
        label="Signing secret",
        required=False,
        strip=True,
        max_length=500,
        widget=UnfoldAdminPasswordWidget(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    class Meta:
        model = ShopConnection
        fields = ["shop", "platform", "domain", "secret", "secret_env", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        where = "Shopify: the app's client secret (or the key shown under Settings → Notifications → Webhooks). "
        where += "WooCommerce: the webhook's secret."
        if self.instance.pk and self.instance.secret_encrypted:
            self.fields["secret"].help_text = f"Set. Leave empty to keep it; type a new one to replace it. {where}"
        else:
            self.fields["secret"].help_text = f"Not set. {where}"

    def clean_domain(self):
        domain = self.cleaned_data["domain"].strip()
        if self.cleaned_data.get("platform") == Platform.SHOPIFY:
            domain = domain.lower().removeprefix("https://").removeprefix("http://").rstrip("/")
        return domain.rstrip("/")

    def clean(self):
        cleaned = super().clean()
        secret, env_name = cleaned.get("secret"), cleaned.get("secret_env")
        if secret and env_name:
            self.add_error("secret", "Give the secret or the name of an environment variable, not both.")
        elif not secret and not env_name and not self.instance.secret_encrypted:
            self.add_error("secret", "Enter the signing secret (or name the environment variable that holds it).")
        return cleaned

    def save(self, commit=True):
        connection = super().save(commit=False)
        if secret := self.cleaned_data.get("secret"):
            connection.secret_encrypted = secret_encrypt(secret)
        elif self.cleaned_data.get("secret_env"):
            connection.secret_encrypted = ""
        if commit:
            connection.save()
        connections_forget()  # this process reads it afresh at once; others within seconds
        return connection


@admin.register(ShopConnection)
class ShopConnectionAdmin(ModelAdmin):
    form = ShopConnectionForm
    list_display = ["domain", "platform", "shop", "is_active", "secret_state", "created_at"]
    list_filter = ["platform", "is_active"]
    list_select_related = ["shop"]
    autocomplete_fields = ["shop"]
    search_fields = ["domain", "shop__slug"]
    readonly_fields = ["webhook_url", "secret_state"]

    @admin.display(description="webhook URL")
    def webhook_url(self, obj):
        if not obj or not obj.pk:
            return "Shown once the connection is saved."
        name = "connector-shopify" if obj.platform == Platform.SHOPIFY else "connector-woocommerce"
        url = settings.PUBLIC_BASE_URL.rstrip("/") + reverse(name, args=[obj.token])
        return format_html("<code>{}</code>", url)

    @admin.display(description="secret")
    def secret_state(self, obj):
        if obj.secret_env:
            return f"from ${obj.secret_env}"
        return "set" if obj.secret_encrypted else "not set"


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(LargeTableAdmin):
    """Each webhook as it arrived and what became of it; failed ones can be replayed."""

    list_display = ["id", "topic", "connection", "status", "attempts", "received_at", "outcome"]
    list_filter = ["status", "topic"]
    list_select_related = ["connection"]
    search_fields = ["=delivery_key"]
    ordering = ["-id"]
    actions = ["replay"]
    fields = [
        "connection",
        "shop",
        "topic",
        "delivery_key",
        "status",
        "result",
        "error",
        "attempts",
        "next_attempt_at",
        "received_at",
        "processed_at",
        "headers",
        "body_text",
    ]
    readonly_fields = fields

    @admin.display(description="outcome")
    def outcome(self, obj):
        return (obj.error or obj.result)[:120]

    @admin.display(description="body")
    def body_text(self, obj):
        text = bytes(obj.body).decode("utf-8", errors="replace")
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", text[:20000])

    @admin.action(description="Replay the selected failed deliveries", permissions=["replay"])
    def replay(self, request, queryset):
        ok, failing = deliveries_replay(queryset.values_list("id", flat=True))
        if ok:
            self.message_user(request, f"{ok} delivery(ies) processed.", messages.SUCCESS)
        if failing:
            self.message_user(request, f"{failing} delivery(ies) failed again: see their error.", messages.ERROR)
        if not ok and not failing:
            self.message_user(request, "None of the selected deliveries had failed.", messages.WARNING)

    def has_replay_permission(self, request):
        return request.user.has_perm("crm.change_webhookdelivery")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
