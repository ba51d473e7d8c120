"""The email channel's data: who a shop sends as, every message and its history, the
addresses not to send to, and the outbox of the embedded default.

Workflows live in ``messaging.services`` (queueing, suppression) and ``messaging.sending``
(claiming and sending); this module holds data, constraints and indexes only.
"""

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from customers.models import Customer, Shop, TimeStampedModel

COLOUR = RegexValidator(r"^#[0-9a-fA-F]{6}$", "A colour as #rrggbb, e.g. #1f6feb.")


class SenderIdentity(TimeStampedModel):
    """Who a shop's messages come from, and how they look. A shop without one sends as the
    CRM's default (``DEFAULT_FROM_EMAIL``, ``EMAIL_FROM_NAME``, ``EMAIL_FOOTER_ADDRESS``)."""

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="sender_identity")
    from_name = models.CharField(max_length=100, help_text="The name people see, e.g. 'Acme Coffee'.")
    from_email = models.EmailField(
        help_text="The From address. Its domain must publish SPF and DKIM for this provider (docs/email.md)."
    )
    reply_to = models.EmailField(blank=True, help_text="Where replies go; empty: to the From address.")
    logo_url = models.URLField(blank=True, help_text="An https image shown at the top of every message.")
    brand_colour = models.CharField(max_length=7, default="#1f6feb", validators=[COLOUR])
    footer_address = models.TextField(
        help_text="The shop's postal address, printed in every footer (anti-spam laws ask for it)."
    )

    class Meta:
        verbose_name = "sender identity"
        verbose_name_plural = "sender identities"

    def __str__(self):
        return f"{self.from_name} <{self.from_email}>"


class MessageKind(models.TextChoices):
    # Transactional: what the customer asked for or must know (a reply, a receipt). Marketing:
    # everything else; suppressed by any suppression, unsubscribes included.
    TRANSACTIONAL = "transactional"
    MARKETING = "marketing"


class MessageStatus(models.TextChoices):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    OPENED = "opened"
    CLICKED = "clicked"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


PENDING_STATUSES = [MessageStatus.QUEUED, MessageStatus.SENDING]


class Message(models.Model):
    """One email to one address, from queueing to its last known state.

    ``key`` says what the message is for and for whom ("ticket-reply:123",
    "campaign:4:step:2:customer:99"): queueing the same key again writes nothing, so a
    retried task or a re-run campaign sends once. The content is rendered when the message
    is sent, from ``template`` and the plain values in ``context``, and stored here."""

    id = models.BigAutoField(primary_key=True)
    key = models.CharField(max_length=200)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    shop = models.ForeignKey(Shop, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False)
    to_email = models.EmailField(max_length=254)  # lower-cased
    kind = models.CharField(max_length=16, choices=MessageKind.choices)
    template = models.CharField(max_length=100)
    context = models.JSONField(default=dict, blank=True, help_text="The plain values the template is rendered with.")
    # Filled when rendered (at the first send attempt).
    subject = models.CharField(max_length=500, blank=True)
    from_email = models.CharField(max_length=400, blank=True)
    reply_to = models.CharField(max_length=320, blank=True)
    html = models.TextField(blank=True)
    text = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    # The Message-ID header, derived from the key when queued: a resend after a crash
    # carries the same one, so the receiving side (and a person) can tell.
    message_id = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=MessageStatus.choices, default=MessageStatus.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True)
    next_attempt_at = models.DateTimeField(help_text="A queued message is sent from then on (after a retry's backoff).")
    claimed_until = models.DateTimeField(
        null=True, blank=True, help_text="A sender works on it until then; after that another may take it."
    )
    created_at = models.DateTimeField(help_text="When it was queued.")
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key"], name="message_key_uniq"),
            # Inbound replies name it in In-Reply-To; the outbox links its rows by it.
            models.UniqueConstraint(fields=["message_id"], name="message_message_id_uniq"),
        ]
        indexes = [
            # The sender's claim: the few queued or sending rows, oldest first.
            models.Index(fields=["id"], condition=Q(status__in=PENDING_STATUSES), name="message_pending_idx"),
            # A customer's messages, newest first (the 360 timeline).
            models.Index(fields=["customer", "created_at"], name="message_customer_created_idx"),
            # The admin's filters, each read newest first. Not by kind: both kinds are
            # common, so the newest of either are found reading the primary key backwards,
            # and every index costs each of a message's two status changes an insert.
            models.Index(fields=["status", "id"], name="message_status_idx"),
            models.Index(fields=["shop", "id"], name="message_shop_idx"),
            # The admin's search by address.
            models.Index(fields=["to_email", "id"], name="message_to_email_idx"),
            # The providers' tracking webhooks find a message by the id the provider gave it
            # (messaging/tracking.py); messages not sent yet have none.
            models.Index(
                fields=["provider_message_id"], condition=~Q(provider_message_id=""), name="message_provider_id_idx"
            ),
            # The bulk-sender health panel: each shop's messages sent in the last 30 days.
            models.Index(fields=["sent_at"], condition=Q(sent_at__isnull=False), name="message_sent_at_idx"),
        ]
        permissions = [("send_test", "Can preview templates and send a test message to oneself")]

    def __str__(self):
        return f"{self.subject or self.template} → {self.to_email}"


