"""What the API returns about tickets and reviews (DRF). Internal notes never leave."""

from rest_framework import serializers

from crm.api.customer_ids import CustomerIdField
from crm.api.errors import ErrorSerializer
from support.models import NpsResponse, Review, Ticket, TicketMessage
from support.text import plain_text


class TicketMessageOutSerializer(serializers.ModelSerializer):
    ticket_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = TicketMessage
        fields = ["id", "ticket_id", "external_id", "author_kind", "body", "created_at"]


class FollowUpOutSerializer(TicketMessageOutSerializer):
    """The follow-up a shop added, with the status it left its ticket in (a customer's reply
    reopens a pending or solved ticket)."""

    ticket_status = serializers.CharField(source="ticket.status", read_only=True)

    class Meta(TicketMessageOutSerializer.Meta):
        fields = [*TicketMessageOutSerializer.Meta.fields, "ticket_status"]


class TicketOutSerializer(serializers.ModelSerializer):
    messages = TicketMessageOutSerializer(source="public_messages", many=True, read_only=True)
    order_external_id = serializers.CharField(source="order.external_id", default="", read_only=True)

    class Meta:
        model = Ticket
        fields = [
            "id",
            "external_id",
            "subject",
            "status",
            "priority",
            "channel",
            "order_external_id",
            "created_at",
            "first_responded_at",
            "solved_at",
            "messages",
        ]


class TicketExistsSerializer(ErrorSerializer):
    """409 on ``POST /tickets``: the external_id names a ticket without this message, whose
    messages take it (absent from a 409 for a reused Idempotency-Key)."""

    ticket_id = serializers.IntegerField(required=False)
    messages_url = serializers.URLField(required=False, help_text="Where the follow-up goes: POST it there.")


class ReviewOutSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku", read_only=True)
    author = serializers.SerializerMethodField()

    class Meta:
        model = Review
        fields = [
            "id",
            "external_id",
            "sku",
            "rating",
            "title",
            "body",
            "author",
            "verified_buyer",
            "status",
            "response",
            "responded_at",
            "created_at",
        ]

    def get_author(self, review) -> str:
        """First name and initial: what a public review page shows, never the email."""
        # From ``support.selectors.reviews_with_author``: the reviewed shop's group's name for
        # the customer, not the merged profile (which may hold another shop's).
        # Plain text like the review itself, each name before the initial is taken: names
        # come from the shops as sent (a last name "<svg …>" gave the initial "<").
        first = plain_text(getattr(review, "author_first_name", None) or "")
        last = plain_text(getattr(review, "author_last_name", None) or "")
        initial = f" {last[:1]}." if last else ""
        return f"{first}{initial}".strip() or "A customer"


class NpsOutSerializer(serializers.ModelSerializer):
    customer_id = CustomerIdField()
    category = serializers.CharField(read_only=True)

    class Meta:
        model = NpsResponse
        fields = ["id", "external_id", "customer_id", "score", "category", "comment", "created_at"]


class LinkOutSerializer(serializers.Serializer):
    url = serializers.URLField()
    expires_at = serializers.DateTimeField()
