"""What each kind of step does, for all the runs due at it at once.

A step is taken in two halves (``campaigns.flows.engine`` calls them in one transaction):

- ``decide``: without changing anything, each run's outcome ("yes", "B", "emailed" …), where
  it goes next ("next", "exit", or a step's id) and when that is due; a send step due in a
  customer's quiet hours is put off instead (``Decision.deferred``).
- ``apply``: the step's effect, for the runs that had not taken the step before (the
  engine recorded them first, under the unique (step, run)): the email queued, the points
  or code given, the tag added, the ticket opened. Each through its app's services.

Parameters are checked by ``params_clean`` (the admin's form and the shipped flows use it).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from campaigns.audience import reachable
from campaigns.emails import email_send
from campaigns.experiments.assignment import assign
from campaigns.flows.params_text import control_character_at
from campaigns.local_time import next_hour, per_zone, quiet_until
from campaigns.models import FlowStep, SendingPolicy, StepKind
from campaigns.segments.compiler import matching
from campaigns.segments.rules import RuleError, parse
from core.errors import DomainError
from customers.models import Customer, Shop
from customers.services.customers import customers_add_tags
from loyalty.gifts import points_give, reward_codes_give
from support.links import review_link
from support.models import Priority, Ticket
from support.tickets import TicketData, ticket_open

NEXT, EXIT = "next", "exit"
MAX_WAIT_MINUTES = 60 * 24 * 365


class StepError(ValueError):
    def __init__(self, message: str, field: str = "params"):
        super().__init__(message)
        self.field = field


def _target(value, name: str) -> str | int:
    if value in (NEXT, EXIT):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise StepError(f'{name} is "next", "exit" or the id of a later step.', field=name)


def params_clean(kind: str, params, *, has_email: bool = False) -> dict:
    """The step's parameters checked and normalised; ``StepError`` names the one at fault."""
    if not isinstance(params, dict):
        raise StepError("The step's parameters are an object.")
    if (where := control_character_at(params)) is not None:
        raise StepError("Control characters (such as NUL) are not allowed.", field=where)
    if kind == StepKind.WAIT:
        if "until_hour" in params:
            hour = params["until_hour"]
            if isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour <= 23:
                raise StepError("until_hour is an hour from 0 to 23.", field="until_hour")
            return {"until_hour": hour}
        minutes = params.get("minutes")
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_WAIT_MINUTES:
            raise StepError(f"minutes is a whole number from 1 to {MAX_WAIT_MINUTES}.", field="minutes")
        return {"minutes": minutes}
    if kind == StepKind.CONDITION:
        try:
            rule = parse(params.get("rule")).as_json()
        except RuleError as error:
            raise StepError(f"The rule: {error}", field="rule") from None
        return {"rule": rule, "no": _target(params.get("no", EXIT), "no")}
    if kind == StepKind.SEND_EMAIL:
        if not has_email:
            raise StepError("A send step needs its email.", field="email")
        return {}
    if kind == StepKind.REWARD_CODE:
        reward = params.get("reward_id")
        if isinstance(reward, bool) or not isinstance(reward, int) or reward < 1:
            raise StepError("reward_id is the id of a reward.", field="reward_id")
        return {"reward_id": reward}
    if kind == StepKind.BONUS_POINTS:
        points = params.get("points")
        if isinstance(points, bool) or not isinstance(points, int) or not 1 <= points <= 1_000_000:
            raise StepError("points is a whole number from 1 to 1,000,000.", field="points")
        reason = str(params.get("reason") or "A gift").strip()[:200]
        return {"points": points, "reason": reason}
    if kind == StepKind.ADD_TAG:
        tag = params.get("tag")
        if not isinstance(tag, str) or not tag.strip() or len(tag.strip()) > 64:
            raise StepError("tag is a name of at most 64 characters.", field="tag")
        return {"tag": tag.strip()}
    if kind == StepKind.OPEN_TICKET:
        subject, body = params.get("subject"), params.get("body")
        if not isinstance(subject, str) or not subject.strip() or len(subject) > 300:
            raise StepError("subject is text of at most 300 characters.", field="subject")
        if not isinstance(body, str) or not body.strip() or len(body) > 10_000:
            raise StepError("body is text of at most 10,000 characters.", field="body")
        return {"subject": subject.strip(), "body": body.strip()}
    if kind == StepKind.SPLIT:
        branches = params.get("branches")
        if not isinstance(branches, list) or not 2 <= len(branches) <= 10:
            raise StepError("branches is a list of 2 to 10 branches.", field="branches")
        clean, labels = [], set()
        for i, branch in enumerate(branches, 1):
            if not isinstance(branch, dict):
                raise StepError(f"branch {i} is an object.", field="branches")
            label, weight = str(branch.get("label") or "").strip()[:20], branch.get("weight", 1)
            if not label or label in labels:
                raise StepError(f"branch {i} needs a label of its own.", field="branches")
            if isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= 1000:
                raise StepError(f"branch {i}: weight is a whole number from 1 to 1000.", field="branches")
            labels.add(label)
            clean.append({"label": label, "weight": weight, "goto": _target(branch.get("goto", NEXT), "goto")})
        return {"branches": clean}
    if kind == StepKind.EXIT:
        return {}
    raise StepError("No such kind of step.", field="kind")


