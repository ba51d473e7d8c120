"""Outbound webhooks, against a real HTTP receiver on loopback: what is sent, to whom,
signed how, and what happens when the receiver fails."""

import threading
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group, User
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from campaigns.models import Segment, SegmentMembership
from core.secrets import secret_decrypt
from crm.roles import MANAGER, MARKETER, SUPPORT_AGENT
from crm.tasks import send_webhooks
from crm.tests import webhook_receiver
from crm.webhooks import delivery as delivery_module
from crm.webhooks import events
from crm.webhooks.delivery import backoff, deliveries_claim, deliveries_send
from crm.webhooks.events import events_collect
from crm.webhooks.models import EventType, OutboundDelivery, WebhookEndpoint, WebhookSource
from crm.webhooks.services import WebhookError, endpoint_create, webhooks_purge
from customers.models import ConsentSource, CustomerIdentity, Product, StageChange
from customers.services.consent import consent_set
from customers.tests.factories import CustomerFactory, IdentityFactory, ShopFactory
from loyalty.groups import shop_group_join
from loyalty.models import TierChange
from loyalty.models.programme import Tier
from loyalty.services import points_adjust
from support.models import Review
from support.reviews import ReviewData, review_submit, reviews_set_status
from support.tickets import TicketData, ticket_open, ticket_set_status
from tests.live_worker import wait_for

pytestmark = pytest.mark.django_db
CONSENT = EventType.CONSENT_CHANGED


@pytest.fixture
def receiver():
    receiver, server = webhook_receiver.start()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def shop():
    return ShopFactory(slug="north")


def _subscribe(shop, receiver, events=(CONSENT,)):
    return endpoint_create(shop=shop, url=receiver.url, events=list(events))


def _verified(request, secret):
    return Webhook(secret).verify(request.body, request.headers)


def test_a_consent_change_is_delivered_once_signed_to_the_standard(shop, receiver):
    identity = IdentityFactory(shop=shop, external_id="c-77")
    endpoint, secret = _subscribe(shop, receiver)

    consent_set(customer_id=identity.customer_id, shop_id=shop.pk, given=True, source=ConsentSource.FOOTER_FORM)
    assert send_webhooks() == 1
    assert send_webhooks() == 0  # delivered: never sent again

    [request] = receiver.requests
    payload = _verified(request, secret)
    assert payload["type"] == "customer.consent_changed"
    assert payload["data"] == {
        "shop": "north",
        # The id the shop's key knows the customer by (the API's), and the shop's own reference.
        "customer": {"id": identity.pk, "external_ids": ["c-77"]},
        "marketing_consent": True,
        "source": "footer_form",
    }
    assert request.headers["webhook-id"].startswith("msg_")
    delivery = OutboundDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert delivery.message_id == request.headers["webhook-id"]
    # The secret is kept encrypted, and it is the one shown at creation.
    assert secret.startswith("whsec_") and secret not in endpoint.secret_encrypted
    assert secret_decrypt(WebhookEndpoint.objects.get().secret_encrypted) == secret


def test_a_retry_after_a_500_has_a_fresh_signature_and_the_same_id(shop, receiver):
    identity = IdentityFactory(shop=shop)
    _, secret = _subscribe(shop, receiver)
    receiver.statuses = [500]
    consent_set(customer_id=identity.customer_id, shop_id=shop.pk, given=True, source=ConsentSource.API)
    now = timezone.now()
    events_collect(now=now)

    assert deliveries_send(now=now) == 1
    delivery = OutboundDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.next_attempt_at == now + timedelta(seconds=30)
    assert deliveries_send(now=now + timedelta(seconds=29)) == 0  # not due yet
    assert deliveries_send(now=now + timedelta(seconds=30)) == 1

    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    assert int(second.headers["webhook-timestamp"]) == int(first.headers["webhook-timestamp"]) + 30
    assert first.headers["webhook-signature"] != second.headers["webhook-signature"]
    assert _verified(second, secret) == _verified(first, secret)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert WebhookEndpoint.objects.get().consecutive_failures == 0


