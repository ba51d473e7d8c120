"""Every admin list and change page answers hostile query parameters with a 4xx or an
empty list, never a 500: NUL bytes and numbers past any column in the page, search,
ordering and every list filter's parameters (issue 16, section 4)."""

import pytest
from django.contrib import admin
from django.urls import NoReverseMatch, reverse

from campaigns.models import Segment
from customers.models import Product
from customers.tests.factories import CustomerFactory, OrderFactory
from loyalty.models import Referral
from support.models import Review
from support.tickets import TicketData, ticket_open

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999"
HOSTILE = ["\x00", HUGE, f"-{HUGE}", "%00"]


@pytest.fixture
def data(shop):
    customer = CustomerFactory(country="DE")
    OrderFactory(customer=customer, shop=shop)
    product = Product.objects.create(shop=shop, sku="MUG-1", name="Mug")
    Review.objects.create(shop=shop, customer=customer, product=product, rating=4, created_at="2026-11-01T00:00Z")
    Referral.objects.create(
        referrer=customer, referee=CustomerFactory(), group_id=shop.group_id, status=Referral.Status.REVIEW
    )
    ticket_open(customer=customer, data=TicketData(subject="Lost parcel", body="Where is it?"))
    return customer


def changelists():
    for model in admin.site._registry:
        opts = model._meta
        try:
            yield reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        except NoReverseMatch:
            continue


def server_error(client, url, params) -> str | None:
    try:
        status = client.get(url, params).status_code
    except Exception as error:  # the test client re-raises what would be a 500
        return f"{url} {params!r}: {type(error).__name__}: {str(error)[:80]}"
    return f"{url} {params!r}: {status}" if status >= 500 else None


def test_every_changelist_survives_hostile_page_search_order_and_filter_parameters(admin_client, data):
    walked, errors = 0, []
    for url in changelists():
        page = admin_client.get(url)
        assert page.status_code in (200, 302, 403), url
        names = {"p", "q", "o", "e", "all", "_to_field"}
        if page.status_code == 200 and "cl" in (page.context or {}):
            for spec in page.context["cl"].filter_specs:
                names.update(spec.expected_parameters())
        for name in sorted(names):
            for value in HOSTILE:
                errors.append(server_error(admin_client, url, {name: value}))
        walked += 1
    assert walked > 30
    errors = [e for e in errors if e]
    assert not errors, "\n".join(errors)


def test_every_change_page_survives_a_hostile_id(admin_client, data):
    """Change, history and delete pages, with ids that are missing, huge or not ids at all."""
    errors = []
    for model in admin.site._registry:
        opts = model._meta
        for page in ("change", "history", "delete"):
            for object_id in (HUGE, "\x00", "1\x00", f"-{HUGE}", "999999", "2147483648"):
                try:
                    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_{page}", args=[object_id])
                except NoReverseMatch:
                    continue
                errors.append(server_error(admin_client, url, {}))
    errors = [e for e in errors if e]
    assert not errors, "\n".join(errors)


def test_the_issues_pages(admin_client, data):
    """Ticket status, customer country, a segment's member search and page, the 360 page."""
    assert admin_client.get(reverse("admin:support_ticket_changelist"), {"status__exact": "\x00"}).status_code == 400
    assert admin_client.get(reverse("admin:customers_customer_changelist"), {"country": "\x00"}).status_code == 400
    huge_page = admin_client.get(reverse("admin:customers_customer_changelist"), {"p": HUGE})
    assert huge_page.status_code in (200, 302)
    segment = Segment.objects.create(name="Germany")
    url = reverse("admin:campaigns_segment_change", args=[segment.pk])
    assert admin_client.get(url, {"members_q": "\x00"}).status_code == 400
    page = admin_client.get(url, {"members_page": HUGE})
    assert page.status_code == 200 and list(page.context["segment_page"]["members"]) == []
    for params in ({"members_page": "\x00"}, {"members_page": f"-{HUGE}"}, {"members_q": HUGE}):
        assert admin_client.get(url, params).status_code < 500, params
    customer360 = reverse("admin:crm_customer360_change", args=[data.pk])
    for value in HOSTILE:
        assert admin_client.get(customer360, {"page": value, "q": value}).status_code < 500


def test_a_nul_in_a_query_parameter_is_a_400_that_names_it(admin_client, client):
    response = admin_client.get(reverse("admin:support_ticket_changelist"), {"status__exact": "open\x00"})
    assert response.status_code == 400 and b"status__exact" in response.content
    api = client.get("/api/v1/customers", {"email": "a\x00b"})
    assert api.status_code == 400
    assert api.json()["errors"] == {"email": ["The query parameter 'email' contains a NUL character."]}


def test_every_add_form_refuses_a_malformed_related_id_on_its_field(admin_client, data):
    """A picker or raw id box posted "1e5" or an id past the 64-bit range: the form comes back
    with the field's error, never a 500 (the picker looked the value up to draw it)."""
    from django import forms

    errors, posted = [], 0
    for model in admin.site._registry:
        opts = model._meta
        try:
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
        except NoReverseMatch:
            continue
        page = admin_client.get(url)
        if page.status_code != 200 or "adminform" not in (page.context or {}):
            continue
        form = page.context["adminform"].form
        related = [name for name, field in form.fields.items() if isinstance(field, forms.ModelChoiceField)]
        for name in related:
            for value in ("1e5", HUGE, "\x00"):
                try:
                    response = admin_client.post(url, {name: value})
                except Exception as error:  # the test client re-raises what would be a 500
                    errors.append(f"{url} {name}={value!r}: {type(error).__name__}: {str(error)[:80]}")
                    continue
                posted += 1
                if response.status_code >= 500:
                    errors.append(f"{url} {name}={value!r}: {response.status_code}")
                elif response.status_code == 200 and value != "\x00":
                    assert name in response.context["adminform"].form.errors, (url, name, value)
    assert posted > 40
    assert not errors, "\n".join(errors)
