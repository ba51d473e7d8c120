"""The CRM's admin site: django-unfold's, with what the CRM adds to the site itself.

- ``/admin/`` sends each role to its start page (``crm.navigation.start_page``): the agent to
  the ticket queue, the marketer to segments, the manager to the dashboard; someone with no
  role gets the index.
- ``/admin/dashboard/`` (``admin:dashboard``): the manager's dashboard, a page of the site
  rather than of a model, behind the site's sign-in; its figures live in ``crm/dashboard/``.
- Every form it shows refuses a malformed related id ("1e5" in a customer picker) on its
  field, never with a 500 (``core.admin_tools.KnownRelatedValues``).
- The search pickers (Django's autocomplete) name a customer with their email, "Gia Rossi ·
  gia.rossi.17@example.com": several customers share a name, and an agent on the phone must
  tell them apart before opening a ticket for one.

Installed as the default site by ``crm.apps.CrmAdminConfig``. This module imports no
``admin.py`` (they register on this site as it is being made), so it sits outside ``crm.admin``.
"""

from django.contrib.admin import ModelAdmin
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.shortcuts import redirect
from django.urls import path
from unfold.sites import UnfoldAdminSite

from core.admin_tools import known_related_values
from crm.dashboard.view import dashboard_view
from crm.navigation import start_page
from customers.models import Customer


class PickerJsonView(AutocompleteJsonView):
    def serialize_result(self, obj, to_field_name):
        result = super().serialize_result(obj, to_field_name)
        if isinstance(obj, Customer) and obj.email and obj.email != result["text"]:
            result["text"] = f"{result['text']} · {obj.email}"
        return result


def _with_forms(admin_class: type) -> type:
    form = known_related_values(admin_class.form)
    return type(admin_class.__name__, (admin_class,), {"form": form, "__module__": admin_class.__module__})


class CrmAdminSite(UnfoldAdminSite):
    def register(self, model_or_iterable, admin_class=None, **options):
        """Each admin as declared, in a subclass whose forms (its own and its inlines')
        refuse a malformed related id on its field."""
        admin_class = _with_forms(admin_class or ModelAdmin)
        admin_class.inlines = [_with_forms(inline) for inline in admin_class.inlines]
        super().register(model_or_iterable, admin_class, **options)

    def index(self, request, extra_context=None):
        url = start_page(request.user)
        return redirect(url) if url else super().index(request, extra_context)

    def extra_urls(self):
        """Added to the site's URLs by unfold's ``get_urls``, in the admin's namespace."""
        return [path("dashboard/", self.admin_view(dashboard_view), name="dashboard")]

    def autocomplete_view(self, request):
        return PickerJsonView.as_view(admin_site=self)(request)
