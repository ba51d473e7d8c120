"""Campaigns: the audience (targets minus exclusions, consent, suppression, the cap), Send
now and Schedule, sending at an hour of each customer's day and around their quiet hours,
a pass that dies and is run again, the automatic winner, and the test to oneself; over the
real SMTP sink."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

import campaigns.emails
from campaigns.campaigns.actions import campaign_cancel, campaign_schedule, campaign_send_now, campaign_test_send
from campaigns.campaigns.audience import audience_count
from campaigns.campaigns.sending import LEASE, campaign_send_pass, campaigns_send_due
from campaigns.campaigns.winner import pick_winner
from campaigns.models import Campaign, CampaignStatus, Email, Send, Timing
from campaigns.tests.campaign_data import NOW, campaign, customer, segment
from core.errors import DomainError
from messaging.models import Message, MessageEvent, MessageStatus
from messaging.sending import messages_send
from messaging.services import message_queue, suppression_add
from messaging.tests.fixtures import branded_shop

pytestmark = pytest.mark.django_db


def addresses(sink) -> list[str]:
    """Who got the campaign (its subjects start with the variant's label)."""
    return sorted(m["To"] for m in sink.messages() if m["Subject"].startswith(("A:", "B:")))


def test_the_audience_is_the_targets_less_the_exclusions_then_consent_suppression_and_the_cap(
    smtp, django_assert_num_queries
):
    shop = branded_shop()
    ann, bob = customer(shop, email="ann@example.com"), customer(shop, email="bob@example.com")
    staff = customer(shop, email="staff@example.com")
    no_consent = customer(shop, consent=False)
    bounced = customer(shop)
    suppression_add(address=bounced.email, reason="hard_bounce")
    mailed = customer(shop, email="mailed@example.com")
    message_queue(key="earlier", template="test", customer_id=mailed.pk, kind="marketing", now=NOW - timedelta(hours=2))
    customer(shop)  # in no segment
    vip, sale = segment("VIP", [ann, staff, no_consent, bounced, mailed]), segment("Sale", [bob, ann])
    employees = segment("Staff", [staff])
    sale_campaign = campaign(shop, [vip, sale], excluded=[employees])

    with django_assert_num_queries(1):
        count = audience_count(
            shop_id=shop.pk, segment_ids=[vip.pk, sale.pk], excluded_segment_ids=[employees.pk], now=NOW, cap_hours=16
        )
    assert (count.total, count.reachable) == (6, 2)
    assert [(reason, n) for reason, _, n in count.excluded] == [
        ("excluded_segment", 1),
        ("no_email", 0),
        ("not_a_customer", 0),
        ("no_consent", 1),
        ("suppressed", 1),
        ("recently_mailed", 1),
    ]
    uncapped = audience_count(
        shop_id=shop.pk, segment_ids=[vip.pk, sale.pk], excluded_segment_ids=[employees.pk], now=NOW, cap_hours=0
    )
    assert uncapped.reachable == 3

    campaign_send_now(campaign=sale_campaign, user=None, now=NOW)
    result = campaign_send_pass(campaign_id=sale_campaign.pk, now=NOW)
    messages_send()

    assert (result.sent, result.waiting, result.finished) == (2, 0, True)
    assert addresses(smtp) == ["ann@example.com", "bob@example.com"]
    assert "A: hello Ann" in [m["Subject"] for m in smtp.messages()]
    sale_campaign.refresh_from_db()
    assert sale_campaign.status == CampaignStatus.SENT and sale_campaign.audience_count == 2
    assert sale_campaign.excluded_counts == {
        "total": 6,
        "excluded_segment": 1,
        "no_email": 0,
        "not_a_customer": 0,
        "no_consent": 1,
        "suppressed": 1,
        "recently_mailed": 1,
    }


def test_a_campaigns_own_cap_overrides_the_policys():
    shop = branded_shop()
    mailed = customer(shop)
    message_queue(key="earlier", template="test", customer_id=mailed.pk, kind="marketing", now=NOW - timedelta(hours=2))
    capped = campaign(shop, [segment("All", [mailed])], cap_hours=1)
    campaign_send_now(campaign=capped, user=None, now=NOW)
    assert campaign_send_pass(campaign_id=capped.pk, now=NOW).sent == 1


def test_a_scheduled_campaign_goes_at_its_time_and_a_cancelled_one_never(smtp):
    shop = branded_shop()
    ann = customer(shop, email="ann@example.com")
    later = campaign(shop, [segment("All", [ann])], send_at=NOW + timedelta(hours=3))
    cancelled = campaign(shop, [segment("Also", [ann])], send_at=NOW + timedelta(hours=1))

    with pytest.raises(DomainError) as refused:
        campaign_schedule(campaign=later, user=None, now=NOW + timedelta(hours=4))
    assert refused.value.field == "send_at"
    campaign_schedule(campaign=later, user=None, now=NOW)
    campaign_schedule(campaign=cancelled, user=None, now=NOW)
    campaign_cancel(campaign=cancelled)

    assert campaigns_send_due(now=NOW + timedelta(hours=2)) == {}
    assert Message.objects.count() == 0
    done = campaigns_send_due(now=NOW + timedelta(hours=3))
    messages_send()
    assert list(done) == [later.pk] and done[later.pk].sent == 1
    assert addresses(smtp) == ["ann@example.com"]
    assert Campaign.objects.get(pk=cancelled.pk).status == CampaignStatus.CANCELLED
    with pytest.raises(DomainError):
        campaign_send_now(campaign=Campaign.objects.get(pk=later.pk), user=None)  # sent: not again


def test_at_an_hour_of_each_customers_day_each_zone_gets_it_when_its_clock_reads_that_hour(smtp):
    shop = branded_shop()
    tokyo = customer(shop, time_zone="Asia/Tokyo", email="tokyo@example.com")  # UTC+9
    berlin = customer(shop, time_zone="Europe/Berlin", email="berlin@example.com")  # UTC+2 in June
    new_york = customer(shop, time_zone="America/New_York", email="ny@example.com")  # UTC-4 in June
    utc = customer(shop, time_zone="", email="crm@example.com")  # the CRM's zone (UTC)
    midnight = NOW.replace(hour=0)
    local = campaign(shop, [segment("All", [tokyo, berlin, new_york, utc])], timing=Timing.LOCAL_HOUR, local_hour=10)
    local.send_at = midnight
    local.save()
    campaign_schedule(campaign=local, user=None, now=midnight - timedelta(hours=1))

    def sent_by(hour: int) -> list[str]:
        campaigns_send_due(now=midnight + timedelta(hours=hour))
        return sorted(Message.objects.values_list("to_email", flat=True))

    assert sent_by(0) == []
    assert sent_by(1) == ["tokyo@example.com"]  # 10:00 in Tokyo
    assert sent_by(7) == ["tokyo@example.com"]
    assert sent_by(8) == ["berlin@example.com", "tokyo@example.com"]
    assert sent_by(10) == ["berlin@example.com", "crm@example.com", "tokyo@example.com"]
    assert Campaign.objects.get(pk=local.pk).status == CampaignStatus.SENDING
    assert sent_by(14) == ["berlin@example.com", "crm@example.com", "ny@example.com", "tokyo@example.com"]
    assert Campaign.objects.get(pk=local.pk).status == CampaignStatus.SENT
    messages_send()
    assert len(smtp.messages()) == 4


def test_a_send_in_a_customers_quiet_hours_waits_until_they_end(smtp):
    shop = branded_shop()
    berlin = customer(shop, time_zone="Europe/Berlin", email="berlin@example.com")
    new_york = customer(shop, time_zone="America/New_York", email="ny@example.com")
    evening = NOW.replace(hour=20)  # 22:00 in Berlin (quiet from 21 to 8), 16:00 in New York
    now_campaign = campaign(shop, [segment("All", [berlin, new_york])])
    campaign_send_now(campaign=now_campaign, user=None, now=evening)

    first = campaigns_send_due(now=evening)[now_campaign.pk]
    assert (first.sent, first.waiting, first.finished) == (1, 1, False)
    assert campaigns_send_due(now=evening + timedelta(hours=9))[now_campaign.pk].sent == 0  # 07:00 in Berlin
    last = campaigns_send_due(now=evening + timedelta(hours=10))[now_campaign.pk]  # 08:00 in Berlin
    assert (last.sent, last.finished) == (1, True)
    messages_send()
    assert addresses(smtp) == ["berlin@example.com", "ny@example.com"]


def test_a_pass_that_dies_half_way_is_run_again_and_sends_nothing_twice(smtp, monkeypatch):
    shop = branded_shop()
    people = [customer(shop) for _ in range(12)]
    big = campaign(shop, [segment("All", people)])
    campaign_send_now(campaign=big, user=None, now=NOW)
    monkeypatch.setattr(campaigns.emails, "BATCH", 5)
    real_queue, calls = campaigns.emails.messages_queue, []

    claims = []

    def dies_on_the_second_batch(requests, **kwargs):
        calls.append(len(requests))
        claims.append(Campaign.objects.get(pk=big.pk).claimed_until)
        if len(calls) == 2:
            raise SystemExit("the worker was killed")
        return real_queue(requests, **kwargs)

    monkeypatch.setattr(campaigns.emails, "messages_queue", dies_on_the_second_batch)
    with pytest.raises(SystemExit):
        campaign_send_pass(campaign_id=big.pk, now=NOW)
    assert Send.objects.count() == 5 and Message.objects.count() == 5  # the first batch stands
    # Each batch sent renews the claim: a long send keeps its campaign.
    assert claims[0] == NOW + LEASE and claims[1] > claims[0]
    # A killed worker leaves its claim: another pass waits for the lease to end.
    Campaign.objects.filter(pk=big.pk).update(claimed_until=claims[1])
    assert campaign_send_pass(campaign_id=big.pk, now=NOW + timedelta(minutes=1)) is None

    again = campaign_send_pass(campaign_id=big.pk, now=claims[1] + timedelta(seconds=1))
    assert (again.sent, again.finished) == (7, True)
    messages_send()
    assert addresses(smtp) == sorted(p.email for p in people)
    assert Send.objects.values("customer").distinct().count() == 12


def test_the_automatic_winner_sends_the_best_variant_to_the_rest_after_the_test():
    shop = branded_shop()
    people = [customer(shop) for _ in range(1500)]
    auto = campaign(shop, [segment("All", people)], variants=(("A", 1), ("B", 1)), auto_winner=True, test_percent=30)
    auto.test_hours = 4
    auto.save()
    # Judged on clicks, sized to see a large effect: the test is small.
    Email.objects.filter(pk=auto.email_id).update(winner_metric="clicks", min_uplift_percent=200)
    auto.refresh_from_db()
    campaign_send_now(campaign=auto, user=None, now=NOW)

    test = campaign_send_pass(campaign_id=auto.pk, now=NOW)
    assert 380 <= test.sent <= 520 and test.waiting == 1500 - test.sent and not test.finished
    assert campaign_send_pass(campaign_id=auto.pk, now=NOW + timedelta(hours=3)).sent == 0
    # B is clicked by one in five of its recipients, A by one in twenty.
    for label, every in (("A", 20), ("B", 5)):
        sends = Send.objects.filter(email=auto.email, variant__label=label)
        messages = list(sends.values_list("message_id", flat=True))
        MessageEvent.objects.bulk_create(
            [MessageEvent(message_id=m, status=MessageStatus.CLICKED, at=NOW) for m in messages[::every]]
        )

    rest = campaign_send_pass(campaign_id=auto.pk, now=NOW + timedelta(hours=4))
    auto.refresh_from_db()
    assert auto.winner.label == "B" and auto.status == CampaignStatus.SENT and rest.finished
    assert auto.winner_note.startswith("B is best with 100.0% chance.") and "clicks per recipient" in auto.winner_note
    assert rest.sent == 1500 - test.sent
    late = Send.objects.filter(email=auto.email, assigned_at=NOW + timedelta(hours=4))
    assert late.count() == 1500 - test.sent and set(late.values_list("variant__label", flat=True)) == {"B"}


def test_no_winner_until_the_sample_can_detect_the_uplift_asked_for():
    shop = branded_shop()
    people = [customer(shop) for _ in range(400)]
    auto = campaign(shop, [segment("All", people)], variants=(("A", 1), ("B", 1)), auto_winner=True, test_percent=50)
    Email.objects.filter(pk=auto.email_id).update(winner_metric="clicks", min_uplift_percent=20)
    auto.refresh_from_db()
    campaign_send_now(campaign=auto, user=None, now=NOW)
    campaign_send_pass(campaign_id=auto.pk, now=NOW)
    b = Send.objects.filter(email=auto.email, variant__label="B").values_list("message_id", flat=True)
    MessageEvent.objects.bulk_create([MessageEvent(message_id=m, status=MessageStatus.CLICKED, at=NOW) for m in b[::4]])

    pick = pick_winner(auto.email)

    assert pick.variant_id is None
    assert pick.note.startswith("No winner: Not enough data yet:") and "more recipients per variant" in pick.note


def test_a_test_goes_to_the_staff_members_own_address_as_the_customer_would_see_it(smtp):
    shop = branded_shop()
    ann = customer(shop, first_name="Ann")
    sale = campaign(shop, [segment("All", [ann])])
    mia = get_user_model().objects.create_user("mia", email="mia@merchant.example", password="x", is_staff=True)

    message = campaign_test_send(campaign=sale, variant=sale.email.variants.get(), user=mia, customer=ann)
    messages_send()

    [wire] = smtp.messages()
    assert wire["To"] == "mia@merchant.example" and wire["Subject"] == "A: hello Ann"
    assert "Dear Ann, ten per cent off." in wire.get_body(("html",)).get_content()
    assert message.customer_id is None and not Send.objects.exists()  # no cap or history counts it
    with pytest.raises(DomainError) as refused:
        campaign_test_send(campaign=sale, variant=sale.email.variants.get(), user=get_user_model()(username="x"))
    assert refused.value.field == "email"


def test_a_pass_costs_the_same_queries_for_ten_customers_as_for_forty():
    shop = branded_shop()
    counts = []
    for size in (10, 40):
        people = [customer(shop) for _ in range(size)]
        sale = campaign(shop, [segment(f"All {size}", people)])
        campaign_send_now(campaign=sale, user=None, now=NOW)
        with CaptureQueriesContext(connection) as queries:
            assert campaign_send_pass(campaign_id=sale.pk, now=NOW).sent == size
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_send_now_with_the_broker_down_is_kept_and_the_periodic_pass_sends_it(
    smtp, monkeypatch, django_capture_on_commit_callbacks, any_hour
):
    from kombu.exceptions import OperationalError

    from campaigns import tasks

    shop = branded_shop()
    ann = customer(shop, email="ann@example.com")
    sale = campaign(shop, [segment("All", [ann])])

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.send_due_campaigns, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_send_now(campaign=sale, user=None, now=NOW)  # the ask is lost, not the campaign

    assert Campaign.objects.get(pk=sale.pk).status == CampaignStatus.SCHEDULED
    tasks.send_due_campaigns.apply()  # the periodic pass, as beat or the in-process scheduler runs it
    messages_send()
    assert Campaign.objects.get(pk=sale.pk).status == CampaignStatus.SENT
    assert addresses(smtp) == ["ann@example.com"]


def test_with_too_few_recipients_there_is_no_winner_and_the_rest_get_the_variants_by_weight():
    shop = branded_shop()
    people = [customer(shop) for _ in range(60)]
    auto = campaign(shop, [segment("All", people)], variants=(("A", 1), ("B", 1)), auto_winner=True, test_percent=50)
    campaign_send_now(campaign=auto, user=None, now=NOW)
    test = campaign_send_pass(campaign_id=auto.pk, now=NOW)

    rest = campaign_send_pass(campaign_id=auto.pk, now=NOW + timedelta(hours=auto.test_hours))

    auto.refresh_from_db()
    assert auto.winner is None and auto.winner_note.startswith("No winner: Not enough data yet")
    assert rest.finished and test.sent + rest.sent == 60
    late = Send.objects.filter(email=auto.email, assigned_at=NOW + timedelta(hours=auto.test_hours))
    assert set(late.values_list("variant__label", flat=True)) == {"A", "B"}
