from django.urls import path, register_converter

from crm.api import views
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
]
