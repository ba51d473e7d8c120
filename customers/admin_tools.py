"""Admin helpers for tables with millions of rows."""

from django.core.paginator import Paginator
from django.db import connection
from django.utils.functional import cached_property

COUNT_CAP = 10_000


class LargeTablePaginator(Paginator):
    """A paginator that never runs a full COUNT(*).

    Unfiltered, it reads PostgreSQL's row estimate for the table (instant). Filtered, it
    counts at most COUNT_CAP + 1 rows, so the admin shows "10,000+ pages" worth at most.
    """

    @cached_property
    def count(self):
        qs = self.object_list
        if connection.vendor == "postgresql" and not qs.query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [qs.model._meta.db_table]
                )
                row = cursor.fetchone()
            if row and row[0] > COUNT_CAP:
                return row[0]
        return qs.order_by()[: COUNT_CAP + 1].count()
