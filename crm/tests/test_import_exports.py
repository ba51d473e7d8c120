"""import_orders reads the platforms' own exports as they are: Shopify's "Export orders"
CSV and WooCommerce's (Advanced Order Export) CSV, a European Excel's semicolons and
decimal commas, and a preview that writes nothing. The files in ``exports/`` are shaped
like the real ones: every column of the export, one row per line item, order-level
columns on an order's first row only, a note with a line break in it."""

from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command, execute_from_command_line
from django.db.models import Sum
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.csv_import import detect_delimiter
from customers.models import Customer, ExchangeRate, Order, OrderLine, Product, Refund, Shop

pytestmark = pytest.mark.django_db
EXPORTS = Path(__file__).parent / "exports"


@pytest.fixture(autouse=True)
def shop():
    ExchangeRate.objects.create(currency="EUR", rate_to_base=Decimal("1.10"))
    return Shop.objects.create(slug="north", name="North")


def run(name: str | Path, *args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    path = name if isinstance(name, Path) else EXPORTS / name
    call_command("import_orders", str(path), "--shop", "north", *args, stdout=out, stderr=err, verbosity=0)
    return out.getvalue(), err.getvalue()


def orders() -> dict[str, tuple]:
    return {
        o.external_id: (o.status, f"{o.total} {o.currency}", f"{o.subtotal}", f"{o.discount_total}", f"{o.tax_total}")
        + (o.customer.email,)
        for o in Order.objects.select_related("customer")
    }


def counted_revenue() -> Decimal:
    """What the figures count: orders not cancelled or refunded, less their refunds."""
    counted = Order.objects.counted()
    return counted.aggregate(s=Sum("total_base"))["s"] - counted.aggregate(s=Sum("refunded_base"))["s"]


def test_a_shopify_export_imports_as_it_is(shop):
    out, err = run("shopify_orders_export.csv", "--preset", "shopify")

    assert err == ""
    assert "6 orders created, 0 updated, 0 unchanged, 0 with errors; 5 new customers, 8 order lines, 2 refunds" in out
    assert orders() == {
        # lines 2 × 16.00 + 20.00 = 52.00; Shopify's subtotal is after the 5.00 discount
        "#1001": ("fulfilled", "56.29 USD", "52.00", "5.00", "3.29", "ada@example.com"),
        "#1002": ("cancelled", "30.00 USD", "25.00", "0.00", "0.00", "bo@example.com"),
        "#1003": ("fulfilled", "34.90 EUR", "30.00", "0.00", "0.00", "cy@example.com"),
        "#1004": ("paid", "12.96 USD", "12.00", "0.00", "0.96", "ada@example.com"),
        "#1005": ("placed", "40.00 USD", "40.00", "0.00", "0.00", "dee@example.com"),
        "#1006": ("refunded", "25.00 USD", "20.00", "0.00", "0.00", "eve@example.com"),
    }
    assert [
        (line.sku, line.quantity, line.unit_price) for line in OrderLine.objects.filter(order__external_id="#1001")
    ] == [
        ("FERN-1", 2, Decimal("16.00")),
        ("TOTE-1", 1, Decimal("20.00")),
    ]
    # The partial refund of #1003 is a refund; the voided #1002 is not revenue.
    assert sorted(Refund.objects.values_list("order__external_id", "amount")) == [
        ("#1003", Decimal("12.00")),
        ("#1006", Decimal("25.00")),
    ]
    # 56.29 + 12.96 + 40.00 USD, and 34.90 − 12.00 EUR at 1.10
    assert counted_revenue() == Decimal("56.29") + Decimal("12.96") + Decimal("40.00") + Decimal("25.19")
    ada = Customer.objects.get(email_normalized="ada@example.com")
    assert (ada.first_name, ada.last_name, ada.country, ada.orders.count()) == ("Ada", "Example", "US", 2)

    call_command("recompute_customers", "--from-orders", stdout=StringIO())
    ada.refresh_from_db()
    assert (ada.orders_count, ada.net_revenue) == (2, Decimal("69.25"))
    assert Customer.objects.get(email_normalized="bo@example.com").net_revenue == Decimal("0.00")


def test_a_second_import_of_the_same_export_changes_nothing_and_a_later_refund_is_added(tmp_path):
    run("shopify_orders_export.csv", "--preset", "shopify")

    out, _ = run("shopify_orders_export.csv", "--preset", "shopify")

    assert "0 orders created, 0 updated, 6 unchanged, 0 with errors; 0 new customers, 0 order lines, 0 refunds" in out
    assert Refund.objects.count() == 2

    # A week later #1003 has 20.00 refunded in all: the import adds the 8.00 more.
    later = tmp_path / "later.csv"
    later.write_text((EXPORTS / "shopify_orders_export.csv").read_text().replace(",12.00,,0.00,", ",20.00,,0.00,"))
    out, _ = run(later, "--preset", "shopify")

    assert "1 refunds" in out
    assert sorted(Refund.objects.filter(order__external_id="#1003").values_list("amount", flat=True)) == [
        Decimal("8.00"),
        Decimal("12.00"),
    ]


def test_a_woocommerce_export_imports_as_it_is():
    out, err = run("woocommerce_orders_export.csv", "--preset", "woocommerce", "--timezone", "Europe/Amsterdam")

    assert err == ""
    assert "6 orders created, 0 updated, 0 unchanged, 0 with errors; 4 new customers, 7 order lines, 2 refunds" in out
    assert {k: v[:2] for k, v in orders().items()} == {
        "5001": ("fulfilled", "74.80 USD"),
        "5002": ("paid", "34.00 EUR"),
        "5003": ("cancelled", "15.00 USD"),
        "5004": ("fulfilled", "40.00 USD"),
        "5005": ("refunded", "25.00 USD"),
        "5006": ("placed", "9.99 EUR"),
    }
    first = Order.objects.get(external_id="5001")
    # The second line's row leaves the order columns empty, as the plugin can write it.
    assert [(line.sku, line.quantity) for line in first.lines.all()] == [("HOOD-1", 1), ("CAP-2", 2)]
    assert (first.discount_code, first.discount_total, first.placed_at.isoformat()) == (
        "spring10",
        Decimal("7.00"),
        "2026-03-01T08:30:00+00:00",  # 09:30 in Amsterdam
    )
    hana = Customer.objects.get(email_normalized="hana@example.com")
    assert (hana.first_name, hana.last_name, hana.orders.count()) == ("Hana", "Example", 2)
    assert sorted(Refund.objects.values_list("order__external_id", "amount")) == [
        ("5004", Decimal("10.00")),
        ("5005", Decimal("25.00")),
    ]
    # 74.80 + (40.00 − 10.00) USD, (34.00 + 9.99) EUR at 1.10
    assert counted_revenue() == Decimal("74.80") + Decimal("30.00") + Decimal("37.40") + Decimal("10.99")


def test_a_semicolon_file_with_decimal_commas_and_prices_that_include_tax():
    out, err = run("shopify_orders_export_semicolon.csv", "--preset", "shopify")

    assert err == ""
    assert "2 orders created" in out
    assert orders() == {
        # 2 × 19,90 + 4,90 shipping = 44,70: the 7,14 VAT is inside the prices, not added again
        "#2001": ("fulfilled", "44.70 EUR", "39.80", "0.00", "0.00", "fritz@example.de"),
        "#2002": ("fulfilled", "1209.00 EUR", "1309.00", "100.00", "0.00", "greta@example.at"),
    }
    assert Product.objects.get(sku="SESSEL-1").price == Decimal("1299.00")


def test_preview_shows_what_would_be_created_and_writes_nothing():
    out, err = run("shopify_orders_export.csv", "--preset", "shopify", "--dry-run")

    assert err == ""
    assert "Preview: nothing was written." in out
    assert (
        "  rows 2-3: order #1001, 2026-09-03 14:14 UTC, fulfilled, 56.29 USD, ada@example.com, 2 lines, "
        + ("discount 5.00\n")
        in out
    )
    assert (
        "  rows 5-6: order #1003, 2026-09-05 16:30 UTC, fulfilled, 34.90 EUR, cy@example.com, 2 lines, "
        + ("refunded 12.00\n")
        in out
    )
    assert "Would import shopify_orders_export.csv: 6 orders created" in out
    assert "5 new customers, 8 order lines, 2 refunds" in out
    counts = [m.objects.count() for m in (Order, OrderLine, Customer, Refund, Product)]
    assert counts == [0, 0, 0, 0, 0]


HEADER = "Name,Email,Financial Status,Currency,Subtotal,Shipping,Taxes,Total,Created at," + (
    "Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Accepts Marketing\n"
)
BAD = (
    HEADER
    + """#1,ann@example.com,paid,USD,10.00,0.00,0.00,10.00,2026-09-01 10:00:00 +0000,1,Mug,10.00,MUG,yes
#2,bob@example.com,layaway,USD,10.00,0.00,0.00,10.00,2026-09-01 10:00:00 +0000,1,Mug,10.00,MUG,yes
#3,cy@example.com,paid,USD,10.00,0.00,0.00,10.00,01/09/2026,1,Mug,10.00,MUG,yes
#4,dee@example.com,paid,USD,10.00,0.00,0.00,10.00,2026-09-01 10:00:00 +0000,1,Mug,10.00,MUG,maybe
#5,eve@example.com,paid,USD,20.00,0.00,0.00,20.00,2026-09-01 10:00:00 +0000,1,Mug,10.00,MUG,yes
#5,eve@example.com,,,,,,,,-1,Spoon,10.00,SPOON,
#6,fay@example.com,paid,XYZ,10.00,0.00,0.00,10.00,2026-09-01 10:00:00 +0000,1,Mug,10.00,MUG,no
"""
)


def test_errors_name_the_row_the_column_the_value_and_what_is_allowed_and_the_command_fails(tmp_path):
    path = tmp_path / "orders_export.csv"
    path.write_text(BAD)
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError, match=r"5 problem\(s\) in orders_export.csv, listed above by row; 5 order\(s\)"):
        call_command("import_orders", str(path), "--shop", "north", "--preset", "shopify", stdout=out, stderr=err)

    lines = err.getvalue().splitlines()
    assert lines[0] == (
        'row 3, column "Financial Status", value "layaway": Not a status this import knows. Allowed: authorized, '
        "cancelled, expired, fulfilled, paid, partially-paid, partially-refunded, pending, placed, refunded, voided "
        "(or add one with --status VALUE=STATUS)."
    )
    assert lines[1] == (
        'row 4, column "Created at", value "01/09/2026": Not a date in the file\'s format. Allowed: '
        "2026-01-31 14:05:00 +0100 (%Y-%m-%d %H:%M:%S %z), 2026-01-31 14:05 +0100 (%Y-%m-%d %H:%M %z), or ISO 8601."
    )
    assert lines[2] == (
        'row 5, column "Accepts Marketing", value "maybe": Not yes or no. Allowed: yes, y, true, 1, no, n, false, 0, '
        "or empty (not said)."
    )
    assert (
        lines[3]
        == 'row 7, column "Lineitem quantity", value "-1": Not a whole number of at least 1. Allowed: 1, 2, 3 …'
    )
    assert lines[4] == (
        'row 8, column "Currency", value "XYZ": No exchange rate from XYZ to the base currency; add one first.'
    )
    assert "1 orders created, 0 updated, 0 unchanged, 5 with errors" in out.getvalue()
    assert list(Order.objects.values_list("external_id", flat=True)) == ["#1"]

    # The shop's own word for a status, mapped once on the command line.
    with pytest.raises(CommandError):
        call_command(
            "import_orders",
            str(path),
            "--shop",
            "north",
            "--preset",
            "shopify",
            "--status",
            "layaway=placed",
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert Order.objects.get(external_id="#2").status == "placed"


def test_a_subtotal_after_the_discount_is_understood_without_a_preset(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,placed_at,total,currency,email,subtotal,discount,sku,name,quantity,unit_price\n"
        "A1,2026-01-02T10:00:00Z,45.00,USD,ann@example.com,45.00,5.00,MUG,Mug,2,25.00\n"  # after the discount
        "A2,2026-01-02T11:00:00Z,45.00,USD,bob@example.com,50.00,5.00,MUG,Mug,2,25.00\n"  # before it
        "A3,2026-01-02T12:00:00Z,45.00,USD,cy@example.com,47.00,5.00,MUG,Mug,2,25.00\n"  # neither
    )
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError):
        call_command("import_orders", str(path), "--shop", "north", stdout=out, stderr=err)

    assert "2 orders created" in out.getvalue()
    assert err.getvalue().strip() == (
        'row 4, column "subtotal", value "47.00": Subtotal 47.00 does not match the lines, which add up to 50.00 '
        "(or 45.00 after the discount)."
    )
    assert set(Order.objects.values_list("subtotal", flat=True)) == {Decimal("50.00")}