class MessageEvent(models.Model):
    """A change of a message's status, when it happened, and what caused it (an error, a
    retry's backoff, a suppression). The message's ``created_at`` is its queueing.

    An event reported by the email provider's tracking webhook (messaging/tracking.py) also
    names the provider's event (anymail's normalised type: ``delivered``, ``bounced``,
    ``deferred``, ``unsubscribed`` …) and a key that makes a replayed webhook write nothing;
    its ``status`` is what the event says of the message, which the message's own status
    takes only if that is a step forward."""

    id = models.BigAutoField(primary_key=True)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=16, choices=MessageStatus.choices)
    at = models.DateTimeField()
    detail = models.CharField(max_length=500, blank=True)
    provider_event = models.CharField(
        max_length=16,
        blank=True,
        db_default="",  # the sender's marks insert rows in SQL of their own (messaging/sending.py)
        help_text="The provider's event (anymail's type); empty for the CRM's own.",
    )
    # A digest of the provider, event type, time and (for a click) the link: the same event
    # reported twice has the same one.
    provider_event_key = models.CharField(max_length=64, blank=True, db_default="")

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            # A replayed or retried webhook writes nothing twice.
            models.UniqueConstraint(
                fields=["message", "provider_event_key"],
                condition=~Q(provider_event_key=""),
                name="message_event_provider_uniq",
            ),
        ]

    def __str__(self):
        return f"{self.status} at {self.at:%Y-%m-%d %H:%M:%S}"


class SuppressionReason(models.TextChoices):
    UNSUBSCRIBED = "unsubscribed"
    HARD_BOUNCE = "hard_bounce", "hard bounce"
    COMPLAINT = "complaint"
    ERASED = "erased"


# Reasons that stop transactional messages too: the address cannot or must not receive
# anything. An unsubscribe stops marketing only (a ticket reply still goes).
STOPS_TRANSACTIONAL = [SuppressionReason.HARD_BOUNCE, SuppressionReason.COMPLAINT, SuppressionReason.ERASED]


