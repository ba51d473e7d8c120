"""Run by ``test_migration_0005`` in a process of its own, on an empty database named by
DATABASE_URL: migrate to the one-account-per-customer schema (loyalty 0004, every other app
to its latest), write accounts, a ledger and a referral the old way, migrate on, and check
where everything went.

(Not a test module: it migrates its own database from nothing, which the test database,
migrated once for the whole run, cannot do.)"""

import os
import sys


def main() -> None:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader
    from django.utils import timezone

    call_command("migrate", "loyalty", "0004", verbosity=0)
    graph = MigrationLoader(connection).graph
    for app, name in graph.leaf_nodes():
        # Every other app to its latest, but not past a migration that needs loyalty 0005
        # (the roles' re-sync in crm does): that app stays where it is until the end.
        if app != "loyalty" and ("loyalty", "0005_accounts_per_shop_group") not in graph.forwards_plan((app, name)):
            call_command("migrate", app, name, verbosity=0)

    from customers.models import Customer, CustomerIdentity, Order, Shop

    a, b = Shop.objects.create(slug="a", name="A"), Shop.objects.create(slug="b", name="B")
    now = timezone.now()
    first_seen = Customer.objects.create(email="f@x", email_normalized="f@x", first_seen_shop=b)
    by_order = Customer.objects.create(email="o@x", email_normalized="o@x")
    Order.objects.create(
        shop=a, customer=by_order, external_id="1", placed_at=now, status="paid", currency="USD",
        total=10, subtotal=10, total_base=10,
    )  # fmt: skip
    by_identity = Customer.objects.create(email="i@x", email_normalized="i@x")
    CustomerIdentity.objects.create(shop=b, customer=by_identity, external_id="i")
    nowhere = Customer.objects.create(email="n@x", email_normalized="n@x")
    with connection.cursor() as cursor:
        for customer, points, code in ((first_seen, 100, "AAA"), (by_order, 50, None), (by_identity, 7, None),
                                       (nowhere, 3, None)):  # fmt: skip
            cursor.execute(
                "INSERT INTO loyalty_account (customer_id, balance, pending, tier_qualifying, referral_code, "
                "updated_at) VALUES (%s, %s, 0, 0, %s, %s)",
                [customer.pk, points, code, now],
            )
            cursor.execute(
                "INSERT INTO loyalty_pointsentry (customer_id, kind, available, pending, key, source, reason, "
                "created_at) VALUES (%s, 'earn', %s, 0, %s, 's', '', %s)",
                [customer.pk, points, f"k{customer.pk}", now],
            )
        cursor.execute(
            "INSERT INTO loyalty_referral (referrer_id, referee_id, status, hold_reason, created_at) "
            "VALUES (%s, %s, 'pending', '', %s)",
            [first_seen.pk, by_order.pk, now],
        )

    call_command("migrate", verbosity=0)

    from loyalty.models import Account, PointsEntry, Referral
    from loyalty.verify import balances_verify

    # The first shop's group, else the first order's shop's, else a known shop's, else the first group.
    moved = {
        (x.customer.email, x.group_id, x.balance, x.referral_code) for x in Account.objects.select_related("customer")
    }
    assert moved == {
        ("f@x", b.group_id, 100, "AAA"),
        ("o@x", a.group_id, 50, None),
        ("i@x", b.group_id, 7, None),
        ("n@x", a.group_id, 3, None),
    }, moved
    assert not PointsEntry.objects.filter(group__isnull=True).exists()
    assert Referral.objects.get().group_id == b.group_id
    assert balances_verify()[1] == []
    print(connection.vendor, f"migration 0005 moved {len(moved)} accounts: OK")


if __name__ == "__main__":
    main()
