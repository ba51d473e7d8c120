"""Support over the API: tickets from a shop's contact form, a customer's tickets, reviews
pushed by the shop and a product's published reviews. All limited to the key's shop."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from core.payloads import decode
from crm import pipeline
from crm.api.auth import Permissions, request_shop
from crm.api.customer_ids import ids_context
from crm.api.errors import not_found
from crm.api.idempotency import ReplaySafePostMixin
from crm.api.schema import errors, payload
from crm.api.support.payloads import NpsIn, ReviewIn, TicketIn
from crm.api.support.serializers import LinkOutSerializer, NpsOutSerializer, ReviewOutSerializer, TicketOutSerializer
from customers import selectors
from customers.models import Order, Product
from support import links
from support.feedback import order_reviewable
from support.models import Review, Ticket
from support.selectors import customer_tickets, product_reviews, reviews_with_author


class TicketCreateView(ReplaySafePostMixin, APIView):
    required_permissions: Permissions = {"POST": ("support.add_ticket",)}

    @extend_schema(
        operation_id="tickets_create",
        request=payload(TicketIn),
        responses={201: TicketOutSerializer, 200: TicketOutSerializer, **errors(400, 401, 413)},
        description="Open a ticket with its first message (a shop's contact form). The customer is created if "
        "unknown. A replayed external_id returns the ticket it opened, with 200.",
    )
    def post(self, request):
        body = decode(request.body, TicketIn)
        shop = request_shop(request)
        ticket, created = pipeline.ticket_receive(shop=shop, customer=body.customer.to_data(), data=body.to_data())
        ticket = customer_tickets(customer=ticket.customer, shop=shop).get(pk=ticket.pk)
        return Response(TicketOutSerializer(ticket).data, status=201 if created else 200)


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
        description="Store a customer's review of one of the shop's products (by sku). Verified when the customer "
        "bought it here; published at once or held for moderation. A replayed external_id returns 200.",
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
