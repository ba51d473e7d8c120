from django.urls import path, register_converter

from crm.api import loyalty_views, segment_views, support_views, views
from crm.api.converters import ExternalIdConverter, IdConverter

register_converter(IdConverter, "id")
register_converter(ExternalIdConverter, "external_id")

urlpatterns = [
    path("orders", views.OrderUpsertView.as_view(), name="api-orders"),
    path("orders/bulk", views.OrderBulkView.as_view(), name="api-orders-bulk"),
    path("orders/<external_id:external_id>/refunds", views.RefundCreateView.as_view(), name="api-order-refunds"),
    path("customers", views.CustomerListCreateView.as_view(), name="api-customers"),
    path("customers/<id:pk>", views.CustomerDetailView.as_view(), name="api-customer"),
    path("events", views.EventCreateView.as_view(), name="api-events"),
    path("customers/<id:pk>/segments", segment_views.CustomerSegmentsView.as_view(), name="api-customer-segments"),
    path("segments", segment_views.SegmentListView.as_view(), name="api-segments"),
    path("segments/preview", segment_views.SegmentPreviewView.as_view(), name="api-segments-preview"),
    path("segments/<id:pk>/members", segment_views.SegmentMembersView.as_view(), name="api-segment-members"),
    path("tickets", support_views.TicketCreateView.as_view(), name="api-tickets"),
    path("customers/<id:pk>/tickets", support_views.CustomerTicketsView.as_view(), name="api-customer-tickets"),
    path("reviews", support_views.ReviewCreateView.as_view(), name="api-reviews"),
    path("nps", support_views.NpsCreateView.as_view(), name="api-nps"),
    path(
        "orders/<external_id:external_id>/review-link",
        support_views.OrderReviewLinkView.as_view(),
        name="api-order-review-link",
    ),
    path("customers/<id:pk>/loyalty", loyalty_views.CustomerLoyaltyView.as_view(), name="api-customer-loyalty"),
    path("customers/<id:pk>/loyalty/redeem", loyalty_views.RedeemView.as_view(), name="api-customer-loyalty-redeem"),
    path(
        "customers/<id:pk>/loyalty/adjust", loyalty_views.PointsAdjustView.as_view(), name="api-customer-loyalty-adjust"
    ),
    path(
        "customers/<id:pk>/loyalty/referral",
        loyalty_views.ReferralView.as_view(),
        name="api-customer-loyalty-referral",
    ),
    path("loyalty/rewards", loyalty_views.RewardListView.as_view(), name="api-loyalty-rewards"),
    path("loyalty/codes/<external_id:code>", loyalty_views.CodeDetailView.as_view(), name="api-loyalty-code"),
    path(
        "loyalty/codes/<external_id:code>/consume",
        loyalty_views.CodeConsumeView.as_view(),
        name="api-loyalty-code-consume",
    ),
    path("products/<external_id:sku>/reviews", support_views.ProductReviewsView.as_view(), name="api-product-reviews"),
]
