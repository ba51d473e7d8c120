"""A campaign and a flow that have each sent a customer an email: for the 360 page's tests
and its browser check."""

from datetime import timedelta

from campaigns.flows.engine import flows_pass
from campaigns.models import Campaign, Email, SendingPolicy, StepKind, Variant
from campaigns.tests.flow_helpers import SEND, WAIT, a_flow, an_email, switch_on
from customers.models import Event


def no_cap_nor_quiet_hours():
    """The policy SendingPolicy.current() reads (the seeded row, if any, comes first): no
    cap and no quiet hours, so a flow's email goes at any hour and after a campaign's."""
    SendingPolicy.objects.all().delete()
    SendingPolicy.objects.create(cap_hours=0, quiet_start=0, quiet_end=0)


def a_campaign(shop, name="Spring sale", holdout_percent=0) -> Campaign:
    email = Email.objects.create(shop=shop, name=f"{name}, first mail", holdout_percent=holdout_percent)
    Variant.objects.create(email=email, label="A", subject="Spring is here", body="<p>Hi</p>")
    Variant.objects.create(email=email, label="B", subject="Ten percent off", body="<p>Hi</p>")
    return Campaign.objects.create(shop=shop, name=name, email=email)


def a_flow_with_an_email(shop, now, customers, name="Welcome series"):
    """A flow that tags, sends, waits a day and tags: after the pass each customer got the
    email and waits at step 4 for a day."""
    flow = a_flow(
        shop,
        "event",
        {"event_type": "signed_up"},
        [
            (StepKind.ADD_TAG, {"tag": "welcomed"}),
            (SEND, {}, an_email(shop, subject="Welcome")),
            (WAIT, {"minutes": 1440}),
            (StepKind.ADD_TAG, {"tag": "a day later"}),
        ],
    )
    flow.name = name
    flow.save(update_fields=["name"])
    switch_on(flow, now - timedelta(minutes=1))
    for c in customers:
        Event.objects.create(shop=shop, customer=c, type="signed_up", occurred_at=now)
    for _ in range(3):  # enroll, then each step that is due
        flows_pass(now=now)
    return flow
