"""Attribution: each model's credits on a worked example, the windows' edges, the cap at the
net revenue after a refund, and the incremental pass equal to a full one."""

from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.attribution import credit as cr
from campaigns.attribution.passes import attribution_run
from campaigns.models import AttributionCredit, AttributionSettings, Touchpoint
from customers.tests.factories import CustomerFactory, OrderFactory, RefundFactory, ShopFactory
from messaging.models import Message, MessageEvent, MessageKind, MessageStatus

H = 3600


def _credits(model: str, order) -> dict[str, Decimal]:
    """The sources the model credits for the order, with their amounts (a touch the model
    gives nothing is left out)."""
    rows = AttributionCredit.objects.filter(order=order).values_list("source_key", model)
    return {k: Decimal(a).quantize(Decimal("0.01")) for k, a in rows if a}


def _message(customer, shop, key: str) -> Message:
    now = timezone.now()
    return Message.objects.create(
        key=key,
        customer=customer,
        shop=shop,
        to_email=customer.email,
        kind=MessageKind.MARKETING,
        template="t",
        message_id=f"<{key}@test>",
        next_attempt_at=now,
        created_at=now,
        status=MessageStatus.SENT,
    )


def _settings(**values) -> None:
    """The one settings row (a migration makes it) with these values."""
    AttributionSettings.objects.update_or_create(pk=AttributionSettings.current().pk, defaults=values)


def _event(message, status, at):
    return MessageEvent.objects.create(message=message, status=status, at=at)


@pytest.fixture
def worked(db):
    """One order of 100.00 at T; a first-seen source 30 days before (outside the window), a
    click on email 1 four days before, an open of email 4 two days before (outside the open
    window), a click on email 3 one day before and an open of email 2 twenty hours before."""
    _settings(half_life_hours=24)
    t = timezone.now().replace(microsecond=0) - timedelta(days=1)
    shop = ShopFactory()
    c = CustomerFactory(first_seen_at=t - timedelta(days=30), source="google")
    for n, status, before in (
        (1, MessageStatus.CLICKED, timedelta(days=4)),
        (4, MessageStatus.OPENED, timedelta(days=2)),
        (3, MessageStatus.CLICKED, timedelta(days=1)),
        (2, MessageStatus.OPENED, timedelta(hours=20)),
    ):
        _event(_message(c, shop, f"email:{n}:{c.pk}"), status, t - before)
    order = OrderFactory(customer=c, shop=shop, placed_at=t, total=Decimal("100.00"))
    return order


def test_each_model_on_the_worked_example(worked):
    attribution_run()
    assert Touchpoint.objects.count() == 5
    assert _credits("last_click", worked) == {"email:3": Decimal("100.00")}  # a click beats a later open
    assert _credits("first_click", worked) == {"email:1": Decimal("100.00")}
    assert _credits("linear", worked) == {
        "email:1": Decimal("33.34"),
        "email:3": Decimal("33.33"),
        "email:2": Decimal("33.33"),
    }
    assert _credits("position", worked) == {
        "email:1": Decimal("40.00"),
        "email:3": Decimal("20.00"),
        "email:2": Decimal("40.00"),
    }
    # Weights 2^-4, 2^-1, 2^-(20/24) with a one-day half-life: 5.5618, 44.4946, 49.9435.
    assert _credits("time_decay", worked) == {
        "email:1": Decimal("5.56"),
        "email:3": Decimal("44.50"),
        "email:2": Decimal("49.94"),
    }


def test_a_refund_lowers_the_credit_to_the_net_revenue(worked):
    attribution_run()
    RefundFactory(order=worked, amount=Decimal("30.01"))
    result = attribution_run()
    assert not result.full and result.orders == 1
    for model in cr.MODELS:
        assert sum(_credits(model, worked).values()) == Decimal("69.99")
    # 40/20/40 of 69.99 is 27.996, 13.998, 27.996: the two cents left go to the largest fractions.
    assert _credits("position", worked) == {
        "email:1": Decimal("28.00"),
        "email:3": Decimal("14.00"),
        "email:2": Decimal("27.99"),
    }


def test_a_fully_refunded_or_cancelled_order_earns_nothing(worked):
    RefundFactory(order=worked, amount=Decimal("100.00"))
    attribution_run()
    assert AttributionCredit.objects.filter(order=worked).count() == 3  # the touches in its windows
    for model in cr.MODELS:
        assert _credits(model, worked) == {}
    worked.status = "cancelled"
    worked.save()
    attribution_run()
    assert not AttributionCredit.objects.filter(order=worked).exists()


