"""The admin's search pickers (Django's autocomplete) name a customer with their email:
"Gia Rossi · gia.rossi.17@example.com". Several customers share a name, and an agent on the
phone must tell them apart before opening a ticket for one."""

from django.contrib import admin
from django.contrib.admin.views.autocomplete import AutocompleteJsonView

from customers.models import Customer


class PickerJsonView(AutocompleteJsonView):
    def serialize_result(self, obj, to_field_name):
        result = super().serialize_result(obj, to_field_name)
        if isinstance(obj, Customer) and obj.email and obj.email != result["text"]:
            result["text"] = f"{result['text']} · {obj.email}"
        return result


def autocomplete_view(request):
    return PickerJsonView.as_view(admin_site=admin.site)(request)


# The site's URLs are built after every admin module is imported, so this view is the one served.
admin.site.autocomplete_view = autocomplete_view  # type: ignore[method-assign]
