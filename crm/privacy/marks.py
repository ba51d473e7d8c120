"""Every app's personal-data marks, gathered: the composition layer is the one place that
knows every app (docs/architecture.md)."""

from collections.abc import Sequence
from functools import cache

from django.apps import apps
from django.db import models
from django.db.models import Q, QuerySet

from campaigns.personal_data import MARKS as CAMPAIGNS
from core.personal_data import Marks
from crm.personal_data import MARKS as CRM
from customers.personal_data import MARKS as CUSTOMERS
from loyalty.personal_data import MARKS as LOYALTY
from messaging.personal_data import MARKS as MESSAGING
from support.personal_data import MARKS as SUPPORT

# The apps whose models must all be marked.
MARKED_APPS = ("customers", "loyalty", "campaigns", "messaging", "support", "crm")


@cache
def all_marks() -> dict[str, Marks]:
    """{"app_label.Model": its marks}."""
    return {m.model: m for m in (*CUSTOMERS, *LOYALTY, *CAMPAIGNS, *MESSAGING, *SUPPORT, *CRM)}


def model_of(marks: Marks) -> type[models.Model]:
    return apps.get_model(marks.model)


def customer_models() -> list[tuple[type[models.Model], Marks]]:
    """The models whose rows lead to a customer, in a fixed order (the customer last, so an
    erasure blanks what hangs from it first)."""
    found = [(model_of(m), m) for m in all_marks().values() if m.customer_paths]
    return sorted(found, key=lambda pair: (pair[0]._meta.label == "customers.Customer", pair[0]._meta.label))


def rows_of(marks: Marks, customer_ids: Sequence[int]) -> QuerySet:
    """The rows of ``marks``' model that are these customers' (a person and the duplicates
    merged into them: ``customers.selectors.merged_into``)."""
    condition = Q()
    for path in marks.customer_paths:
        condition |= Q(**{f"{path}__in": list(customer_ids)})
    return model_of(marks).objects.filter(condition)
