"""Work deferred until the response is sent: the aggregates task after an order."""

import logging

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from crm.after_response import AfterResponseMiddleware, after_response
from customers.models import Customer, Order, PendingUpdate


@pytest.mark.django_db  # closing a response closes stale database connections
def test_inside_a_request_the_work_waits_for_the_response_to_be_closed():
    ran = []

    def view(request):
        after_response(lambda: ran.append("deferred"))
        ran.append("view")
        return HttpResponse("ok")

    response = AfterResponseMiddleware(view)(RequestFactory().get("/"))
    assert ran == ["view"]

    response.close()  # what the WSGI server does once the body is written
    assert ran == ["view", "deferred"]


def test_outside_a_request_the_work_runs_at_once():
    ran = []
    after_response(lambda: ran.append("now"))
    assert ran == ["now"]


@pytest.mark.django_db  # closing a response closes stale database connections
def test_failing_work_is_logged_and_the_response_stands(caplog):
    def view(request):
        after_response(lambda: 1 / 0)
        return HttpResponse("ok")

    response = AfterResponseMiddleware(view)(RequestFactory().get("/"))
    with caplog.at_level(logging.ERROR, logger="crm.after_response"):
        response.close()

    assert response.status_code == 200
    assert "Deferred work failed" in caplog.text and "ZeroDivisionError" in caplog.text


# transaction=True: the order really commits inside the request, so its on-commit work is
# handed to after_response exactly as in production.
@pytest.mark.django_db(transaction=True)
def test_an_order_updates_the_customer_aggregates_once_the_response_is_sent(api, order_payload):
    response = api.post("/api/v1/orders", order_payload, format="json")

    assert response.status_code == 201
    customer = Customer.objects.get()
    assert customer.orders_count == 1 and str(customer.net_revenue) == "59.90"


@pytest.mark.django_db(transaction=True)
def test_follow_up_that_fails_after_the_response_stays_in_the_outbox(api, order_payload, monkeypatch, caplog):
    """The order and its mark in the outbox commit together; when the follow-up cannot run
    after the response, the mark stays, and the next drain brings the figures up to date."""
    from crm.follow_up import pending_updates_drain

    def broken_drain(**kwargs):
        raise ConnectionError("Redis is unreachable")

    monkeypatch.setattr("crm.follow_up.pending_updates_drain", broken_drain)
    with caplog.at_level(logging.WARNING, logger="crm.follow_up"):
        response = api.post("/api/v1/orders", order_payload, format="json")

    assert response.status_code == 201
    customer = Customer.objects.get()
    assert Order.objects.get().external_id == "1001" and customer.orders_count == 0  # not yet
    assert list(PendingUpdate.objects.values_list("customer_id", flat=True)) == [customer.pk]
    assert "Redis is unreachable" in caplog.text

    monkeypatch.undo()
    assert pending_updates_drain() == 1
    customer.refresh_from_db()
    assert customer.orders_count == 1 and str(customer.net_revenue) == "59.90"
    assert not PendingUpdate.objects.exists()
