"""The privacy-request queue and the record of each erasure.

Imported by ``crm.models`` so Django sees them as models of the crm app.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models

from crm.connectors.models import WebhookDelivery
from customers.models import ApiKey, Customer, Shop

# The legal answer time: one month (GDPR art. 12(3)), taken as 30 days.
PRIVACY_DUE = timedelta(days=30)


class PrivacyRequest(models.Model):
    """A person's request for their data or its erasure: from a platform (Shopify's mandatory
    customers/data_request, customers/redact, shop/redact), from staff who took it by mail or
    phone, or from a shop's key. Staff work the open ones by ``due_at``, like tickets."""

    class Kind(models.TextChoices):
        DATA_REQUEST = "data_request", "data export"
        CUSTOMER_REDACT = "customer_redact", "erasure"
        SHOP_REDACT = "shop_redact", "erase a shop's data"

    class Status(models.TextChoices):
        OPEN = "open"
        DONE = "done"
        REFUSED = "refused"

    class Source(models.TextChoices):
        PLATFORM = "platform", "shop platform"
        STAFF = "staff"
        API = "api", "shop API key"

    shop = models.ForeignKey(Shop, null=True, blank=True, on_delete=models.CASCADE, related_name="privacy_requests")
    delivery = models.OneToOneField(
        WebhookDelivery, null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.STAFF, editable=False)
    customer = models.ForeignKey(
        Customer,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="privacy_requests",
        help_text="Who the request is about; found from the shop's id or the email when it arrives.",
    )
    customer_external_id = models.CharField(max_length=255, blank=True)
    email = models.CharField(max_length=254, blank=True)
    phone = models.CharField(max_length=64, blank=True)
    order_external_ids = models.JSONField(default=list, blank=True)
    note = models.TextField(
        blank=True,
        help_text=(
            "How the request came and how the person's identity was checked, or why it was refused. "
            "No personal data: it is kept after erasure."
        ),
    )
    received_at = models.DateTimeField()
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="+"
    )
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="+"
    )
    # A shop's erasure runs in the background (crm.privacy.shop_redact): since when, started
    # by whom, and how many customers it set out to erase (the page's progress).
    erasing_since = models.DateTimeField(null=True, blank=True, editable=False)
    erasing_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="+"
    )
    erasing_total = models.PositiveIntegerField(default=0, editable=False)
    erasing_lease_until = models.DateTimeField(null=True, blank=True, editable=False)  # a run holds it
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["due_at"]
        indexes = [models.Index(fields=["status", "due_at"], name="privacyrequest_open_idx")]  # the open queue
        permissions = [
            ("export_customer_data", "Can export a customer's personal data"),
            ("erase_customer_data", "Can erase a customer's personal data"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}, due {self.due_at:%Y-%m-%d}"


class ErasureLog(models.Model):
    """That a customer's personal data was erased: who, when, what the request was, and how
    many rows each model had blanked. It holds no personal data itself (the audit log's
    entries for the customer lose their changes at erasure; this row says why)."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    request = models.ForeignKey(PrivacyRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    erased_at = models.DateTimeField()
    erased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rows = models.JSONField(default=dict, help_text="Rows blanked, per model.")

    class Meta:
        ordering = ["-erased_at"]
        verbose_name = "erasure"

    def __str__(self):
        return f"customer {self.customer_id} erased at {self.erased_at:%Y-%m-%d %H:%M}"
