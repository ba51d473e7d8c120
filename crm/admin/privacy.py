"""The privacy-request queue: open requests by due date, each answered from its page with
an export (a ZIP download) or an erasure (after a confirmation that shows what goes), and
the log of erasures. Who may do which is the role's (crm.roles): exporting and erasing are
permissions of their own."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.validators import validate_email
from django.db.models import Case, IntegerField, Value, When
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from unfold.admin import ModelAdmin

from core.errors import DomainError
from crm.privacy.models import PRIVACY_DUE, ErasureLog, PrivacyRequest
from crm.privacy.preview import erasure_preview
from crm.privacy.requests import (
    customer_found,
    erasure_answered,
    export_answered,
    privacy_request_close,
    request_mismatches,
)
from crm.privacy.shop_redact import shop_redact_preview, shop_redact_start

EXPORT_PERMISSION = "crm.export_customer_data"
ERASE_PERMISSION = "crm.erase_customer_data"
# Requests answered by an erasure: only those who may erase may say one was answered.
ERASURE_KINDS = (PrivacyRequest.Kind.CUSTOMER_REDACT, PrivacyRequest.Kind.SHOP_REDACT)


class PrivacyRequestForm(forms.ModelForm):
    identity_checked = forms.BooleanField(
        required=False,
        label="Checked it is them",
        help_text="Tick when the request names an address or shop id the customer picked is not known by, "
        "and you checked by other means that it is theirs.",
    )

    class Meta:
        model = PrivacyRequest
        fields = ["kind", "shop", "customer", "customer_external_id", "email", "phone", "received_at", "note"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "received_at" in self.fields:  # the add form (a saved request's are read-only)
            self.fields["received_at"].initial = timezone.now
            self.fields["received_at"].help_text = "When the person asked: the answer is due a month later."
            self.fields["kind"].choices = [
                (k, label) for k, label in PrivacyRequest.Kind.choices if k != PrivacyRequest.Kind.SHOP_REDACT
            ]

    def clean_email(self):
        email = (self.cleaned_data.get("email") or "").strip()
        if email:
            validate_email(email)
        return email

    def clean_note(self):
        note = (self.cleaned_data.get("note") or "").strip()
        if self.instance.pk is None and not note:
            raise forms.ValidationError("Say how the request came and how the person's identity was checked.")
        return note

    def clean(self):
        cleaned = super().clean()
        received = cleaned.get("received_at")
        if received and received > timezone.now():
            self.add_error("received_at", "A request cannot arrive in the future.")
        if self.instance.pk is None and not (
            cleaned.get("customer") or cleaned.get("email") or cleaned.get("customer_external_id")
        ):
            self.add_error("customer", "Pick the customer, or give their email or the shop's id for them.")
        # The customer picked must be the one the request names (on a saved request, what it
        # names is read-only: the instance's).
        changed = self.instance.pk is None or "customer" in self.changed_data
        if cleaned.get("customer") and changed and not cleaned.get("identity_checked"):
            named = self.instance
            for field, why in request_mismatches(
                customer=cleaned["customer"],
                shop=cleaned.get("shop", named.shop if named.shop_id else None),
                external_id=cleaned.get("customer_external_id", named.customer_external_id) or "",
                email=cleaned.get("email", named.email) or "",
            ).items():
                advice = "" if field == "shop" else ' Or tick "Checked it is them".'
                self.add_error(field if field in self.fields else "customer", why + advice)
        return cleaned


@admin.register(PrivacyRequest)
class PrivacyRequestAdmin(ModelAdmin):
    """Requests for a person's data or its erasure, due a month after they arrive."""

    form = PrivacyRequestForm
    list_display = ["number", "kind", "who", "shop", "source", "status", "received_at", "due"]
    list_filter = ["status", "kind", "source", "shop"]
    list_select_related = ["shop", "customer"]
    search_fields = ["email", "customer_external_id", "customer__email"]
    autocomplete_fields = ["shop", "customer"]
    ordering = ["due_at"]
    list_per_page = 50
    change_form_template = "admin/crm/privacyrequest/change_form.html"

    def get_ordering(self, request):
        """Open requests first, the most urgent on top; then the closed ones."""
        open_last = Case(
            When(status=PrivacyRequest.Status.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
        return [open_last.asc(), "due_at"]

    def has_change_permission(self, request, obj=None):
        """A closed request is the record of its answer: read-only."""
        if obj is not None and obj.status != PrivacyRequest.Status.OPEN:
            return False
        return super().has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ["status"]
        fixed = ["kind", "shop", "customer_external_id", "email", "phone", "received_at", "status", "source"]
        fixed += ["due_at", "completed_at", "completed_by", "order_external_ids"]
        # While open, staff link the customer (when the request did not name one found) and
        # keep notes; a closed request is the record, unchanged.
        return fixed if obj.status == PrivacyRequest.Status.OPEN else [*fixed, "customer", "note"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return [*PrivacyRequestForm.Meta.fields, "identity_checked"]
        orders = ["order_external_ids"] if obj.order_external_ids else []  # a platform's, when it names any
        # A shop's erasure is about no one person.
        person = []
        if obj.kind != PrivacyRequest.Kind.SHOP_REDACT:
            checked = ["identity_checked"] if obj.status == PrivacyRequest.Status.OPEN else []
            person = ["customer", *checked, "customer_external_id", "email", "phone"]
        return [
            "kind",
            "status",
            "source",
            "shop",
            *person,
            *orders,
            "received_at",
            "due_at",
            "completed_at",
            "completed_by",
            "note",
        ]

    @admin.display(description="#", ordering="id")
    def number(self, obj):
        return obj.pk

    @admin.display(description="customer")
    def who(self, obj):
        if obj.customer_id:
            url = reverse("admin:crm_customer360_change", args=[obj.customer_id])
            return format_html('<a href="{}">{}</a>', url, _who(obj.customer))
        return obj.email or obj.customer_external_id or "—"

    @admin.display(description="due", ordering="due_at")
    def due(self, obj):
        late = obj.status == PrivacyRequest.Status.OPEN and obj.due_at < timezone.now()
        text = f"{obj.due_at:%Y-%m-%d}"
        return format_html('<strong class="text-red-600">{} (late)</strong>', text) if late else text

    def save_model(self, request, obj, form, change):
        if not change:
            obj.source = PrivacyRequest.Source.STAFF
            obj.requested_by = request.user
            obj.due_at = obj.received_at + PRIVACY_DUE
            obj.customer = obj.customer or customer_found(
                shop=obj.shop, external_id=obj.customer_external_id, email=obj.email
            )
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None):
        return False  # a request is the record that it was answered

    # ------------------------------------------------------------------ answering

    def get_urls(self):
        opts = self.opts
        return [
            path(
                "<int:pk>/export/",
                self.admin_site.admin_view(self.export_view),
                name=f"{opts.app_label}_{opts.model_name}_export",
            ),
            path(
                "<int:pk>/erase/",
                self.admin_site.admin_view(self.erase_view),
                name=f"{opts.app_label}_{opts.model_name}_erase",
            ),
            path(
                "<int:pk>/erase-shop/",
                self.admin_site.admin_view(self.erase_shop_view),
                name=f"{opts.app_label}_{opts.model_name}_erase_shop",
            ),
            path(
                "<int:pk>/close/",
                self.admin_site.admin_view(self.close_view),
                name=f"{opts.app_label}_{opts.model_name}_close",
            ),
        ] + super().get_urls()

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        is_open = obj is not None and obj.status == PrivacyRequest.Status.OPEN
        kind = obj.kind if obj is not None else None
        context["can_export"] = request.user.has_perm(EXPORT_PERMISSION) and kind != PrivacyRequest.Kind.SHOP_REDACT
        context["can_erase"] = (
            request.user.has_perm(ERASE_PERMISSION) and is_open and kind == PrivacyRequest.Kind.CUSTOMER_REDACT
        )
        context["can_close"] = is_open and self.has_change_permission(request, obj)
        context["can_close_done"] = kind not in ERASURE_KINDS or request.user.has_perm(ERASE_PERMISSION)
        context["shop_wide"] = kind == PrivacyRequest.Kind.SHOP_REDACT
        context["can_erase_shop"] = (
            context["shop_wide"]
            and is_open
            and obj.erasing_since is None
            and obj.shop_id is not None
            and request.user.has_perm(ERASE_PERMISSION)
        )
        if context["shop_wide"] and obj.erasing_since:
            context["shop_erased"] = ErasureLog.objects.filter(request=obj).count()
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _request(self, request, pk: int, permission: str) -> PrivacyRequest:
        if not request.user.has_perm(permission):
            raise PermissionDenied
        return get_object_or_404(PrivacyRequest.objects.select_related("customer", "shop"), pk=pk)

    def _back(self, privacy_request) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:crm_privacyrequest_change", args=[privacy_request.pk]))

    def export_view(self, request, pk: int):
        privacy_request = self._request(request, pk, EXPORT_PERMISSION)
        if request.method != "POST":
            return self._back(privacy_request)
        if privacy_request.customer is None:
            self.message_user(request, "Link the request to its customer first.", messages.ERROR)
            return self._back(privacy_request)
        data = export_answered(
            customer=privacy_request.customer,
            request=privacy_request,
            user=request.user,
        )
        response = HttpResponse(data, content_type="application/zip")
        name = f"customer-{privacy_request.customer_id}-{timezone.now():%Y%m%d-%H%M}.zip"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def erase_view(self, request, pk: int):
        privacy_request = self._request(request, pk, ERASE_PERMISSION)
        refusal = self._not_erasable(privacy_request)
        if refusal:
            self.message_user(request, refusal, messages.ERROR)
            return self._back(privacy_request)
        if request.method == "POST" and request.POST.get("confirm") == "erase":
            try:
                log = erasure_answered(request=privacy_request, user=request.user)
            except DomainError as error:  # answered a moment ago (a second click, a colleague)
                self.message_user(request, error.message, messages.ERROR)
                return self._back(privacy_request)
            total = sum(log.rows.values())
            self.message_user(
                request,
                f"The personal data of customer {log.customer_id} is erased ({total:,} rows blanked). "
                "Their orders and figures stay; the shops' endpoints are told.",
                messages.SUCCESS,
            )
            return self._back(privacy_request)
        return self._confirmation(
            request,
            privacy_request,
            "erase.html",
            title=f"Erase the personal data of {_who(privacy_request.customer)}?",
            preview=erasure_preview(privacy_request.customer),
        )

    def _confirmation(self, request, privacy_request, template: str, **context):
        """The page before an erasure: what goes, and the button that does it."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": privacy_request,
            "privacy_request": privacy_request,
            **context,
        }
        return TemplateResponse(request, f"admin/crm/privacyrequest/{template}", context)

    def erase_shop_view(self, request, pk: int):
        """A shop's erasure (Shopify's shop/redact): a confirmation listing what goes, then
        started in the background (``crm.privacy.shop_redact``)."""
        privacy_request = self._request(request, pk, ERASE_PERMISSION)
        if privacy_request.kind != PrivacyRequest.Kind.SHOP_REDACT or privacy_request.shop_id is None:
            self.message_user(request, "Only a shop's erasure request erases a shop's data.", messages.ERROR)
            return self._back(privacy_request)
        if request.method == "POST" and request.POST.get("confirm") == "erase":
            try:
                started = shop_redact_start(request=privacy_request, user=request.user)
            except DomainError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"Erasing the data of {privacy_request.shop}: {started.erasing_total:,} customers, in the "
                    "background, starting within a minute. Its connections are switched off.",
                    messages.SUCCESS,
                )
            return self._back(privacy_request)
        if privacy_request.status != PrivacyRequest.Status.OPEN or privacy_request.erasing_since:
            self.message_user(request, f"Request #{pk} is answered or being answered already.", messages.ERROR)
            return self._back(privacy_request)
        return self._confirmation(
            request,
            privacy_request,
            "erase_shop.html",
            title=f"Erase the data of {privacy_request.shop}?",
            shop=privacy_request.shop,
            preview=shop_redact_preview(privacy_request.shop),
        )

    @staticmethod
    def _not_erasable(privacy_request) -> str:
        if privacy_request.kind != PrivacyRequest.Kind.CUSTOMER_REDACT:
            return "Only an erasure request is answered by an erasure."
        if privacy_request.status != PrivacyRequest.Status.OPEN:
            return f"Request #{privacy_request.pk} is {privacy_request.get_status_display()} already."
        if privacy_request.customer is None:
            return "Link the request to its customer first."
        return ""

    def close_view(self, request, pk: int):
        privacy_request = get_object_or_404(PrivacyRequest, pk=pk)
        if request.method != "POST" or not self.has_change_permission(request, privacy_request):
            raise PermissionDenied
        status = request.POST.get("status")
        if (
            status == PrivacyRequest.Status.DONE
            and privacy_request.kind in ERASURE_KINDS
            and not request.user.has_perm(ERASE_PERMISSION)
        ):
            # Only those who may erase may say an erasure request was answered.
            raise PermissionDenied
        try:
            privacy_request_close(
                request=privacy_request, status=status, user=request.user, note=request.POST.get("note", "")[:2000]
            )
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
        else:
            self.message_user(request, f"Request #{pk} closed as {status}.", messages.SUCCESS)
        return self._back(privacy_request)


def _who(customer) -> str:
    name = " ".join(part for part in (customer.first_name, customer.last_name) if part)
    label = f"{name} ({customer.email})" if name and customer.email else name or customer.email
    return f"{label}, customer {customer.pk}" if label else f"customer {customer.pk}"


@admin.register(ErasureLog)
class ErasureLogAdmin(ModelAdmin):
    """Who erased whom, when, answering which request, and how many rows of each kind."""

    list_display = ["customer_id", "erased_at", "erased_by", "request"]
    list_select_related = ["erased_by", "request"]
    readonly_fields = ["customer", "request", "erased_at", "erased_by", "rows"]
    search_fields = ["=customer__id"]
    ordering = ["-erased_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
