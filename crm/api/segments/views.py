"""Segments over the API: definitions, a preview of a rule, and members, all limited to the
key's shop group's customers, and worked out on the group's data alone (its identities'
profiles, its orders and events: ``compile_rule(..., shops=…)``)."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.models import Segment
from campaigns.payloads import SegmentPreviewIn
from campaigns.segments.rules import RuleError
from campaigns.selectors import customer_segments_sliced, segment_members, segment_preview
from core.payloads import PayloadError, decode
from crm.api.auth import Permissions, request_shop
from crm.api.customer_ids import customers_in_ref_order
from crm.api.errors import not_found
from crm.api.idempotency import ReplaySafePostMixin
from crm.api.schema import errors, payload
from crm.api.segments.serializers import (
    CustomerSegmentSerializer,
    SegmentMemberSerializer,
    SegmentOutSerializer,
    SegmentPreviewOutSerializer,
)
from customers import selectors
from customers.models import CustomerIdentity


def _customers(shop):
    """The key's group's customers, with the names the group sent."""
    return selectors.with_group_names(selectors.customers_for_shop(shop=shop), shop=shop)


def _newest_first(shop, customers):
    """Rows of ``group_refs`` for ``customers``: newest to the group first, by the id the key
    knows them by (ordered by the CRM's id, a person another shop brought in long ago would
    stand out among those the group came to know at the same time)."""
    refs = selectors.group_refs(shop=shop).filter(customer_id__in=customers.values("pk"))
    return refs.only("pk", "customer_id").order_by("-pk")


class SegmentListView(generics.GenericAPIView):
    required_permissions: Permissions = {"GET": ("campaigns.view_segment",)}

    serializer_class = SegmentOutSerializer

    def get_queryset(self):
        return Segment.with_rules()

    @extend_schema(
        operation_id="segments_list", responses={200: SegmentOutSerializer(many=True), **errors(400, 401, 404)}
    )
    def get(self, request):
        """Every segment, with its current rule and that rule as a sentence."""
        page = self.paginate_queryset(self.get_queryset().order_by("-id"))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class SegmentPreviewView(ReplaySafePostMixin, APIView):
    required_permissions: Permissions = {"POST": ("campaigns.view_segment",)}

    @extend_schema(
        operation_id="segments_preview",
        request=payload(SegmentPreviewIn),
        responses={200: SegmentPreviewOutSerializer, **errors(400, 401, 413)},
        description="How many of this shop's customers a rule matches, the rule as a sentence, and 20 of them. "
        "An invalid rule gives 400 with every problem under errors.rule.",
    )
    def post(self, request):
        body = decode(request.body, SegmentPreviewIn)
        shop = request_shop(request)
        try:
            preview = segment_preview(
                rule=body.rule,
                customers=_customers(shop),
                shops=selectors.group_shops(shop=shop),
                sample_of=lambda matched, size: customers_in_ref_order(
                    _newest_first(shop, matched)[:size], _customers(shop)
                ),
            )
        except RuleError as error:
            raise PayloadError({"rule": error.errors}) from error
        return Response(SegmentPreviewOutSerializer(preview).data)


class SegmentMembersView(generics.GenericAPIView):
    required_permissions: Permissions = {"GET": ("campaigns.view_segment",)}

    serializer_class = SegmentMemberSerializer

    def get_queryset(self):
        return CustomerIdentity.objects.none()

    @extend_schema(
        operation_id="segments_members", responses={200: SegmentMemberSerializer(many=True), **errors(400, 401, 404)}
    )
    def get(self, request, pk: int):
        """The segment's current members among this shop's customers, newest first (cursor pages)."""
        segment = Segment.objects.filter(pk=pk).first()
        if segment is None:
            return not_found("segment")
        shop = request_shop(request)
        members = segment_members(segment=segment, customers=_customers(shop), shops=selectors.group_shops(shop=shop))
        page = customers_in_ref_order(self.paginate_queryset(_newest_first(shop, members)), _customers(shop))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class CustomerSegmentsView(APIView):
    required_permissions: Permissions = {"GET": ("campaigns.view_segment",)}

    @extend_schema(
        operation_id="customers_segments", responses={200: CustomerSegmentSerializer(many=True), **errors(401, 404)}
    )
    def get(self, request, pk: int):
        """The segments a customer of this shop's group belongs to now, on the group's data."""
        shop = request_shop(request)
        customer = selectors.customer_of_ref(shop=shop, ref=pk)
        found = customer.annotate(others=selectors.shops_outside(shop=shop)).values("others").first()
        if found is None:
            return not_found("customer")
        stays = customer_segments_sliced(
            customer=customer, shops=selectors.group_shops(shop=shop), whole=not found["others"]
        )
        return Response(CustomerSegmentSerializer(stays, many=True).data)
