"""Admin helpers every app's admin may use: tables with millions of rows, audit history, the
link to a customer's page, and forms that refuse a malformed related id without a 500."""

from typing import TYPE_CHECKING, Any

from auditlog.mixins import AuditlogHistoryAdminMixin
from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db import connection
from django.db.models import IntegerField, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from unfold.admin import ModelAdmin

from core.figures import count_text

COUNT_CAP = 10_000
# A page number the admin accepts when the count is not known exactly: past any table's end.
MAX_PAGES = 10_000_000


class ResultCount(int):
    """A changelist's row count as far as it is known: exact, capped (more than ``COUNT_CAP``
    rows were there, and counting stopped), or PostgreSQL's estimate for the whole table.

    An ``int`` for the admin's own arithmetic and comparisons, and in words wherever a
    template prints it (the pagination, "Select all …", the search box's result count):
    "1,234", "more than 10,000", "about 15,800"."""

    EXACT, CAPPED, ESTIMATED = "exact", "capped", "estimated"
    kind: str

    def __new__(cls, value: int, kind: str = EXACT):
        count = super().__new__(cls, value)
        count.kind = kind
        return count

    @property
    def exact(self) -> bool:
        return self.kind == self.EXACT

    def __str__(self) -> str:
        if self.kind == self.CAPPED:
            return f"more than {COUNT_CAP:,}"
        if self.kind == self.ESTIMATED:
            return f"about {round(int(self), 3 - len(str(int(self)))):,}"  # three significant figures
        return count_text(int(self))


class LargeTablePaginator(Paginator):
    """A paginator that never runs a full COUNT(*).

    Unfiltered, it reads PostgreSQL's row estimate for the table (instant). Filtered, it
    counts at most COUNT_CAP + 1 rows. Either way the count is then not exact: it reads
    "about 15,800" or "more than 10,000" (``ResultCount``), the pages it lists stop at the
    current page's neighbours with no last page, and any page number may be asked for (one
    past the table's end is empty) instead of those beyond the cap being refused.
    """

    template_name = "core/large_table_pagination.html"  # the theme's changelists include it

    @cached_property
    def count(self) -> ResultCount:
        qs: QuerySet = self.object_list  # type: ignore[assignment]  # a changelist's queryset
        if connection.vendor == "postgresql" and not qs.query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [qs.model._meta.db_table]
                )
                row = cursor.fetchone()
            if row and row[0] > COUNT_CAP:
                return ResultCount(row[0], ResultCount.ESTIMATED)
        counted = qs.order_by()[: COUNT_CAP + 1].count()
        return ResultCount(counted, ResultCount.CAPPED if counted > COUNT_CAP else ResultCount.EXACT)

    @cached_property
    def num_pages(self) -> int:
        return super().num_pages if self.count.exact else MAX_PAGES

    def get_page(self, number):
        """Django's, except that when the count is not exact a number out of range (below 1,
        or past ``MAX_PAGES``) is the first page: there is no known last page to fall back on."""
        if self.count.exact:
            return super().get_page(number)
        try:
            number = self.validate_number(number)
        except (PageNotAnInteger, EmptyPage):
            number = 1
        return self.page(number)

    def page(self, number):
        if self.count.exact:
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        page = Page(self.object_list[bottom : bottom + self.per_page], number, self)
        self.full_page = len(page.object_list) == self.per_page  # read once, for the changelist too
        return page

    def get_elided_page_range(self, number=1, *, on_each_side=3, on_ends=2):
        """With an exact count, Django's. Otherwise the first page, the current one with its
        neighbours, and an ellipsis for the pages after them: never a last page."""
        if self.count.exact:
            yield from super().get_elided_page_range(number, on_each_side=on_each_side, on_ends=on_ends)
            return
        number = self.validate_number(number)
        known = -(-int(self.count) // self.per_page)  # pages the count vouches for
        full = getattr(self, "full_page", None)  # the current page's, once read (None: not known)
        last = max(min(number + on_each_side, known), number)
        if last == number and full:
            last = number + 1  # past the count: the next page exists if this one is full
        if number - on_each_side > on_ends + 1:
            yield from range(1, on_ends + 1)
            yield self.ELLIPSIS
            yield from range(number - on_each_side, last + 1)
        else:
            yield from range(1, last + 1)
        if not (last == number and full is False):  # a short page past the count is the last
            yield self.ELLIPSIS


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


# The mixin's base for the type checker: a form (at run time it is mixed into one).
if TYPE_CHECKING:
    _FormBase = forms.BaseForm
else:
    _FormBase = object


class KnownRelatedValues(_FormBase):
    """A form mixin: a related field (a search picker, a raw id box, a multiple choice) that
    gets a malformed id ("1e5", or an id past the 64-bit range) refuses it on the field, and
    forgets it before the form is shown again.

    Django looks such a value up, to check it and to draw the picker's selection, and a value
    the database cannot compare raises there (``OverflowError`` on SQLite, ``ValueError`` in
    the picker): a 500 instead of the field's "Select a valid choice"."""

    def _clean_fields(self):
        related = {name: f for name, f in self.fields.items() if isinstance(f, forms.ModelChoiceField)}
        past_range = {name for name, f in related.items() if not all(_fits(f, v) for v in self._posted(name))}
        self._forget(past_range)
        super()._clean_fields()  # type: ignore[misc]
        for name in past_range:
            self.add_error(name, forms.ValidationError("No record has this id.", code="invalid_choice"))
        self._forget({name for name in related if name in self.errors})

    def _posted(self, name: str) -> list:
        data: Any = self.data
        key = self.add_prefix(name)
        return data.getlist(key) if hasattr(data, "getlist") else [data.get(key)]

    def _forget(self, names: set[str]) -> None:
        if names:
            data: Any = self.data
            data = data.copy()  # a QueryDict's copy is mutable
            for name in names:
                data[self.add_prefix(name)] = ""
            self.data = data


BIGINT = 2**63


def _fits(field: forms.ModelChoiceField, value) -> bool:
    """Whether ``value`` can be compared with the field's key column: not an integer past the
    64-bit range (anything else the field refuses, or finds, itself)."""
    if field.queryset is None:
        return True
    model = field.queryset.model
    column = model._meta.get_field(field.to_field_name) if field.to_field_name else model._meta.pk
    if not isinstance(column, IntegerField):
        return True
    try:
        return -BIGINT <= int(str(value).strip()) < BIGINT
    except ValueError:
        return True


def known_related_values(form_class: type) -> type:
    """``form_class`` with ``KnownRelatedValues`` (once)."""
    if issubclass(form_class, KnownRelatedValues):
        return form_class
    return type(form_class.__name__, (KnownRelatedValues, form_class), {"__module__": form_class.__module__})


class ReadOnly:
    """Rows that only services write (logs, histories, evidence): listed and opened in the
    admin, never added, changed or deleted there. Mix in before the admin or inline class."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
