"""What an erasure of a customer would blank: rows per kind, for the confirmation page."""

from crm.privacy.marks import customer_models, rows_of
from crm.privacy.matching import MATCHERS, person_of
from customers.models import Customer


def erasure_preview(customer: Customer) -> list[tuple[str, int, str]]:
    """(what, rows, fields blanked) for every kind of the customer's rows that has personal data,
    the duplicates merged into them included."""
    found = []
    person = person_of(customer)
    for model, marks in customer_models():
        if not marks.erase:
            continue
        if count := rows_of(marks, person.customer_ids).count():
            found.append((str(model._meta.verbose_name_plural), count, ", ".join(marks.erase)))
    for matcher in MATCHERS.values():
        qs = matcher.rows(person)
        if count := qs.count():
            what = "deleted" if matcher.erasure == "delete" else "blanked"
            whose = "of their shops" if matcher.exported else "that name them"
            found.append((f"{qs.model._meta.verbose_name_plural} {whose}", count, what))
    return found