@dataclass
class Runs:
    """The runs due at one step, taken together (parallel arrays)."""

    ids: np.ndarray
    customers: np.ndarray
    orders: list
    flow_shop_id: int
    flow_name: str

    def take(self, mask: np.ndarray) -> Runs:
        return Runs(
            self.ids[mask], self.customers[mask], [o for o, m in zip(self.orders, mask, strict=True) if m],
            self.flow_shop_id, self.flow_name,
        )  # fmt: skip


@dataclass
class Decision:
    outcome: np.ndarray  # str per run
    target: list  # "next" | "exit" | step id, per run
    due: np.ndarray | None = None  # the next step's due time per run (object array); None: now
    deferred: dict[datetime, list[int]] = field(default_factory=dict)  # run ids put off, by when


def decide(step: FlowStep, runs: Runs, now: datetime) -> tuple[Runs, Decision]:
    """The runs that take the step now, and for each its outcome, next step and due time."""
    n = len(runs.ids)
    outcome = np.full(n, step.kind, dtype=object)
    target: list = [NEXT] * n
    p = step.params
    if step.kind == StepKind.WAIT:
        if "until_hour" in p:
            zones = _zones(runs.customers)
            due = per_zone(zones, lambda tz: next_hour(now, tz, p["until_hour"]))
        else:
            due = np.full(n, now + timedelta(minutes=p["minutes"]), dtype=object)
        return runs, Decision(np.full(n, "waited", dtype=object), target, due)
    if step.kind == StepKind.CONDITION:
        rule = parse(p["rule"])
        yes = set(matching(rule, now=now, customer_ids=runs.customers.tolist()).values_list("pk", flat=True))
        passed = np.fromiter((c in yes for c in runs.customers.tolist()), dtype=bool, count=n)
        outcome = np.where(passed, "yes", "no").astype(object)
        return runs, Decision(outcome, [NEXT if ok else p["no"] for ok in passed.tolist()])
    if step.kind == StepKind.SPLIT:
        branches = p["branches"]
        arms = assign(
            runs.customers, salt=f"flowstep:{step.pk}", weights=[b["weight"] for b in branches], holdout_share=0
        )
        return runs, Decision(
            np.array([branches[a]["label"] for a in arms.tolist()], dtype=object),
            [branches[a]["goto"] for a in arms.tolist()],
        )
    if step.kind == StepKind.EXIT:
        return runs, Decision(np.full(n, "exit", dtype=object), [EXIT] * n)
    if step.kind == StepKind.SEND_EMAIL:
        return _decide_send(step, runs, now)
    return runs, Decision(outcome, target)


def _zones(customer_ids: np.ndarray) -> list[str]:
    zones = dict(Customer.objects.filter(pk__in_ids=customer_ids.tolist()).values_list("pk", "time_zone"))
    return [zones.get(c, "") for c in customer_ids.tolist()]


