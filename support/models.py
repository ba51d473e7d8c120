"""The support desk: tickets with their message threads and SLA clocks, and the voice of the
customer (product reviews and NPS answers)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from customers.models import Customer, Order, Product, Shop, Tag
from support.macros import unknown_variables
from support.sla import Calendar, CalendarError
from support.text import message_text


class Priority(models.TextChoices):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    handles_escalations = models.BooleanField(
        default=False, help_text="Escalated tickets (breached, or a high-value customer's) move to this team."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class BusinessHours(models.Model):
    """When the support clock runs: opening hours per weekday in a time zone, and closed days.

    ``weekly`` maps "0" (Monday) … "6" (Sunday) to ``["09:00", "17:00"]``; a missing day is
    closed. ``holidays`` lists closed dates as "YYYY-MM-DD"."""

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    weekly = models.JSONField(default=dict)
    holidays = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name_plural = "business hours"

    def __str__(self):
        return self.name

    def clean(self):
        try:
            Calendar.parse(time_zone=self.time_zone, weekly=self.weekly, holidays=self.holidays)
        except CalendarError as error:
            raise ValidationError({error.field: str(error)}) from None


class SlaPolicy(models.Model):
    """Targets for a ticket's first response and resolution, counted in business time.

    The most specific matching policy applies: one for the ticket's priority and the
    customer's value band beats one for the priority alone (``value_band`` blank)."""

    class ValueBand(models.TextChoices):
        ANY = "", "any customer"
        HIGH = "high", "high value (top 10 % predicted CLV)"

    name = models.CharField(max_length=100)
    priority = models.CharField(max_length=10, choices=Priority.choices)
    value_band = models.CharField(max_length=10, choices=ValueBand.choices, blank=True, default="")
    first_response_minutes = models.PositiveIntegerField()
    resolution_minutes = models.PositiveIntegerField()
    business_hours = models.ForeignKey(BusinessHours, null=True, blank=True, on_delete=models.PROTECT)
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name_plural = "SLA policies"
        ordering = ["priority", "-value_band"]
        constraints = [
            models.UniqueConstraint(
                fields=["priority", "value_band"], condition=Q(is_active=True), name="sla_policy_active_uniq"
            ),
            models.CheckConstraint(condition=Q(first_response_minutes__gt=0), name="sla_first_response_gt_0"),
            models.CheckConstraint(
                condition=Q(resolution_minutes__gte=models.F("first_response_minutes")),
                name="sla_resolution_after_first_response",
            ),
        ]

    def __str__(self):
        return self.name


