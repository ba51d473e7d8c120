"""Indexes for the staff's customer search (``customers/search.py``): a name, part of an
email, the end of a phone number. ``LIKE '%…%'`` cannot use a B-tree; a GIN index of
trigrams (pg_trgm) finds the rows holding every three-character piece of the term. The end
of a phone number is a prefix of its digits reversed, which a B-tree finds in one range.

PostgreSQL only (trigrams, and the reversed phone because its index would cost SQLite a
custom function), built concurrently (no lock that stops writes, hence non-atomic); SQLite
has no trigram index and scans, which at the demo's size is instant. The models do not
declare these indexes (Django would try to build them on SQLite when it rebuilds a table),
so ``Customer``'s Meta names this migration instead.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

from core.db.migration_operations import RunSQLOnPostgres

INDEXES = {
    # A name, or words of it in any order: customers.search.SearchName, the same expression.
    "customer_name_trgm_idx": "USING gin (LOWER(first_name || ' ' || last_name) gin_trgm_ops)",
    # Part of an email, by the part before the "@": customers.search.EmailLocalPart.
    "customer_email_local_trgm_idx": "USING gin (SPLIT_PART(email_normalized, '@', 1) gin_trgm_ops)",
    # The end of a phone number (customers.phones), as a prefix of the digits reversed.
    "customer_phone_reversed_idx": "(REVERSE(phone_digits) text_pattern_ops)",
}


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("customers", "0015_customer_phone_digits"),
    ]

    operations = [
        TrigramExtension(),
        *(
            RunSQLOnPostgres(
                f"CREATE INDEX CONCURRENTLY {name} ON customers_customer {how}",
                f"DROP INDEX CONCURRENTLY {name}",
            )
            for name, how in INDEXES.items()
        ),
    ]
