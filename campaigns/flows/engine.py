"""The flow pass: enroll, exit, advance; set-based, safe to retry and to run twice at once.

Each pass, for each active flow:

1. **Enroll** (``flow_enroll``): the trigger's new rows (``campaigns.flows.triggers``) become
   runs in one ``INSERT … SELECT … ON CONFLICT DO NOTHING``. The re-entry rule is a
   ``NOT EXISTS`` in the same statement; the unique constraints (one run per trigger row,
   one active run per customer) make a row read twice, or two passes at once, enroll once.
   The flow row is locked while it enrolls (``skip_locked``: a second pass skips it) and
   the watermark moves in the same transaction.
2. **Exit** (``flow_exits_apply``): one ``UPDATE`` per exit condition, over the active runs
   of customers whose orders or consent changed since the last pass.
3. **Advance** (``flow_advance``): for each step in order, the due runs at it are taken in
   batches. A batch is claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` (two workers take
   different runs), the step decided for the whole batch, its execution recorded per run
   under the unique (step, run) with ``INSERT … ON CONFLICT DO NOTHING RETURNING``, its
   effect applied to the runs just recorded, and the runs moved on, all in one
   transaction. A worker that dies mid-step rolls all of it back; a retry does it once.

SQLite has no row locks: its transactions take the write lock when they begin
(``transaction_mode=IMMEDIATE``), so two passes take turns, batch by batch, and the
unique (step, run) still holds. The embedded default runs one pass at a time anyway
(``crm/scheduler.py``).
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from campaigns.flows import steps as step_kinds
from campaigns.flows.triggers import LAG, TriggerError, new_rows, watermark_now
from campaigns.flows.triggers import params_clean as trigger_params_clean
from campaigns.models import Flow, FlowRun, FlowStep, FlowStepRun, Reentry, RunStatus
from core.db.server_binding import server_binding_cursor
from customers.models import CustomerIdentity, Order
from messaging.models import Suppression

logger = logging.getLogger(__name__)

BATCH = 50_000
# How long one pass keeps taking batches of a flow before leaving the rest to the next pass.
FLOW_PASS_SECONDS = 180


@dataclass
class PassResult:
    enrolled: int = 0
    exited: int = 0
    steps_taken: int = 0
    by_step: dict[int, int] = field(default_factory=dict)


def _dt(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def flow_activate(*, flow: Flow, active: bool, now: datetime | None = None) -> Flow:
    """Switch a flow on (reading its trigger from now on: the past enrolls nobody) or off
    (runs stay where they are, and carry on when it is switched on again)."""
    now = now or timezone.now()
    with transaction.atomic():
        flow = Flow.objects.select_for_update().get(pk=flow.pk)
        if active and not flow.active:
            trigger_params_clean(flow.trigger, flow.trigger_params)
            steps = list(flow.steps.order_by("position", "id"))
            if not steps:
                raise step_kinds.StepError("A flow needs a step before it is switched on.", field="steps")
            for step in steps:
                step_kinds.params_clean(step.kind, step.params, has_email=step.email_id is not None)
            problems = step_kinds.step_targets_problems(steps)
            if problems:
                raise step_kinds.StepError(" ".join(problems), field="steps")
            flow.watermark_id, flow.watermark_at = watermark_now(flow, now)
            flow.watermark_next_id = flow.watermark_id
            flow.activated_at = now
        flow.active = active
        flow.save(
            update_fields=["active", "watermark_id", "watermark_at", "watermark_next_id", "activated_at", "updated_at"]
        )
    return flow


def flow_enroll(flow: Flow, now: datetime) -> int:
    """Runs for the trigger's new rows (see the module's docstring); returns how many."""
    with transaction.atomic():
        locked = Flow.objects.select_for_update(skip_locked=True).filter(pk=flow.pk, active=True).first()
        if locked is None:
            return 0
        first = locked.steps.order_by("position", "id").values_list("pk", flat=True).first()
        try:
            batch = new_rows(locked, now)
        except TriggerError as error:  # e.g. its segment was deleted: nobody enters; the rest goes on
            logger.warning("Flow %s enrolls nobody: %s (%s)", locked.pk, error, error.field)
            return 0
        inserted = 0
        if batch.rows is not None and first is not None:
            select_sql, select_params = batch.rows.query.sql_with_params()
            if locked.reentry == Reentry.ONCE:
                again, again_params = "", []
            else:
                again, again_params = " AND r.entered_at > %s", [_dt(now - timedelta(days=locked.reentry_days))]
            sql = (
                "INSERT INTO campaigns_flowrun (flow_id, customer_id, trigger_key, triggered_at, order_id, "
                "entered_at, step_id, due_at, status, exit_reason) "
                "SELECT %s, t.r_customer, t.r_key, t.r_at, CAST(t.r_order AS bigint), %s, %s, t.r_due, 'active', '' "
                f"FROM ({select_sql}) t "
                "WHERE NOT EXISTS (SELECT 1 FROM campaigns_flowrun r "
                f"WHERE r.flow_id = %s AND r.customer_id = t.r_customer{again}) "
                "ON CONFLICT DO NOTHING"
            )
            params = [locked.pk, _dt(now), first, *select_params, locked.pk, *again_params]
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                inserted = max(cursor.rowcount, 0)
        Flow.objects.filter(pk=locked.pk).update(
            watermark_id=batch.watermark_id, watermark_at=batch.watermark_at, watermark_next_id=batch.watermark_next_id
        )
    return inserted


def flow_step_remove(*, step: FlowStep, now: datetime | None = None) -> int:
    """Delete a step; the runs at it move to the step after it (due now), or complete when it
    was the last. Returns the runs moved."""
    now = now or timezone.now()
    with transaction.atomic():
        after = (
            FlowStep.objects.filter(flow_id=step.flow_id)
            .filter(Q(position__gt=step.position) | Q(position=step.position, pk__gt=step.pk))
            .order_by("position", "id")
            .first()
        )
        here = FlowRun.objects.filter(step=step, status=RunStatus.ACTIVE)
        if after is None:
            moved = here.update(status=RunStatus.COMPLETED, step=None, finished_at=now)
        else:
            moved = here.update(step=after, due_at=now)
        step.delete()
    return moved


def flow_exits_apply(flow: Flow, now: datetime, since: datetime | None) -> int:
    """End the active runs that meet an exit condition: one ``UPDATE`` per condition. Only
    customers whose orders or consent changed since ``since`` (less the overlap) are
    looked at, and every run enrolled since then."""
    active = FlowRun.objects.filter(flow=flow, status=RunStatus.ACTIVE)
    done = {"status": RunStatus.EXITED, "step": None, "finished_at": now}
    start = (since or now - timedelta(days=3650)) - LAG
    exited = 0
    if flow.exit_on_order:
        ordered = Order.objects.filter(
            customer_id=OuterRef("customer_id"), shop_id=flow.shop_id, placed_at__gt=OuterRef("triggered_at")
        )
        buyers = Order.objects.filter(shop_id=flow.shop_id, updated_at__gte=start).values("customer_id")
        reason = {"exit_reason": "placed an order", **done}
        exited += active.filter(customer_id__in=buyers).filter(Exists(ordered)).update(**reason)
        exited += active.filter(entered_at__gte=start).filter(Exists(ordered)).update(**reason)
    if flow.exit_on_unsubscribe:
        withdrawn = CustomerIdentity.objects.filter(
            shop_id=flow.shop_id, updated_at__gte=start, marketing_consent=False
        )
        suppressed = Suppression.objects.filter(Q(shop__isnull=True) | Q(shop_id=flow.shop_id), created_at__gte=start)
        reason = {"exit_reason": "unsubscribed", **done}
        exited += active.filter(customer_id__in=withdrawn.values("customer_id")).update(**reason)
        exited += active.filter(customer__email_normalized__in=suppressed.values("address")).update(**reason)
    return exited


def _claim(step: FlowStep, now: datetime, size: int) -> list[tuple[int, int, int | None]]:
    """The batch: the oldest due runs at the step, locked (others' locked runs skipped)."""
    if connection.vendor == "postgresql":
        # Parameters bound by the server, rows read by psycopg: Django's converters and its
        # client-side binding of 50,000-item arrays cost more than the statements.
        with server_binding_cursor() as cursor:
            cursor.execute(
                "SELECT id, customer_id, order_id FROM campaigns_flowrun "
                "WHERE step_id = %s AND status = 'active' AND due_at <= %s "
                "ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED",
                [step.pk, now, size],
            )
            return cursor.fetchall()
    due = FlowRun.objects.filter(step=step, status=RunStatus.ACTIVE, due_at__lte=now).order_by("due_at")
    return list(due.values_list("pk", "customer_id", "order_id")[:size])


def _record(step: FlowStep, run_ids: list[int], outcome: str, now: datetime) -> set[int]:
    """Record that the step ran for these runs; returns those not recorded before."""
    if not run_ids:
        return set()
    if connection.vendor == "postgresql":
        with server_binding_cursor() as binary:
            binary.execute(
                "INSERT INTO campaigns_flowsteprun (step_id, run_id, outcome, executed_at) "
                "SELECT %s, r, %s, %s FROM unnest(%b::bigint[]) AS r ON CONFLICT DO NOTHING RETURNING run_id",
                [step.pk, outcome, now, run_ids],
            )
            return {r for (r,) in binary.fetchall()}
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO campaigns_flowsteprun (step_id, run_id, outcome, executed_at) "
            "SELECT %s, value, %s, %s FROM json_each(%s) WHERE true ON CONFLICT DO NOTHING RETURNING run_id",
            [step.pk, outcome, _dt(now), json.dumps(run_ids)],
        )
        return {r for (r,) in cursor.fetchall()}


