"""The ticket page's working form: besides the ticket's own fields, a reply box, a macro
to apply and a ticket to merge into. ``TicketAdmin`` runs them through the services."""

from django import forms

from support.models import Macro, Ticket


class TicketForm(forms.ModelForm):
    reply = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 5, "cols": 80}), help_text="HTML is cleaned."
    )
    reply_as = forms.ChoiceField(
        choices=[("public", "Public reply to the customer"), ("note", "Internal note (staff only)")],
        initial="public",
        required=False,
    )
    macro = forms.ModelChoiceField(
        Macro.objects.filter(is_active=True), required=False, help_text="Adds its reply, tags and status."
    )
    merge_into = forms.IntegerField(
        required=False,
        min_value=1,
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
