"""The emails campaigns and flows send: an email's variants, its holdout, and each send.

One ``Email`` is what a campaign sends, or what one "send email" step of a flow sends. It
has one or more ``Variant`` (subject, preheader, body, and for a send-time test the hour it
goes at), drawn at random by weight, and a holdout share that gets nothing. Each customer's
turn at an email is a ``Send``: the variant drawn (or the holdout) and the message queued.
A send is unique per (email, customer, occasion), so a campaign step reaches each customer
once however often the pass that sends it is retried; a flow's occasion is the customer's
run through the flow, so a re-entry is a new occasion.
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from customers.models import Customer, Shop
from messaging.models import Message


class WinnerMetric(models.TextChoices):
    # Never opens: Apple Mail Privacy Protection opens every message it receives.
    CLICKS = "clicks", "Clicks per recipient"
    CONVERSIONS = "conversions", "Conversions per recipient"
    REVENUE = "revenue", "Revenue per recipient"


class Email(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200, help_text="What it is, for the staff: e.g. 'Spring sale, first mail'.")
    holdout_percent = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(50)],
        help_text="This share of the audience, drawn at random, gets nothing: the baseline of the uplift.",
    )
    winner_metric = models.CharField(max_length=12, choices=WinnerMetric.choices, default=WinnerMetric.CONVERSIONS)
    min_uplift_percent = models.PositiveSmallIntegerField(
        default=20,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="The smallest uplift (relative, in per cent) the test should be able to detect: until each "
        "variant has the customers that needs, the results say 'not enough data yet' and no winner is picked.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(holdout_percent__lte=50), name="email_holdout_lte_50")]

    def __str__(self):
        return self.name


class Variant(models.Model):
    email = models.ForeignKey(Email, on_delete=models.CASCADE, related_name="variants")
    label = models.CharField(max_length=20, help_text="A short name: A, B, 'short subject' …")
    weight = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="Its share of the audience against the others' (1 to 1,000).",
    )
    subject = models.CharField(max_length=300)
    preheader = models.CharField(max_length=200, blank=True, help_text="The line mail clients show after the subject.")
    body = models.TextField(
        help_text="HTML with the personalisation names, e.g. {{ customer.first_name }} or "
        "{% for product in recommended_products %}…{% endfor %}."
    )
    send_hour = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(23)],
        help_text="For a send-time test: the hour of the customer's day it goes at. Empty: when the email is sent.",
    )

    class Meta:
        ordering = ["email", "id"]
        constraints = [
            models.UniqueConstraint(fields=["email", "label"], name="variant_email_label_uniq"),
            models.CheckConstraint(condition=Q(weight__gte=1), name="variant_weight_gte_1"),
            models.CheckConstraint(
                condition=Q(send_hour__isnull=True) | Q(send_hour__lte=23), name="variant_send_hour_valid"
            ),
        ]

    def __str__(self):
        return f"{self.email}: {self.label}"


class Send(models.Model):
    """One customer's turn at one email: the variant drawn, or the holdout (no variant, no
    message), and the message queued. Results per variant are read from these rows."""

    id = models.BigAutoField(primary_key=True)
    email = models.ForeignKey(Email, on_delete=models.CASCADE, related_name="sends", db_index=False)
    variant = models.ForeignKey(Variant, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", db_index=False)
    occasion = models.CharField(
        max_length=64, blank=True, default="", help_text="Empty for a campaign; a flow's run for a flow step."
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    assigned_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["email", "customer", "occasion"], name="send_email_customer_uniq"),
        ]
        indexes = [
            # A customer's sends (the 360 page, the frequency cap) and the message's send.
            models.Index(fields=["customer", "assigned_at"], name="send_customer_idx"),
            models.Index(fields=["message"], name="send_message_idx", condition=Q(message__isnull=False)),
        ]

    def __str__(self):
        return f"{self.email_id}/{self.customer_id}/{self.occasion or '-'}"


class SendingPolicy(models.Model):
    """How often and when marketing email may reach a customer: one row, edited in the admin
    (``SendingPolicy.current()``). Campaigns and flows both keep it."""

    cap_hours = models.PositiveSmallIntegerField(
        default=16,
        validators=[MaxValueValidator(24 * 14)],
        help_text="No more than one marketing email per customer in this many hours (0: no cap). "
        "16 hours is the usual 'smart sending' window.",
    )
    quiet_start = models.PositiveSmallIntegerField(
        default=21, validators=[MaxValueValidator(23)], help_text="Quiet hours start at this hour, customer's time."
    )
    quiet_end = models.PositiveSmallIntegerField(
        default=8,
        validators=[MaxValueValidator(23)],
        help_text="… and end at this hour. Equal to the start: no quiet hours.",
    )

    class Meta:
        verbose_name = "sending policy"
        verbose_name_plural = "sending policy"
        constraints = [
            models.CheckConstraint(
                condition=Q(quiet_start__lte=23) & Q(quiet_end__lte=23), name="sendingpolicy_hours_valid"
            )
        ]

    def __str__(self):
        return "Sending policy"

    @classmethod
    def current(cls) -> "SendingPolicy":
        return cls.objects.order_by("pk").first() or cls()