class Suppression(models.Model):
    """An address not to send to, and why; checked when each message is sent.

    ``shop`` empty: for every shop. An address that hard-bounces or was erased is dead for
    every sender, so those are global. An unsubscribe (and a complaint about one shop's
    mail) is said to one shop, whose consent it withdraws, so it names that shop; the same
    person may still hear from the merchant's other shops they subscribed to."""

    id = models.BigAutoField(primary_key=True)
    address = models.EmailField(max_length=254)  # lower-cased
    reason = models.CharField(max_length=16, choices=SuppressionReason.choices)
    shop = models.ForeignKey(
        Shop, null=True, blank=True, on_delete=models.CASCADE, related_name="+", help_text="Empty: every shop."
    )
    detail = models.CharField(
        max_length=500, blank=True, help_text="Where it came from: a bounce, a person, an API call."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # One row per (address, reason) and shop; the send-time check reads by address.
            models.UniqueConstraint(
                fields=["address", "reason", "shop"], condition=Q(shop__isnull=False), name="suppression_shop_uniq"
            ),
            models.UniqueConstraint(
                fields=["address", "reason"], condition=Q(shop__isnull=True), name="suppression_global_uniq"
            ),
        ]
        indexes = [
            # The send-time check and the admin's search: every row of an address.
            models.Index(fields=["address"], name="suppression_address_idx"),
        ]

    def __str__(self):
        return f"{self.address} ({self.get_reason_display()})"


class OutboxEmail(models.Model):
    """A message the outbox backend kept instead of sending (the embedded default, tests).

    What would have gone on the wire, whole: the raw MIME and, for reading, its parts."""

    id = models.BigAutoField(primary_key=True)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    message_id_header = models.CharField("Message-ID", max_length=255, blank=True)
    from_email = models.CharField(max_length=400)
    to = models.TextField(help_text="Recipients, comma-separated.")
    subject = models.CharField(max_length=500, blank=True)
    html = models.TextField(blank=True)
    text = models.TextField(blank=True)
    headers = models.JSONField(default=dict)
    raw = models.TextField(help_text="The message as it would have been sent (MIME).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "outbox email"
        verbose_name_plural = "outbox"

    def __str__(self):
        return f"{self.subject} → {self.to}"


class ImapMailbox(TimeStampedModel):
    """A mailbox folder the CRM reads over IMAP (the support desk's; ``messaging.imap``), and
    how far it has read.

    Every message of the folder with a UID up to ``last_uid`` (under ``uidvalidity``) has
    been handed over, or failed and has its ``ImapFailure`` row; a run starts after it, so a
    run never re-reads what an earlier one handled, even if moving it away failed. The
    lease (``lease_owner`` until ``lease_until``) lets one run read the folder at a time, on
    any database and whether or not Redis is up; a run that dies leaves it to run out."""

    id = models.BigAutoField(primary_key=True)
    key = models.CharField(max_length=500, help_text="user@host:port/folder")
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField(default=0)
    lease_owner = models.CharField(max_length=36, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, help_text="Why the last run stopped early; empty if it finished.")
    received = models.BigIntegerField(default=0, help_text="Messages handed over, in all.")

    class Meta:
        verbose_name = "IMAP mailbox"
        verbose_name_plural = "IMAP mailboxes"
        constraints = [
            models.UniqueConstraint(fields=["key"], name="imapmailbox_key_uniq"),
            models.CheckConstraint(condition=Q(last_uid__gte=0), name="imapmailbox_last_uid_gte_0"),
        ]

    def __str__(self):
        return self.key


class ImapFailure(models.Model):
    """A message of an IMAP folder that the handler raised on: it stays in the folder, and
    each run tries it again until ``attempts`` reaches ``IMAP_MAX_ATTEMPTS``."""

    id = models.BigAutoField(primary_key=True)
    mailbox = models.ForeignKey(ImapMailbox, on_delete=models.CASCADE, related_name="failures")
    uid = models.BigIntegerField()
    attempts = models.PositiveIntegerField(default=1)
    message_id = models.CharField("Message-ID", max_length=255, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    error = models.TextField()
    first_failed_at = models.DateTimeField(auto_now_add=True)
    last_failed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "IMAP failure"
        verbose_name_plural = "IMAP failures"
        constraints = [
            # One row per message; also the run's lookup of a folder's failures.
            models.UniqueConstraint(fields=["mailbox", "uid"], name="imapfailure_mailbox_uid_uniq"),
        ]

    def __str__(self):
        return f"UID {self.uid}: {self.subject or self.message_id}"
