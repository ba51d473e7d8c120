"""A shop's privacy calls: its slice of a customer's data as a ZIP (recorded as an answered
data request), and an erasure request put in the staff's queue.

The key never erases by itself: an erasure reaches every shop's data of the person, which
is more than one shop's key may change, so staff answer it (docs/privacy.md)."""

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.api.auth import Permissions, request_shop
from crm.api.errors import error_body, not_found
from crm.api.idempotency import ReplaySafePostMixin
from crm.api.schema import errors
from crm.privacy.models import PrivacyRequest
from crm.privacy.requests import export_answered, privacy_request_open
from customers import selectors


def _customer(request, pk: int):
    """The customer ``pk`` names, if this shop knows them (an identity of its own): a shop of
    the group that never saw the person has nothing of theirs to export or erase."""
    shop = request_shop(request)
    return selectors.customer_of_ref(shop=shop, ref=pk).filter(identities__shop=shop).distinct().first()


class CustomerExportView(APIView):
    required_permissions: Permissions = {"GET": ("crm.export_customer_data",)}

    @extend_schema(
        operation_id="customers_export",
        responses={(200, "application/zip"): OpenApiTypes.BINARY, **errors(401, 403, 404)},
    )
    def get(self, request, pk: int):
        """This shop's data of the customer (its identity, orders, events, tickets, messages,
        reviews, …) as JSON files in a ZIP; each call is recorded as an answered data request."""
        customer = _customer(request, pk)
        if customer is None:
            return not_found("customer")
        data = export_answered(customer=customer, shop=request_shop(request), ref=pk, api_key=request.auth)
        response = HttpResponse(data, content_type="application/zip")
        name = f"customer-{pk}-{timezone.now():%Y%m%d-%H%M}.zip"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


class ErasureRequestOut(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    received_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField()


class ErasureRequestView(ReplaySafePostMixin, APIView):
    required_permissions: Permissions = {"POST": ("crm.add_privacyrequest",)}

    @extend_schema(
        operation_id="customers_erasure_request",
        request=None,
        responses={202: ErasureRequestOut, **errors(401, 403, 404)},
    )
    def post(self, request, pk: int):
        """Ask for the customer's personal data to be erased: queued for the staff, due in a
        month. Asking again while one is open answers with the open request."""
        if request._request.body.strip() not in (b"", b"{}"):
            return Response(error_body("This call takes no body.", {"body": ["Send no body, or {}."]}), status=400)
        customer = _customer(request, pk)
        if customer is None:
            return not_found("customer")
        shop = request_shop(request)
        open_one = PrivacyRequest.objects.filter(
            customer=customer, shop=shop, kind=PrivacyRequest.Kind.CUSTOMER_REDACT, status=PrivacyRequest.Status.OPEN
        ).first()
        queued = open_one or privacy_request_open(
            kind=PrivacyRequest.Kind.CUSTOMER_REDACT,
            source=PrivacyRequest.Source.API,
            shop=shop,
            customer=customer,
            api_key=request.auth,
        )
        return Response(ErasureRequestOut(queued).data, status=202)
