"""Flows: a trigger plus steps, each customer moving through on their own.

``Flow`` is what the marketer builds: which rows start a customer's pass (its trigger and
parameters), the steps (``FlowStep``, in ``position`` order), what ends a pass early (its
exit conditions) and how often one customer may go through (re-entry). ``FlowRun`` is one
customer's pass: the step they are at and when it is due. It *is* the flow's state, so a
restart carries on from the rows. ``FlowStepRun`` records that one step ran for one run,
with its outcome; its unique (step, run) is what makes each step run once per pass, written
in the transaction of the step's effect (``campaigns.flows.engine``).
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from campaigns.models.emails import Email
from customers.models import Customer, Shop


class TriggerKind(models.TextChoices):
    SEGMENT_ENTERED = "segment_entered", "Entered a segment"
    SEGMENT_EXITED = "segment_exited", "Left a segment"
    EVENT = "event", "An event (e.g. cart abandoned)"
    FIRST_ORDER = "first_order", "First order"
    FULFILLED = "fulfilled", "Order fulfilled (post-purchase)"
    STAGE_CHANGED = "stage_changed", "Stage changed (at risk, lapsed)"
    DATE = "date", "A date (birthday or another date property)"
    POINTS_EXPIRING = "points_expiring", "Points about to expire"
    TIER_REACHED = "tier_reached", "Loyalty tier reached"
    LOW_CSAT = "low_csat", "Low CSAT rating"
    NPS_DETRACTOR = "nps_detractor", "Detractor NPS answer"


class Reentry(models.TextChoices):
    ONCE = "once", "Once ever"
    EVERY_N_DAYS = "every_n_days", "Again after N days"


class Flow(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    trigger = models.CharField(max_length=20, choices=TriggerKind.choices)
    trigger_params = models.JSONField(
        default=dict, blank=True, help_text="The trigger's settings (campaigns.flows.triggers says which)."
    )
    active = models.BooleanField(default=False, help_text="Switched on: customers are enrolled and moved on.")
    activated_at = models.DateTimeField(null=True, blank=True)
    exit_on_order = models.BooleanField(
        default=False,
        verbose_name="exit when they place an order",
        help_text="An order after the trigger ends the pass.",
    )
    exit_on_unsubscribe = models.BooleanField(
        default=True,
        verbose_name="exit when they unsubscribe",
        help_text="No marketing consent for the shop any more, or suppressed: the pass ends.",
    )
    reentry = models.CharField(max_length=14, choices=Reentry.choices, default=Reentry.ONCE)
    reentry_days = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(3650)], help_text="For 'again after N days'."
    )
    # Where the trigger's reading got to: rows with a larger id (append-only tables) or a
    # later time (rows that change, dates) are new. Set to "now" when the flow is switched
    # on, so switching on never enrolls the past. For ids, ``watermark_next_id`` is the
    # table's top id seen at ``watermark_at``, where the watermark moves once that is
    # old enough (campaigns.flows.triggers).
    watermark_id = models.BigIntegerField(default=0)
    watermark_at = models.DateTimeField(null=True, blank=True)
    watermark_next_id = models.BigIntegerField(default=0)
    exits_checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        permissions = [("activate_flow", "Can switch a flow on or off")]
        constraints = [
            models.CheckConstraint(condition=Q(reentry_days__gte=1), name="flow_reentry_days_gte_1"),
        ]
        indexes = [
            # The pass reads the active flows.
            models.Index(fields=["active"], name="flow_active_idx", condition=Q(active=True)),
        ]

    def __str__(self):
        return self.name


class StepKind(models.TextChoices):
    WAIT = "wait", "Wait"
    CONDITION = "condition", "Condition (segment rule)"
    SEND_EMAIL = "send_email", "Send email"
    REWARD_CODE = "reward_code", "Issue a loyalty reward code"
    BONUS_POINTS = "bonus_points", "Give bonus points"
    ADD_TAG = "add_tag", "Add a tag"
    OPEN_TICKET = "open_ticket", "Open a ticket for a person"
    SPLIT = "split", "Split (A/B branches)"
    EXIT = "exit", "Exit"


class FlowStep(models.Model):
    """One step. Its ``params`` by kind (checked by ``campaigns.flows.steps.params_problems``):

    - wait: ``{"minutes": N}`` or ``{"until_hour": H}`` (the customer's clock);
    - condition: ``{"rule": <segment rule>, "no": "exit" | "next" | <step id>}``; yes goes on;
    - send_email: the ``email``; ``{}``;
    - reward_code: ``{"reward_id": N}``; bonus_points: ``{"points": N, "reason": "…"}``;
    - add_tag: ``{"tag": "…"}``; open_ticket: ``{"subject": "…", "body": "…"}``;
    - split: ``{"branches": [{"label": "A", "weight": 1, "goto": "next" | <step id>}, …]}``;
    - exit: ``{}``.
    """

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=14, choices=StepKind.choices)
    params = models.JSONField(default=dict, blank=True)
    email = models.OneToOneField(
        Email, null=True, blank=True, on_delete=models.PROTECT, related_name="flow_step", help_text="For 'send email'."
    )

    class Meta:
        ordering = ["flow", "position", "id"]
        indexes = [models.Index(fields=["flow", "position"], name="flowstep_flow_position_idx")]

    def __str__(self):
        return f"{self.flow}: {self.position}. {self.get_kind_display()}"


class RunStatus(models.TextChoices):
    ACTIVE = "active", "In the flow"
    COMPLETED = "completed", "Completed"
    EXITED = "exited", "Exited"


class FlowRun(models.Model):
    """One customer's pass through a flow. ``step`` is where they are (due at ``due_at``);
    finished runs keep their row (re-entry rules and the counts read them)."""

    id = models.BigAutoField(primary_key=True)
    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="runs", db_index=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", db_index=False)
    # What started it: a row of the trigger's source ("event:12", "stay:4:entered",
    # "birthday:2026-12-04"); one run per (flow, customer, key) however often it is read.
    trigger_key = models.CharField(max_length=64)
    triggered_at = models.DateTimeField()
    order_id = models.BigIntegerField(null=True, blank=True, help_text="The order the trigger was about, if any.")
    entered_at = models.DateTimeField()
    step = models.ForeignKey(
        FlowStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.ACTIVE)
    exit_reason = models.CharField(max_length=40, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One pass per trigger row; it also serves the re-entry check (flow, customer …).
            models.UniqueConstraint(fields=["flow", "customer", "trigger_key"], name="flowrun_trigger_uniq"),
            # A customer is in a flow at most once at a time.
            models.UniqueConstraint(
                fields=["flow", "customer"], condition=Q(status="active"), name="flowrun_one_active_uniq"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "completed", "exited"]), name="flowrun_status_valid"
            ),
        ]
        indexes = [
            # The pass: due runs of a step; the flow page: active runs per step.
            models.Index(fields=["step", "due_at"], name="flowrun_due_idx", condition=Q(status="active")),
            # The 360 page: a customer's flow positions.
            models.Index(fields=["customer"], name="flowrun_customer_idx"),
        ]

    def __str__(self):
        return f"{self.flow_id}/{self.customer_id} ({self.status})"


class FlowStepRun(models.Model):
    """A step ran for a run, once: its outcome ("sent", "held out", "unreachable", "yes",
    "no", a branch's label …)."""

    id = models.BigAutoField(primary_key=True)
    step = models.ForeignKey(FlowStep, on_delete=models.CASCADE, related_name="+", db_index=False)
    run = models.ForeignKey(FlowRun, on_delete=models.CASCADE, related_name="step_runs", db_index=False)
    outcome = models.CharField(max_length=40, blank=True)
    executed_at = models.DateTimeField()

    class Meta:
        constraints = [
            # Each (step, run) once; also serves "how many passed this step" and the split's record.
            models.UniqueConstraint(fields=["step", "run"], name="flowsteprun_once_uniq"),
        ]
        indexes = [models.Index(fields=["run"], name="flowsteprun_run_idx")]

    def __str__(self):
        return f"{self.step_id}/{self.run_id}: {self.outcome}"
