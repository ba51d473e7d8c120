"""Segments in the admin: the list with member counts and refresh times; each segment's
page with the rule builder and its live preview (dynamic segments) or the member list
(static ones), its members, a chart of member count over time, and entries and exits;
actions to refresh, duplicate and export members as CSV.
"""

import csv
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import prefetch_related_objects
from django.http import JsonResponse, StreamingHttpResponse
from django.template.defaultfilters import pluralize
from django.urls import path, reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin, TabularInline

from campaigns.admin.forms import SegmentForm
from campaigns.charts import first_fill_label, history_caption, member_chart
from campaigns.models import Segment, SegmentMembership, SegmentVersion
from campaigns.payloads import SegmentPreviewIn
from campaigns.segments.rules import RuleError
from campaigns.selectors import segment_history, segment_member_page, segment_preview
from campaigns.services import segment_create, segment_members_set, segment_refresh, segment_rule_save
from campaigns.tasks import refresh_segment
from core.admin_tools import AuditHistoryMixin, LargeTableAdmin
from core.payloads import PayloadError, decode
from customers.models import Customer


class SegmentVersionInline(TabularInline):
    model = SegmentVersion
    extra = 0
    fields = ["number", "sentence", "created_at", "created_by"]
    readonly_fields = fields
    can_delete = False
    ordering = ["-number"]

    def has_add_permission(self, request, obj=None):
        return False


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer rows."""

    def write(self, value):
        return value


CSV_COLUMNS = ["customer_id", "email", "first_name", "last_name", "country", "entered_at"]
# A cell a spreadsheet would read as a formula (names come from shops' keys, which may sit
# in a third-party app): written with a leading apostrophe, shown as the text it is.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _member_rows(segments):
    writer = csv.writer(_Echo())
    yield writer.writerow(["segment", *CSV_COLUMNS])
    for segment in segments:
        stays = (
            SegmentMembership.objects.filter(segment=segment, exited_at=None)
            .order_by("customer_id")
            .values_list(
                "customer_id",
                "customer__email",
                "customer__first_name",
                "customer__last_name",
                "customer__country",
                "entered_at",
            )
        )
        for row in stays.iterator(chunk_size=5000):
            yield writer.writerow([spreadsheet_safe(v) for v in (segment.name, *row[:-1])] + [row[-1].isoformat()])


@dataclass(frozen=True)
class MemberPager:
    """The member list's navigation: where the page is, and the pages a link leads to (None
    where there is none, or none known: past ``COUNT_CAP`` members the list has no last page)."""

    summary: str
    links: Iterable
    next: int | None
    last: int | None


def member_pager(page, *, matching: bool) -> MemberPager:
    """ "Page 2 of 25 · 51–100 of 1,246 members", or past the count's cap "Page 2 · 51–100 of
    more than 10,000 members", with the page links (``LargeTablePaginator``)."""
    paginator = page.paginator
    count = paginator.count  # a ResultCount: "1,246" or "more than 10,000" as text
    noun = f"{'matching ' if matching else ''}member{'' if count == 1 else 's'}"
    shown = len(page.object_list)
    if shown:
        where = f"{page.start_index():,}–{page.start_index() + shown - 1:,} of {count} {noun}"
    else:
        where = f"past the last of {count} {noun}" if count else f"0 {noun}"
    if count.exact:
        summary = f"Page {page.number:,} of {paginator.num_pages:,} · {where}"
        has_next, last = page.has_next(), paginator.num_pages
    else:
        summary = f"Page {page.number:,} · {where}"
        has_next, last = paginator.full_page, None
    return MemberPager(
        summary=summary,
        links=paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        next=page.number + 1 if has_next else None,
        last=last if has_next else None,
    )


