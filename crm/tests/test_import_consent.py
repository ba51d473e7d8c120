"""The CSV import's accepts_marketing column: each real change of a customer's consent to the
shop is a consent event with the source "import", written set-based; a re-run of the same
file writes none twice."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import ConsentEvent, CustomerIdentity, Shop

pytestmark = pytest.mark.django_db

HEADER = "order_id,placed_at,total,currency,customer_id,email,accepts_marketing\n"
SHOWN = "Email me news and offers (checkbox at checkout)"


@pytest.fixture
def shop():
    return Shop.objects.create(slug="north", name="North")


def run_import(tmp_path, rows: list[str], name="orders.csv") -> tuple[str, str]:
    path = tmp_path / name
    path.write_text(HEADER + "".join(f"{row}\n" for row in rows))
    out, err = StringIO(), StringIO()
    try:
        call_command("import_orders", str(path), "--shop", "north", "--consent-text", SHOWN, stdout=out, stderr=err)
    except CommandError:  # a refused row: reported on stderr, the others imported
        assert err.getvalue()
    return out.getvalue(), err.getvalue()


def consent_of(external_id: str) -> bool | None:
    return CustomerIdentity.objects.get(external_id=external_id).marketing_consent


def test_consent_changes_from_the_file_are_events_from_the_import_and_a_rerun_writes_none(shop, tmp_path):
    rows = [
        "A1,2026-01-02T10:00:00Z,59.90,USD,c-1,ann@example.com,yes",
        "A2,2026-01-03T10:00:00Z,15.00,USD,c-2,bob@example.com,no",  # a first "no": not a withdrawal
        "A3,2026-01-04T10:00:00Z,20.00,USD,c-1,ann@example.com,TRUE",  # the same again: no second event
        "A4,2026-01-05T10:00:00Z,9.00,USD,c-3,cy@example.com,",  # said nothing
        "A5,2026-01-06T10:00:00Z,9.00,USD,c-4,dee@example.com,maybe",
    ]

    out, err = run_import(tmp_path, rows)

    assert "4 orders created, 0 updated, 0 unchanged, 1 with errors" in out
    assert 'row 6, column "accepts_marketing", value "maybe": Not yes or no.' in err
    [given] = ConsentEvent.objects.all()
    assert (given.customer.email, given.shop_id, given.given) == ("ann@example.com", shop.pk, True)
    assert (given.source, given.shown_text, given.by) == ("import", SHOWN, None)
    assert (consent_of("c-1"), consent_of("c-2"), consent_of("c-3")) == (True, False, None)

    out, _ = run_import(tmp_path, rows)

    assert "0 orders created, 0 updated, 4 unchanged, 1 with errors" in out
    assert ConsentEvent.objects.count() == 1

    # A later export: Ann unsubscribed at the shop, Bob subscribed.
    later = [
        "A6,2026-02-01T10:00:00Z,10.00,USD,c-1,ann@example.com,no",
        "A7,2026-02-02T10:00:00Z,10.00,USD,c-2,bob@example.com,yes",
    ]
    run_import(tmp_path, [*rows[:4], *later], name="february.csv")
    run_import(tmp_path, [*rows[:4], *later], name="february.csv")

    events = ConsentEvent.objects.order_by("id")
    assert [(e.customer.email, e.given, e.source) for e in events] == [
        ("ann@example.com", True, "import"),
        ("ann@example.com", False, "import"),
        ("bob@example.com", True, "import"),
    ]


def test_the_events_cost_the_same_queries_for_twenty_customers_as_for_two_hundred(shop, tmp_path):
    def queries(first: int, count: int) -> int:
        rows = [f"B{i},2026-01-02T10:00:00Z,10.00,USD,c-{i},p{i}@example.com,yes" for i in range(first, first + count)]
        with CaptureQueriesContext(connection) as captured:
            run_import(tmp_path, rows)
        return len(captured)

    small, large = queries(0, 20), queries(1000, 200)

    assert ConsentEvent.objects.filter(given=True, source="import").count() == 220
    assert small == large
