from django.urls import path

from crm.connectors import views

urlpatterns = [
    # Each connection's URL carries its token (crm.connectors.models.ShopConnection).
    path("shopify/<str:token>/", views.shopify_webhook, name="connector-shopify"),
    path("woocommerce/<str:token>/", views.woocommerce_webhook, name="connector-woocommerce"),
]
