"""Merging duplicate customers in the admin (docs/merge.md): the merge's preview and
confirmation, the merge log with its Undo button, and the suggested duplicates.

The customers list's action "Merge the two selected customers…" (``customers.admin``)
opens the preview by this module's URL name; so do the suggestions. Every page here but the
log needs ``customers.merge_customers`` (support agents and managers, ``crm.roles``), and so
does asking for the suggestions to be rebuilt.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from unfold.admin import ModelAdmin
from unfold.decorators import action
from unfold.widgets import UnfoldAdminTextInputWidget

from core.admin_tools import ReadOnly, customer_link
from core.errors import DomainError
from crm.after_response import after_response
from crm.merging.relations import MOVING
from crm.merging.selectors import merge_preview, undo_blockers
from crm.merging.services import customers_merge, customers_merge_undo
from crm.merging.suggestions import duplicate_suggestions, needs_first_build, suggestions_rebuild_request
from crm.tasks import build_duplicate_suggestions
from customers.admin.commerce import MERGE_PERMISSION
from customers.models import CustomerMerge, ShopGroup

# The page's two fields: customer ids, each checked on its own (a 400 naming the field).
ID_FIELD = {"min_value": 1, "max_value": 2**63 - 1, "widget": UnfoldAdminTextInputWidget}


class MergeForm(forms.Form):
    survivor = forms.IntegerField(label="Customer that stays (id)", **ID_FIELD)
    merged = forms.IntegerField(label="Duplicate, merged into it (id)", **ID_FIELD)

    def clean(self):
        data = super().clean() or {}
        if data.get("survivor") and data.get("survivor") == data.get("merged"):
            self.add_error("merged", "Pick another customer: a customer cannot be merged with itself.")
        return data


class SuggestionsForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search", widget=UnfoldAdminTextInputWidget)
    page = forms.IntegerField(required=False, min_value=1, max_value=10_000)


def may_merge(user) -> bool:
    return user.has_perm(MERGE_PERMISSION)


@admin.register(CustomerMerge)
class CustomerMergeAdmin(ReadOnly, ModelAdmin):
    """Who merged which duplicate into whom; each merge opens on what moved and, while it is
    safe, an Undo button."""

    list_display = ["merged_shown", "survivor_shown", "merged_by", "merged_at", "state"]
    list_select_related = ["merged", "survivor", "merged_by"]
    ordering = ["-merged_at", "-id"]
    show_full_result_count = False
    actions_list = ["suggested", "merge_two"]

    @action(description="Suggested duplicates", url_path="suggested", permissions=["merge"])
    def suggested(self, request):
        return redirect("admin:customers_customermerge_suggestions")

    @action(description="Merge two customers…", url_path="merge-two", permissions=["merge"])
    def merge_two(self, request):
        return redirect("admin:customers_customermerge_merge")

    def has_merge_permission(self, request, obj=None):
        return may_merge(request.user)

    @admin.display(description="duplicate merged")
    def merged_shown(self, log):
        return customer_link(log.merged_id, f"#{log.merged_id} {log.merged}")

    @admin.display(description="into")
    def survivor_shown(self, log):
        return customer_link(log.survivor_id, f"#{log.survivor_id} {log.survivor}")

    @admin.display(description="state")
    def state(self, log):
        return f"undone {log.undone_at:%-d %b %Y, %H:%M}" if log.undone_at else "merged"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("merge/", view(self.merge_view), name="customers_customermerge_merge"),
            path("suggestions/", view(self.suggestions_view), name="customers_customermerge_suggestions"),
            path(
                "suggestions/rebuild/",
                view(self.suggestions_rebuild_view),
                name="customers_customermerge_suggestions_rebuild",
            ),
            path("<int:merge_id>/undo/", view(self.undo_view), name="customers_customermerge_undo"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """A merge: what moved, what stayed, the points, and Undo (or why not)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        log = (
            CustomerMerge.objects.select_related("survivor", "merged", "merged_by", "undone_by")
            .filter(pk=int(object_id) if str(object_id).isdigit() else 0)
            .first()
        )
        if log is None:
            raise Http404("No such merge.")
        context = {
            **self.admin_site.each_context(request),
            "title": f"Merge of #{log.merged_id} into #{log.survivor_id}",
            "opts": self.opts,
            "original": log,
            "log": log,
            "lines": _log_lines(log),
            "points": _log_points(log),
            "blockers": undo_blockers(log) if log.undone_at is None else [],
            "may_merge": may_merge(request.user),
        }
        return TemplateResponse(request, "admin/customers/customermerge/detail.html", context)

    def merge_view(self, request):
        """The preview of a merge (GET with both ids), then the merge itself (POST)."""
        if not may_merge(request.user):
            raise PermissionDenied
        bound = request.method == "POST" or bool(request.GET)
        form = MergeForm((request.POST if request.method == "POST" else request.GET) if bound else None)
        preview = None
        if bound and form.is_valid():
            survivor_id, merged_id = form.cleaned_data["survivor"], form.cleaned_data["merged"]
            if request.method == "POST":
                try:
                    log = customers_merge(survivor_id=survivor_id, merged_id=merged_id, user=request.user)
                except DomainError as error:
                    form.add_error(error.field if error.field in form.fields else None, error.message)
                else:
                    messages.success(
                        request,
                        f"Customer #{merged_id} merged into #{survivor_id}. You can undo it from this page "
                        "until new activity makes that unsafe.",
                    )
                    return redirect("admin:customers_customermerge_change", log.pk)
            preview = merge_preview(survivor_id=survivor_id, merged_id=merged_id)
            if preview is None:
                form.add_error("merged", "No such customer: check both ids.")
        context = {
            **self.admin_site.each_context(request),
            "title": "Merge two customers",
            "opts": self.opts,
            "form": form,
            "preview": preview,
        }
        status = 400 if form.errors else 200
        return TemplateResponse(request, "admin/customers/customermerge/merge.html", context, status=status)

    def undo_view(self, request, merge_id: int):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not may_merge(request.user):
            raise PermissionDenied
        try:
            customers_merge_undo(merge_id=merge_id, user=request.user)
        except DomainError as error:
            if error.field == "merge" and not CustomerMerge.objects.filter(pk=merge_id).exists():
                raise Http404(error.message) from error
            messages.error(request, error.message)
        else:
            messages.success(request, "Merge undone: every row and point it moved is back with the duplicate.")
        return redirect("admin:customers_customermerge_change", merge_id)

    def suggestions_view(self, request):
        """Pairs that may be one person, for review: never merged automatically."""
        if not may_merge(request.user):
            raise PermissionDenied
        form = SuggestionsForm(request.GET)
        if not form.is_valid():
            context = {**self.admin_site.each_context(request), "title": "Suggested duplicates", "form": form}
            return TemplateResponse(request, "admin/customers/customermerge/suggestions.html", context, status=400)
        term = form.cleaned_data["q"] or ""
        result = duplicate_suggestions(term=term, page=form.cleaned_data["page"] or 1)
        first_build = needs_first_build(result.build)
        if first_build:  # never built (a new install): build it now, in the background
            suggestions_rebuild_request()
            _queue_suggestions_build()
        context = {
            **self.admin_site.each_context(request),
            "title": "Suggested duplicates",
            "opts": self.opts,
            "form": form,
            "result": result,
            "term": term,
            "merge_url": reverse("admin:customers_customermerge_merge"),
            "first_build": first_build,
        }
        return TemplateResponse(request, "admin/customers/customermerge/suggestions.html", context)

    def suggestions_rebuild_view(self, request):
        """The suggestions built afresh, in the background; back to the page with a message."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not may_merge(request.user):
            raise PermissionDenied
        suggestions_rebuild_request()
        _queue_suggestions_build()
        messages.success(
            request,
            "The suggested duplicates are being rebuilt in the background: reload this page in a moment "
            "for the new list.",
        )
        return redirect("admin:customers_customermerge_suggestions")


def _queue_suggestions_build() -> None:
    """The build through the app's task path, once this request is answered: to a worker
    (with Redis), or with no ``REDIS_URL`` in-process after the response has been sent, so
    the page never waits for it. A broker that cannot be reached is logged; the nightly
    build follows."""
    transaction.on_commit(lambda: after_response(build_duplicate_suggestions.delay), robust=True)


def _log_lines(log: CustomerMerge) -> list[tuple[str, int, int]]:
    """(kind, moved, kept) per kind, from the log's counts."""
    lines: dict[str, list[int]] = {}
    for relation in MOVING:
        counted = log.counts.get(relation.key, {})
        line = lines.setdefault(relation.kind, [0, 0])
        line[0] += counted.get("moved", 0)
        line[1] += counted.get("kept", 0)
    lines["tags"] = [len(log.moved.get("customers.Customer_tags", [])), 0]
    return [(kind, moved, kept) for kind, (moved, kept) in lines.items()]


def _log_points(log: CustomerMerge) -> list[tuple[str, list[int]]]:
    """(shop group's name, [available, pending]) per group the merge moved points in."""
    groups = ShopGroup.objects.in_bulk([int(g) for g in log.points])
    return [(groups[int(g)].name if int(g) in groups else f"shop group #{g}", v) for g, v in sorted(log.points.items())]