def test_the_backoff_doubles_from_30_seconds_to_4_hours_and_gives_up_after_a_day(shop, receiver):
    assert [backoff(n) for n in range(1, 12)] == [timedelta(seconds=30 * 2**k) for k in range(9)] + [
        timedelta(hours=4)
    ] * 2

    identity = IdentityFactory(shop=shop)
    _subscribe(shop, receiver)
    consent_set(customer_id=identity.customer_id, shop_id=shop.pk, given=True, source=ConsentSource.API)
    start = timezone.now()
    events_collect(now=start)
    receiver.statuses = [503] * 20
    at, waits = start, []
    while (delivery := OutboundDelivery.objects.get()).status == "pending":
        at = delivery.next_attempt_at
        deliveries_send(now=at)
        delivery.refresh_from_db()
        if delivery.next_attempt_at:
            waits.append(delivery.next_attempt_at - at)
    assert waits[:10] == [backoff(n) for n in range(1, 11)]
    assert delivery.status == "failed"
    assert start + timedelta(hours=24) <= at < start + timedelta(hours=28)  # the last try, past a day
    assert len(receiver.requests) == delivery.attempts == len(waits) + 1


def test_an_endpoint_failing_again_and_again_is_switched_off_and_the_admin_says_so(
    shop, receiver, settings, admin_client
):
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 3
    identity = IdentityFactory(shop=shop)
    _subscribe(shop, receiver)
    receiver.statuses = [500] * 10
    now = timezone.now()
    for given in (True, False, True, False):
        consent_set(customer_id=identity.customer_id, shop_id=shop.pk, given=given, source=ConsentSource.API)
    events_collect(now=now)

    deliveries_send(now=now)

    # The third failure switches it off; the fourth delivery is not tried.
    assert len(receiver.requests) == 3
    endpoint = WebhookEndpoint.objects.get()
    assert not endpoint.active
    assert endpoint.disabled_reason == "Switched off: 3 attempts in a row failed."
    assert deliveries_send(now=now + timedelta(hours=1)) == 0
    page = admin_client.get(reverse("admin:crm_webhookendpoint_changelist"))
    assert "1 webhook endpoint(s) were switched off after repeated failures" in page.content.decode()
    assert "3 attempts in a row failed" in page.content.decode()


def test_an_endpoint_whose_every_attempt_failed_for_a_day_is_switched_off(shop, receiver):
    identity = IdentityFactory(shop=shop)
    _subscribe(shop, receiver)
    receiver.statuses = [500] * 10
    now = timezone.now()
    consent_set(customer_id=identity.customer_id, shop_id=shop.pk, given=True, source=ConsentSource.API)
    events_collect(now=now)
    deliveries_send(now=now)
    assert WebhookEndpoint.objects.get().active

    consent_set(customer_id=identity.customer_id, shop_id=shop.pk, given=False, source=ConsentSource.API)
    events_collect(now=now)
    OutboundDelivery.objects.update(next_attempt_at=now)
    deliveries_send(now=now + timedelta(hours=24))

    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.active, endpoint.disabled_reason) == (False, "Switched off: every attempt failed for a day.")


def test_a_shop_hears_only_of_its_own_customers_and_only_its_own_slice(shop, receiver):
    other = ShopFactory(slug="south")
    _, secret = _subscribe(shop, receiver, events=[CONSENT, EventType.STAGE_CHANGED, EventType.TICKET_CREATED])
    theirs = IdentityFactory(shop=other)  # a customer only the other shop knows
    shared = CustomerFactory()
    IdentityFactory(shop=other, customer=shared, external_id="s-9")
    mine = IdentityFactory(shop=shop, customer=shared, external_id="n-1")

    consent_set(customer_id=theirs.customer_id, shop_id=other.pk, given=True, source=ConsentSource.API)
    consent_set(customer_id=shared.pk, shop_id=other.pk, given=True, source=ConsentSource.API)  # the other's
    ticket_open(customer=shared, data=TicketData(subject="At the other shop", body="Hi"), shop=other)
    # Stages are worked out from every shop's orders: a shop outside the group may not see them.
    StageChange.objects.create(customer=shared, to_stage="new", changed_at=timezone.now(), reason="first order")
    consent_set(customer_id=shared.pk, shop_id=shop.pk, given=True, source=ConsentSource.API)  # its own
    send_webhooks()

    [request] = receiver.requests
    assert _verified(request, secret)["data"] == {
        "shop": "north",
        "customer": {"id": mine.pk, "external_ids": ["n-1"]},
        "marketing_consent": True,
        "source": "api",
    }