def test_a_semicolon_file_is_read_without_a_preset(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id;placed_at;total;currency;email;sku;name;quantity;unit_price\n"
        "A1;2026-01-02T10:00:00Z;1.234,50;EUR;ann@example.com;SOFA;Sofa;1;1.234,50\n"
    )

    out, _ = run(path)

    assert "1 orders created" in out
    assert Order.objects.get().total == Decimal("1234.50")


def test_an_order_whose_rows_are_apart_is_refused_and_a_time_without_offset_is_in_the_timezone(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,placed_at,total,currency,email,sku,name,quantity,unit_price\n"
        "A1,2026-01-02T10:00:00,10.00,USD,ann@example.com,MUG,Mug,1,10.00\n"
        "A2,2026-01-02T11:00:00Z,5.00,USD,bob@example.com,TEA,Tea,1,5.00\n"
        "A1,2026-01-02T10:00:00,10.00,USD,ann@example.com,SPOON,Spoon,1,10.00\n"
    )
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError):
        call_command(
            "import_orders", str(path), "--shop", "north", "--timezone", "Europe/Berlin", stdout=out, stderr=err
        )

    assert err.getvalue().strip() == (
        'row 4, column "order_id", value "A1": This order\'s rows began at row 2. Allowed: an order\'s rows one '
        "after another (sort the file by order)."
    )
    first = Order.objects.get(external_id="A1")
    assert (first.placed_at.isoformat(), first.lines.count()) == ("2026-01-02T09:00:00+00:00", 1)


