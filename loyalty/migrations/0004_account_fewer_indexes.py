"""Points accounts are updated by every ledger write: the tier keeps one index (the foreign
key's own was a second copy of ``account_tier_idx``), the referral code's uniqueness is a
constraint without the LIKE-ready index, and on PostgreSQL pages are left a tenth free, so
an update of a balance can stay in its page (a HOT update, no index written). The fill
factor applies to pages written from now on; ``VACUUM FULL loyalty_account`` applies it to
an existing table."""

import django.db.models.deletion
from django.db import migrations, models


def fillfactor(value: int):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE loyalty_account SET (fillfactor = {value})", params=None)

    return apply


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0009_order_shipping_address_key"),
        ("loyalty", "0003_ledger_fewer_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="account",
            name="referral_code",
            field=models.CharField(blank=True, max_length=16, null=True),
        ),
        migrations.AlterField(
            model_name="account",
            name="tier",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="accounts",
                to="loyalty.tier",
            ),
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.UniqueConstraint(fields=("referral_code",), name="account_referral_code_uniq"),
        ),
        migrations.RunPython(fillfactor(90), fillfactor(100)),
    ]
