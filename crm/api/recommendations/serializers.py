"""What the API returns about recommendations (DRF)."""

from rest_framework import serializers


class RecommendationSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    category = serializers.CharField()
    price = serializers.DecimalField(max_digits=14, decimal_places=2)
    currency = serializers.CharField()
    url = serializers.CharField(help_text="The product's page; empty when the shop sent none.")
    reason = serializers.ChoiceField(
        choices=["due_again", "bought_together", "popular_in_category", "popular"],
        help_text="due_again: a consumable they bought, due again; bought_together: bought by customers who "
        "bought what they bought; popular_in_category / popular: the fallbacks for a thin history.",
    )
    score = serializers.FloatField(help_text="Higher first; its whole part is the reason's tier (3 to 0).")


class RecommendationsOutSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField(help_text="The customer's id through this key.")
    products = RecommendationSerializer(many=True)
