"""The dashboard's place in the admin: ``/admin/dashboard/``, named ``admin:dashboard``.

A page of the site rather than of a model, so it is added to the admin site's own URLs (in
its namespace, behind its sign-in) instead of hanging under a model's; the view and the
figures live in ``crm/dashboard/``.
"""

from django.contrib import admin
from django.urls import path

from crm.dashboard.view import dashboard_view


def _with_dashboard(site_urls):
    def get_urls():
        return [path("dashboard/", admin.site.admin_view(dashboard_view), name="dashboard"), *site_urls()]

    return get_urls


admin.site.get_urls = _with_dashboard(admin.site.get_urls)
