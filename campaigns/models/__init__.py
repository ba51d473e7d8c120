"""The campaigns app's models: segments, and the emails campaigns and flows send."""

from campaigns.models.attribution import (
    AttributionCredit,
    AttributionModel,
    AttributionSettings,
    AttributionState,
    MarketingSpend,
    TouchKind,
    Touchpoint,
)
from campaigns.models.emails import Email, Send, SendingPolicy, Variant, WinnerMetric
from campaigns.models.segments import Segment, SegmentMembership, SegmentPastCount, SegmentVersion

__all__ = [
    "AttributionCredit",
    "AttributionModel",
    "AttributionSettings",
    "AttributionState",
    "MarketingSpend",
    "Touchpoint",
    "TouchKind",
    "Email",
    "Segment",
    "SegmentMembership",
    "SegmentPastCount",
    "SegmentVersion",
    "Send",
    "SendingPolicy",
    "Variant",
    "WinnerMetric",
]
