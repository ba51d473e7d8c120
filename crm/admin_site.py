"""The CRM's admin site: django-unfold's, with what the CRM adds to the site itself.

- ``/admin/`` sends each role to its start page (``crm.navigation.start_page``): the agent to
  the ticket queue, the marketer to segments, the manager to the dashboard; someone with no
  role gets the index.
- ``/admin/dashboard/`` (``admin:dashboard``): the manager's dashboard, a page of the site
  rather than of a model, behind the site's sign-in; its figures live in ``crm/dashboard/``.
- The search pickers (Django's autocomplete) name a customer with their email, "Gia Rossi ·
  gia.rossi.17@example.com": several customers share a name, and an agent on the phone must
  tell them apart before opening a ticket for one.

Installed as the default site by ``crm.apps.CrmAdminConfig``. This module imports no
``admin.py`` (they register on this site as it is being made), so it sits outside ``crm.admin``.
"""

from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.shortcuts import redirect
from django.urls import path
from unfold.sites import UnfoldAdminSite

from crm.dashboard.view import dashboard_view
from crm.navigation import start_page
from customers.models import Customer


class PickerJsonView(AutocompleteJsonView):
    def serialize_result(self, obj, to_field_name):
        result = super().serialize_result(obj, to_field_name)
        if isinstance(obj, Customer) and obj.email and obj.email != result["text"]:
            result["text"] = f"{result['text']} · {obj.email}"
        return result


class CrmAdminSite(UnfoldAdminSite):
    def index(self, request, extra_context=None):
        url = start_page(request.user)
        return redirect(url) if url else super().index(request, extra_context)

    def extra_urls(self):
        """Added to the site's URLs by unfold's ``get_urls``, in the admin's namespace."""
        return [path("dashboard/", self.admin_view(dashboard_view), name="dashboard")]

    def autocomplete_view(self, request):
        return PickerJsonView.as_view(admin_site=self)(request)
