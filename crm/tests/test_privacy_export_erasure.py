"""A customer's data exported and erased across every app (crm.privacy), derived from the
personal-data marks: the export holds every model's rows of theirs and nobody else's; after
erasure no personal data of theirs is left in any table, the audit log or the stored files,
while their orders and every figure stay."""

import io
import json
import zipfile

import pytest
from auditlog.models import LogEntry
from django.core.files.storage import default_storage

from crm.models import IdempotencyRecord
from crm.privacy.erasure import customer_erase
from crm.privacy.export import export_zip
from crm.privacy.marks import all_marks, customer_models, model_of
from crm.privacy.models import ErasureLog
from crm.tests.merge_data import two_records
from crm.tests.privacy_data import EMAIL, NAME, PHONE, SECRETS, T0, a_story
from crm.webhooks.models import EventType, WebhookEvent
from customers.models import Customer, CustomerIdentity, ErasedEmail, Order
from customers.selectors import customer_refs, merged_into
from customers.services.customers import CustomerData, customers_resolve
from customers.tests.factories import CustomerFactory, ShopFactory
from loyalty.models import Account, PointsEntry
from support.models import Review, Ticket, TicketAttachment

pytestmark = pytest.mark.django_db


@pytest.fixture
def story(admin_user, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    shop = ShopFactory(slug="privacy-shop")
    customer = CustomerFactory(
        email=EMAIL, email_normalized=EMAIL.lower(), first_name="Ada", last_name=NAME, phone=PHONE
    )
    customer.first_name = "Ada"
    customer.save()  # through auditlog: an entry with the values
    return a_story(customer, shop, admin_user)


def files_of(data: bytes) -> dict[str, list[dict]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {n: json.loads(archive.read(n)) for n in archive.namelist() if n.endswith(".json")}


def everything_stored() -> str:
    """Every row of every marked model, and the audit log, as text."""
    dumps = []
    for marks in all_marks().values():
        dumps.append(repr(list(model_of(marks).objects.values())))
    dumps.append(repr(list(LogEntry.objects.values())))
    return "\n".join(dumps)


def test_the_story_puts_personal_data_in_every_model_that_leads_to_a_customer(story):
    stored = everything_stored()
    for secret in SECRETS:
        assert secret in stored
    for model, _ in customer_models():
        assert model.objects.exists(), f"the story made no {model._meta.label}"


def test_the_export_holds_a_file_for_every_model_with_their_rows(story):
    other = CustomerFactory(email="someone.else@example.com")
    Order.objects.create(
        shop=story.shop, customer=other, external_id="not-theirs", placed_at=T0, currency="USD", total=1, total_base=1
    )

    # A stored API answer of the same shop about someone else is theirs, not in this export.
    IdempotencyRecord.objects.create(
        shop=story.shop,
        key="stranger-1",
        request_fingerprint="f" * 64,
        status_code=201,
        response_body='{"id": 999, "email": "stranger.secret@example.com", "first_name": "Stranger"}',
    )

    # Nor is an answer about something else that carries the same number as the shop's id for them.
    ref = customer_refs(shop=story.shop, customer_ids=[story.customer.pk])[story.customer.pk]
    IdempotencyRecord.objects.create(
        shop=story.shop,
        key="other-order",
        request_fingerprint="f" * 64,
        status_code=201,
        response_body=f'{{"id":{ref},"customer_id":{ref + 1000},"note":"stranger.order@example.com"}}',
    )
    # An answer that names them by the shop's id for them is theirs.
    IdempotencyRecord.objects.create(
        shop=story.shop,
        key="their-event",
        request_fingerprint="f" * 64,
        status_code=201,
        response_body=f'{{"id":77,"customer_id":{ref},"type":"viewed_product"}}',
    )

    tables = files_of(export_zip(story.customer, made_at=T0, made_by="test"))

    assert "stranger.secret@example.com" not in json.dumps(tables)
    assert "stranger.order@example.com" not in json.dumps(tables)
    assert "their-event" in [r["key"] for r in tables["crm.IdempotencyRecord.json"]]
    expected = {f"{model._meta.label}.json" for model, _ in customer_models()}
    expected |= {"crm.WebhookDelivery.json", "crm.IdempotencyRecord.json", "crm.OutboundDelivery.json"}
    expected |= {"messaging.Suppression.json", "manifest.json"}
    assert expected <= set(tables)
    assert tables["customers.Customer.json"][0]["email"] == EMAIL
    assert [o["external_id"] for o in tables["customers.Order.json"]] != ["not-theirs"]
    assert all(o["customer_id"] == story.customer.pk for o in tables["customers.Order.json"])
    assert NAME in tables["crm.WebhookDelivery.json"][0]["body"]
    assert tables["manifest.json"]["customer_id"] == story.customer.pk


def test_a_shop_slice_export_leaves_out_other_shops_and_cross_shop_rows(story):
    other_shop = ShopFactory(slug="elsewhere")
    Order.objects.create(
        shop=other_shop, customer=story.customer, external_id="E-9", placed_at=T0, currency="USD", total=1, total_base=1
    )

    tables = files_of(export_zip(story.customer, shop=story.shop, made_at=T0, made_by="test"))

    assert "E-9" not in [o["external_id"] for o in tables["customers.Order.json"]]
    assert "customers.Customer.json" not in tables  # the merged profile is every shop's
    assert "loyalty.PointsEntry.json" not in tables  # the ledger is the shop group's
    assert tables["customers.CustomerIdentity.json"][0]["external_id"] == "shop-id-1"


def test_erasure_leaves_no_personal_data_anywhere_and_keeps_orders_and_figures(story, admin_user):
    customer = story.customer
    Customer.objects.filter(pk=customer.pk).update(orders_count=3, net_revenue=120)
    orders_before = list(Order.objects.filter(customer=customer).values("pk", "total", "total_base", "status"))
    balance_before = list(Account.objects.filter(customer=customer).values_list("balance", flat=True))
    entries_before = PointsEntry.objects.filter(customer=customer).count()
    attachment = TicketAttachment.objects.get()
    logs_before = ErasureLog.objects.count()
    assert default_storage.exists(attachment.file.name)

    log = customer_erase(customer_id=customer.pk, user=admin_user)

    stored = everything_stored()
    assert [s for s in SECRETS if s in stored] == []
    assert not default_storage.exists(attachment.file.name)
    assert list(Order.objects.filter(customer=customer).values("pk", "total", "total_base", "status")) == orders_before
    assert list(Account.objects.filter(customer=customer).values_list("balance", flat=True)) == balance_before
    assert PointsEntry.objects.filter(customer=customer).count() == entries_before
    erased = Customer.objects.get(pk=customer.pk)
    assert (erased.orders_count, erased.net_revenue, erased.email, erased.email_normalized) == (3, 120, "", None)
    # The customer, and the one the story's merge row merged into them.
    assert log.erased_by == admin_user and log.rows["customers.Customer"] == len(merged_into(customer.pk)) == 2
    assert EMAIL not in json.dumps(log.rows)
    assert ErasureLog.objects.count() == logs_before + 1
    # The shop hears of it through its outbound webhook; the erased address is kept as a hash.
    assert list(
        WebhookEvent.objects.filter(event_type=EventType.CUSTOMER_ERASED).values_list("shop_id", flat=True)
    ) == [story.shop.pk]
    assert ErasedEmail.objects.count() == 2  # theirs, and the merged duplicate's


def test_an_import_cannot_subscribe_an_erased_address_again(story, admin_user):
    customer_erase(customer_id=story.customer.pk, user=admin_user)
    shop = ShopFactory(slug="another-shop")

    resolved = customers_resolve(shop=shop, items=[CustomerData(email=EMAIL, marketing_consent=True, first_name="A")])

    again = Customer.objects.get(pk=resolved.ids[0])
    assert again.pk != story.customer.pk
    assert again.marketing_consent is False
    # Another address still subscribes.
    other = customers_resolve(shop=shop, items=[CustomerData(email="new@example.com", marketing_consent=True)])
    assert Customer.objects.get(pk=other.ids[0]).marketing_consent is True


def test_erasing_twice_is_harmless(story, admin_user):
    logs_before = ErasureLog.objects.count()
    customer_erase(customer_id=story.customer.pk, user=admin_user)
    customer_erase(customer_id=story.customer.pk, user=admin_user)
    assert ErasureLog.objects.count() == logs_before + 2
    assert [s for s in SECRETS if s in everything_stored()] == []


def test_erasure_withdraws_consent_and_a_shop_resending_the_person_cannot_subscribe_them(story, admin_user):
    Customer.objects.filter(pk=story.customer.pk).update(marketing_consent=True)
    CustomerIdentity.objects.filter(customer=story.customer).update(marketing_consent=True)
    customer_erase(customer_id=story.customer.pk, user=admin_user)
    assert Customer.objects.get(pk=story.customer.pk).marketing_consent is False

    # The shop sends them again under its own id for them, address and consent included.
    customers_resolve(
        shop=story.shop, items=[CustomerData(external_id="shop-id-1", email=EMAIL, marketing_consent=True)]
    )

    again = Customer.objects.get(pk=story.customer.pk)
    assert again.marketing_consent is False
    assert CustomerIdentity.objects.get(customer=again, shop=story.shop).marketing_consent is False


def test_erased_records_stay_valid_and_empty_text_stays_empty(story, admin_user):
    Review.objects.filter(customer=story.customer).update(response="")
    customer_erase(customer_id=story.customer.pk, user=admin_user)

    ticket = Ticket.objects.get(customer=story.customer)
    assert ticket.subject == "[erased]"
    ticket.full_clean()  # an agent can still answer and solve it
    review = Review.objects.get(customer=story.customer)
    assert (review.body, review.response) == ("[erased]", "")


def test_a_shop_export_names_the_customer_by_the_shops_id_for_them(story):
    ref = customer_refs(shop=story.shop, customer_ids=[story.customer.pk])[story.customer.pk]
    tables = files_of(export_zip(story.customer, shop=story.shop, ref=ref, made_at=T0, made_by="key"))

    assert tables["manifest.json"]["customer_id"] == ref
    assert {o["customer_id"] for o in tables["customers.Order.json"]} == {ref}


def test_erasing_a_customer_erases_the_duplicates_merged_into_them(admin_user):
    """A merged-away duplicate keeps its profile for an undo; the person's erasure reaches it,
    through a chain of merges too (A into B, B into C)."""
    from crm.merging.services import customers_merge
    from crm.privacy.preview import erasure_preview

    pair = two_records(with_points=False)
    third = CustomerFactory(first_name="Jane", last_name="Doe", email="j.doe@old.example", phone="+1 555 0199")
    customers_merge(survivor_id=pair.duplicate.pk, merged_id=third.pk)
    customers_merge(survivor_id=pair.survivor.pk, merged_id=pair.duplicate.pk)
    tables = files_of(export_zip(pair.survivor, made_at=T0, made_by="test"))
    assert {c["email"] for c in tables["customers.Customer.json"]} == {
        "jane@example.com",
        "jane.doe@work.example",
        "j.doe@old.example",
    }
    assert [n for what, n, _ in erasure_preview(pair.survivor) if what == "customers"] == [3]

    customer_erase(customer_id=pair.survivor.pk, user=admin_user)

    stored = everything_stored()
    for secret in ("jane@example.com", "jane.doe@work.example", "j.doe@old.example", "555 0100", "555 0199"):
        assert secret not in stored
    assert ErasedEmail.objects.count() == 3
    assert sorted(Customer.objects.filter(first_name="Jane").values_list("pk", flat=True)) == []
