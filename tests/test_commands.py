"""Management commands: create_shop, import_orders, seed_demo; and the deploy checks."""

import contextlib
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Max, Sum
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import SegmentMembership
from crm.dashboard.models import DailyPoints
from customers.models import ApiKey, Customer, Event, Order, OrderLine, Refund, Shop
from loyalty.models import Account, EarningRule, PointsEntry, Reward, Tier
from support.models import BusinessHours, CsatResponse, Macro, NpsResponse, Review, SlaPolicy, Team, Ticket

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


class TestCreateShop:
    def test_prints_a_key_that_works_once_and_is_stored_hashed(self):
        out, _ = run("create_shop", "north", "--name", "North Store")

        key = out.split("API key (shown once, store it now): ")[1].strip()
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        assert client.get("/api/v1/customers").status_code == 200
        assert Shop.objects.get().name == "North Store"
        assert key not in ApiKey.objects.get().key_hash

    def test_an_existing_shop_needs_new_key_flag(self):
        run("create_shop", "north")
        with pytest.raises(CommandError, match="--new-key"):
            run("create_shop", "north")
        run("create_shop", "north", "--new-key")
        assert ApiKey.objects.count() == 2

    def test_a_bad_slug_is_a_clear_error(self):
        with pytest.raises(CommandError, match="Invalid slug"):
            run("create_shop", "no spaces")


CSV = """Order,Date,Email,Customer,Total,Currency,SKU,Item,Qty,Price
A1,02/01/2026 10:00,ann@example.com,c-1,59.90,USD,MUG,Mug,2,29.95
A2,03/01/2026 11:30,bob@example.com,c-2,15.00,USD,TEA,Tea,1,10.00
A2,03/01/2026 11:30,bob@example.com,c-2,15.00,USD,SPOON,Spoon,1,5.00
A3,bad date,cy@example.com,c-3,5.00,USD,,,,
A4,04/01/2026 09:00,dee@example.com,c-4,-3.00,USD,,,,
A5,05/01/2026 09:00,ann@example.com,c-1,20.00,USD,,,,
"""
MAP = ["--map", "order_id=Order", "--map", "placed_at=Date", "--map", "email=Email", "--map", "customer_id=Customer"]
MAP += ["--map", "total=Total", "--map", "currency=Currency", "--map", "sku=SKU", "--map", "name=Item"]
MAP += ["--map", "quantity=Qty", "--map", "unit_price=Price"]


class TestImportOrders:
    @pytest.fixture
    def csv_file(self, tmp_path):
        path = tmp_path / "orders.csv"
        path.write_text(CSV)
        Shop.objects.create(slug="north", name="North")
        return path

    def test_imports_good_rows_and_reports_bad_ones_by_row_and_fails(self, csv_file):
        out, err = StringIO(), StringIO()
        args = ("import_orders", str(csv_file), "--shop", "north", "--date-format", "%d/%m/%Y %H:%M", *MAP)
        with pytest.raises(CommandError, match=r"2 order\(s\) were not imported"):
            call_command(*args, stdout=out, stderr=err)

        assert "3 orders created, 0 updated, 0 unchanged, 2 with errors" in out.getvalue()
        assert err.getvalue().splitlines() == [
            'row 5, column "Date", value "bad date": Not a date in the file\'s format. Allowed: '
            "31/01/2026 14:05 (%d/%m/%Y %H:%M), or ISO 8601.",
            'row 6, column "Total", value "-3.00": Must be at least 0.',
        ]
        assert sorted(Order.objects.values_list("external_id", flat=True)) == ["A1", "A2", "A5"]
        assert sorted(OrderLine.objects.filter(order__external_id="A2").values_list("sku", flat=True)) == [
            "SPOON",
            "TEA",
        ]
        assert Order.objects.get(external_id="A1").placed_at.isoformat() == "2026-01-02T10:00:00+00:00"
        assert Customer.objects.get(email_normalized="ann@example.com").orders.count() == 2

    def test_a_rerun_changes_nothing(self, csv_file):
        args = ("import_orders", str(csv_file), "--shop", "north", "--date-format", "%d/%m/%Y %H:%M", *MAP)
        with pytest.raises(CommandError):
            run(*args)
        out = StringIO()

        with pytest.raises(CommandError):
            call_command(*args, stdout=out, stderr=StringIO())

        assert "0 orders created, 0 updated, 3 unchanged, 2 with errors" in out.getvalue()
        assert Order.objects.count() == 3 and OrderLine.objects.count() == 3

    def test_a_missing_column_names_it_and_the_map_option(self, csv_file):
        with pytest.raises(CommandError, match=r"order_id.*--map"):
            run("import_orders", str(csv_file), "--shop", "north")

    def test_unknown_shop_is_a_clear_error(self, csv_file):
        with pytest.raises(CommandError, match="No shop 'south'"):
            run("import_orders", str(csv_file), "--shop", "south")


