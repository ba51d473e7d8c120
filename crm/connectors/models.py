"""Connections to the shops' own platforms and the webhook deliveries they send.

Imported by ``crm.models`` so Django sees them as models of the crm app.
"""

import secrets as token_source

from django.db import models
from django.utils import timezone

from customers.models import Shop


def new_token() -> str:
    """The unguessable part of a connection's webhook URL."""
    return token_source.token_urlsafe(24)


class Platform(models.TextChoices):
    SHOPIFY = "shopify", "Shopify"
    WOOCOMMERCE = "woocommerce", "WooCommerce"


class ShopConnection(models.Model):
    """A shop's Shopify store or WooCommerce site, whose webhooks the CRM takes.

    The webhook URL carries ``token``; a delivery is taken only if it is signed with this
    connection's secret (and, for Shopify, names this connection's store), and is written
    into this connection's shop only.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="connections")
    platform = models.CharField(max_length=16, choices=Platform.choices)
    domain = models.CharField(
        "store domain or site URL",
        max_length=255,
        help_text="Shopify: the store's myshopify.com domain (e.g. acme.myshopify.com). WooCommerce: the site's URL.",
    )
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    secret_encrypted = models.TextField(
        blank=True, editable=False, help_text="The signing secret, encrypted (crm.connectors.secrets)."
    )
    secret_env = models.CharField(
        "secret from the environment",
        max_length=100,
        blank=True,
        help_text="The name of an environment variable holding the signing secret, instead of storing it.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["shop", "platform", "domain"]
        constraints = [
            models.UniqueConstraint(fields=["platform", "domain"], name="connection_platform_domain_uniq"),
        ]

    def __str__(self):
        return f"{self.get_platform_display()} {self.domain}"

    @property
    def secret_is_set(self) -> bool:
        return bool(self.secret_encrypted or self.secret_env)


class WebhookDelivery(models.Model):
    """One webhook as it arrived: stored raw before anything is parsed, processed after.

    ``delivery_key`` is what the platform sends again on a retry (Shopify's
    ``X-Shopify-Webhook-Id``), unique per connection, so a re-sent delivery writes nothing.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        PROCESSED = "processed"
        FAILED = "failed"

    connection = models.ForeignKey(ShopConnection, on_delete=models.CASCADE, related_name="deliveries")
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    delivery_key = models.CharField(max_length=255)
    topic = models.CharField(max_length=100)
    headers = models.JSONField(default=dict, help_text="The platform's headers that say what this is.")
    body = models.BinaryField(help_text="The body, byte for byte as signed.")
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    result = models.CharField(max_length=500, blank=True, help_text="What processing did (or why it did nothing).")
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="A failed one is tried again from then.")
    locked_until = models.DateTimeField(null=True, blank=True, help_text="Being processed until then (a lease).")
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["connection", "delivery_key"], name="delivery_connection_key_uniq"),
        ]
        indexes = [
            # The sweep: what is still to do, oldest first.
            models.Index(
                fields=["id"],
                name="delivery_to_do_idx",
                condition=models.Q(status__in=["pending", "failed"]),
            ),
        ]

    def __str__(self):
        return f"{self.topic} {self.delivery_key}"


class ConnectorVersion(models.Model):
    """The platform's ``updated_at`` of the last version of a resource applied, so an older
    one arriving late (orders/updated before orders/create, a retry) changes nothing."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    resource = models.CharField(max_length=20)  # "order", "customer"
    external_id = models.CharField(max_length=255)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "resource", "external_id"], name="connectorversion_uniq"),
        ]

    def __str__(self):
        return f"{self.resource} {self.external_id} at {self.updated_at:%Y-%m-%d %H:%M:%S}"
