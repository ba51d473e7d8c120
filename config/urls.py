from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from crm.health import HealthView
from messaging import views as messaging_views

urlpatterns = [
    # The CRM's admin site (crm/admin_site.py): each role's start page, the dashboard.
    path("admin/", admin.site.urls),
    path("api/v1/", include("crm.api.urls")),
    # Status for anyone (200/503), each check's result for staff; /health/web/ for a load balancer.
    path("health/", HealthView.as_view(), name="health"),
    path("health/web/", HealthView.as_view(checks_setting="HEALTH_WEB_CHECKS"), name="health-web"),
    path("feedback/", include("support.urls")),
    # Shops' own platforms: Shopify's (and WooCommerce's) webhooks (crm/connectors/, docs/integrations.md).
    path("connectors/", include("crm.connectors.urls")),
    # The unsubscribe link of marketing messages (messaging/unsubscribe.py): short, it is in every one.
    path("u/", include("messaging.urls")),
    # Tracked links and the open pixel of marketing messages (messaging/links.py).
    path("e/c/<str:token>", messaging_views.click, name="messaging-click"),
    path("e/o/<str:token>.gif", messaging_views.open_pixel, name="messaging-open"),
    # Providers' webhooks through django-anymail (docs/email.md): tracking events at
    # anymail/<provider>/tracking/ (messaging/tracking.py), inbound email at
    # anymail/<provider>/inbound/ (support/inbound/webhooks.py).
    path("anymail/", include("anymail.urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script from its own URL, not inline, so the
    # page runs under the Content-Security-Policy's script-src 'self'.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

handler404 = "crm.api.handlers.not_found"
handler500 = "crm.api.handlers.server_error"