def _move(steps: list[FlowStep], step: FlowStep, run_ids: np.ndarray, decision, now: datetime) -> None:
    """Runs on to their next step (due now, or at ``decision.due``), or finished."""
    index = {s.pk: i for i, s in enumerate(steps)}
    here = index[step.pk]
    following = steps[here + 1].pk if here + 1 < len(steps) else None
    groups: dict[tuple, list[int]] = defaultdict(list)
    dues = decision.due if decision.due is not None else [now] * len(run_ids)
    for run_id, target, due in zip(run_ids.tolist(), decision.target, dues, strict=True):
        if target == step_kinds.EXIT:
            key = ("exit", None, None)
        else:
            to = following if target == step_kinds.NEXT else (target if target in index else following)
            key = ("complete", None, None) if to is None else ("step", to, due)
        groups[key].append(run_id)
    runs = FlowRun.objects.filter(status=RunStatus.ACTIVE)
    for (what, to, due), ids in groups.items():
        if what == "step" and connection.vendor == "postgresql":
            with server_binding_cursor() as binary:  # the common case, bound in binary (see _claim)
                binary.execute(
                    "UPDATE campaigns_flowrun SET step_id = %s, due_at = %s WHERE id = ANY(%b::bigint[]) "
                    "AND status = 'active'",
                    [to, due, ids],
                )
            continue
        chosen = runs.filter(pk__in_ids=ids)
        if what == "exit":
            chosen.update(status=RunStatus.EXITED, exit_reason="reached an exit step", step=None, finished_at=now)
        elif what == "complete":
            chosen.update(status=RunStatus.COMPLETED, step=None, finished_at=now)
        else:
            chosen.update(step_id=to, due_at=due)