@settings(max_examples=200, deadline=None)
@given(
    names=st.lists(
        st.text(alphabet=st.characters(whitelist_categories=("L", "N"), whitelist_characters=" ()#&-_"), min_size=1),
        min_size=2,
        max_size=40,
    ),
    delimiter=st.sampled_from([",", ";", "\t"]),
)
def test_the_delimiter_is_found_from_any_header(names, delimiter):
    header = delimiter.join(names)

    assert detect_delimiter(header) == delimiter


def test_a_file_excel_saved_as_windows_1252_is_read(tmp_path):
    path = tmp_path / "orders_export.csv"
    text = (EXPORTS / "shopify_orders_export_semicolon.csv").read_text(encoding="utf-8-sig")
    path.write_bytes(text.encode("cp1252"))

    out, err = run(path, "--preset", "shopify")

    assert err == ""
    assert "read as Windows-1252" in out and "2 orders created" in out
    assert Product.objects.get(sku="OEL-1").name == "Pflegeöl"


def test_the_command_line_exits_with_status_1_when_a_row_is_refused(tmp_path, capsys):
    path = tmp_path / "orders_export.csv"
    path.write_text(BAD)

    with pytest.raises(SystemExit) as exit:
        execute_from_command_line(["manage.py", "import_orders", str(path), "--shop", "north", "--preset", "shopify"])

    assert exit.value.code == 1
    captured = capsys.readouterr()
    assert "1 orders created, 0 updated, 0 unchanged, 5 with errors" in captured.out
    assert '\nrow 3, column "Financial Status", value "layaway"' in captured.err  # after the progress bar
    assert "CommandError: 5 problem(s) in orders_export.csv" in captured.err
