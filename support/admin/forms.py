"""The ticket page's working form: besides the ticket's own fields, a reply box, a macro
to apply and a ticket to merge into. ``TicketAdmin`` runs them through the services.

Choosing a macro fills the reply box with its text for this customer (``ticket_macro.js``
asks the admin's macro-preview endpoint), to edit before sending: what is sent is what the
box holds. With the box left empty (no JavaScript), the macro's own text is sent."""

from django import forms
from unfold.widgets import UnfoldAdminIntegerFieldWidget, UnfoldAdminSelectWidget, UnfoldAdminTextareaWidget

from support.models import Macro, Ticket


class TicketForm(forms.ModelForm):
    reply = forms.CharField(
        required=False,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 8}),
        help_text="What the customer gets, line breaks included (HTML is cleaned).",
    )
    reply_as = forms.ChoiceField(
        choices=[("public", "Public reply to the customer"), ("note", "Internal note (staff only)")],
        initial="public",
        required=False,
        widget=UnfoldAdminSelectWidget,
    )
    macro = forms.ModelChoiceField(
        Macro.objects.filter(is_active=True),
        required=False,
        widget=UnfoldAdminSelectWidget,
        help_text="Puts its text for this customer in the reply box, to edit before sending; "
        "on save it also adds its tags, and sets its status unless you choose one.",
    )
    merge_into = forms.IntegerField(
        required=False,
        min_value=1,
        widget=UnfoldAdminIntegerFieldWidget,
        help_text="Ticket number of the same customer: this ticket's messages move there and it closes.",
    )

    class Meta:
        model = Ticket
        fields = [
            "customer",
            "order",
            "subject",
            "channel",
            "status",
            "priority",
            "assignee",
            "team",
            "tags",
            "review",
            "csat",
            "external_id",
            "shop",
        ]

    def clean_merge_into(self):
        number = self.cleaned_data.get("merge_into")
        if not number:
            return None
        target = Ticket.objects.filter(pk=number).first()
        if target is None:
            raise forms.ValidationError(f"There is no ticket #{number}.")
        if self.instance.pk == target.pk:
            raise forms.ValidationError("A ticket cannot be merged into itself.")
        if self.instance.customer_id != target.customer_id:
            raise forms.ValidationError(f"Ticket #{number} belongs to another customer.")
        if target.status == Ticket.Status.CLOSED:
            raise forms.ValidationError(f"Ticket #{number} is closed.")
        return target

    class Media:
        js = ["support/ticket_macro.js"]
        css = {"all": ["support/ticket_page.css"]}
