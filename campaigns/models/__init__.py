"""The campaigns app's models: segments, campaigns, flows, the emails they send, and the
product recommendations (kept in ``campaigns/recommendations/models.py``)."""

from campaigns.models.attribution import (
    AttributionCredit,
    AttributionModel,
    AttributionSettings,
    AttributionState,
    MarketingSpend,
    TouchKind,
    TouchOrigin,
    Touchpoint,
)
from campaigns.models.campaigns import Campaign, CampaignStatus, Timing
from campaigns.models.emails import Email, Send, SendingPolicy, Variant, WinnerMetric
from campaigns.models.flows import Flow, FlowRun, FlowStep, FlowStepRun, Reentry, RunStatus, StepKind, TriggerKind
from campaigns.models.segments import Segment, SegmentMembership, SegmentPastCount, SegmentVersion
from campaigns.recommendations.models import PopularProduct, ProductNeighbour, RecommendationBuild

__all__ = [
    "Campaign",
    "CampaignStatus",
    "Timing",
    "AttributionCredit",
    "AttributionModel",
    "AttributionSettings",
    "AttributionState",
    "MarketingSpend",
    "Touchpoint",
    "TouchKind",
    "TouchOrigin",
    "Email",
    "Flow",
    "FlowRun",
    "FlowStep",
    "FlowStepRun",
    "PopularProduct",
    "ProductNeighbour",
    "RecommendationBuild",
    "Reentry",
    "RunStatus",
    "StepKind",
    "TriggerKind",
    "Segment",
    "SegmentMembership",
    "SegmentPastCount",
    "SegmentVersion",
    "Send",
    "SendingPolicy",
    "Variant",
    "WinnerMetric",
]
