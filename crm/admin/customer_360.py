"""The customer 360 page in the admin: search customers, open one, read everything about
them on one page, and act (open a ticket, add a note, add a tag) without leaving it."""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextareaWidget, UnfoldAdminTextInputWidget

from campaigns.attribution.selectors import MODEL_COLUMNS
from core.errors import DomainError
from crm import customer_360
from crm.models import Customer360
from crm.services import customer_note_add, customer_tag_add
from customers.admin.commerce import CustomerAdmin
from support.models import Priority
from support.text import MAX_BODY
from support.tickets import TicketData, ticket_open


# The quick actions' forms, with the theme's widgets: the page is the project's own, so the
# theme does not style them by itself.
class OpenTicketForm(forms.Form):
    subject = forms.CharField(max_length=255, widget=UnfoldAdminTextInputWidget)
    message = forms.CharField(
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        max_length=MAX_BODY,
        label="What the customer asked",
        help_text="Your note of the call: it opens a phone ticket, written by you.",
    )
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.NORMAL, widget=UnfoldAdminSelectWidget)


class NoteForm(forms.Form):
    body = forms.CharField(widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}), label="Note", max_length=10_000)


class TagForm(forms.Form):
    tag = forms.CharField(max_length=64, widget=UnfoldAdminTextInputWidget)


ACTIONS = {
    # action: (form, the permission it needs)
    "open_ticket": (OpenTicketForm, "support.add_ticket"),
    "note": (NoteForm, "crm.add_customernote"),
    "tag": (TagForm, "crm.tag_customer"),
}


@admin.register(Customer360)
class Customer360Admin(CustomerAdmin):
    """Search as in the customers list; a result opens the 360 page."""

    inlines = []
    list_display = ["who", "stage", "orders_count_shown", "net_revenue_shown", "last_order"]
    list_filter = []
    list_display_links = ["who"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        if not str(object_id).isdigit():
            raise Http404("No such customer.")
        viewer = customer_360.Viewer.of(request.user)
        all_consent = request.GET.get("consent") == "all"
        head = customer_360.header(int(object_id), viewer, all_consent=all_consent)
        if head is None:
            raise Http404("No such customer.")
        forms_ = {name: form() for name, (form, perm) in ACTIONS.items() if request.user.has_perm(perm)}
        status = 200
        if request.method == "POST":
            action = request.POST.get("action")
            if action not in forms_:
                raise PermissionDenied
            form = forms_[action] = ACTIONS[action][0](request.POST)
            if form.is_valid() and self._act(request, action, head.customer, form):
                return HttpResponseRedirect(request.get_full_path())
            status = 400
        groups = [g for g in request.GET.getlist("type") if g in customer_360.GROUPS]
        page = customer_360.timeline(head.customer.pk, viewer, groups=groups, page=request.GET.get("page", 1))
        context = {
            **self.admin_site.each_context(request),
            "title": f"{head.customer.first_name} {head.customer.last_name}".strip() or head.customer.email,
            "opts": self.opts,
            "original": head.customer,  # the theme's breadcrumbs: CRM › Customer profiles › this customer
            "head": head,
            "page": page,
            "flow_runs": customer_360.flow_positions(head.customer.pk, viewer),
            "conversions": customer_360.conversions(head.customer.pk, viewer),
            "models": MODEL_COLUMNS,
            "groups": customer_360.timeline_groups(viewer),
            "selected": groups,
            "filter_query": "".join(f"&type={g}" for g in groups),
            "forms": forms_,
            "viewer": viewer,
            "all_consent": all_consent,
            "customer_admin_url": reverse("admin:customers_customer_change", args=[head.customer.pk]),
            # The person's data or its erasure asked for: a request for them, due in a month.
            "privacy_request_url": reverse("admin:crm_privacyrequest_add") + f"?customer={head.customer.pk}"
            if request.user.has_perm("crm.add_privacyrequest")
            else "",
        }
        return TemplateResponse(request, "admin/crm/customer360/profile.html", context, status=status)

    def _act(self, request, action: str, customer, form) -> bool:
        data = form.cleaned_data
        try:
            if action == "open_ticket":
                ticket, _ = ticket_open(
                    customer=customer,
                    data=TicketData(
                        subject=data["subject"], body=data["message"], channel="phone", priority=data["priority"]
                    ),
                    user=request.user,
                )
                self.message_user(request, f"Ticket #{ticket.pk} opened.")
            elif action == "note":
                customer_note_add(customer=customer, body=data["body"], user=request.user)
                self.message_user(request, "Note added.")
            else:
                tag = customer_tag_add(customer=customer, name=data["tag"])
                self.message_user(request, f"Tagged “{tag.name}”.")
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
            return False
        return True
