"""Marketing consent changed by the staff in the admin: ticked or unticked per shop on the
customer's page, or withdrawn everywhere by the list's action. Each real change is a
consent event with the source "admin" and the staff member; only roles that may change a
customer may change it."""

from datetime import UTC, datetime

import pytest
from django.forms import MultiWidget
from django.urls import reverse

from customers.models import ConsentEvent, Customer, CustomerIdentity
from customers.tests.factories import CustomerFactory, IdentityFactory, ShopFactory

pytestmark = pytest.mark.django_db

BEFORE = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def page(customer) -> str:
    return reverse("admin:customers_customer_change", args=[customer.pk])


def form_data(response) -> dict:
    """What the browser would post back from the change page as it was shown: every form's
    values, the inlines' management forms included."""
    data: dict = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        data.update({management.add_prefix(k): v for k, v in management.initial.items()})
        forms.extend(formset.forms)
    for form in forms:
        for name, field in form.fields.items():
            value = form[name].value()
            key = form.add_prefix(name)
            if isinstance(field.widget, MultiWidget):
                for i, part in enumerate(field.widget.decompress(value)):
                    data[f"{key}_{i}"] = "" if part is None else part
            elif value is not None and value is not False:
                data[key] = value
    return data


@pytest.fixture
def customer():
    return CustomerFactory(email="ann@example.com", marketing_consent=True, marketing_consent_at=BEFORE)


@pytest.fixture
def identities(customer):
    """Two shops: one never said (unknown), one where Ann gave consent."""
    coffee = IdentityFactory(customer=customer, shop=ShopFactory(name="Coffee"), marketing_consent=None)
    tea = IdentityFactory(
        customer=customer, shop=ShopFactory(name="Tea"), marketing_consent=True, marketing_consent_at=BEFORE
    )
    return coffee, tea


def consent_field(data: dict, identity: CustomerIdentity) -> str:
    [key] = [k for k, v in data.items() if k.endswith("-id") and str(v) == str(identity.pk)]
    return key.removesuffix("-id") + "-marketing_consent"


def test_a_manager_ticks_and_unticks_consent_per_shop_and_each_change_is_an_event_by_them(
    client, login, customer, identities
):
    coffee, tea = identities
    manager = login("Manager")
    data = form_data(client.get(page(customer)))
    data[consent_field(data, coffee)] = "true"
    data[consent_field(data, tea)] = "false"

    response = client.post(page(customer), data)

    assert response.status_code == 302
    coffee.refresh_from_db()
    tea.refresh_from_db()
    assert (coffee.marketing_consent, tea.marketing_consent) == (True, False)
    assert coffee.marketing_consent_at > BEFORE and tea.marketing_consent_at == coffee.marketing_consent_at
    events = {e.shop_id: e for e in ConsentEvent.objects.all()}
    assert {shop: e.given for shop, e in events.items()} == {coffee.shop_id: True, tea.shop_id: False}
    for event in events.values():
        assert (event.source, event.by, event.customer_id) == ("admin", manager, customer.pk)
        assert event.at == coffee.marketing_consent_at
    # The merged consent the staff's lists and segments read: given while any shop has it.
    customer.refresh_from_db()
    assert customer.marketing_consent is True and customer.marketing_consent_at == BEFORE

    # Saved again as shown: no change, no event.
    assert client.post(page(customer), form_data(client.get(page(customer)))).status_code == 302
    assert ConsentEvent.objects.count() == 2

    # Withdrawn at the last shop that had it: the merged consent follows.
    data = form_data(client.get(page(customer)))
    data[consent_field(data, coffee)] = "false"
    assert client.post(page(customer), data).status_code == 302
    customer.refresh_from_db()
    assert customer.marketing_consent is False and customer.marketing_consent_at > BEFORE
    assert ConsentEvent.objects.order_by("id").last().given is False and ConsentEvent.objects.count() == 3


def test_a_first_no_is_not_a_withdrawal_and_other_fields_save_without_an_event(client, login, customer, identities):
    coffee, _ = identities
    login("Manager")
    data = form_data(client.get(page(customer)))
    data[consent_field(data, coffee)] = "false"
    data["first_name"] = "Annie"

    assert client.post(page(customer), data).status_code == 302

    coffee.refresh_from_db()
    assert coffee.marketing_consent is False and not ConsentEvent.objects.exists()
    assert Customer.objects.get(pk=customer.pk).first_name == "Annie"


@pytest.mark.parametrize("role", ["Support agent", "Marketer"])
def test_roles_that_may_not_change_a_customer_cannot_change_consent(client, login, customer, identities, role):
    coffee, tea = identities
    login("Manager")
    data = form_data(client.get(page(customer)))
    data[consent_field(data, coffee)] = "true"
    data[consent_field(data, tea)] = "false"
    login(role)

    shown = client.get(page(customer))
    assert shown.status_code == 200  # they read it ...
    assert 'name="identities-0-marketing_consent"' not in shown.content.decode()  # ... with nothing to change
    assert client.post(page(customer), data).status_code == 403
    listing = reverse("admin:customers_customer_changelist")
    client.post(listing, {"action": "withdraw_email_consent", "_selected_action": [customer.pk]})

    assert not ConsentEvent.objects.exists()
    assert list(CustomerIdentity.objects.order_by("pk").values_list("marketing_consent", flat=True)) == [None, True]
    assert Customer.objects.get(pk=customer.pk).marketing_consent is True


def test_the_withdraw_action_withdraws_every_shops_consent_once(client, login, customer, identities):
    _, tea = identities
    other = CustomerFactory(marketing_consent=True)
    both = [IdentityFactory(customer=other, marketing_consent=True) for _ in range(2)]
    unaffected = IdentityFactory(marketing_consent=True)
    manager = login("Manager")
    listing = reverse("admin:customers_customer_changelist")
    selected = {"action": "withdraw_email_consent", "_selected_action": [customer.pk, other.pk]}

    response = client.post(listing, selected, follow=True)

    assert "Marketing consent withdrawn for 2 customer(s), at 3 shops." in response.content.decode()
    events = list(ConsentEvent.objects.order_by("shop_id"))
    assert [(e.customer_id, e.shop_id) for e in events] == sorted(
        [(customer.pk, tea.shop_id), *((other.pk, i.shop_id) for i in both)], key=lambda p: p[1]
    )
    assert all(not e.given and e.source == "admin" and e.by == manager for e in events)
    assert not CustomerIdentity.objects.filter(customer__in=[customer, other], marketing_consent=True).exists()
    assert not Customer.objects.filter(pk__in=[customer.pk, other.pk], marketing_consent=True).exists()
    unaffected.refresh_from_db()
    assert unaffected.marketing_consent is True

    client.post(listing, selected)  # again: nothing left to withdraw
    assert ConsentEvent.objects.count() == 3


def test_the_event_list_shows_who_changed_it_and_stays_read_only(client, login, customer, identities):
    _, tea = identities
    manager = login("Manager")
    data = form_data(client.get(page(customer)))
    data[consent_field(data, tea)] = "false"
    client.post(page(customer), data)
    event = ConsentEvent.objects.get()

    listing = client.get(reverse("admin:customers_consentevent_changelist")).content.decode()
    assert manager.username in listing
    detail = client.get(reverse("admin:customers_consentevent_change", args=[event.pk]))
    assert detail.status_code == 200 and 'name="given"' not in detail.content.decode()
