"""Who a shop may send marketing email to now: consent for that shop, no suppression, an
address, and the frequency cap; and the customer's clock (quiet hours, their hour)."""

from datetime import UTC, datetime, timedelta

import pytest

from campaigns.audience import Exclusion, exclusions, reachable
from campaigns.local_time import next_hour, quiet_until, zone
from customers.models import Customer, CustomerIdentity
from customers.tests.factories import CustomerFactory, ShopFactory
from messaging.services import message_queue, suppression_add

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def consenting(shop, **fields):
    customer = CustomerFactory(**fields)
    CustomerIdentity.objects.create(
        shop=shop, customer=customer, external_id=f"x{customer.pk}", email=customer.email, marketing_consent=True
    )
    return customer


def test_each_reason_leaves_its_customers_out_and_is_counted():
    shop, other = ShopFactory(), ShopFactory()
    ok = consenting(shop)
    consenting(shop, email="", email_normalized=None)  # no address
    other_shops_consent = consenting(other)
    CustomerIdentity.objects.create(shop=shop, customer=other_shops_consent, external_id="y", marketing_consent=False)
    bounced = consenting(shop)
    suppression_add(address=bounced.email, reason="hard_bounce")
    unsubscribed_here = consenting(shop)
    suppression_add(address=unsubscribed_here.email, reason="unsubscribed", shop_id=shop.pk)
    unsubscribed_elsewhere = consenting(shop)
    suppression_add(address=unsubscribed_elsewhere.email, reason="unsubscribed", shop_id=other.pk)
    mailed = consenting(shop)
    message_queue(key="m1", template="test", customer_id=mailed.pk, kind="marketing", now=NOW - timedelta(hours=15))
    mailed_long_ago = consenting(shop)
    message_queue(
        key="m2", template="test", customer_id=mailed_long_ago.pk, kind="marketing", now=NOW - timedelta(hours=17)
    )
    receipt = consenting(shop)
    message_queue(key="m3", template="test", customer_id=receipt.pk, now=NOW - timedelta(hours=1))  # transactional
    consenting(other)  # a customer of the other shop only

    everyone = Customer.objects.all()
    kept = set(reachable(everyone, shop_id=shop.pk, now=NOW, cap_hours=16).values_list("pk", flat=True))
    reach = exclusions(everyone, shop_id=shop.pk, now=NOW, cap_hours=16)

    assert kept == {ok.pk, unsubscribed_elsewhere.pk, mailed_long_ago.pk, receipt.pk}
    assert reach.total == 10 and reach.reachable == 4
    assert reach.excluded == {
        Exclusion.NO_EMAIL: 1,
        Exclusion.NOT_A_CUSTOMER: 1,
        Exclusion.NO_CONSENT: 1,
        Exclusion.SUPPRESSED: 2,
        Exclusion.RECENTLY_MAILED: 1,
    }
    no_cap = exclusions(everyone, shop_id=shop.pk, now=NOW, cap_hours=0)
    assert no_cap.reachable == 5 and Exclusion.RECENTLY_MAILED not in no_cap.excluded


def test_quiet_hours_and_the_customers_hour_follow_their_zone():
    berlin, tokyo = zone("Europe/Berlin"), zone("Asia/Tokyo")
    # 12:00 UTC is 14:00 in Berlin (summer) and 21:00 in Tokyo.
    assert quiet_until(NOW, berlin, 21, 8) is None
    assert quiet_until(NOW, tokyo, 21, 8) == datetime(2026, 6, 1, 23, 0, tzinfo=UTC)  # 08:00 in Tokyo
    assert next_hour(NOW, berlin, 9) == datetime(2026, 6, 2, 7, 0, tzinfo=UTC)
    assert next_hour(NOW, berlin, 14) == NOW
    assert zone("Not/AZone") == zone("")  # unknown: the CRM's own
