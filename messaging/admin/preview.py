"""Preview a message template for a chosen customer and shop, and send a test to oneself.

Reached from the message log (``admin:messaging_preview``) by whoever holds
``messaging.send_test``. The preview is rendered exactly as a message is (the same context
and branding); the test goes through ``message_queue`` to the signed-in person's address,
as a transactional message of no customer, and is logged like any other."""

from urllib.parse import urlencode
from uuid import uuid4

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextInputWidget

from customers.models import Customer, Shop
from messaging.admin.frames import html_frame, html_response, text_block
from messaging.models import MessageKind
from messaging.rendering import TEMPLATES
from messaging.selectors import customer_find, latest_order, preview
from messaging.services import message_context, message_queue, order_values

SEND_TEST = "messaging.send_test"

# What a preview without a customer shows.
SAMPLE = {
    "customer": {"first_name": "Ann", "last_name": "Example", "name": "Ann Example", "email": "ann@example.com"},
    "order": {"number": "#1001", "placed_on": "2 January 2026", "total": "59.90", "currency": "USD"},
    "tier": "Gold",
    "points": 1250,
    # For the support desk's templates (ticket_reply, csat_invite): made up whoever the
    # customer is, as a preview has no ticket.
    "ticket": {"number": 1042, "subject": "Where is my parcel?"},
    "reply": {"html": "<p>It left our warehouse today; tracking follows.</p>", "agent": "Sam"},
    "csat": {"url": "#csat"},
}
# What a chosen customer's own values leave out, made up.
SAMPLE_BESIDE_CUSTOMER = {key: SAMPLE[key] for key in ("ticket", "reply", "csat")}


class PreviewForm(forms.Form):
    # The theme's widgets, as on the admin's own forms.
    template = forms.ChoiceField(choices=(), widget=UnfoldAdminSelectWidget)
    shop = forms.ModelChoiceField(
        queryset=Shop.objects.order_by("name"),
        required=False,
        help_text="Empty: the CRM's own sender.",
        widget=UnfoldAdminSelectWidget,
    )
    customer = forms.CharField(
        required=False,
        max_length=254,
        help_text="An email address or a CRM id; empty: made-up values.",
        widget=UnfoldAdminTextInputWidget,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = [(t.name, f"{t.name}: {t.description}") for t in TEMPLATES.values()]

    def clean_customer(self) -> Customer | None:
        term = self.cleaned_data["customer"]
        if not term.strip():
            return None
        found = customer_find(term)
        if found is None:
            raise forms.ValidationError("No customer has this email address or id.")
        return found


def _context(form: PreviewForm) -> dict:
    customer, shop = form.cleaned_data["customer"], form.cleaned_data["shop"]
    if customer is None:
        return {**SAMPLE, **({"shop": {"name": shop.name}} if shop else {})}
    order = latest_order(customer.pk, shop_id=shop.pk if shop else None)
    extra = {**SAMPLE_BESIDE_CUSTOMER, **({"order": order_values(order)} if order else {})}
    return message_context(customer=customer, shop=shop, extra=extra)


def _form(request) -> PreviewForm:
    return PreviewForm(request.POST if request.method == "POST" else (request.GET or None))


def preview_view(model_admin, request):
    if not request.user.has_perm(SEND_TEST):
        raise PermissionDenied
    form = _form(request)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Preview a message",
        "opts": model_admin.opts,
        "form": form,
        "staff_email": request.user.email,
    }
    if form.is_bound and form.is_valid():
        shop = form.cleaned_data["shop"]
        values = _context(form)
        brand, rendered = preview(template=form.cleaned_data["template"], shop_id=shop and shop.pk, context=values)
        if request.method == "POST":
            return _send_test(request, form, values)
        query = request.GET.urlencode()
        context.update(
            brand=brand,
            rendered=rendered,
            html=html_frame(f"{reverse('admin:messaging_preview_html')}?{query}", title=rendered.subject),
            text=text_block(rendered.text),
        )
    status = 400 if form.is_bound and form.errors else 200
    return TemplateResponse(request, "admin/messaging/preview.html", context, status=status)


def _send_test(request, form: PreviewForm, values: dict):
    if not request.user.email:
        messages.error(request, "Your staff account has no email address to send the test to.")
        query = urlencode({k: v for k, v in request.POST.items() if k in form.fields})
        return redirect(f"{reverse('admin:messaging_preview')}?{query}")
    shop = form.cleaned_data["shop"]
    with transaction.atomic():
        message = message_queue(
            key=f"test:{request.user.pk}:{uuid4().hex}",
            template=form.cleaned_data["template"],
            shop_id=shop and shop.pk,
            to_email=request.user.email,
            kind=MessageKind.TRANSACTIONAL,
            context=values,
        )
    messages.success(request, f"A test is on its way to {request.user.email}.")
    return redirect("admin:messaging_message_change", message.pk)


def preview_html_view(model_admin, request):
    """The preview's HTML alone, for its sandboxed frame."""
    if not request.user.has_perm(SEND_TEST):
        raise PermissionDenied
    form = PreviewForm(request.GET)
    if not form.is_valid():
        return html_response("")
    shop = form.cleaned_data["shop"]
    _, rendered = preview(template=form.cleaned_data["template"], shop_id=shop and shop.pk, context=_context(form))
    return html_response(rendered.html)