def test_nothing_is_sent_for_a_change_that_was_rolled_back(shop, receiver):
    identity = IdentityFactory(shop=shop)
    _subscribe(shop, receiver)

    with pytest.raises(RuntimeError), transaction.atomic():
        consent_set(customer_id=identity.customer_id, shop_id=shop.pk, given=True, source=ConsentSource.API)
        raise RuntimeError("the request failed after the change")
    send_webhooks()

    assert receiver.requests == []
    assert not OutboundDelivery.objects.exists()


def test_stage_tickets_and_reviews_reach_a_lone_shop(shop, receiver):
    events = [EventType.STAGE_CHANGED, EventType.TICKET_CREATED, EventType.TICKET_SOLVED, EventType.REVIEW_PUBLISHED]
    _, secret = _subscribe(shop, receiver, events=events)
    identity = IdentityFactory(shop=shop, external_id="c-1")
    customer = identity.customer
    StageChange.objects.create(customer=customer, from_stage="", to_stage="new", changed_at=timezone.now(), reason="")
    ticket, _ = ticket_open(customer=customer, data=TicketData(subject="Lost parcel", body="Where?"), shop=shop)
    ticket_set_status(ticket=ticket, status="solved")
    Product.objects.create(shop=shop, sku="MUG", name="Mug")
    review_submit(shop=shop, customer=customer, data=ReviewData(sku="MUG", rating=5, title="Lovely"))
    reviews_set_status(Review.objects.all(), Review.Status.PUBLISHED)
    send_webhooks()

    received = {p["type"]: p["data"] for p in (_verified(r, secret) for r in receiver.requests)}
    assert set(received) == set(events)
    assert received["customer.stage_changed"]["to_stage"] == "new"
    assert received["ticket.created"]["ticket"]["subject"] == "Lost parcel"
    assert received["ticket.solved"]["ticket"]["status"] == "solved"
    assert received["review.published"]["review"]["rating"] == 5
    assert all(d["customer"] == {"id": identity.pk, "external_ids": ["c-1"]} for d in received.values())


@pytest.mark.parametrize(
    "url, why",
    [
        ("http://hooks.example.com/x", "must start with https://"),
        ("https://127.0.0.1/x", "a loopback address"),
        ("https://localhost/x", "a loopback address"),
        ("https://[::1]/x", "a loopback address"),
        ("https://[::ffff:127.0.0.1]/x", "a loopback address"),
        ("https://10.1.2.3/x", "a private address"),
        ("https://192.168.0.10/x", "a private address"),
        ("https://169.254.169.254/latest/meta-data", "a link-local address"),
        ("https://0.0.0.0/x", "address"),
        ("https://100.64.0.1/x", "a reserved address"),
        ("https://240.0.0.1/x", "address"),
        ("https://user:pw@93.184.215.14/x", "user name or password"),
    ],
)
def test_staff_cannot_point_a_webhook_at_the_crms_own_network(shop, settings, url, why):
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    settings.WEBHOOK_REQUIRE_HTTPS = True
    with pytest.raises(WebhookError) as refused:
        endpoint_create(shop=shop, url=url, events=[CONSENT])
    assert refused.value.field == "url"
    assert why in refused.value.message
    assert not WebhookEndpoint.objects.exists()


