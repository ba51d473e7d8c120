from django.urls import path, register_converter

from crm.api.commerce import views as commerce
from crm.api.consent import views as consent
from crm.api.converters import ExternalIdConverter, IdConverter
from crm.api.loyalty import views as loyalty
from crm.api.privacy import views as privacy
from crm.api.recommendations import views as recommendations
from crm.api.segments import views as segments
from crm.api.support import views as support

register_converter(IdConverter, "id")
register_converter(ExternalIdConverter, "external_id")

urlpatterns = [
    path("orders", commerce.OrderUpsertView.as_view(), name="api-orders"),
    path("orders/bulk", commerce.OrderBulkView.as_view(), name="api-orders-bulk"),
    path("orders/<external_id:external_id>/refunds", commerce.RefundCreateView.as_view(), name="api-order-refunds"),
    path("customers", commerce.CustomerListCreateView.as_view(), name="api-customers"),
    path("customers/<id:pk>", commerce.CustomerDetailView.as_view(), name="api-customer"),
    path("events", commerce.EventCreateView.as_view(), name="api-events"),
    path("subscriptions", consent.SubscriptionCreateView.as_view(), name="api-subscriptions"),
    path(
        "customers/<id:pk>/recommendations",
        recommendations.CustomerRecommendationsView.as_view(),
        name="api-customer-recommendations",
    ),
    path("customers/<id:pk>/export", privacy.CustomerExportView.as_view(), name="api-customer-export"),
    path(
        "customers/<id:pk>/erasure-request", privacy.ErasureRequestView.as_view(), name="api-customer-erasure-request"
    ),
    path("customers/<id:pk>/segments", segments.CustomerSegmentsView.as_view(), name="api-customer-segments"),
    path("segments", segments.SegmentListView.as_view(), name="api-segments"),
    path("segments/preview", segments.SegmentPreviewView.as_view(), name="api-segments-preview"),
    path("segments/<id:pk>/members", segments.SegmentMembersView.as_view(), name="api-segment-members"),
    path("tickets", support.TicketCreateView.as_view(), name="api-tickets"),
    path("tickets/<id:pk>/messages", support.TicketMessagesView.as_view(), name="api-ticket-messages"),
    path("customers/<id:pk>/tickets", support.CustomerTicketsView.as_view(), name="api-customer-tickets"),
    path("reviews", support.ReviewCreateView.as_view(), name="api-reviews"),
    path("nps", support.NpsCreateView.as_view(), name="api-nps"),
    path(
        "orders/<external_id:external_id>/review-link",
        support.OrderReviewLinkView.as_view(),
        name="api-order-review-link",
    ),
    path("customers/<id:pk>/loyalty", loyalty.CustomerLoyaltyView.as_view(), name="api-customer-loyalty"),
    path("customers/<id:pk>/loyalty/redeem", loyalty.RedeemView.as_view(), name="api-customer-loyalty-redeem"),
    path("customers/<id:pk>/loyalty/adjust", loyalty.PointsAdjustView.as_view(), name="api-customer-loyalty-adjust"),
    path(
        "customers/<id:pk>/loyalty/referral",
        loyalty.ReferralView.as_view(),
        name="api-customer-loyalty-referral",
    ),
    path("loyalty/rewards", loyalty.RewardListView.as_view(), name="api-loyalty-rewards"),
    path("loyalty/codes/<external_id:code>", loyalty.CodeDetailView.as_view(), name="api-loyalty-code"),
    path(
        "loyalty/codes/<external_id:code>/consume",
        loyalty.CodeConsumeView.as_view(),
        name="api-loyalty-code-consume",
    ),
    path("products", commerce.ProductsUpsertView.as_view(), name="api-products"),
    path("products/<external_id:sku>/reviews", support.ProductReviewsView.as_view(), name="api-product-reviews"),
]
