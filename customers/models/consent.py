"""Marketing consent's history: each time a customer gave or withdrew their consent to one
shop's marketing email, when, through what, and what they were shown.

The current state stays on ``CustomerIdentity.marketing_consent`` (per shop), which every
reader uses; an event is written in the same transaction as each change of it.
"""

from django.conf import settings
from django.db import models

from customers.models.commerce import Customer, Shop


class ConsentSource(models.TextChoices):
    CHECKOUT = "checkout", "checkout"  # with an order (the platforms' accepts_marketing)
    FOOTER_FORM = "footer_form", "footer form"
    IMPORT = "import", "import"  # the CSV import of orders (accepts_marketing)
    ADMIN = "admin", "admin"  # a staff member, in the admin
    API = "api", "API"  # a customer or event pushed through the API
    UNSUBSCRIBE_LINK = "unsubscribe_link", "unsubscribe link"
    DOUBLE_OPT_IN = "double_opt_in", "double opt-in"
    # The email provider reported an unsubscribe (its own link) or a spam complaint.
    PROVIDER = "provider", "email provider"


class ConsentEvent(models.Model):
    """Consent to one shop's marketing email given (``given``) or withdrawn (not ``given``)."""

    id = models.BigAutoField(primary_key=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consent_events", db_index=False)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    given = models.BooleanField(help_text="Given; otherwise withdrawn.")
    at = models.DateTimeField()
    source = models.CharField(max_length=20, choices=ConsentSource.choices)
    shown_text = models.TextField(
        blank=True, help_text="What the person was shown when they said it (the checkbox's words, the form)."
    )
    # The staff member who changed it in the admin (source "admin"); kept as evidence even
    # after their account is gone: the name is then lost, the event stays.
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # the partial index below
        help_text="The staff member who changed it in the admin.",
    )

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # A customer's history, newest first (the admin, a privacy request).
            models.Index(fields=["customer", "at"], name="consent_customer_at_idx"),
            # Deleting a staff account sets its events' ``by`` to null; only the admin's
            # few events have one, so the index is small.
            models.Index(fields=["by"], condition=models.Q(by__isnull=False), name="consent_by_idx"),
        ]

    def __str__(self):
        return f"{'given' if self.given else 'withdrawn'} ({self.get_source_display()}) at {self.at:%Y-%m-%d %H:%M}"
