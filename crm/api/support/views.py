"""Support over the API: tickets from a shop's contact form and the customer's follow-ups on
them, a customer's tickets, reviews pushed by the shop and a product's published reviews.
All limited to the key's shop."""

from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from core.payloads import decode
from crm import pipeline
from crm.api.auth import Permissions, request_shop
from crm.api.customer_ids import ids_context
from crm.api.errors import error_body, not_found
from crm.api.idempotency import ReplaySafePostMixin
from crm.api.schema import errors, payload
from crm.api.support.payloads import NpsIn, ReviewIn, TicketIn, TicketMessageIn
from crm.api.support.serializers import (
    FollowUpOutSerializer,
    LinkOutSerializer,
    NpsOutSerializer,
    ReviewOutSerializer,
    TicketExistsSerializer,
    TicketMessageOutSerializer,
    TicketOutSerializer,
)
from customers import selectors
from customers.models import Order, Product
from support import links
from support.feedback import order_reviewable
from support.models import Review, Ticket, TicketMessage
from support.selectors import (
    customer_tickets,
    product_reviews,
    reviews_with_author,
    shop_ticket,
    ticket_current,
    ticket_public_messages,
)
from support.tickets import TicketExists, ticket_follow_up

TICKET_EXISTS = (
    "The external_id names a ticket that does not hold this message (a customer's follow-up): nothing is "
    "written, and `messages_url` is where to POST it. Or an Idempotency-Key reused with a different request."
)


class TicketCreateView(ReplaySafePostMixin, APIView):
    required_permissions: Permissions = {"POST": ("support.add_ticket",)}

    @extend_schema(
        operation_id="tickets_create",
        request=payload(TicketIn),
        responses={
            201: TicketOutSerializer,
            200: TicketOutSerializer,
            409: OpenApiResponse(TicketExistsSerializer, description=TICKET_EXISTS),
            **errors(400, 401, 413),
        },
        description="Open a ticket with its first message (a shop's contact form). The customer is created if "
        "unknown. A replayed external_id returns the ticket it opened, with 200, when the ticket holds the "
        "message sent; with a message it does not hold (a customer's follow-up), 409 with `messages_url`, the "
        "ticket's messages, where the follow-up goes. Nothing is written then.",
    )
    def post(self, request):
        body = decode(request.body, TicketIn)
        shop = request_shop(request)
        try:
            ticket, created = pipeline.ticket_receive(shop=shop, customer=body.customer.to_data(), data=body.to_data())
        except TicketExists as exc:
            return _ticket_exists(request, exc)
        ticket = customer_tickets(customer=ticket.customer, shop=shop).get(pk=ticket.pk)
        return Response(TicketOutSerializer(ticket).data, status=201 if created else 200)


def _ticket_exists(request, exc: TicketExists) -> Response:
    """409 naming ``external_id``, with the address of the ticket's messages (the whole URL, as
    the pages' ``next`` links are)."""
    url = request.build_absolute_uri(reverse("api-ticket-messages", args=[exc.ticket_id]))
    body = error_body(f"{exc.message} POST it to {url}", {exc.field: [exc.message]})
    return Response({**body, "ticket_id": exc.ticket_id, "messages_url": url}, status=409)


class TicketMessagesView(ReplaySafePostMixin, generics.GenericAPIView):
    """A ticket's thread as the shop sees it, and the customer's follow-ups on it."""

    required_permissions: Permissions = {
        "GET": ("support.view_ticket", "support.view_ticketmessage"),
        "POST": ("support.add_ticketmessage",),
    }

    serializer_class = TicketMessageOutSerializer

    def get_queryset(self):
        return TicketMessage.objects.none()

    @extend_schema(
        operation_id="tickets_messages_list",
        responses={200: TicketMessageOutSerializer(many=True), **errors(400, 401, 404)},
    )
    def get(self, request, pk: int):
        """The ticket's public messages, newest first (cursor pages); internal notes never appear. A
        ticket the desk merged into another of the shop's lists that one's (its thread moved there)."""
        ticket = shop_ticket(shop=request_shop(request), ticket_id=pk)
        if ticket is None:
            return not_found("ticket")
        page = self.paginate_queryset(ticket_public_messages(ticket_current(ticket)))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        operation_id="tickets_messages_create",
        request=payload(TicketMessageIn),
        responses={201: FollowUpOutSerializer, 200: FollowUpOutSerializer, **errors(400, 401, 404, 409, 413)},
        description="Add the customer's follow-up to one of the shop's tickets, as the desk adds a customer's "
        "reply: a ticket pending on the customer goes back to open and its SLA clock runs again from where it "
        "stopped; a solved ticket reopens with a fresh resolution clock. A replayed external_id (or "
        "Idempotency-Key) returns the message it added, with 200, and writes nothing. A closed ticket is 409 "
        "on `ticket` (open a new one); a ticket merged into another of the shop's takes it there (`ticket_id`).",
    )
    def post(self, request, pk: int):
        body = decode(request.body, TicketMessageIn)
        ticket = shop_ticket(shop=request_shop(request), ticket_id=pk)
        if ticket is None:
            return not_found("ticket")
        message, created = ticket_follow_up(ticket=ticket, body=body.message, external_id=body.external_id)
        return Response(FollowUpOutSerializer(message).data, status=201 if created else 200)


