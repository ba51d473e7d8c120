"""A customer's follow-up sent through the API carries the shop's id for it (issue 20): the
columns here; the unique index on them, built concurrently, in 0009."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0016_customer_search_indexes'),
        ('support', '0007_ticket_sla_met'),
    ]

    operations = [
        migrations.AddField(
            model_name='ticketmessage',
            name='shop',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='customers.shop'),
        ),
        migrations.AddField(
            model_name='ticketmessage',
            name='external_id',
            field=models.CharField(blank=True, default='', max_length=255),
        ),
    ]