class TestSeedDemo:
    def _snapshot(self):
        return (
            Customer.objects.count(),
            Order.objects.count(),
            OrderLine.objects.count(),
            Refund.objects.count(),
            Event.objects.count(),
            Order.objects.aggregate(s=Sum("total_base"))["s"],
            list(Order.objects.order_by("id").values_list("placed_at", "total", "status")[:50]),
            Customer.objects.aggregate(s=Sum("net_revenue"))["s"],
        )

    def test_is_deterministic_for_a_seed_and_end_date(self):
        class Undo(Exception):
            pass

        # The first seed is rolled back whole (the points ledger is append-only: no deletes).
        with contextlib.suppress(Undo), transaction.atomic():
            run("seed_demo", "--customers", "300", "--seed", "5", "--end", "2026-06-30", "-v", "0")
            first = self._snapshot()
            raise Undo
        assert not Order.objects.exists()
        run("seed_demo", "--customers", "300", "--seed", "5", "--end", "2026-06-30", "-v", "0")

        assert self._snapshot() == first
        assert first[1] > 300  # repeat buyers exist

    def test_history_is_realistic_and_aggregates_are_filled(self):
        run("seed_demo", "--customers", "500", "--seed", "3", "--end", "2026-06-30", "-v", "0")

        assert Shop.objects.count() == 2
        prospects = Customer.objects.filter(orders_count=0).count()
        repeaters = Customer.objects.filter(orders_count__gte=2).count()
        assert 20 < prospects < 150 and repeaters > 150
        assert Order.objects.filter(status="refunded").exists() and Order.objects.filter(status="cancelled").exists()
        assert Order.objects.filter(currency="EUR").exists()
        # Every order's lines add up to its subtotal, and totals follow from it.
        for order in Order.objects.prefetch_related("lines")[:200]:
            assert sum(line.line_total for line in order.lines.all()) == order.subtotal
            assert order.total == order.subtotal - order.discount_total + order.shipping_total
        # Aggregates agree with the orders they summarise.
        customer = Customer.objects.filter(orders_count__gte=3).first()
        counted = customer.orders.exclude(status__in=["cancelled", "refunded"])
        assert customer.orders_count == counted.count()
        refunds = Refund.objects.filter(order__in=counted).aggregate(s=Sum("amount_base"))["s"] or Decimal(0)
        assert customer.net_revenue == counted.aggregate(s=Sum("total_base"))["s"] - refunds

    def test_refuses_to_seed_twice_unless_if_empty(self):
        run("seed_demo", "--customers", "10", "-v", "0")
        with pytest.raises(CommandError, match="exist already"):
            run("seed_demo", "--customers", "10", "-v", "0")
        out, _ = run("seed_demo", "--customers", "10", "--if-empty", "-v", "0")
        assert "nothing to do" in out


