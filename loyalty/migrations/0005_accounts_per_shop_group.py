"""Points accounts per (customer, shop group): shops share a balance only within a group.

The one-to-one account becomes one row per (customer, group). Existing accounts, with their
whole ledger, move to the customer's home group: the group of the shop they were first seen
in, else of the shop of their first order, else of any shop they are known in (else the first
group there is). Their tier changes and referrals go with them. The new table is created
beside the old one, filled with one ``INSERT … SELECT``, and the old one dropped; the ledger
gets its group in one ``UPDATE`` (on PostgreSQL with the append-only trigger held off for it).
Works on SQLite and PostgreSQL.

Keys written before this migration have no group in them; a birthday bonus already paid this
year under the old key may be paid once more into the same account.
"""

import django.db.models.deletion
from django.db import migrations, models

HOME_GROUP = """COALESCE(
    (SELECT s.group_id FROM customers_customer cu JOIN customers_shop s ON s.id = cu.first_seen_shop_id
     WHERE cu.id = {c}),
    (SELECT s.group_id FROM customers_order o JOIN customers_shop s ON s.id = o.shop_id
     WHERE o.customer_id = {c} ORDER BY o.placed_at, o.id LIMIT 1),
    (SELECT s.group_id FROM customers_customeridentity i JOIN customers_shop s ON s.id = i.shop_id
     WHERE i.customer_id = {c} ORDER BY i.id LIMIT 1),
    (SELECT MIN(id) FROM customers_shopgroup)
)"""


def move_accounts(apps, schema_editor):
    connection = schema_editor.connection
    postgres = connection.vendor == "postgresql"
    ShopGroup = apps.get_model("customers", "ShopGroup")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM loyalty_oldaccount) OR EXISTS (SELECT 1 FROM loyalty_pointsentry)"
        )
        if not cursor.fetchone()[0]:
            return
        if not ShopGroup.objects.exists():  # accounts without any shop: kept in a group of their own
            ShopGroup.objects.create(name="Loyalty (no shop)")
        cursor.execute(
            f"""
            INSERT INTO loyalty_account (customer_id, group_id, balance, pending, tier_id, tier_since,
                tier_grace_until, tier_qualifying, referral_code, updated_at)
            SELECT c.customer_id, {HOME_GROUP.format(c="c.customer_id")}, COALESCE(a.balance, 0),
                COALESCE(a.pending, 0), a.tier_id, a.tier_since, a.tier_grace_until, COALESCE(a.tier_qualifying, 0),
                a.referral_code, COALESCE(a.updated_at, CURRENT_TIMESTAMP)
            FROM (SELECT customer_id FROM loyalty_oldaccount
                  UNION SELECT customer_id FROM loyalty_pointsentry) c
            LEFT JOIN loyalty_oldaccount a ON a.customer_id = c.customer_id
            """
        )
        if postgres:
            cursor.execute("ALTER TABLE loyalty_pointsentry DISABLE TRIGGER loyalty_pointsentry_append_only")
        cursor.execute(
            "UPDATE loyalty_pointsentry SET group_id = "
            "(SELECT a.group_id FROM loyalty_account a WHERE a.customer_id = loyalty_pointsentry.customer_id)"
        )
        cursor.execute(
            "UPDATE loyalty_tierchange SET group_id = "
            "(SELECT a.group_id FROM loyalty_account a WHERE a.customer_id = loyalty_tierchange.customer_id)"
        )
        cursor.execute(
            "UPDATE loyalty_referral SET group_id = COALESCE("
            "(SELECT a.group_id FROM loyalty_account a WHERE a.customer_id = loyalty_referral.referrer_id), "
            "(SELECT MIN(id) FROM customers_shopgroup))"
        )
        if postgres:
            # Check the deferred foreign keys now, so the tables can be altered in this transaction.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE loyalty_pointsentry ENABLE TRIGGER loyalty_pointsentry_append_only")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE loyalty_account SET (fillfactor = 90)", params=None)