class Ticket(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email"
        CHAT = "chat"
        PHONE = "phone"
        SOCIAL = "social"
        WEB_FORM = "web_form", "web form"
        API = "api", "API"

    class Status(models.TextChoices):
        NEW = "new"
        OPEN = "open"
        PENDING = "pending", "pending on the customer"
        ON_HOLD = "on_hold", "on hold"
        SOLVED = "solved"
        CLOSED = "closed"

    class SlaState(models.TextChoices):
        """Set by the scheduled sweep (``support.escalation.sla_sweep``); ``NONE`` for a ticket
        no SLA policy applies to, which has no due time to be on track for."""

        NONE = "none", "no SLA"
        OK = "ok", "on track"
        AT_RISK = "at_risk", "about to breach"
        BREACHED = "breached"

    OPEN_STATUSES = ("new", "open", "pending", "on_hold")

    shop = models.ForeignKey(Shop, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tickets")
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets")
    # The negative review this ticket follows up, if a review opened it.
    review = models.ForeignKey(
        "Review", null=True, blank=True, on_delete=models.SET_NULL, related_name="follow_up_tickets"
    )
    # The CSAT answer this ticket follows up (a 1–2 rating opens one).
    csat = models.ForeignKey(
        "CsatResponse", null=True, blank=True, on_delete=models.SET_NULL, related_name="follow_up_tickets"
    )
    # Set when the ticket was merged into another: its messages moved there, it is closed.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_tickets"
    )
    # A shop's own reference (e.g. its contact form's submission id): a replay creates nothing.
    external_id = models.CharField(max_length=255, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    subject = models.CharField(max_length=255)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_tickets"
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets")
    tags = models.ManyToManyField(Tag, blank=True, related_name="tickets")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)
    first_responded_at = models.DateTimeField(null=True, blank=True)
    solved_at = models.DateTimeField(null=True, blank=True)
    # The SLA clock: due times while it runs; while the ticket is pending on the customer the
    # due times are cleared and the business minutes that were left are kept instead.
    sla_policy = models.ForeignKey(SlaPolicy, null=True, blank=True, on_delete=models.SET_NULL)
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    first_response_left_minutes = models.IntegerField(null=True, blank=True)
    resolution_left_minutes = models.IntegerField(null=True, blank=True)
    sla_state = models.CharField(max_length=10, choices=SlaState.choices, default=SlaState.NONE)
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalation_reason = models.CharField(max_length=200, blank=True)
    # Whether the first response and the resolution came within the policy's targets, kept
    # when each clock stops (its due time is cleared then): the dashboard's SLA compliance.
    # None: no SLA applied, or the clock stopped before this was recorded.
    first_response_met = models.BooleanField(null=True, blank=True)
    resolution_met = models.BooleanField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "external_id"], condition=~Q(external_id=""), name="ticket_shop_external_id_uniq"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["new", "open", "pending", "on_hold", "solved", "closed"]),
                name="ticket_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(priority__in=["low", "normal", "high", "urgent"]), name="ticket_priority_valid"
            ),
        ]
        indexes = [
            # A customer's tickets, newest first (API, the 360 page).
            models.Index(fields=["customer", "-created_at"], name="ticket_customer_idx"),
            # The queue: open tickets by the next due time.
            models.Index(
                fields=["resolution_due_at"],
                name="ticket_open_due_idx",
                condition=Q(status__in=["new", "open", "pending", "on_hold"]),
            ),
            models.Index(fields=["assignee", "status"], name="ticket_assignee_idx"),
            # The SLA sweep reads the open tickets by their first-response due time too.
            models.Index(
                fields=["first_response_due_at"],
                name="ticket_open_first_due_idx",
                condition=Q(status__in=["new", "open", "pending", "on_hold"]),
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.subject}"


class Macro(models.Model):
    """A canned reply: its body may use ``{{ variables }}`` (``support.extensions.VARIABLES``);
    applying it adds the reply (or an internal note) and may set the status and add tags."""

    name = models.CharField(max_length=100, unique=True)
    body = models.TextField(help_text="HTML. Variables: {{ first_name }}, {{ last_order_number }}, … (see below).")
    public = models.BooleanField(default=True, help_text="Unticked: the macro adds an internal note.")
    set_status = models.CharField(max_length=10, choices=Ticket.Status.choices, blank=True)
    add_tags = models.ManyToManyField(Tag, blank=True, related_name="+")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        unknown = unknown_variables(self.body)
        if unknown:
            raise ValidationError({"body": f"Unknown variable(s): {', '.join(unknown)}."})


class TicketMessage(models.Model):
    """One message of a ticket's thread: a public reply, or an internal note agents alone see.

    ``body`` is sanitised HTML (``support.text.sanitise``): what is stored can be shown
    in the admin as is."""

    class Author(models.TextChoices):
        CUSTOMER = "customer"
        AGENT = "agent"
        SYSTEM = "system"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    author_kind = models.CharField(max_length=10, choices=Author.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    public = models.BooleanField(default=True)
    body = models.TextField()
    created_at = models.DateTimeField()
    # A shop's own id for a customer's follow-up sent through the API (``external_id``), unique
    # in the shop like a ticket's: a replay writes nothing twice, wherever a merge moved the
    # message. ``shop`` is the shop that sent it, set only with the id. No index of its own:
    # the unique index below leads with it.
    shop = models.ForeignKey(Shop, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False)
    external_id = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["created_at", "id"]
        permissions = [("view_internal_notes", "Can read internal ticket notes")]
        constraints = [
            # Customers write public messages only; internal notes are staff's.
            models.CheckConstraint(condition=Q(public=True) | ~Q(author_kind="customer"), name="message_note_by_staff"),
            # A replayed follow-up (POST /api/v1/tickets/{id}/messages) finds its message by this.
            models.UniqueConstraint(
                fields=["shop", "external_id"], condition=~Q(external_id=""), name="message_shop_external_id_uniq"
            ),
        ]
        indexes = [models.Index(fields=["ticket", "created_at"], name="message_ticket_idx")]

    def __str__(self):
        return f"{self.get_author_kind_display()} on {self.ticket_id}"

    @property
    def text(self) -> str:
        """The body as plain text with its paragraphs and line breaks: show it escaped, with
        ``linebreaks`` (``support.text.message_text``)."""
        return message_text(self.body)


class Review(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        PUBLISHED = "published"
        REJECTED = "rejected"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="reviews")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="reviews")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="reviews")
    external_id = models.CharField(max_length=255, blank=True)
    rating = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    verified_buyer = models.BooleanField(default=False)
    response = models.TextField(blank=True)
    responded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    responded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(rating__gte=1, rating__lte=5), name="review_rating_1_5"),
            models.UniqueConstraint(
                fields=["shop", "external_id"], condition=~Q(external_id=""), name="review_shop_external_id_uniq"
            ),
            # One review per customer and product: a second one updates it (support.reviews);
            # also finds the customer's review of a product (the API, the order's review link).
            models.UniqueConstraint(fields=["customer", "product"], name="review_customer_product_uniq"),
        ]
        indexes = [
            # A product's published reviews, newest first (the public API).
            models.Index(fields=["product", "status", "-created_at"], name="review_product_idx"),
            models.Index(fields=["customer", "-created_at"], name="review_customer_idx"),
        ]

    def __str__(self):
        return f"{self.rating}★ {self.title or self.product}"


