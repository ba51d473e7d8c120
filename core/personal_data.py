"""How each app marks the personal data its models hold, so that a privacy export and an
erasure are derived from the marks and none of it can be forgotten.

Every app declares, in its ``personal_data.py``, one ``Marks`` per concrete model: where a
row leads to its customer (``customer``, a lookup path), where it leads to its shop (for a
shop key's export of its own slice), and a mark on every field:

- ``ERASE``: personal data erased by pseudonymisation (text blanked, JSON emptied, files
  removed; see ``blank_for``);
- ``KEEP``: about the person but kept after erasure, for a stated reason (the order's
  amounts for the accounts, identifiers that hold nothing on their own);
- ``NONE``: not about a person (settings, counts, the system's own state).

``crm.privacy`` gathers the declarations; ``crm/tests/test_personal_data_marks.py`` fails
when a field on any model is left unmarked, or a mark names a field that no longer exists.
"""

from dataclasses import dataclass, field

from django.db import models

# What a free-text field says after erasure, so that a ticket or review reads as erased
# rather than as empty.
ERASED_TEXT = "[erased]"


@dataclass(frozen=True)
class Marks:
    """The marks on one model's fields, and how its rows lead to a customer.

    ``customer``: the lookup from this model to ``customers.Customer`` ("customer",
    "order__customer"), or "" when its rows are not one customer's (they may still hold
    personal data found another way: ``crm.privacy.matching``). ``shop``: the lookup to the
    shop, or "" when the rows belong to no single shop (the shop key's export leaves them out).
    """

    model: str  # "app_label.ModelName"
    erase: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    none: tuple[str, ...] = ()
    customer: str | tuple[str, ...] = ""
    shop: str = ""
    why_kept: str = ""
    # Other fields set at erasure, where a constraint ties them to an erased one.
    on_erase: dict = field(default_factory=dict)

    @property
    def customer_paths(self) -> tuple[str, ...]:
        return (self.customer,) if isinstance(self.customer, str) and self.customer else tuple(self.customer)


def blank_for(model_field: models.Field):
    """The value an erased field is set to: no data, of the field's own type."""
    if isinstance(model_field, models.JSONField):
        return [] if model_field.default is list else {}
    if isinstance(model_field, models.BinaryField):
        return b""
    if isinstance(model_field, models.FileField):
        return ""
    if model_field.null:
        return None
    if isinstance(model_field, models.TextField) or (
        isinstance(model_field, models.CharField) and not model_field.blank
    ):
        # Free text reads as erased; a required field (a ticket's subject) stays valid.
        return ERASED_TEXT
    if isinstance(model_field, models.CharField):
        return ""
    raise TypeError(f"No erased value for {model_field!r}: make it nullable or mark it KEEP")
