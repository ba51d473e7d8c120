"""Admin helpers every app's admin may use: tables with millions of rows, audit history, and
the link to a customer's page."""

from auditlog.mixins import AuditlogHistoryAdminMixin
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from unfold.admin import ModelAdmin

COUNT_CAP = 10_000


class LargeTablePaginator(Paginator):
    """A paginator that never runs a full COUNT(*).

    Unfiltered, it reads PostgreSQL's row estimate for the table (instant). Filtered, it
    counts at most COUNT_CAP + 1 rows, so the admin shows "10,000+ pages" worth at most.
    """

    @cached_property
    def count(self):
        qs: QuerySet = self.object_list  # type: ignore[assignment]  # a changelist's queryset
        if connection.vendor == "postgresql" and not qs.query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [qs.model._meta.db_table]
                )
                row = cursor.fetchone()
            if row and row[0] > COUNT_CAP:
                return row[0]
        return qs.order_by()[: COUNT_CAP + 1].count()


class LargeTableAdmin(ModelAdmin):
    """Changelists that stay fast on millions of rows: no full counts, indexed ordering."""

    paginator = LargeTablePaginator
    show_full_result_count = False
    list_per_page = 50


def customer_link(customer_id, label) -> str:
    """A link to the customer's page in the admin: the URL name in
    ``settings.CUSTOMER_ADMIN_URL_NAME`` (the 360 page, which the project's top app adds), so
    no app below it names that app's URLs."""
    return format_html('<a href="{}">{}</a>', reverse(settings.CUSTOMER_ADMIN_URL_NAME, args=[customer_id]), label)


def distinct_values(model, column: str) -> list:
    """The distinct non-empty values of an indexed column, by a skip scan of its index.

    ``SELECT DISTINCT`` reads every row (200 ms on a million customers); this recursive
    query makes one index probe per distinct value instead. PostgreSQL and SQLite both run it.
    """
    table = connection.ops.quote_name(model._meta.db_table)
    col = connection.ops.quote_name(column)
    sql = f"""
        WITH RECURSIVE v(value) AS (
            SELECT MIN({col}) FROM {table} WHERE {col} > ''
            UNION ALL
            SELECT (SELECT MIN({col}) FROM {table} WHERE {col} > v.value) FROM v WHERE v.value IS NOT NULL
        )
        SELECT value FROM v WHERE value IS NOT NULL
    """
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


class IndexedValuesFilter(admin.SimpleListFilter):
    """A list filter over an indexed text column whose choices come from ``distinct_values``."""

    column = ""

    def lookups(self, request, model_admin):
        return [(value, value) for value in distinct_values(model_admin.model, self.column)]

    def queryset(self, request, queryset):
        return queryset.filter(**{self.column: self.value()}) if self.value() else queryset


class CountryFilter(IndexedValuesFilter):
    title = "country"
    parameter_name = "country"
    column = "country"


class AuditHistoryMixin(AuditlogHistoryAdminMixin):
    """The admin's "History" button shows the audit log (who changed which field, from
    what to what, and when) instead of Django's own admin log."""

    show_auditlog_history_link = False

    def history_view(self, request, object_id, extra_context=None):
        # auditlog's view renders a page for any id, and fails linking back to a row that
        # is not there: a missing (or unreadable) id is a 404, as on Django's own pages.
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404(f"No {self.opts.verbose_name} with id {object_id!r}.")
        return self.auditlog_history_view(request, object_id, extra_context)