class ReviewModeration(models.Model):
    """How new reviews are moderated (one row, edited in the admin): reviews rated at least
    ``auto_publish_min_rating`` are published at once (never, if empty), optionally only
    from verified buyers; the rest wait for a person."""

    auto_publish_min_rating = models.PositiveSmallIntegerField(null=True, blank=True, default=4)
    verified_buyers_only = models.BooleanField(default=True)

    class Meta:
        verbose_name = verbose_name_plural = "review moderation"
        constraints = [
            models.CheckConstraint(
                condition=Q(auto_publish_min_rating__isnull=True)
                | Q(auto_publish_min_rating__gte=1, auto_publish_min_rating__lte=5),
                name="moderation_rating_1_5",
            )
        ]

    def __str__(self):
        return "Review moderation"

    @classmethod
    def current(cls) -> "ReviewModeration":
        return cls.objects.order_by("pk").first() or cls()


class NpsResponse(models.Model):
    """An answer to "how likely are you to recommend us?" (0–10)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="nps_responses")
    shop = models.ForeignKey(Shop, null=True, blank=True, on_delete=models.SET_NULL)
    external_id = models.CharField(max_length=255, blank=True)
    score = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "NPS response"
        constraints = [
            models.CheckConstraint(condition=Q(score__lte=10), name="nps_score_0_10"),
            models.UniqueConstraint(
                fields=["shop", "external_id"], condition=~Q(external_id=""), name="nps_shop_external_id_uniq"
            ),
        ]
        indexes = [models.Index(fields=["customer", "-created_at"], name="nps_customer_idx")]

    def __str__(self):
        return f"NPS {self.score} ({self.category})"

    @property
    def category(self) -> str:
        return "promoter" if self.score >= 9 else "passive" if self.score >= 7 else "detractor"


class CsatResponse(models.Model):
    """A customer's rating of how a solved ticket was handled, through the signed link sent
    when it was solved: once per ticket. The agent and team are those of the ticket then."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="csat_response")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="csat_responses")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    rating = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "CSAT response"
        constraints = [models.CheckConstraint(condition=Q(rating__gte=1, rating__lte=5), name="csat_rating_1_5")]
        indexes = [models.Index(fields=["customer", "-created_at"], name="csat_customer_idx")]

    def __str__(self):
        return f"CSAT {self.rating} on #{self.ticket_id}"