class TestSeedDemoEveryApp:
    """The demo seeds every app, so each role's first screen has something in it."""

    def test_no_order_refund_event_or_ticket_is_dated_after_the_moment_of_seeding(self):
        run("seed_demo", "--customers", "300", "--seed", "2", "-v", "0")
        after = timezone.now()

        latest = [
            Order.objects.aggregate(m=Max("placed_at"))["m"],
            Refund.objects.aggregate(m=Max("refunded_at"))["m"],
            Event.objects.aggregate(m=Max("occurred_at"))["m"],
            Ticket.objects.aggregate(m=Max("created_at"))["m"],
            Review.objects.aggregate(m=Max("created_at"))["m"],
            NpsResponse.objects.aggregate(m=Max("created_at"))["m"],
        ]
        assert all(moment is not None and moment <= after for moment in latest), latest

    def test_an_end_date_is_the_last_day_of_the_history(self):
        run("seed_demo", "--customers", "300", "--seed", "2", "--end", "2026-06-30", "-v", "0")

        assert Order.objects.aggregate(m=Max("placed_at"))["m"] < datetime(2026, 7, 1, tzinfo=UTC)
        assert Order.objects.filter(placed_at__date="2026-06-30").exists()

    def test_points_are_dated_as_if_the_programme_ran_all_year(self):
        run("seed_demo", "--customers", "300", "--seed", "2", "-v", "0")
        seeded_at = timezone.now()

        earns = PointsEntry.objects.filter(kind="earn", order__isnull=False)
        assert earns.exists()
        assert not earns.exclude(created_at=F("order__placed_at")).exists()  # each on its order's moment
        days = {at.date() for at in PointsEntry.objects.values_list("created_at", flat=True)}
        assert len(days) > 100  # spread over the year, not one spike on the day of seeding
        matured = PointsEntry.objects.filter(kind="mature")
        assert matured.exists() and all(at <= seeded_at for at in matured.values_list("created_at", flat=True))
        # The dashboard's daily rollup reads the same: points issued on many days.
        assert DailyPoints.objects.filter(issued__gt=0).values("day").distinct().count() > 100
        if connection.vendor == "postgresql":  # and the ledger is append-only again
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
                earns.update(created_at=seeded_at)

    def test_support_loyalty_reviews_nps_and_segments_have_content(self, admin_client):
        out, _ = run("seed_demo", "--customers", "300", "--seed", "1")

        # Support: the desk is set up, and open tickets are in each SLA state.
        assert BusinessHours.objects.exists() and Team.objects.filter(handles_escalations=True).exists()
        assert set(SlaPolicy.objects.values_list("priority", flat=True)) == {"urgent", "high", "normal", "low"}
        assert Macro.objects.count() >= 3
        open_states = set(Ticket.objects.filter(status__in=Ticket.OPEN_STATUSES).values_list("sla_state", flat=True))
        assert open_states == {"ok", "at_risk", "breached"}
        queue = admin_client.get("/admin/support/ticket/").content.decode()
        assert "on track" in queue and "about to breach" in queue and "Breached" in queue
        # Reviews (published, and waiting for moderation), NPS and CSAT.
        assert set(Review.objects.values_list("status", flat=True)) == {"published", "pending"}
        assert NpsResponse.objects.filter(score__gte=9).exists() and NpsResponse.objects.filter(score__lte=6).exists()
        assert CsatResponse.objects.exists()
        # Loyalty: programme, tiers, rules, rewards, points and assigned tiers.
        assert Tier.objects.count() == 3 and EarningRule.objects.count() == 4 and Reward.objects.count() == 4
        assert Account.objects.filter(tier__isnull=False).exists()
        assert Account.objects.filter(balance__gt=0).exists() and Account.objects.filter(pending__gt=0).exists()
        # Segments: the ready-made ones have members.
        assert SegmentMembership.objects.filter(exited_at__isnull=True).values("segment").distinct().count() >= 3
        assert "Seeding took" in out
        # A user per role, who lands where the role may go.
        for username, path in (("agent", "/admin/support/ticket/"), ("marketer", "/admin/campaigns/segment/")):
            client = Client()
            assert client.login(username=username, password="demo")
            assert client.get(path).status_code == 200
        assert Client().login(username="manager", password="demo")
        # Each has an address of their own, so "send a test" works in the demo.
        staff = dict(
            get_user_model()
            .objects.filter(username__in=["agent", "marketer", "manager"])
            .values_list("username", "email")
        )
        assert staff == {name: f"{name}@demo.example" for name in ("agent", "marketer", "manager")}


def test_deploy_checks_are_clean_under_production_settings():
    """The checks connect to the database (a generated column asks its version), so on
    PostgreSQL they are pointed at the test database, the one that exists here."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "x" * 20 + "production-secret-from-the-environment-0123456789",
        "ALLOWED_HOSTS": "crm.example.com",
    }
    if connection.vendor == "postgresql":
        url = urlsplit(os.environ["DATABASE_URL"])
        env["DATABASE_URL"] = urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"]))
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.production", ALLOWED_HOSTS="crm.example.com")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


class TestRecomputeCustomers:
    def test_full_refits_then_gives_every_customer_a_stage(self):
        from datetime import timedelta

        from django.utils import timezone

        from customers.models import ClvModel, CustomerMetrics
        from customers.tests.factories import CustomerFactory, OrderFactory

        OrderFactory(placed_at=timezone.now() - timedelta(days=3))
        CustomerFactory()
        out = StringIO()

        call_command("recompute_customers", "--full", stdout=out, verbosity=0)

        assert "CLV model: Not enough data. 0 repeat buyers; the model needs at least 200." in out.getvalue()
        assert "Recomputed 2 customers" in out.getvalue()
        assert ClvModel.objects.get().status == ClvModel.Status.NOT_ENOUGH_DATA
        assert sorted(CustomerMetrics.objects.values_list("stage", flat=True)) == ["new", "prospect"]

    def test_async_queues_one_task_per_chunk(self):
        from customers.tests.factories import CustomerFactory

        CustomerFactory()
        out = StringIO()

        call_command("recompute_customers", "--async", stdout=out)  # eager without REDIS_URL

        assert "Queued 1 chunk tasks." in out.getvalue()


@pytest.mark.django_db
def test_the_demos_shops_share_one_group_so_a_demo_key_sees_stages():
    from customers.models import Shop
    from customers.services.demo_data import ensure_shops_and_rates

    ensure_shops_and_rates()

    assert Shop.objects.filter(slug__startswith="demo-").values("group").distinct().count() == 1