def _decide_send(step: FlowStep, runs: Runs, now: datetime) -> tuple[Runs, Decision]:
    """Quiet hours put a send off until they end; the frequency cap, consent and suppression
    skip it (the run goes on: a flow email missed is not sent later)."""
    policy = SendingPolicy.current()
    deferred: dict[datetime, list[int]] = defaultdict(list)
    if policy.quiet_start != policy.quiet_end and len(runs.ids):
        until = per_zone(_zones(runs.customers), lambda tz: quiet_until(now, tz, policy.quiet_start, policy.quiet_end))
        quiet = np.fromiter((u is not None for u in until), dtype=bool, count=len(until))
        for run_id, when in zip(runs.ids[quiet].tolist(), until[quiet].tolist(), strict=True):
            deferred[when].append(run_id)
        runs = runs.take(~quiet)
    ok = set(
        reachable(
            Customer.objects.filter(pk__in_ids=runs.customers.tolist()),
            shop_id=runs.flow_shop_id,
            now=now,
            cap_hours=policy.cap_hours,
        ).values_list("pk", flat=True)
    )
    sendable = np.fromiter((c in ok for c in runs.customers.tolist()), dtype=bool, count=len(runs.ids))
    outcome = np.where(sendable, "emailed", "unreachable").astype(object)
    return runs, Decision(outcome, [NEXT] * len(runs.ids), deferred=dict(deferred))


def apply(step: FlowStep, runs: Runs, outcome: np.ndarray, now: datetime) -> dict[str, list[int]]:
    """The step's effect for these runs (taking the step for the first time). Returns run
    ids whose recorded outcome must change (e.g. a code that could not be given)."""
    p, kind = step.params, step.kind
    if kind == StepKind.SEND_EMAIL:
        mask = outcome == "emailed"
        to = runs.take(mask)
        contexts = {
            c: {"review_link": review_link(o).url}
            for c, o in zip(to.customers.tolist(), to.orders, strict=True)
            if o is not None
        }
        email_send(
            email=step.email,
            customer_ids=to.customers.tolist(),
            occasion={c: f"flowrun:{r}" for c, r in zip(to.customers.tolist(), to.ids.tolist(), strict=True)},
            now=now,
            contexts=contexts,
        )
    elif kind == StepKind.ADD_TAG:
        customers_add_tags(
            pairs=[(c, [p["tag"]]) for c in runs.customers.tolist()], shop=Shop.objects.get(pk=runs.flow_shop_id)
        )
    elif kind == StepKind.BONUS_POINTS:
        points_give(
            shop_id=runs.flow_shop_id,
            gifts=[
                (c, f"flow:step:{step.pk}:run:{r}")
                for c, r in zip(runs.customers.tolist(), runs.ids.tolist(), strict=True)
            ],
            points=p["points"],
            reason=p["reason"],
        )
    elif kind == StepKind.REWARD_CODE:
        try:
            reward_codes_give(
                shop_id=runs.flow_shop_id, reward_id=p["reward_id"], customer_ids=runs.customers.tolist(), now=now
            )
        except DomainError:
            return {"no reward on offer": runs.ids.tolist()}
    elif kind == StepKind.OPEN_TICKET:
        _tickets_open(step, runs, now)
    return {}


def _tickets_open(step: FlowStep, runs: Runs, now: datetime) -> None:
    """One ticket per run for a person to follow up (keyed by step and run, so never two).
    A loop: each ticket is one person's work, and the triggers that open them (a low CSAT,
    a detractor) come a few at a time."""
    shop = Shop.objects.get(pk=runs.flow_shop_id)
    customers = Customer.objects.in_bulk(runs.customers.tolist())
    for run_id, customer_id in zip(runs.ids.tolist(), runs.customers.tolist(), strict=True):
        ticket_open(
            customer=customers[customer_id],
            shop=shop,
            data=TicketData(
                subject=step.params["subject"],
                body=f"{step.params['body']}\n\n(Opened by the flow “{runs.flow_name}”.)",
                channel=Ticket.Channel.API,
                priority=Priority.HIGH,
                external_id=f"flow:{step.pk}:{run_id}",
            ),
            now=now,
        )


def step_targets_problems(steps: list[FlowStep]) -> list[str]:
    """Jumps must go forward, to a step of the same flow: a pass always ends."""
    position = {s.pk: i for i, s in enumerate(steps)}
    problems = []
    for i, s in enumerate(steps):
        targets = [s.params.get("no")] if s.kind == StepKind.CONDITION else []
        targets += [b.get("goto") for b in s.params.get("branches", [])] if s.kind == StepKind.SPLIT else []
        for t in targets:
            if isinstance(t, int) and position.get(t, -1) <= i:
                problems.append(f"Step {i + 1} jumps to step id {t}, which is not a later step of this flow.")
    return problems


__all__ = ["EXIT", "NEXT", "Decision", "Runs", "StepError", "apply", "decide", "params_clean"]
