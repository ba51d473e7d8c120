"""A customer's recommended products, for a storefront: the key's shop's products only,
from the customer's purchases in that shop (campaigns.recommendations)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.recommendations.selectors import LIMIT, MAX_LIMIT, recommendations_for
from crm.api.auth import Permissions, request_shop
from crm.api.errors import error_body, not_found
from crm.api.recommendations.serializers import RecommendationsOutSerializer
from crm.api.schema import errors
from customers import selectors


class CustomerRecommendationsView(APIView):
    required_permissions: Permissions = {"GET": ("customers.view_product",)}

    @extend_schema(
        operation_id="customers_recommendations",
        parameters=[
            OpenApiParameter("limit", int, description=f"How many products, 1 to {MAX_LIMIT} (default {LIMIT}).")
        ],
        responses={200: RecommendationsOutSerializer, **errors(400, 401, 404)},
        description="Products to offer this customer, best first: consumables they bought that are due again, "
        "then what customers who bought what they bought also bought, then the most popular products of their "
        "categories and of the shop. Never one they bought (unless due again), inactive or out of stock. "
        "Rebuilt nightly from the shop's orders; stock is read live.",
    )
    def get(self, request, pk: int):
        raw = request.query_params.get("limit", str(LIMIT))
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
            return Response(
                error_body("Invalid input.", {"limit": [f"A whole number from 1 to {MAX_LIMIT}."]}), status=400
            )
        shop = request_shop(request)
        customer_pk = selectors.customer_of_ref(shop=shop, ref=pk).values_list("pk", flat=True).first()
        if customer_pk is None:
            return not_found("customer")
        products = recommendations_for(customer_ids=[customer_pk], shop_id=shop.pk, limit=int(raw))[customer_pk]
        return Response(RecommendationsOutSerializer({"customer_id": pk, "products": products}).data)