@admin.register(Segment)
class SegmentAdmin(AuditHistoryMixin, ModelAdmin):
    list_display = ["name", "description", "kind", "members_count", "refreshed_at", "last_refresh", "owner"]
    list_filter = ["kind"]
    search_fields = ["name", "description"]
    form = SegmentForm
    fieldsets = [
        (None, {"fields": ["name", "description", "kind", "owner"]}),
        (
            "Rule (dynamic segments)",
            {"fields": ["rule"], "description": "Who the segment is; the preview beside it updates as you edit."},
        ),
        (
            "Members (static segments)",
            {"fields": ["members_upload", "upload_mode", "members_add", "members_remove"]},
        ),
        ("Status", {"fields": ["rule_sentence", "members", "refreshed_at", "last_refresh"]}),
    ]
    readonly_fields = ["rule_sentence", "members", "refreshed_at", "last_refresh"]
    inlines = [SegmentVersionInline]
    actions = ["refresh_now", "duplicate", "export_members"]
    change_form_template = "admin/campaigns/segment/change_form.html"

    def get_object(self, request, object_id, from_field=None):
        """The segment with its versions read once: the page shows the current rule in
        several places (the form's initial rule, the read-only sentence), which the theme
        renders more than once."""
        segment = super().get_object(request, object_id, from_field)
        if segment is not None:
            prefetch_related_objects([segment], Segment.with_rules_prefetch())
        return segment

    def save_model(self, request, segment, form, change):
        if not change and segment.owner_id is None:
            segment.owner = request.user
        super().save_model(request, segment, form, change)
        if segment.kind == Segment.Kind.DYNAMIC:
            segment_rule_save(segment=segment, rule=form.cleaned_data["rule"], user=request.user)
            # Members follow the rule once the change is committed (a worker, or in-process).
            # robust: with the broker down the save still stands; the hourly refresh follows.
            transaction.on_commit(lambda: refresh_segment.delay(segment.pk), robust=True)
        else:
            add, remove, replace = form.member_changes
            if add or remove or replace is not None:
                entered, exited = segment_members_set(segment=segment, add=add, remove=remove, replace=replace)
                self.message_user(request, f"{segment}: {entered} added, {exited} removed.")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        segment = self.get_object(request, object_id)
        if segment is not None:
            query = request.GET.get("members_q", "")[:200]
            members = segment_member_page(segment=segment, query=query, page=request.GET.get("members_page", 1))
            history = segment_history(segment=segment)
            extra_context = {
                **(extra_context or {}),
                "segment_page": {
                    "query": query,
                    "members": members,
                    "pager": member_pager(members, matching=bool(query)),
                    "history": history,
                    "chart": member_chart(history),
                    "caption": history_caption(segment, history),
                    "first_fill": first_fill_label(segment),
                    "recent": [day for day in reversed(history) if day.entered or day.exited or day.first_fill][:14],
                },
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_deleted_objects(self, objs, request):
        """What deleting segments takes with it, counted, not listed: their versions and
        membership history are the segments' own rows, which no role edits one by one, so
        the segment's delete permission suffices (a marketer was refused for lack of one on
        memberships), and a segment of 500,000 members does not build a page of 500,000 lines."""
        segments = list(objs)
        counts = {
            Segment._meta.verbose_name_plural: len(segments),
            SegmentVersion._meta.verbose_name_plural: SegmentVersion.objects.filter(segment__in=segments).count(),
            SegmentMembership._meta.verbose_name_plural: SegmentMembership.objects.filter(segment__in=segments).count(),
        }
        return [str(segment) for segment in segments], counts, set(), []

    def get_urls(self):
        preview = path("preview/", self.admin_site.admin_view(self.preview_view), name="campaigns_segment_preview")
        return [preview, *super().get_urls()]

    def preview_view(self, request):
        """The rule builder's live preview: POST {"rule": …} → count, sentence and 20 customers
        with links, or 400 with every problem under errors.rule. Never a 500."""
        if request.method != "POST":
            return JsonResponse({"detail": 'POST a JSON body {"rule": …}.'}, status=405)
        if not self.has_view_permission(request):
            return JsonResponse({"detail": "You may not see segments."}, status=403)
        try:  # the API's reader: the same limits on bytes, depth and text
            body = decode(request.body, SegmentPreviewIn)
        except PayloadError as error:
            return JsonResponse({"detail": error.message, "errors": error.errors}, status=400)
        try:
            preview = segment_preview(rule=body.rule, customers=Customer.objects.all())
        except RuleError as error:
            return JsonResponse({"detail": "The rule is not valid.", "errors": {"rule": error.errors}}, status=400)
        return JsonResponse(
            {
                "count": preview.count,
                "sentence": preview.sentence,
                "sample": [
                    {"id": c.pk, "name": str(c), "url": reverse("admin:customers_customer_change", args=[c.pk])}
                    for c in preview.sample
                ],
            }
        )

    @admin.display(description="members", ordering="member_count")
    def members_count(self, segment):
        return f"{segment.member_count:,}"

    @admin.display(description="last refresh took")
    def last_refresh(self, segment):
        return "" if segment.refresh_seconds is None else f"{segment.refresh_seconds:.2f} s"

    @admin.display(description="rule")
    def rule_sentence(self, segment):
        version = segment.current_version if segment.pk else None
        return f"v{version.number}: {version.sentence}" if version else "—"

    @admin.display(description="members")
    def members(self, segment):
        if not segment.pk:
            return "—"
        url = reverse("admin:campaigns_segmentmembership_changelist")
        return format_html(
            '<a href="{}?segment__id__exact={}&amp;exited_at__isempty=1">{} current member{}</a> · '
            '<a href="{}?segment__id__exact={}">entries and exits</a>',
            url,
            segment.pk,
            f"{segment.member_count:,}",
            pluralize(segment.member_count),
            url,
            segment.pk,
        )

    @admin.action(description="Refresh membership now", permissions=["change"])
    def refresh_now(self, request, queryset):
        for segment in queryset.filter(kind=Segment.Kind.DYNAMIC):
            entered, exited = segment_refresh(segment=segment)
            self.message_user(request, f"{segment}: {entered} entered, {exited} left.")

    @admin.action(description="Duplicate", permissions=["add"])
    def duplicate(self, request, queryset):
        for segment in queryset:
            version = segment.current_version
            name = f"Copy of {segment.name}"
            if Segment.objects.filter(name=name).exists():
                self.message_user(request, f"“{name}” exists already.", level=messages.WARNING)
                continue
            with transaction.atomic():
                segment_create(
                    name=name,
                    description=segment.description,
                    kind=segment.kind,
                    rule=version.rule if version else None,
                    user=request.user,
                )
            self.message_user(request, f"Created “{name}”.")

    def has_export_permission(self, request):
        """The CSV lists members' emails and names: for those who may see memberships."""
        return self.has_view_permission(request) and request.user.has_perm("campaigns.view_segmentmembership")

    @admin.action(description="Export current members as CSV", permissions=["export"])
    def export_members(self, request, queryset):
        response = StreamingHttpResponse(_member_rows(list(queryset.order_by("name"))), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="segment-members.csv"'
        return response


@admin.register(SegmentMembership)
class SegmentMembershipAdmin(LargeTableAdmin):
    list_display = ["customer_link", "segment", "entered_at", "exited_at", "version"]
    list_filter = ["segment", ("exited_at", admin.EmptyFieldListFilter)]
    list_select_related = ["customer", "segment", "version"]
    search_fields = ["=customer__email_normalized"]
    ordering = ["-id"]  # newest stays first, by the primary key
    readonly_fields = ["segment", "customer", "version", "entered_at", "exited_at"]

    @admin.display(description="customer")
    def customer_link(self, stay):
        url = reverse("admin:customers_customer_change", args=[stay.customer_id])
        return format_html('<a href="{}">{}</a>', url, stay.customer)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
