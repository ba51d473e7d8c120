"""Names searched without their accents ("Muller" finds "Müller"): the trigram index on the
name becomes one on the name folded by ``crm_unaccent`` (``customers/accents.py``).

``unaccent`` (a contrib extension shipped with PostgreSQL, trusted since 13) is STABLE, as
its dictionary could change, and an index needs an IMMUTABLE expression: ``crm_unaccent``
is the usual wrapper, calling it with its dictionary named in full (schema included), so
it reads the same whatever the search_path, during a restore too.

PostgreSQL only, and concurrently (non-atomic): the new index is built before the old is
dropped, so the search never scans meanwhile. SQLite has ``crm_unaccent`` from Python
(``customers.apps``) and scans.
"""

from django.contrib.postgres.operations import UnaccentExtension
from django.db import migrations

from core.db.migration_operations import RunSQLOnPostgres

FUNCTION = """
DO $$
DECLARE
    schema text := (SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'unaccent');
BEGIN
    EXECUTE format(
        'CREATE OR REPLACE FUNCTION crm_unaccent(text) RETURNS text '
        'LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS %L',
        format('SELECT %s.unaccent(%L::regdictionary, $1)', schema, schema || '.unaccent')
    );
END
$$
"""
# customers.search.SearchName, the same expression.
FOLDED = "USING gin (LOWER(crm_unaccent(first_name || ' ' || last_name)) gin_trgm_ops)"
FORMER = "USING gin (LOWER(first_name || ' ' || last_name) gin_trgm_ops)"


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("customers", "0017_order_external_id_any_case"),
    ]

    operations = [
        UnaccentExtension(),
        RunSQLOnPostgres(FUNCTION, "DROP FUNCTION IF EXISTS crm_unaccent(text)"),
        RunSQLOnPostgres(
            f"CREATE INDEX CONCURRENTLY customer_name_folded_trgm_idx ON customers_customer {FOLDED}",
            "DROP INDEX CONCURRENTLY IF EXISTS customer_name_folded_trgm_idx",
        ),
        RunSQLOnPostgres(
            "DROP INDEX CONCURRENTLY IF EXISTS customer_name_trgm_idx",
            f"CREATE INDEX CONCURRENTLY customer_name_trgm_idx ON customers_customer {FORMER}",
        ),
    ]
