"""What the flow tests share: a shop, customers it may mail, a flow built step by step."""

from datetime import datetime, timedelta

from campaigns.flows.engine import flow_activate, flows_pass
from campaigns.models import Email, Flow, FlowStep, SendingPolicy, StepKind, Variant
from customers.tests.factories import CustomerFactory, IdentityFactory
from messaging.tests.fixtures import branded_shop


def later(now: datetime, **delta) -> datetime:
    return now + timedelta(**delta)


def shop_with_sender(cap_hours: int = 0, quiet: tuple[int, int] = (0, 0)):
    """A shop sending as Acme Coffee; no frequency cap and no quiet hours unless asked."""
    # The one policy row (the migration made it): what every pass reads.
    SendingPolicy.objects.update_or_create(
        pk=SendingPolicy.current().pk, defaults={"cap_hours": cap_hours, "quiet_start": quiet[0], "quiet_end": quiet[1]}
    )
    return branded_shop()


def mailable(shop, n: int = 1, **fields):
    customers = []
    for _ in range(n):
        customer = CustomerFactory(time_zone="UTC", **fields)
        IdentityFactory(shop=shop, customer=customer, marketing_consent=True)
        customers.append(customer)
    return customers


def an_email(shop, subject="Hello {{ customer.first_name }}", body="<p>Come back, {{ customer.first_name }}.</p>"):
    email = Email.objects.create(shop=shop, name=subject)
    Variant.objects.create(email=email, label="A", subject=subject, body=body)
    return email


def a_flow(shop, trigger, params=None, steps=(), **fields) -> Flow:
    flow = Flow.objects.create(shop=shop, name="A flow", trigger=trigger, trigger_params=params or {}, **fields)
    for position, (kind, step_params, *email) in enumerate(steps):
        FlowStep.objects.create(
            flow=flow, position=position, kind=kind, params=step_params, email=email[0] if email else None
        )
    return flow


def switch_on(flow: Flow, now: datetime) -> Flow:
    return flow_activate(flow=flow, active=True, now=now)


def run_pass(now: datetime):
    return flows_pass(now=now)


SEND = StepKind.SEND_EMAIL
WAIT = StepKind.WAIT
