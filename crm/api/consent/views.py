"""``POST /api/v1/subscriptions``: a shop's newsletter form, through its key."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.payloads import decode
from crm import pipeline
from crm.api.auth import Permissions, request_shop
from crm.api.consent.payloads import SubscriptionIn
from crm.api.idempotency import ReplaySafePostMixin
from crm.api.schema import errors, payload

SubscriptionOut = inline_serializer(
    "SubscriptionOut",
    {"status": serializers.ChoiceField(choices=["subscribed", "unsubscribed", "confirmation_sent"])},
)


class SubscriptionCreateView(ReplaySafePostMixin, APIView):
    required_permissions: Permissions = {"POST": ("customers.add_customer",)}

    @extend_schema(
        operation_id="subscriptions_create",
        request=payload(SubscriptionIn),
        responses={200: SubscriptionOut, 202: SubscriptionOut, **errors(400, 401, 413)},
        description="Subscribe (consent true) or unsubscribe (false) an address to the shop's marketing email, "
        "recording the source and what the person was shown. Where the shop asks for double opt-in, a "
        "subscription answers 202 confirmation_sent: the person gets an email whose link confirms it.",
    )
    def post(self, request):
        body = decode(request.body, SubscriptionIn)
        outcome = pipeline.subscription_receive(
            shop=request_shop(request),
            email=body.email,
            consent=body.consent,
            source=body.source,
            shown_text=body.shown_text,
        )
        return Response({"status": outcome}, status=202 if outcome == "confirmation_sent" else 200)