def set_old_table_aside(apps, schema_editor):
    schema_editor.execute("ALTER TABLE loyalty_account RENAME TO loyalty_oldaccount", params=None)
    # PostgreSQL names indexes per schema: the renamed table's primary key keeps its name,
    # which the new table needs.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER INDEX loyalty_account_pkey RENAME TO loyalty_oldaccount_pkey", params=None)


def drop_old_table(apps, schema_editor):
    schema_editor.execute("DROP TABLE loyalty_oldaccount", params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0010_shop_groups"),
        ("loyalty", "0004_account_fewer_indexes"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="account", name="account_pending_gte_0"),
        migrations.RemoveConstraint(model_name="account", name="account_referral_code_uniq"),
        migrations.RemoveIndex(model_name="account", name="account_tier_idx"),
        # The old table is set aside under another name and the model made anew: renaming the
        # model would rename its content type too, and the roles' permissions with it.
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(set_old_table_aside)],
            state_operations=[migrations.DeleteModel("Account")],
        ),
        migrations.CreateModel(
            name="Account",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("balance", models.BigIntegerField(default=0)),
                ("pending", models.BigIntegerField(default=0)),
                ("tier_since", models.DateTimeField(blank=True, null=True)),
                ("tier_grace_until", models.DateTimeField(blank=True, null=True)),
                ("tier_qualifying", models.DecimalField(decimal_places=2, default=0, max_digits=14)),
                ("referral_code", models.CharField(blank=True, max_length=16, null=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "customer",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="loyalty_accounts",
                        to="customers.customer",
                    ),
                ),
                (
                    "group",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="loyalty_accounts",
                        to="customers.shopgroup",
                    ),
                ),
                (
                    "tier",
                    models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="accounts",
                        to="loyalty.tier",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("customer", "group"), name="account_customer_group_uniq"),
                    models.CheckConstraint(condition=models.Q(("pending__gte", 0)), name="account_pending_gte_0"),
                    models.UniqueConstraint(fields=("referral_code",), name="account_referral_code_uniq"),
                ],
                "indexes": [models.Index(fields=["tier"], name="account_tier_idx")],
            },
        ),
        migrations.AddField(
            model_name="pointsentry",
            name="group",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="customers.shopgroup",
            ),
        ),
        migrations.AddField(
            model_name="tierchange",
            name="group",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="customers.shopgroup",
            ),
        ),
        migrations.AddField(
            model_name="referral",
            name="group",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="customers.shopgroup",
            ),
        ),
        migrations.AlterField(
            model_name="referral",
            name="referee",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="referred_by",
                to="customers.customer",
            ),
        ),
        migrations.AlterField(
            model_name="pointsentry",
            name="kind",
            field=models.CharField(
                choices=[
                    ("earn", "earned"),
                    ("mature", "pending → available"),
                    ("cancel", "pending cancelled (refund in the return window)"),
                    ("redeem", "redeemed"),
                    ("expire", "expired"),
                    ("reverse", "reversed (refund after the return window)"),
                    ("refund", "reward code expired unused: points given back"),
                    ("adjust", "manual adjustment"),
                    ("transfer", "moved between accounts (shop groups merged)"),
                ],
                max_length=8,
            ),
        ),
        migrations.RemoveConstraint(model_name="pointsentry", name="entry_kind_valid"),
        migrations.AddConstraint(
            model_name="pointsentry",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("kind__in", ["earn", "mature", "cancel", "redeem", "expire", "reverse", "refund", "adjust", "transfer"])
                ),
                name="entry_kind_valid",
            ),
        ),
        migrations.RunPython(move_accounts, migrations.RunPython.noop),
        migrations.RunPython(drop_old_table),
        migrations.AlterField(
            model_name="pointsentry",
            name="group",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="customers.shopgroup"
            ),
        ),
        migrations.AlterField(
            model_name="referral",
            name="group",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="customers.shopgroup"
            ),
        ),
        migrations.AddConstraint(
            model_name="referral",
            constraint=models.UniqueConstraint(fields=("referee", "group"), name="referral_referee_group_uniq"),
        ),
        migrations.RunPython(fillfactor, migrations.RunPython.noop),
    ]