def test_a_public_https_address_is_accepted(shop, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    settings.WEBHOOK_REQUIRE_HTTPS = True
    endpoint, _ = endpoint_create(shop=shop, url="https://93.184.215.14/hooks", events=[CONSENT])
    assert endpoint.pk


def test_the_address_is_checked_again_before_each_attempt(shop, receiver, settings):
    identity = IdentityFactory(shop=shop)
    _subscribe(shop, receiver)
    consent_set(customer_id=identity.customer_id, shop_id=shop.pk, given=True, source=ConsentSource.API)
    settings.WEBHOOK_ALLOW_LOOPBACK = False  # as if the name now resolved to a loopback address

    send_webhooks()

    assert receiver.requests == []
    delivery = OutboundDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, None)
    assert "a loopback address" in delivery.last_error


def test_an_unknown_or_missing_event_is_refused_naming_the_field(shop, receiver):
    with pytest.raises(WebhookError) as refused:
        endpoint_create(shop=shop, url=receiver.url, events=["order.paid"])
    assert (refused.value.field, refused.value.message) == ("events", "No such event: order.paid.")
    with pytest.raises(WebhookError) as refused:
        endpoint_create(shop=shop, url=receiver.url, events=[])
    assert refused.value.field == "events"


# ------------------------------------------------------------------------------ the admin


