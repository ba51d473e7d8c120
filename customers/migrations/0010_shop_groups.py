"""Shop groups: every shop is in one; each existing shop gets a group of its own (shares nothing)."""

import django.db.models.deletion
from django.db import migrations, models


def one_group_per_shop(apps, schema_editor):
    Shop = apps.get_model("customers", "Shop")
    ShopGroup = apps.get_model("customers", "ShopGroup")
    for shop in Shop.objects.filter(group__isnull=True).order_by("pk"):
        shop.group = ShopGroup.objects.create(name=shop.name)
        shop.save(update_fields=["group"])


class Migration(migrations.Migration):
    dependencies = [("customers", "0009_order_shipping_address_key")]

    operations = [
        migrations.CreateModel(
            name="ShopGroup",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("name", models.CharField(max_length=200)),
            ],
            options={"ordering": ["name"]},
        ),
        migrations.AddField(
            model_name="shop",
            name="group",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.PROTECT, related_name="shops", to="customers.shopgroup"
            ),
        ),
        migrations.RunPython(one_group_per_shop, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="shop",
            name="group",
            field=models.ForeignKey(
                blank=True,
                help_text="Shops in one group share customers' profiles and loyalty balances. Empty: a group of its own.",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="shops",
                to="customers.shopgroup",
            ),
        ),
    ]