class InboundEmail(models.Model):
    """An email that reached the desk (IMAP or a provider's inbound webhook), kept whole, and
    what was done with it (``support.inbound``).

    ``message_key`` makes it once only: the email's Message-ID, or ``sha256:<hash of the raw
    message>`` when it has none (or one too long to be an index key). A refetched or replayed
    email finds its row and writes nothing."""

    class Outcome(models.TextChoices):
        APPENDED = "appended", "added to its ticket"
        OPENED = "opened", "opened a new ticket"
        AUTO_REPLY = "auto_reply", "ignored: automatic reply"
        LOOP = "loop", "ignored: mail loop"
        UNSUBSCRIBED = "unsubscribed", "unsubscribed the sender (List-Unsubscribe mailto)"
        REJECTED = "rejected"

    id = models.BigAutoField(primary_key=True)
    message_key = models.CharField(max_length=255)
    via = models.CharField(max_length=40, help_text="How it arrived: imap, or the provider's webhook (mailgun, …).")
    from_email = models.CharField(max_length=254, blank=True)  # lower-cased
    recipient = models.CharField(
        max_length=254, blank=True, help_text="The desk's address it was sent to (the one that matched, if any)."
    )
    subject = models.CharField(max_length=500, blank=True)
    raw = models.BinaryField(help_text="The message as received (RFC 5322).")
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    detail = models.CharField(max_length=500, blank=True, help_text="Why: how it matched, or why it was ignored.")
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_emails", db_index=False
    )
    ticket_message = models.OneToOneField(
        TicketMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_email"
    )
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            # A replayed or refetched email writes nothing twice (ON CONFLICT).
            models.UniqueConstraint(fields=["message_key"], name="inbound_email_message_key_uniq"),
            models.CheckConstraint(
                condition=Q(outcome__in=["appended", "opened", "auto_reply", "loop", "unsubscribed", "rejected"]),
                name="inbound_email_outcome_valid",
            ),
        ]
        indexes = [
            # The loop guard: a sender's emails in the last minutes.
            models.Index(fields=["from_email", "received_at"], name="inbound_email_sender_idx"),
            # A ticket's emails (the admin).
            models.Index(fields=["ticket"], name="inbound_email_ticket_idx"),
        ]

    def __str__(self):
        return f"{self.subject or self.message_key} from {self.from_email or 'nobody'}"


def _attachment_path(attachment: "TicketAttachment", filename: str) -> str:
    return f"support/attachments/{attachment.message.ticket_id}/{filename}"


class TicketAttachment(models.Model):
    """A file that came with a customer's email, kept with the message it came with; or one
    that was refused (``skipped`` says why: its type, its size), listed so the agent knows."""

    id = models.BigAutoField(primary_key=True)
    message = models.ForeignKey(TicketMessage, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=_attachment_path, blank=True, max_length=300)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    skipped = models.CharField(max_length=200, blank=True, help_text="Why the file was not kept, if it was not.")

    class Meta:
        ordering = ["id"]
        constraints = [
            # Kept (a file) or skipped (a reason), never both or neither.
            models.CheckConstraint(
                condition=(~Q(file="") & Q(skipped="")) | (Q(file="") & ~Q(skipped="")),
                name="attachment_kept_or_skipped",
            ),
        ]

    def __str__(self):
        return self.filename
