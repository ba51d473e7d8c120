"""What the API returns about segments (DRF)."""

from rest_framework import serializers

from campaigns.models import Segment, SegmentMembership


class SegmentOutSerializer(serializers.ModelSerializer):
    rule = serializers.SerializerMethodField()
    sentence = serializers.SerializerMethodField()

    class Meta:
        model = Segment
        fields = ["id", "name", "description", "kind", "rule", "sentence", "refreshed_at"]

    def get_rule(self, segment) -> dict | None:
        version = segment.current_version
        return version.rule if version else None

    def get_sentence(self, segment) -> str:
        version = segment.current_version
        return version.sentence if version else ""


class CustomerSegmentSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="segment.id")
    name = serializers.CharField(source="segment.name")

    class Meta:
        model = SegmentMembership
        fields = ["id", "name", "entered_at"]


class SegmentMemberSerializer(serializers.Serializer):
    # Set by ``crm.api.customer_ids.customers_in_ref_order``: the id the key knows them by.
    id = serializers.IntegerField(source="api_id", help_text="The customer's id through this key.")
    # What the key's shop group sent (``customers.selectors.with_group_names``).
    email = serializers.EmailField(source="group_email")
    first_name = serializers.CharField(source="group_first_name")
    last_name = serializers.CharField(source="group_last_name")


class SegmentPreviewOutSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    sentence = serializers.CharField()
    sample = SegmentMemberSerializer(many=True)
