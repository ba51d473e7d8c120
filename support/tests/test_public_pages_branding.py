"""The customer-facing pages carry the shop's name, not the CRM's (issue 19)."""

import re

import pytest

from customers.tests.factories import CustomerFactory, OrderFactory, OrderLineFactory, ShopFactory
from support import links
from support.tickets import TicketData, ticket_open, ticket_set_status

pytestmark = pytest.mark.django_db


def shop_name_shown(html: str) -> str:
    return re.search(r'id="shop-name">([^<]*)<', html).group(1)


def test_the_csat_page_is_the_shops(client):
    shop = ShopFactory(name="Kettle & Co")
    ticket, _ = ticket_open(customer=CustomerFactory(), data=TicketData(subject="Dented", body="x"), shop=shop)
    ticket = ticket_set_status(ticket=ticket, status="solved")
    body = ticket.messages.get(author_kind="system").body
    path = re.search(r'href="([^"]+)"', body).group(1).removeprefix("http://127.0.0.1:8000")

    html = client.get(path).content.decode()

    assert shop_name_shown(html) == "Kettle &amp; Co"
    assert "<title>How did we do? · Kettle &amp; Co</title>" in html
    assert "Django" not in html and "CRM" not in html


def test_the_review_page_is_the_shops(client):
    shop = ShopFactory(name="Tea Lovers")
    order = OrderFactory(shop=shop, customer=CustomerFactory(), status="fulfilled")
    OrderLineFactory(order=order, sku="TEA", name="Tea")
    path = links.review_link(order.pk).url.removeprefix("http://127.0.0.1:8000")

    html = client.get(path).content.decode()

    assert shop_name_shown(html) == "Tea Lovers"
    assert "Tea Lovers</title>" in html
    assert "Reviews are published on Tea Lovers's product pages" in html  # not "only the team reads it"


def test_a_refused_review_says_why_without_a_field_name(client):
    shop = ShopFactory(name="Tea Lovers")
    order = OrderFactory(shop=shop, customer=CustomerFactory(), status="fulfilled")
    OrderLineFactory(order=order, sku="TEA", name="Tea")
    path = links.review_link(order.pk).url.removeprefix("http://127.0.0.1:8000")

    response = client.post(path, {"sku": "NOT-ON-ORDER", "rating": 5, "title": "Nice", "body": "Good"})

    html = response.content.decode()
    assert response.status_code == 400
    assert re.search(r'<ul class="errorlist"><li>[A-Z][^<:]*\.</li>', html), html  # the reason, no "sku:"
    assert "sku:" not in html


def test_a_csat_page_for_a_ticket_without_a_shop_has_a_heading(client):
    ticket, _ = ticket_open(customer=CustomerFactory(), data=TicketData(subject="Dented", body="x"))
    ticket = ticket_set_status(ticket=ticket, status="solved")
    body = ticket.messages.get(author_kind="system").body
    path = re.search(r'href="([^"]+)"', body).group(1).removeprefix("http://127.0.0.1:8000")

    html = client.get(path).content.decode()

    assert '<span class="shop-name">Customer feedback</span>' in html
