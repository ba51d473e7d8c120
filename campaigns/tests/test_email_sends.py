"""Sending one email to customers: the draw between variants and the holdout, the message
each gets over real SMTP (personalised, with the base layout), and once per occasion."""

import numpy as np
import pytest

from campaigns.emails import email_send
from campaigns.experiments.assignment import HOLDOUT, assign
from campaigns.models import Email, Send, Variant
from customers.tests.factories import CustomerFactory
from messaging.authored import authored_problems
from messaging.models import Message
from messaging.sending import messages_send
from messaging.tests.fixtures import branded_shop, smtp  # noqa: F401

pytestmark = pytest.mark.django_db


def an_email(shop, *, holdout=0, variants=(("A", 1, "Hello {{ customer.first_name }}"),)) -> Email:
    email = Email.objects.create(shop=shop, name="Spring sale", holdout_percent=holdout)
    for label, weight, subject in variants:
        Variant.objects.create(
            email=email,
            label=label,
            weight=weight,
            subject=subject,
            preheader="Ten per cent off until Sunday",
            body="<p>Dear {{ customer.first_name }},</p>{% if points %}<p>You have {{ points }} points.</p>{% endif %}"
            "<p>{{ customer.last_name }}</p>",
        )
    return email


def test_each_customer_gets_their_variant_personalised_in_the_shops_layout(smtp):  # noqa: F811
    shop = branded_shop()
    ann = CustomerFactory(email="ann@example.com", first_name="Ann", last_name="<b>Lee</b>")
    email = an_email(shop)

    result = email_send(email=email, customer_ids=[ann.pk])
    messages_send()

    assert (result.queued, result.held_out, result.already) == (1, 0, 0)
    [wire] = smtp.messages()
    assert wire["Subject"] == "Hello Ann"
    assert wire["From"] == "Acme Coffee <hello@acme.example>"
    assert wire["List-Unsubscribe"]  # sent as marketing
    html = wire.get_body(("html",)).get_content()
    assert "Dear Ann," in html and "Ten per cent off until Sunday" in html
    assert "&lt;b&gt;Lee&lt;/b&gt;" in html  # a value is escaped in the body
    assert "1 Bean Street, Leeds" in html  # the base layout's footer
    send = Send.objects.get()
    assert send.variant.label == "A" and send.message.to_email == "ann@example.com"


def test_a_second_pass_sends_nothing_twice_and_a_new_occasion_sends_again(smtp):  # noqa: F811
    shop = branded_shop()
    customers = [CustomerFactory(email=f"c{i}@example.com") for i in range(5)]
    ids = [c.pk for c in customers]
    email = an_email(shop)

    first = email_send(email=email, customer_ids=ids)
    again = email_send(email=email, customer_ids=ids)
    other_run = email_send(email=email, customer_ids=ids[:2], occasion="run:7")

    assert (first.queued, again.queued, again.already) == (5, 0, 5)
    assert other_run.queued == 2
    assert Message.objects.count() == 7 and Send.objects.count() == 7
    messages_send()
    assert len(smtp.messages()) == 7


def test_the_holdout_gets_nothing_and_is_recorded(settings):
    shop = branded_shop()
    customers = [CustomerFactory(email=f"h{i}@example.com") for i in range(400)]
    email = an_email(shop, holdout=25, variants=(("A", 1, "a"), ("B", 3, "b")))

    result = email_send(email=email, customer_ids=[c.pk for c in customers])

    held = Send.objects.filter(email=email, variant__isnull=True)
    assert result.held_out == held.count() and result.queued == 400 - held.count()
    assert 60 <= held.count() <= 140  # 25 % of 400, well within chance
    assert not held.filter(message__isnull=False).exists()
    a = Send.objects.filter(variant__label="A").count()
    b = Send.objects.filter(variant__label="B").count()
    assert a < b  # weights 1 : 3
    assert Message.objects.filter(context__authored__subject="b").count() == b


def test_the_draw_is_stable_and_follows_the_weights():
    ids = np.arange(1, 100_001)
    arms = assign(ids, "email:1", [1, 1], 0.1)
    assert (arms == assign(ids, "email:1", [1, 1], 0.1)).all()
    assert abs((arms == HOLDOUT).mean() - 0.1) < 0.005
    assert abs((arms == 0).mean() - 0.45) < 0.005
    assert (arms != assign(ids, "email:2", [1, 1], 0.1)).mean() > 0.4  # another email, another draw


def test_an_authored_source_may_not_load_include_or_dump_the_context():
    assert authored_problems("Hi {{ customer.first_name|default:'there' }}{% if tier %}!{% endif %}") == []
    assert authored_problems("{% load static %}") == ["The tag {% load %} is not allowed here."]
    assert authored_problems('{% include "admin/base.html" %}') == ["The tag {% include %} is not allowed here."]
    assert authored_problems("{% debug %}") == ["The tag {% debug %} is not allowed here."]
    assert authored_problems("{% if %}")  # a syntax error is named


def test_the_stage_and_the_latest_order_personalise_a_message(smtp):  # noqa: F811
    from datetime import UTC, datetime
    from decimal import Decimal

    from customers.models import CustomerMetrics
    from customers.tests.factories import OrderFactory

    shop = branded_shop()
    ann = CustomerFactory(email="ann@example.com", first_name="Ann")
    OrderFactory(shop=shop, customer=ann, external_id="1001", placed_at=datetime(2026, 1, 2, tzinfo=UTC))
    OrderFactory(
        shop=shop, customer=ann, external_id="1002", placed_at=datetime(2026, 3, 4, tzinfo=UTC), total=Decimal("59.90")
    )
    OrderFactory(
        shop=shop, customer=ann, external_id="1003", placed_at=datetime(2026, 4, 1, tzinfo=UTC), status="cancelled"
    )
    CustomerMetrics.objects.create(
        customer=ann,
        computed_at=datetime(2026, 4, 2, tzinfo=UTC),
        stage="at_risk",
        stage_since=datetime(2026, 4, 2, tzinfo=UTC),
    )
    email = Email.objects.create(shop=shop, name="Win-back")
    Variant.objects.create(
        email=email,
        label="A",
        subject="{{ customer.first_name }}, we miss you",
        body="<p>Stage: {{ stage }}. Your last order, {{ last_order.number }} of {{ last_order.placed_on }}, "
        "came to {{ last_order.total }} {{ last_order.currency }}.</p>",
    )

    email_send(email=email, customer_ids=[ann.pk])
    messages_send()

    [wire] = smtp.messages()
    text = wire.get_body(("plain",)).get_content()
    assert "Stage: At risk." in text
    assert "Your last order, 1002 of 4 March 2026, came to 59.90 USD." in text
