"""Bonus points for a published review, a custom event and a birthday: paid once per
occasion, at once spendable, times the tier multiplier, only while the rule is in force."""

from datetime import date, timedelta

import pytest
from django.urls import reverse

from customers.models import Customer, Product
from customers.tests.factories import CustomerFactory, IdentityFactory, OrderFactory, OrderLineFactory
from loyalty.bonuses import birthdays_award_range
from loyalty.models import Account, EarningRule, EntryKind, PointsEntry, RuleKind, RuleTierMultiplier
from loyalty.tests.conftest import NOW, programme, tiers  # noqa: F401 (fixtures shared with loyalty)
from support.models import Review

pytestmark = pytest.mark.django_db
EVERYONE = (1, 10**9)


def points(customer) -> tuple[int, int]:
    """The customer's points over their accounts (one per shop group)."""
    accounts = Account.objects.filter(customer=customer)
    return (sum(a.balance for a in accounts), sum(a.pending for a in accounts))


@pytest.fixture
def review_rule(programme):  # noqa: F811
    return EarningRule.objects.create(name="Review bonus", kind=RuleKind.REVIEW, points=20)


def review_body(**change):
    return {"customer": {"email": "ada@example.com"}, "sku": "MUG-1", "rating": 5, "title": "Lovely", **change}


@pytest.fixture
def buyer(shop):
    Product.objects.create(shop=shop, sku="MUG-1", name="Mug")
    customer = CustomerFactory(email="ada@example.com", email_normalized="ada@example.com")
    IdentityFactory(shop=shop, customer=customer)
    OrderLineFactory(order=OrderFactory(shop=shop, customer=customer), sku="MUG-1")
    return customer


def test_a_published_review_earns_its_bonus_once(api, buyer, review_rule):
    response = api.post("/api/v1/reviews", review_body(external_id="r-1"), format="json")
    assert response.json()["status"] == "published"
    api.post("/api/v1/reviews", review_body(external_id="r-1"), format="json")  # replayed

    assert points(buyer) == (20, 0)
    entry = PointsEntry.objects.get(customer=buyer)
    assert (entry.kind, entry.source, entry.reason) == (
        EntryKind.EARN,
        f"review:{Review.objects.get().pk}",
        "Review bonus",
    )


def test_a_review_held_for_moderation_earns_when_a_person_publishes_it(api, admin_client, shop, review_rule):
    Product.objects.create(shop=shop, sku="MUG-1", name="Mug")
    api.post("/api/v1/reviews", review_body(rating=3), format="json")  # not a buyer, 3 stars: held
    review = Review.objects.get()
    assert review.status == Review.Status.PENDING
    assert points(review.customer) == (0, 0)

    url = reverse("admin:support_review_changelist")
    admin_client.post(url, {"action": "publish", "_selected_action": [review.pk]})
    admin_client.post(url, {"action": "publish", "_selected_action": [review.pk]})  # again

    assert points(review.customer) == (20, 0)


def test_a_rejected_review_earns_nothing(api, admin_client, shop, review_rule):
    Product.objects.create(shop=shop, sku="MUG-1", name="Mug")
    api.post("/api/v1/reviews", review_body(rating=3), format="json")
    review = Review.objects.get()

    admin_client.post(reverse("admin:support_review_changelist"), {"action": "reject", "_selected_action": [review.pk]})

    assert points(review.customer) == (0, 0)


def event_body(**change):
    return {"type": "newsletter_signup", "customer": {"email": "ada@example.com"}, **change}


def test_a_custom_event_earns_the_rules_for_its_type_once(api, programme):  # noqa: F811
    EarningRule.objects.create(name="Signed up", kind=RuleKind.EVENT, event_type="newsletter_signup", points=25)
    EarningRule.objects.create(name="Shared", kind=RuleKind.EVENT, event_type="shared_on_social", points=5)

    for _ in range(2):
        assert api.post("/api/v1/events", event_body(external_id="e-1"), format="json").status_code in (200, 201)
    api.post("/api/v1/events", event_body(type="cart_abandoned"), format="json")

    assert points(Customer.objects.get()) == (25, 0)


def test_an_event_outside_the_rules_validity_or_before_the_programme_earns_nothing(api, programme):  # noqa: F811
    EarningRule.objects.create(
        name="Launch week", kind=RuleKind.EVENT, event_type="newsletter_signup", points=25, valid_until=NOW
    )
    api.post("/api/v1/events", event_body(external_id="late"), format="json")  # occurs now: after validity
    early = (programme.starts_at - timedelta(days=1)).isoformat()
    api.post("/api/v1/events", event_body(external_id="early", occurred_at=early), format="json")

    assert points(Customer.objects.get()) == (0, 0)


@pytest.fixture
def birthday_rule(programme):  # noqa: F811
    return EarningRule.objects.create(name="Happy birthday", kind=RuleKind.BIRTHDAY, points=100)


def test_customers_born_today_get_the_birthday_bonus_once_a_year(birthday_rule, tiers, shop):  # noqa: F811
    today = NOW.date()
    ann = CustomerFactory(birthday=today.replace(year=1990), first_seen_shop=shop)
    gold = CustomerFactory(birthday=today.replace(year=1985))
    Account.objects.create(customer=gold, group=shop.group, tier=tiers["gold"])
    RuleTierMultiplier.objects.create(rule=birthday_rule, tier=tiers["gold"], multiplier=3)
    not_today = CustomerFactory(birthday=(today + timedelta(days=1)).replace(year=1990))
    unknown = CustomerFactory(birthday=None)

    assert birthdays_award_range(*EVERYONE, now=NOW) == 2
    assert birthdays_award_range(*EVERYONE, now=NOW) == 0  # the same day again

    assert [points(c)[0] for c in (ann, gold, not_today, unknown)] == [100, 300, 0, 0]
    assert PointsEntry.objects.get(customer=ann).source == f"birthday:{today.year}"


def test_a_29_february_birthday_is_kept_on_28_february_in_other_years(birthday_rule, shop):
    leap = CustomerFactory(birthday=date(2000, 2, 29), first_seen_shop=shop)
    night = NOW.replace(year=2027, month=2, day=28)

    assert birthdays_award_range(*EVERYONE, now=night) == 1
    assert points(leap) == (100, 0)


def test_no_birthday_bonus_while_the_rule_is_off(birthday_rule):
    birthday_rule.is_active = False
    birthday_rule.save()
    ann = CustomerFactory(birthday=NOW.date().replace(year=1990))

    assert birthdays_award_range(*EVERYONE, now=NOW) == 0
    assert points(ann) == (0, 0)
