"""API views: validate with a serializer, call one pipeline function, serialise the result."""

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from crm import pipeline
from crm.api.auth import request_shop
from crm.api.filters import CustomerFilter
from crm.api.idempotency import idempotent
from crm.api.schema import errors
from customers import selectors
from customers.models import Customer
from customers.serializers import (
    BulkResultSerializer,
    CustomerInSerializer,
    CustomerOutSerializer,
    EventInSerializer,
    EventOutSerializer,
    OrderBulkInSerializer,
    OrderInSerializer,
    OrderOutSerializer,
    RefundInSerializer,
    RefundOutSerializer,
    flatten_errors,
)
from customers.services.orders import Outcome

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="A retry with the same key and body returns the first response.",
)


class OrderUpsertView(APIView):
    @extend_schema(
        operation_id="orders_upsert",
        request=OrderInSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: OrderOutSerializer, 200: OrderOutSerializer, **errors(400, 401, 409, 413)},
        description="Create an order, or update it by its external_id. Replaying the same body returns 200.",
    )
    def post(self, request):
        shop = request_shop(request)

        def handle():
            serializer = OrderInSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            (result,) = pipeline.orders_receive(
                shop=shop, orders=[OrderInSerializer.to_data(serializer.validated_data)]
            )
            if result.outcome == Outcome.ERROR:
                return Response(
                    {"detail": "Invalid input: " + next(iter(result.errors.values()))[0], "errors": result.errors},
                    status=status.HTTP_400_BAD_REQUEST,
                )
            order = selectors.order_with_lines(order_id=result.order.pk)
            code = status.HTTP_201_CREATED if result.outcome == Outcome.CREATED else status.HTTP_200_OK
            return Response(OrderOutSerializer(order).data, status=code)

        return idempotent(request, shop, handle)


class OrderBulkView(APIView):
    @extend_schema(
        operation_id="orders_bulk",
        request=OrderBulkInSerializer,
        responses={200: BulkResultSerializer, **errors(400, 401, 413)},
        description=(
            f"Create or update up to {settings.API_BULK_MAX_ITEMS} orders. Each order is applied whole or not "
            "at all; the result lists every item's outcome or its field errors."
        ),
    )
    def post(self, request):
        shop = request_shop(request)
        envelope = OrderBulkInSerializer(data=request.data)
        envelope.is_valid(raise_exception=True)
        items = envelope.validated_data["orders"]
        rows: list[dict] = [{} for _ in items]
        valid_index, valid_data = [], []
        for i, item in enumerate(items):
            serializer = OrderInSerializer(data=item)
            if serializer.is_valid():
                valid_index.append(i)
                valid_data.append(OrderInSerializer.to_data(serializer.validated_data))
            else:
                external_id = item.get("external_id") if isinstance(item, dict) else None
                rows[i] = _bulk_row(
                    i,
                    external_id if isinstance(external_id, str) else None,
                    "error",
                    errors=flatten_errors(serializer.errors),
                )
        for i, result in zip(valid_index, pipeline.orders_receive(shop=shop, orders=valid_data), strict=True):
            order = result.order
            rows[i] = _bulk_row(i, result.external_id, str(result.outcome), order=order, errors=result.errors)
        counts = {name: sum(1 for r in rows if r["status"] == name) for name in ("created", "updated", "unchanged")}
        counts["errors"] = sum(1 for r in rows if r["status"] == "error")
        return Response({**counts, "results": rows})


def _bulk_row(index, external_id, outcome, *, order=None, errors=None) -> dict:
    return {
        "index": index,
        "external_id": external_id,
        "status": outcome,
        "id": order.pk if order else None,
        "customer_id": order.customer_id if order else None,
        "errors": errors or {},
    }


class RefundCreateView(APIView):
    @extend_schema(
        operation_id="orders_refund",
        request=RefundInSerializer,
        responses={201: RefundOutSerializer, 200: RefundOutSerializer, **errors(400, 401, 404, 413)},
        description="Refund part or all of an order. A replay with the same refund external_id returns 200.",
    )
    def post(self, request, external_id: str):
        serializer = RefundInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        refund, created = pipeline.refund_receive(
            shop=request_shop(request),
            order_external_id=external_id,
            data=RefundInSerializer.to_data(serializer.validated_data),
        )
        return Response(RefundOutSerializer(refund).data, status=201 if created else 200)


class CustomerListCreateView(generics.GenericAPIView):
    serializer_class = CustomerOutSerializer
    filterset_class = CustomerFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request key
            return Customer.objects.none()
        return selectors.customer_profiles_for_shop(shop=request_shop(self.request))

    @extend_schema(
        operation_id="customers_list", responses={200: CustomerOutSerializer(many=True), **errors(400, 401, 404)}
    )
    def get(self, request):
        """Customers linked to this shop, newest first, with cursor pagination and filters."""
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        operation_id="customers_upsert",
        request=CustomerInSerializer,
        responses={201: CustomerOutSerializer, 200: CustomerOutSerializer, **errors(400, 401, 413)},
        description="Create or update a customer by external_id or email.",
    )
    def post(self, request):
        serializer = CustomerInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        customer, created = pipeline.customer_receive(
            shop=request_shop(request), data=CustomerInSerializer.to_data(serializer.validated_data)
        )
        customer = self.get_queryset().get(pk=customer.pk)
        return Response(self.get_serializer(customer).data, status=201 if created else 200)


class CustomerDetailView(generics.GenericAPIView):
    serializer_class = CustomerOutSerializer

    @extend_schema(operation_id="customers_retrieve", responses={200: CustomerOutSerializer, **errors(401, 404)})
    def get(self, request, pk: int):
        """A customer's profile: fields and aggregates. Only customers linked to this shop."""
        customer = selectors.customer_profiles_for_shop(shop=request_shop(request)).filter(pk=pk).first()
        if customer is None:
            return Response({"detail": "No such customer in this shop.", "errors": {}}, status=404)
        return Response(self.get_serializer(customer).data)


class EventCreateView(APIView):
    @extend_schema(
        operation_id="events_create",
        request=EventInSerializer,
        responses={201: EventOutSerializer, 200: EventOutSerializer, **errors(400, 401, 413)},
        description="Record a customer event such as cart_abandoned. A replayed external_id returns 200.",
    )
    def post(self, request):
        serializer = EventInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event, created = pipeline.event_receive(
            shop=request_shop(request), data=EventInSerializer.to_data(serializer.validated_data)
        )
        return Response(EventOutSerializer(event).data, status=201 if created else 200)