def _staff(role: str):
    user = User.objects.create_user(f"{role.lower().replace(' ', '-')}", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def test_a_manager_adds_an_endpoint_and_sees_its_secret_once(client, shop, receiver):
    client.force_login(_staff(MANAGER))
    response = client.post(
        reverse("admin:crm_webhookendpoint_add"),
        {
            "shop": shop.pk,
            "url": receiver.url,
            "description": "ERP",
            "events": [CONSENT, "ticket.created"],
            "active": "on",
        },
        follow=True,
    )
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == [CONSENT, "ticket.created"]
    secret = secret_decrypt(endpoint.secret_encrypted)
    assert secret in response.content.decode()
    assert secret not in client.get(reverse("admin:crm_webhookendpoint_change", args=[endpoint.pk])).content.decode()
    assert secret not in str(response.cookies) and secret not in str(client.cookies)  # not in a message cookie
    assert "secret" not in str(LogEntry.objects.get_for_object(endpoint).get().changes)  # audited, without it

    rotated = client.post(
        reverse("admin:crm_webhookendpoint_changelist"), {"action": "new_secret", "_selected_action": [endpoint.pk]}
    )
    new = secret_decrypt(WebhookEndpoint.objects.get().secret_encrypted)
    assert new != secret and new in rotated.content.decode()


def test_the_admin_form_refuses_a_private_address_naming_the_field(client, shop, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    client.force_login(_staff(MANAGER))
    response = client.post(
        reverse("admin:crm_webhookendpoint_add"), {"shop": shop.pk, "url": "http://127.0.0.1:9/x", "events": [CONSENT]}
    )
    assert response.status_code == 200
    assert "a loopback address" in str(response.context["adminform"].form.errors["url"])
    assert not WebhookEndpoint.objects.exists()


def test_a_manager_sends_a_delivery_again(client, shop, receiver):
    identity = IdentityFactory(shop=shop)
    _subscribe(shop, receiver)
    consent_set(customer_id=identity.customer_id, shop_id=shop.pk, given=True, source=ConsentSource.API)
    send_webhooks()
    delivery = OutboundDelivery.objects.get()
    client.force_login(_staff(MANAGER))

    client.post(
        reverse("admin:crm_outbounddelivery_changelist"),
        {"action": "resend", "_selected_action": [delivery.pk]},
    )
    send_webhooks()

    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)


def test_a_marketer_reads_webhooks_and_changes_nothing(client, shop, receiver):
    identity = IdentityFactory(shop=shop)
    endpoint, _ = _subscribe(shop, receiver)
    consent_set(customer_id=identity.customer_id, shop_id=shop.pk, given=True, source=ConsentSource.API)
    send_webhooks()
    delivery = OutboundDelivery.objects.get()
    client.force_login(_staff(MARKETER))

    assert client.get(reverse("admin:crm_webhookendpoint_changelist")).status_code == 200
    log = client.get(reverse("admin:crm_outbounddelivery_changelist"))
    assert log.status_code == 200
    assert "Send again" not in log.content.decode()
    assert client.get(reverse("admin:crm_webhookendpoint_add")).status_code == 403
    changed = client.post(
        reverse("admin:crm_webhookendpoint_change", args=[endpoint.pk]),
        {"shop": shop.pk, "url": "https://93.184.215.14/x", "events": [CONSENT], "active": "on"},
    )
    assert changed.status_code == 403
    # The actions are refused too, posted by hand.
    resend = {"action": "resend", "_selected_action": [delivery.pk]}
    client.post(reverse("admin:crm_outbounddelivery_changelist"), resend)
    client.post(
        reverse("admin:crm_webhookendpoint_changelist"), {"action": "new_secret", "_selected_action": [endpoint.pk]}
    )
    assert OutboundDelivery.objects.get().status == "delivered"
    assert WebhookEndpoint.objects.get().secret_encrypted == endpoint.secret_encrypted
    assert WebhookEndpoint.objects.get().url == receiver.url


def test_a_support_agent_sees_no_webhooks(client):
    client.force_login(_staff(SUPPORT_AGENT))
    assert client.get(reverse("admin:crm_webhookendpoint_changelist")).status_code == 403
    assert client.get(reverse("admin:crm_outbounddelivery_changelist")).status_code == 403


def test_points_and_tiers_go_to_every_shop_of_the_group_and_no_other(shop, receiver, admin_user):
    east, south = ShopFactory(slug="east"), ShopFactory(slug="south")
    shop_group_join(shop_id=east.pk, group_id=shop.group_id)  # north and east share points
    events = [EventType.POINTS_CHANGED, EventType.TIER_CHANGED]
    _, north_secret = _subscribe(shop, receiver, events=events)
    _subscribe(south, receiver, events=events)
    customer = IdentityFactory(shop=east, external_id="e-5").customer  # known to east only
    south_identity = IdentityFactory(shop=south, customer=customer)
    gold = Tier.objects.create(name="Gold", rank=3, enter_threshold=500, keep_threshold=400)

    points_adjust(customer=customer, group_id=shop.group_id, points=50, reason="Goodwill", staff_id=admin_user.pk)
    TierChange.objects.create(customer=customer, group_id=shop.group_id, to_tier=gold, reason="500 spent")
    send_webhooks()

    # North hears of its group's account (the customer through east), south of nothing of it.
    received = {p["type"]: p for p in (_verified(r, north_secret) for r in receiver.requests)}
    assert set(received) == {"loyalty.points_changed", "loyalty.tier_changed"}
    ref = min(CustomerIdentity.objects.filter(customer=customer).exclude(pk=south_identity.pk).values_list("pk"))[0]
    assert received["loyalty.points_changed"]["data"] == {
        "shop": "north",
        "customer": {"id": ref, "external_ids": []},  # north's own references: none
        "kind": "adjust",
        "available_change": 50,
        "pending_change": 0,
    }
    assert received["loyalty.tier_changed"]["data"]["to_tier"] == "Gold"
    assert OutboundDelivery.objects.filter(endpoint__shop=south).count() == 0


def test_segment_entries_and_exits_reach_a_lone_shop(shop, receiver):
    _, secret = _subscribe(shop, receiver, events=[EventType.SEGMENT_ENTERED, EventType.SEGMENT_LEFT])
    customer = IdentityFactory(shop=shop).customer
    segment = Segment.objects.create(name="Big spenders")
    now = timezone.now()
    stay = SegmentMembership.objects.create(segment=segment, customer=customer, entered_at=now)
    send_webhooks()
    SegmentMembership.objects.filter(pk=stay.pk).update(exited_at=timezone.now())
    send_webhooks()

    entered, left = (_verified(r, secret) for r in receiver.requests)
    assert (entered["type"], left["type"]) == ("segment.entered", "segment.left")
    assert left["data"]["segment"] == {"id": segment.pk, "name": "Big spenders"}


def test_the_outbox_pass_costs_the_same_queries_for_3_customers_or_30(shop, receiver):
    _subscribe(shop, receiver)
    events_collect()  # every source started (the first pass starts those no endpoint asked for)
    counts = []
    for n in (3, 30):
        for identity in IdentityFactory.create_batch(n, shop=shop):
            consent_set(customer_id=identity.customer_id, shop_id=shop.pk, given=True, source=ConsentSource.API)
        with CaptureQueriesContext(connection) as queries:
            made = events_collect()
        assert made == n
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_finished_deliveries_are_forgotten_after_the_log_days(shop, receiver):
    identity = IdentityFactory(shop=shop)
    _subscribe(shop, receiver)
    consent_set(customer_id=identity.customer_id, shop_id=shop.pk, given=True, source=ConsentSource.API)
    send_webhooks()

    assert webhooks_purge(now=timezone.now() + timedelta(days=29)) == 0
    assert webhooks_purge(now=timezone.now() + timedelta(days=31)) == 1
    assert not OutboundDelivery.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_senders_at_once_take_different_deliveries(shop, receiver):
    identity = IdentityFactory(shop=shop)
    _subscribe(shop, receiver)
    for given in (True, False, True, False):
        consent_set(customer_id=identity.customer_id, shop_id=shop.pk, given=given, source=ConsentSource.API)
    now = timezone.now()
    events_collect(now=now)
    taken: list[int] = []

    with transaction.atomic():
        held = list(OutboundDelivery.objects.select_for_update().order_by("pk").values_list("pk", flat=True)[:2])

        def other_sender():
            taken.extend(deliveries_claim(now=now))
            connections.close_all()

        thread = threading.Thread(target=other_sender)
        thread.start()
        thread.join(timeout=10)
    assert not thread.is_alive()  # it skipped the locked rows instead of waiting on them
    assert sorted(taken) == sorted(set(OutboundDelivery.objects.values_list("pk", flat=True)) - set(held))


def test_https_goes_to_the_checked_address_with_the_names_certificate(shop, settings, tmp_path):
    receiver, server, cert = webhook_receiver.start_tls(tmp_path)
    try:
        settings.WEBHOOK_REQUIRE_HTTPS = True
        settings.WEBHOOK_CA_BUNDLE = cert
        identity = IdentityFactory(shop=shop)
        _, secret = _subscribe(shop, receiver)
        consent_set(customer_id=identity.customer_id, shop_id=shop.pk, given=True, source=ConsentSource.API)
        send_webhooks()

        [request] = receiver.requests
        assert request.headers["host"] == f"localhost:{server.server_port}"  # the name, not the number
        assert _verified(request, secret)["type"] == "customer.consent_changed"
        assert OutboundDelivery.objects.get().status == "delivered"

        # A certificate that does not name the host is refused (the check is not skipped
        # because the connection was made to an address).
        settings.WEBHOOK_CA_BUNDLE = ""
        consent_set(customer_id=identity.customer_id, shop_id=shop.pk, given=False, source=ConsentSource.API)
        send_webhooks()
        failed = OutboundDelivery.objects.get(status="pending")
        assert "SSLError" in failed.last_error and len(receiver.requests) == 1
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_what_the_beat_asks_for(worker, shop, receiver):
    identity = IdentityFactory(shop=shop)
    _, secret = _subscribe(shop, receiver)
    consent_set(customer_id=identity.customer_id, shop_id=shop.pk, given=True, source=ConsentSource.API)

    send_webhooks.delay()  # as beat sends it every 30 s

    assert wait_for(lambda: OutboundDelivery.objects.filter(status="delivered").count() == 1)
    [request] = receiver.requests
    assert _verified(request, secret)["data"]["marketing_consent"] is True


def test_a_burst_larger_than_a_batch_is_sent_a_batch_at_a_time(shop, receiver, monkeypatch):
    monkeypatch.setattr(events, "BATCH", 2)
    start = timezone.now()
    _subscribe(shop, receiver)
    for identity in IdentityFactory.create_batch(5, shop=shop):
        consent_set(customer_id=identity.customer_id, shop_id=shop.pk, given=True, source=ConsentSource.API)

    # The newest rows at once, a batch of them; the rest once the burst has settled (its ids
    # seen LAG ago), then every settled batch in one pass.
    made = [events_collect(now=start + timedelta(minutes=m)) for m in (0, 1, 6, 12, 13)]

    assert made == [2, 0, 0, 3, 0]
    assert OutboundDelivery.objects.count() == 5


def test_slow_receivers_leave_the_rest_of_the_batch_due_for_the_next_task(shop, receiver, monkeypatch):
    monkeypatch.setattr(delivery_module, "SEND_BUDGET", 0.2)
    receiver.delay = 0.3
    _subscribe(shop, receiver)
    for identity in IdentityFactory.create_batch(3, shop=shop):
        consent_set(customer_id=identity.customer_id, shop_id=shop.pk, given=True, source=ConsentSource.API)
    now = timezone.now()
    events_collect(now=now)

    assert deliveries_send(now=now) == 1

    assert OutboundDelivery.objects.filter(status="delivered").count() == 1
    rest = OutboundDelivery.objects.filter(status="pending")
    assert [(d.attempts, d.next_attempt_at) for d in rest] == [(0, now), (0, now)]


def test_the_delivery_log_lists_in_a_fixed_number_of_queries(admin_client, shop, receiver):
    _subscribe(shop, receiver)
    counts = []
    for n in (2, 20):
        for identity in IdentityFactory.create_batch(n, shop=shop):
            consent_set(customer_id=identity.customer_id, shop_id=shop.pk, given=True, source=ConsentSource.API)
        events_collect()
        with CaptureQueriesContext(connection) as queries:
            page = admin_client.get(reverse("admin:crm_outbounddelivery_changelist"))
        assert page.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_a_secret_the_key_no_longer_opens_fails_the_attempt_and_says_why(shop, receiver, settings):
    identity = IdentityFactory(shop=shop)
    _subscribe(shop, receiver)
    consent_set(customer_id=identity.customer_id, shop_id=shop.pk, given=True, source=ConsentSource.API)
    settings.SECRET_KEY = "another-secret-key-after-a-rotation"

    send_webhooks()

    assert receiver.requests == []
    delivery = OutboundDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert "signing secret cannot be read" in delivery.last_error


def test_a_manager_changes_the_events_of_an_endpoint(client, shop, receiver):
    endpoint, _ = _subscribe(shop, receiver)
    client.force_login(_staff(MANAGER))
    page = client.get(reverse("admin:crm_webhookendpoint_change", args=[endpoint.pk]))
    assert page.context["adminform"].form.initial["events"] == [CONSENT]

    client.post(
        reverse("admin:crm_webhookendpoint_change", args=[endpoint.pk]),
        {"shop": shop.pk, "url": receiver.url, "events": ["ticket.solved", CONSENT], "active": "on"},
    )

    assert WebhookEndpoint.objects.get().events == ["ticket.solved", CONSENT]
    assert WebhookSource.objects.filter(name="tickets_solved").exists()  # heard from now on


def test_ticking_active_again_in_the_form_forgets_the_failures(client, shop, receiver, settings):
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 1
    identity = IdentityFactory(shop=shop)
    endpoint, _ = _subscribe(shop, receiver)
    receiver.statuses = [500]
    consent_set(customer_id=identity.customer_id, shop_id=shop.pk, given=True, source=ConsentSource.API)
    send_webhooks()
    assert not WebhookEndpoint.objects.get().active
    client.force_login(_staff(MANAGER))

    client.post(
        reverse("admin:crm_webhookendpoint_change", args=[endpoint.pk]),
        {"shop": shop.pk, "url": receiver.url, "events": [CONSENT], "active": "on"},
    )
    send_webhooks()

    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.active, endpoint.consecutive_failures, endpoint.disabled_reason) == (True, 0, "")
    assert OutboundDelivery.objects.get().status == "delivered"  # its waiting delivery went at once