@pytest.mark.django_db
def test_window_edges():
    _settings()  # 5 days after a click, 1 day after an open
    t = timezone.now().replace(microsecond=0)
    shop = ShopFactory()
    cases = {
        "click-5d": (MessageStatus.CLICKED, timedelta(days=5), True),
        "click-5d1s": (MessageStatus.CLICKED, timedelta(days=5, seconds=1), False),
        "open-1d": (MessageStatus.OPENED, timedelta(days=1), True),
        "open-1d1s": (MessageStatus.OPENED, timedelta(days=1, seconds=1), False),
        "click-after": (MessageStatus.CLICKED, -timedelta(seconds=1), False),
    }
    orders = {}
    for name, (status, before, _) in cases.items():
        c = CustomerFactory()
        _event(_message(c, shop, f"{name}:x:{c.pk}"), status, t - before)
        orders[name] = OrderFactory(customer=c, shop=shop, placed_at=t, total=Decimal("10.00"))
    attribution_run()
    for name, (_, _, counted) in cases.items():
        assert bool(_credits("last_click", orders[name])) is counted, name


@pytest.mark.django_db
def test_the_incremental_pass_leaves_what_a_full_pass_leaves():
    _settings(half_life_hours=48)
    rng = np.random.default_rng(7)
    shop = ShopFactory()
    t0 = timezone.now().replace(microsecond=0) - timedelta(days=40)
    customers = [CustomerFactory(first_seen_at=t0, utm_source="facebook") for _ in range(6)]

    def some(n_orders, n_events, start):
        for _ in range(n_events):
            c = customers[rng.integers(len(customers))]
            m = _message(c, shop, f"email:{rng.integers(1, 4)}:{rng.integers(10**9)}")
            status = MessageStatus.CLICKED if rng.random() < 0.5 else MessageStatus.OPENED
            _event(m, status, start + timedelta(hours=float(rng.uniform(0, 120))))
        for _ in range(n_orders):
            c = customers[rng.integers(len(customers))]
            OrderFactory(
                customer=c,
                shop=shop,
                placed_at=start + timedelta(hours=float(rng.uniform(0, 120))),
                total=Decimal(int(rng.integers(100, 20000))) / 100,
                utm_source="crm" if rng.random() < 0.3 else "",
                utm_campaign="email:2",
            )

    some(15, 30, t0)
    attribution_run()
    some(10, 20, t0 + timedelta(days=3))  # overlaps the first lot's windows
    RefundFactory(order=OrderFactory._meta.model.objects.order_by("id").first(), amount=Decimal("0.50"))
    attribution_run()

    def snapshot():
        return sorted(AttributionCredit.objects.values_list("order_id", "touchpoint_id", *cr.MODELS).order_by("id"))

    incremental = snapshot()
    assert incremental
    touches = sorted(Touchpoint.objects.values_list("origin_type", "origin_id", "source_key", "at"))
    result = attribution_run(full=True)
    assert snapshot() == incremental
    # A full pass re-credits every order but collects no touch twice.
    assert result.full and result.touches_added == 0
    assert sorted(Touchpoint.objects.values_list("origin_type", "origin_id", "source_key", "at")) == touches


# --- the maths alone ---------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 10 * 24 * H), st.integers(0, 3)), min_size=0, max_size=30
    ),
    orders=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 12 * 24 * H), st.integers(0, 10**6)), min_size=1),
)
def test_credits_never_exceed_the_net_and_add_up_to_it(data, orders):
    tc = np.array([d[0] for d in data], dtype=np.int64)
    ta = np.array([d[1] for d in data], dtype=np.int64)
    tk = np.array([d[2] for d in data], dtype=np.int64)
    oc = np.array([o[0] for o in orders], dtype=np.int64)
    oa = np.array([o[1] for o in orders], dtype=np.int64)
    net = np.array([o[2] for o in orders], dtype=np.int64)
    windows = np.array([5 * 24 * H, 24 * H, 5 * 24 * H, 5 * 24 * H])
    p, _ = cr.pairs(oc, oa, tc, ta, tk, windows)
    # Every pair is the same customer, at or before the order, within its kind's window.
    assert (oc[p.order] == tc[p.touch]).all()
    age = oa[p.order] - ta[p.touch]
    assert ((age >= 0) & (age <= windows[tk[p.touch]])).all()
    # ...and every such pair is found.
    expected = sum(
        1 for i in range(len(oc)) for j in range(len(tc)) if oc[i] == tc[j] and 0 <= oa[i] - ta[j] <= windows[tk[j]]
    )
    assert len(p.order) == expected
    for model in cr.MODELS:
        share = cr.shares(p, model, tk, age.astype(float), 24.0 * H)
        cents = cr.cents(p, share, net)
        assert (cents >= 0).all()
        per_order = np.bincount(p.order, weights=cents, minlength=len(oc))
        has = np.bincount(p.order, minlength=len(oc)) > 0
        assert (per_order[has] == net[has]).all()


@pytest.mark.django_db
def test_a_customer_first_seen_with_no_source_gives_no_first_seen_touch():
    shop = ShopFactory(slug="web-shop")
    CustomerFactory(first_seen_at=timezone.now(), source="web-shop")  # what a shop's customer with no source gets
    CustomerFactory(first_seen_at=timezone.now(), source="newsletter")
    CustomerFactory(first_seen_at=timezone.now(), source="web-shop", utm_source="google")
    attribution_run()
    assert sorted(Touchpoint.objects.values_list("source_key", flat=True)) == [
        "first_seen:google",
        "first_seen:newsletter",
    ]
    assert shop.slug == "web-shop"
