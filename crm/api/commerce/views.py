"""API views: decode the body into a payload struct, call one pipeline function, serialise.

Request bodies are read and validated by ``crm.api.commerce.payloads`` (msgspec), not by DRF
parsers; responses are DRF serializers.
"""

from django.db.models import OuterRef
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.payloads import PayloadError, decode
from crm import pipeline
from crm.api.auth import Permissions, request_shop
from crm.api.commerce.filters import CustomerFilter
from crm.api.commerce.payloads import (
    BulkOrdersDoc,
    BulkOrdersIn,
    CustomerIn,
    EventIn,
    OrderIn,
    ProductsIn,
    RefundIn,
    external_id_of,
)
from crm.api.commerce.profiles import CustomerProfileSerializer, customer_profiles
from crm.api.commerce.serializers import (
    BulkResultSerializer,
    EventOutSerializer,
    OrderOutSerializer,
    ProductsOutSerializer,
    RefundOutSerializer,
)
from crm.api.customer_ids import customer_id, customers_in_ref_order, ids_context
from crm.api.idempotency import ReplaySafePostMixin
from crm.api.schema import errors, payload
from customers import selectors
from customers.models import CustomerIdentity
from customers.services.orders import Outcome
from customers.services.products import products_upsert

# One instance renders every order: a ModelSerializer builds its fields on first use, which
# costs more than rendering one order, so it is built once per process.
ORDER_OUT = OrderOutSerializer()


class OrderUpsertView(ReplaySafePostMixin, APIView):
    required_permissions: Permissions = {"POST": ("customers.add_order", "customers.change_order")}

    @extend_schema(
        operation_id="orders_upsert",
        request=payload(OrderIn),
        responses={201: OrderOutSerializer, 200: OrderOutSerializer, **errors(400, 401, 409, 413)},
        description="Create an order, or update it by its external_id. Replaying the same body returns 200.",
    )
    def post(self, request):
        data = decode(request.body, OrderIn).to_data()
        shop = request_shop(request)
        (result,) = pipeline.orders_receive(shop=shop, orders=[data], keep_lines=True)
        if result.outcome == Outcome.ERROR:
            raise PayloadError(result.errors)
        code = status.HTTP_201_CREATED if result.outcome == Outcome.CREATED else status.HTTP_200_OK
        body = ORDER_OUT.to_representation(result.order)
        body["customer_id"] = customer_id(shop=shop, customer_pk=result.order.customer_id)
        return Response(body, status=code)


class OrderBulkView(ReplaySafePostMixin, APIView):
    required_permissions: Permissions = {"POST": ("customers.add_order", "customers.change_order")}

    @extend_schema(
        operation_id="orders_bulk",
        request=payload(BulkOrdersDoc),
        responses={200: BulkResultSerializer, **errors(400, 401, 413)},
        description=(
            "Create or update up to 1,000 orders. Each order is applied whole or not at all; the result lists "
            "every item's outcome or its field errors."
        ),
    )
    def post(self, request):
        shop = request_shop(request)
        items = decode(request.body, BulkOrdersIn).orders
        rows: list[dict] = [{} for _ in items]
        valid_index, valid_data = [], []
        for i, raw in enumerate(items):
            try:
                order = decode(raw, OrderIn)
            except PayloadError as exc:
                rows[i] = _bulk_row(i, external_id_of(raw), "error", errors=exc.errors)
            else:
                valid_index.append(i)
                valid_data.append(order.to_data())
        results = pipeline.orders_receive(shop=shop, orders=valid_data)
        ids = selectors.customer_refs(shop=shop, customer_ids={r.order.customer_id for r in results if r.order})
        for i, result in zip(valid_index, results, strict=True):
            customer = ids.get(result.order.customer_id) if result.order else None
            rows[i] = _bulk_row(
                i, result.external_id, str(result.outcome), order=result.order, customer=customer, errors=result.errors
            )
        counts = {name: sum(1 for r in rows if r["status"] == name) for name in ("created", "updated", "unchanged")}
        counts["errors"] = sum(1 for r in rows if r["status"] == "error")
        return Response({**counts, "results": rows})


def _bulk_row(index, external_id, outcome, *, order=None, customer=None, errors=None) -> dict:
    """One item's result; ``customer`` is the group's id of the order's customer."""
    return {
        "index": index,
        "external_id": external_id,
        "status": outcome,
        "id": order.pk if order else None,
        "customer_id": customer,
        "errors": errors or {},
    }