def flow_advance_step(flow: Flow, steps: list[FlowStep], step: FlowStep, now: datetime, size: int = BATCH) -> int:
    """One batch of the runs due at ``step``: decide, record, apply, move, in one
    transaction. Returns how many runs it took (0: none due)."""
    with transaction.atomic():
        claimed = _claim(step, now, size)
        if not claimed:
            return 0
        ids = np.array([r for r, _, _ in claimed], dtype=np.int64)
        runs = step_kinds.Runs(
            ids,
            np.array([c for _, c, _ in claimed], dtype=np.int64),
            [o for _, _, o in claimed],
            flow.shop_id,
            flow.name,
        )
        taking, decision = step_kinds.decide(step, runs, now)
        for until, deferred in decision.deferred.items():
            FlowRun.objects.filter(pk__in_ids=deferred).update(due_at=until)
        fresh: set[int] = set()
        for outcome in set(decision.outcome.tolist()):
            chosen = taking.ids[decision.outcome == outcome].tolist()
            fresh |= _record(step, chosen, outcome, now)
        if fresh:
            mask = np.fromiter((r in fresh for r in taking.ids.tolist()), dtype=bool, count=len(taking.ids))
            changed = step_kinds.apply(step, taking.take(mask), decision.outcome[mask], now)
            for outcome, changed_ids in changed.items():
                FlowStepRun.objects.filter(step=step, run_id__in_ids=changed_ids).update(outcome=outcome)
        _move(steps, step, taking.ids, decision, now)
        return len(claimed)


def flow_advance(flow: Flow, now: datetime, size: int = BATCH, deadline: float | None = None) -> dict[int, int]:
    """Every due run of the flow taken as far as it goes now (steps in order; a step's runs
    moved to a later step due now are taken by that step in the same sweep)."""
    steps = list(flow.steps.order_by("position", "id"))
    for step in steps:
        step.params = step_kinds.params_clean(step.kind, step.params, has_email=step.email_id is not None)
    taken: dict[int, int] = defaultdict(int)
    for _sweep in range(len(steps) + 1):
        moved = 0
        for step in steps:
            while n := flow_advance_step(flow, steps, step, now, size):
                taken[step.pk] += n
                moved += n
                if n < size or (deadline is not None and time.monotonic() > deadline):
                    break
        if deadline is not None and time.monotonic() > deadline:
            break
        if not moved:
            break
    return dict(taken)


def flows_pass(
    *, now: datetime | None = None, flow_ids: list[int] | None = None, size: int = BATCH, seconds: float | None = None
) -> PassResult:
    """One pass over the active flows (or these): enroll, exit, advance (for at most about
    ``seconds``, if given)."""
    now = now or timezone.now()
    deadline = None if seconds is None else time.monotonic() + seconds
    result = PassResult()
    flows = Flow.objects.filter(active=True).select_related("shop").order_by("pk")
    if flow_ids is not None:
        flows = flows.filter(pk__in=flow_ids)
    for flow in flows:
        since = flow.exits_checked_at or flow.activated_at
        result.enrolled += flow_enroll(flow, now)
        result.exited += flow_exits_apply(flow, now, since)
        Flow.objects.filter(pk=flow.pk).update(exits_checked_at=now)
        for step_id, n in flow_advance(flow, now, size, deadline).items():
            result.by_step[step_id] = result.by_step.get(step_id, 0) + n
            result.steps_taken += n
    return result
