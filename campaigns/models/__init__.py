"""The campaigns app's models: segments, and the emails campaigns and flows send."""

from campaigns.models.emails import Email, Send, SendingPolicy, Variant, WinnerMetric
from campaigns.models.segments import Segment, SegmentMembership, SegmentPastCount, SegmentVersion

__all__ = [
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
