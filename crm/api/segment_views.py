"""Segments over the API: definitions, a preview of a rule, and members, all limited to the
key's shop's customers."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.models import Segment
from campaigns.payloads import SegmentPreviewIn
from campaigns.segments.rules import RuleError
from campaigns.selectors import customer_segments, segment_members, segment_preview
from campaigns.serializers import (
    CustomerSegmentSerializer,
    SegmentMemberSerializer,
    SegmentOutSerializer,
    SegmentPreviewOutSerializer,
)
from crm.api.auth import request_shop
from crm.api.errors import not_found
from crm.api.idempotency import ReplaySafePostMixin
from crm.api.schema import errors, payload
from customers import selectors
from customers.models import Customer
from customers.payloads import PayloadError, decode


class SegmentListView(generics.GenericAPIView):
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
    @extend_schema(
        operation_id="segments_preview",
        request=payload(SegmentPreviewIn),
        responses={200: SegmentPreviewOutSerializer, **errors(400, 401, 413)},
        description="How many of this shop's customers a rule matches, the rule as a sentence, and 20 of them. "
        "An invalid rule gives 400 with every problem under errors.rule.",
    )
    def post(self, request):
        body = decode(request.body, SegmentPreviewIn)
        try:
            preview = segment_preview(
                rule=body.rule, customers=selectors.customers_for_shop(shop=request_shop(request))
            )
        except RuleError as error:
            raise PayloadError({"rule": error.errors}) from error
        return Response(SegmentPreviewOutSerializer(preview).data)


class SegmentMembersView(generics.GenericAPIView):
    serializer_class = SegmentMemberSerializer

    def get_queryset(self):
        return Customer.objects.none()

    @extend_schema(
        operation_id="segments_members", responses={200: SegmentMemberSerializer(many=True), **errors(400, 401, 404)}
    )
    def get(self, request, pk: int):
        """The segment's current members among this shop's customers, newest first (cursor pages)."""
        segment = Segment.objects.filter(pk=pk).first()
        if segment is None:
            return not_found("segment")
        members = segment_members(segment=segment, customers=selectors.customers_for_shop(shop=request_shop(request)))
        page = self.paginate_queryset(members.only("id", "email", "first_name", "last_name"))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class CustomerSegmentsView(APIView):
    @extend_schema(
        operation_id="customers_segments", responses={200: CustomerSegmentSerializer(many=True), **errors(401, 404)}
    )
    def get(self, request, pk: int):
        """The segments a customer of this shop belongs to now."""
        if not selectors.customers_for_shop(shop=request_shop(request)).filter(pk=pk).exists():
            return not_found("customer")
        return Response(CustomerSegmentSerializer(customer_segments(customer_id=pk), many=True).data)
