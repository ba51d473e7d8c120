"""Referrals: every customer's code, a new customer attaching one, both paid once the first
paid order clears the return window; guards refuse or hold the doubtful ones for review."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from crm.roles import MARKETER, SUPPORT_AGENT
from crm.tests.api_ids import own_id
from customers.models import Customer, Order
from customers.tests.factories import CustomerFactory, IdentityFactory, OrderFactory
from loyalty.models import Account, EarningRule, Referral, RuleKind
from loyalty.referrals import mailbox, referral_code_of, referrals_settle
from loyalty.tests.conftest import programme  # noqa: F401 (a fixture shared with loyalty)

pytestmark = pytest.mark.django_db
LATER = timezone.now() + timedelta(days=15)  # past the programme's 14-day return window


@pytest.fixture
def referral_rule(programme):  # noqa: F811
    return EarningRule.objects.create(name="Friend referred", kind=RuleKind.REFERRAL, points=500)


@pytest.fixture
def people(shop):
    ann = CustomerFactory(email="ann.lee@gmail.com", email_normalized="ann.lee@gmail.com")
    bob = CustomerFactory(email="bob@example.com", email_normalized="bob@example.com")
    for customer in (ann, bob):
        IdentityFactory(shop=shop, customer=customer)
    return ann, bob


def attach(api, customer, code):
    return api.post(f"/api/v1/customers/{own_id(customer)}/loyalty/referral", {"referral_code": code}, format="json")


def balance(customer) -> int:
    return sum(Account.objects.filter(customer=customer).values_list("balance", flat=True))


def test_every_customer_has_a_stable_referral_code(api, shop, people, programme):  # noqa: F811
    ann, _ = people
    first = api.get(f"/api/v1/customers/{own_id(ann)}/loyalty").json()["referral_code"]
    again = api.get(f"/api/v1/customers/{own_id(ann)}/loyalty").json()["referral_code"]

    assert first == again == referral_code_of(ann.pk, shop.group_id)
    assert len(first) == 8
    assert Account.objects.filter(referral_code=first).count() == 1


def test_both_are_paid_once_the_first_paid_order_clears_the_return_window(api, shop, people, referral_rule):
    ann, bob = people
    response = attach(api, bob, referral_code_of(ann.pk, shop.group_id).lower())  # codes are read in any case
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "pending"
    OrderFactory(shop=shop, customer=bob, status=Order.Status.PAID, placed_at=timezone.now())

    assert referrals_settle(now=timezone.now()) == 0  # still in the return window
    assert referrals_settle(now=LATER) == 1
    assert referrals_settle(now=LATER) == 0  # a re-run pays nothing twice

    assert (balance(ann), balance(bob)) == (500, 500)
    assert Referral.objects.get().status == Referral.Status.REWARDED


def test_a_cancelled_first_order_pays_nothing(api, shop, people, referral_rule):
    ann, bob = people
    attach(api, bob, referral_code_of(ann.pk, shop.group_id))
    OrderFactory(shop=shop, customer=bob, status=Order.Status.CANCELLED, placed_at=timezone.now())

    assert referrals_settle(now=LATER) == 0
    assert Referral.objects.get().status == Referral.Status.PENDING


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("", "This field may not be blank."),
        ("NOPE1234", "No customer has this referral code."),
        ("X" * 17, "Must be at most 16 characters long."),
    ],
)
def test_a_bad_code_is_refused_naming_the_field(api, people, programme, code, message):  # noqa: F811
    _, bob = people
    response = attach(api, bob, code)

    assert response.status_code == 400
    assert message in response.json()["errors"]["referral_code"][0]
    assert not Referral.objects.exists()


def test_a_customer_cannot_refer_themselves_or_their_own_mailbox(api, shop, people, programme):  # noqa: F811
    ann, _ = people
    alias = CustomerFactory(email="AnnLee+deals@googlemail.com", email_normalized="annlee+deals@googlemail.com")
    IdentityFactory(shop=shop, customer=alias)

    own = attach(api, ann, referral_code_of(ann.pk, shop.group_id))
    same_mailbox = attach(api, alias, referral_code_of(ann.pk, shop.group_id))

    assert (own.status_code, same_mailbox.status_code) == (400, 400)
    assert own.json()["errors"]["referral_code"] == ["A customer cannot refer themselves."]
    assert "same mailbox" in same_mailbox.json()["errors"]["referral_code"][0]
    assert not Referral.objects.exists()


def test_only_a_new_customer_can_be_referred_and_only_once(api, shop, people, programme):  # noqa: F811
    ann, bob = people
    carol = CustomerFactory()
    IdentityFactory(shop=shop, customer=carol)
    OrderFactory(shop=shop, customer=carol, status=Order.Status.PAID, placed_at=timezone.now() - timedelta(days=30))

    assert attach(api, carol, referral_code_of(ann.pk, shop.group_id)).status_code == 400
    assert attach(api, bob, referral_code_of(ann.pk, shop.group_id)).status_code == 201
    again = attach(api, bob, referral_code_of(ann.pk, shop.group_id))
    assert again.status_code == 409
    assert again.json()["errors"]["referral_code"] == ["This customer was already referred."]


def test_another_shops_customer_is_not_found(other_api, shop, people, programme):  # noqa: F811
    ann, bob = people
    assert attach(other_api, bob, referral_code_of(ann.pk, shop.group_id)).status_code == 404


def test_mailbox_ignores_case_tags_and_gmail_dots():
    assert mailbox("Ann.Lee+x@GoogleMail.com") == mailbox("annlee@gmail.com") == "annlee@gmail.com"
    assert mailbox("ann.lee+x@example.com") == "ann.lee@example.com"


def post_order(api, email, external_id, line1):
    body = {
        "external_id": external_id,
        "placed_at": timezone.now().isoformat(),
        "currency": "USD",
        "status": "paid",
        "total": "40.00",
        "customer": {"email": email},
        "shipping_address": {"line1": line1, "city": "Lyon", "postal_code": "69001", "country": "fr"},
    }
    response = api.post("/api/v1/orders", body, format="json")
    assert response.status_code in (200, 201), response.json()


def test_an_order_to_the_referrers_address_is_held_for_review_and_paid_when_approved(
    api, shop, client, login, people, referral_rule
):
    ann, bob = people
    post_order(api, ann.email, "A-1", "12 Rue de l'Église")
    attach(api, bob, referral_code_of(ann.pk, shop.group_id))
    post_order(api, bob.email, "B-1", "12 rue de l eglise")  # the same place, written differently

    assert referrals_settle(now=LATER) == 0
    held = Referral.objects.get()
    assert held.status == Referral.Status.REVIEW
    assert "address the referrer has shipped to" in held.hold_reason
    assert balance(bob) == 0

    login(MARKETER)
    url = reverse("admin:loyalty_referral_changelist")
    assert escape(held.hold_reason) in client.get(url, {"status__exact": "review"}).content.decode()
    client.post(url, {"action": "approve", "_selected_action": [held.pk]})
    held.refresh_from_db()
    assert (held.status, held.reviewed_by.username) == (Referral.Status.PENDING, "marketer")

    assert referrals_settle(now=LATER) == 1  # approved: the guards are not asked again
    assert balance(bob) == 500


def test_a_referrer_over_the_weekly_cap_waits_for_review_and_a_rejected_one_is_never_paid(
    api,
    shop,
    client,
    login,
    people,
    programme,  # noqa: F811
    referral_rule,
):
    programme.referral_weekly_cap = 1
    programme.save()
    ann, bob = people
    carol = CustomerFactory()
    IdentityFactory(shop=shop, customer=carol)
    for friend in (bob, carol):
        attach(api, friend, referral_code_of(ann.pk, shop.group_id))
        OrderFactory(shop=shop, customer=friend, status=Order.Status.PAID, placed_at=timezone.now())

    assert referrals_settle(now=LATER) == 1
    held = Referral.objects.get(status=Referral.Status.REVIEW)
    assert held.hold_reason == "The referrer has reached the cap of 1 rewarded referrals a week."

    login(MARKETER)
    client.post(reverse("admin:loyalty_referral_changelist"), {"action": "reject", "_selected_action": [held.pk]})
    assert referrals_settle(now=LATER + timedelta(days=8)) == 0
    held.refresh_from_db()
    assert held.status == Referral.Status.REJECTED
    assert balance(ann) == 500


def test_a_support_agent_sees_the_queue_but_cannot_decide(api, shop, client, login, people, referral_rule):
    ann, bob = people
    attach(api, bob, referral_code_of(ann.pk, shop.group_id))
    referral = Referral.objects.get()
    Referral.objects.filter(pk=referral.pk).update(status=Referral.Status.REVIEW, hold_reason="checking")

    login(SUPPORT_AGENT)
    url = reverse("admin:loyalty_referral_changelist")
    assert client.get(url).status_code == 200
    client.post(url, {"action": "approve", "_selected_action": [referral.pk]})

    referral.refresh_from_db()
    assert referral.status == Referral.Status.REVIEW
    assert Customer.objects.count() == 2