class RefundCreateView(ReplaySafePostMixin, APIView):
    required_permissions: Permissions = {"POST": ("customers.add_refund",)}

    @extend_schema(
        operation_id="orders_refund",
        request=payload(RefundIn),
        responses={201: RefundOutSerializer, 200: RefundOutSerializer, **errors(400, 401, 404, 413)},
        description="Refund part or all of an order. A replay with the same refund external_id returns 200.",
    )
    def post(self, request, external_id: str):
        data = decode(request.body, RefundIn).to_data(timezone.now())
        refund, created = pipeline.refund_receive(shop=request_shop(request), order_external_id=external_id, data=data)
        return Response(RefundOutSerializer(refund).data, status=201 if created else 200)


class ShopProfilesMixin:
    """Profiles are shown as the key's shop sees them (its group's slice)."""

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["shop"] = request_shop(self.request)
        return context


class CustomerListCreateView(ReplaySafePostMixin, ShopProfilesMixin, generics.GenericAPIView):
    required_permissions: Permissions = {"GET": ("customers.view_customer",), "POST": ("customers.add_customer",)}

    serializer_class = CustomerProfileSerializer
    filterset_class = CustomerFilter

    def get_queryset(self):
        """The group's customers as rows of ``group_refs`` (paged by the id the key knows them
        by); the filters read ``slice_orders``."""
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request key
            return CustomerIdentity.objects.none()
        shop = request_shop(self.request)
        refs = selectors.group_refs(shop=shop)
        return refs.alias(slice_orders=selectors.group_orders_count(shop=shop, customer=OuterRef("customer_id")))

    @extend_schema(
        operation_id="customers_list", responses={200: CustomerProfileSerializer(many=True), **errors(400, 401, 404)}
    )
    def get(self, request):
        """Customers linked to this shop's group, newest to the group first, with cursor pagination
        and filters; the filters read the group's slice."""
        refs = self.paginate_queryset(self.filter_queryset(self.get_queryset()).only("pk", "customer_id"))
        page = customers_in_ref_order(refs, customer_profiles(shop=request_shop(request)))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        operation_id="customers_upsert",
        request=payload(CustomerIn),
        responses={201: CustomerProfileSerializer, 200: CustomerProfileSerializer, **errors(400, 401, 413)},
        description="Create or update a customer by external_id or email. 201 when the customer is new to this "
        "shop's group, 200 otherwise; the body is the group's slice of the customer either way.",
    )
    def post(self, request):
        data = decode(request.body, CustomerIn).to_data()
        shop = request_shop(request)
        customer_pk, created = pipeline.customer_receive(shop=shop, data=data)
        customer = customer_profiles(shop=shop).get(pk=customer_pk)
        return Response(self.get_serializer(customer).data, status=201 if created else 200)


class CustomerDetailView(ShopProfilesMixin, generics.GenericAPIView):
    required_permissions: Permissions = {"GET": ("customers.view_customer",)}

    serializer_class = CustomerProfileSerializer

    @extend_schema(operation_id="customers_retrieve", responses={200: CustomerProfileSerializer, **errors(401, 404)})
    def get(self, request, pk: int):
        """A customer's profile as this shop's group knows it: its fields and figures. Only customers
        linked to the group."""
        shop = request_shop(request)
        customer = selectors.customers_by_ref(customer_profiles(shop=shop), shop=shop, ref=pk).first()
        if customer is None:
            return Response({"detail": "No such customer in this shop.", "errors": {}}, status=404)
        return Response(self.get_serializer(customer).data)


class EventCreateView(ReplaySafePostMixin, APIView):
    required_permissions: Permissions = {"POST": ("customers.add_event",)}

    @extend_schema(
        operation_id="events_create",
        request=payload(EventIn),
        responses={201: EventOutSerializer, 200: EventOutSerializer, **errors(400, 401, 413)},
        description="Record a customer event such as cart_abandoned. A replayed external_id returns 200.",
    )
    def post(self, request):
        data = decode(request.body, EventIn).to_data(timezone.now())
        shop = request_shop(request)
        event, created = pipeline.event_receive(shop=shop, data=data)
        context = ids_context(shop=shop, customer_ids=[event.customer_id])
        return Response(EventOutSerializer(event, context=context).data, status=201 if created else 200)


class ProductsUpsertView(ReplaySafePostMixin, APIView):
    required_permissions: Permissions = {"POST": ("customers.add_product", "customers.change_product")}

    @extend_schema(
        operation_id="products_upsert",
        request=payload(ProductsIn),
        responses={200: ProductsOutSerializer, **errors(400, 401, 413)},
        description="Add or change products of this shop's catalogue, by sku: name, category, price, url, whether "
        "it is active and in stock (recommendations offer neither an inactive nor an out-of-stock product), and "
        "for a consumable how many days after a purchase it is due again. A field left out keeps its value. "
        "Orders add the products they name on their own; this says more about them.",
    )
    def post(self, request):
        body = decode(request.body, ProductsIn)
        result = products_upsert(shop=request_shop(request), items=[item.to_data() for item in body.products])
        return Response(ProductsOutSerializer({"created": result.created, "updated": result.updated}).data)