class CustomerTicketsView(generics.GenericAPIView):
    required_permissions: Permissions = {"GET": ("support.view_ticket",)}

    serializer_class = TicketOutSerializer

    def get_queryset(self):
        return Ticket.objects.none()

    @extend_schema(
        operation_id="customers_tickets", responses={200: TicketOutSerializer(many=True), **errors(400, 401, 404)}
    )
    def get(self, request, pk: int):
        """The customer's tickets with this shop, newest first, with their public messages (cursor pages)."""
        shop = request_shop(request)
        customer = selectors.customer_of_ref(shop=shop, ref=pk).first()
        if customer is None:
            return not_found("customer")
        page = self.paginate_queryset(customer_tickets(customer=customer, shop=shop))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class ReviewCreateView(ReplaySafePostMixin, APIView):
    required_permissions: Permissions = {"POST": ("support.add_review",)}

    @extend_schema(
        operation_id="reviews_create",
        request=payload(ReviewIn),
        responses={201: ReviewOutSerializer, 200: ReviewOutSerializer, **errors(400, 401, 413)},
        description="Store a customer's review of one of the shop's products (by sku), 201. Verified when the "
        "customer bought it here; published at once or held for moderation. One review per customer and product: "
        "a second one updates the first (moderated again) and returns 200 with its id, as a replay does.",
    )
    def post(self, request):
        body = decode(request.body, ReviewIn)
        review, created = pipeline.review_receive(
            shop=request_shop(request), customer=body.customer.to_data(), data=body.to_data()
        )
        review = reviews_with_author(Review.objects.filter(pk=review.pk).select_related("product")).get()
        return Response(ReviewOutSerializer(review).data, status=201 if created else 200)


class ProductReviewsView(generics.GenericAPIView):
    required_permissions: Permissions = {"GET": ("support.view_review",)}

    serializer_class = ReviewOutSerializer

    def get_queryset(self):
        return Review.objects.none()

    @extend_schema(
        operation_id="products_reviews", responses={200: ReviewOutSerializer(many=True), **errors(400, 401, 404)}
    )
    def get(self, request, sku: str):
        """The product's published reviews, newest first (cursor pages)."""
        shop = request_shop(request)
        if not Product.objects.filter(shop=shop, sku=sku).exists():
            return not_found("product")
        page = self.paginate_queryset(product_reviews(shop=shop, sku=sku))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class NpsCreateView(ReplaySafePostMixin, APIView):
    required_permissions: Permissions = {"POST": ("support.add_npsresponse",)}

    @extend_schema(
        operation_id="nps_create",
        request=payload(NpsIn),
        responses={201: NpsOutSerializer, 200: NpsOutSerializer, **errors(400, 401, 413)},
        description="Store a customer's NPS answer (0–10). 9–10 counts toward the advocate stage, 0–6 toward at "
        "risk. A replayed external_id returns the first answer, with 200.",
    )
    def post(self, request):
        body = decode(request.body, NpsIn)
        shop = request_shop(request)
        answer, created = pipeline.nps_receive(shop=shop, customer=body.customer.to_data(), data=body.to_data())
        context = ids_context(shop=shop, customer_ids=[answer.customer_id])
        return Response(NpsOutSerializer(answer, context=context).data, status=201 if created else 200)


class OrderReviewLinkView(APIView):
    required_permissions: Permissions = {"GET": ("customers.view_order",)}

    @extend_schema(
        operation_id="orders_review_link",
        responses={200: LinkOutSerializer, **errors(400, 401, 404)},
        description="A signed link where the customer reviews the products of a fulfilled order (to put in the "
        "shop's 'how was your order?' email). It expires; each product can be reviewed once through it.",
    )
    def get(self, request, external_id: str):
        order = Order.objects.filter(shop=request_shop(request), external_id=external_id).first()
        if order is None:
            return not_found("order")
        order_reviewable(order)
        link = links.review_link(order.pk)
        return Response(LinkOutSerializer({"url": link.url, "expires_at": link.expires_at}).data)
