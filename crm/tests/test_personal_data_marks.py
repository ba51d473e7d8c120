"""Every field of every model is marked for privacy (core.personal_data): a new field or a
new model left unmarked fails here, so an export or erasure can never forget it."""

from django.apps import apps
from django.db import models

from core.personal_data import blank_for
from crm.privacy.marks import MARKED_APPS, all_marks, model_of
from crm.privacy.matching import MATCHERS
from customers.models import Customer


def concrete_models() -> list[type[models.Model]]:
    return [
        m
        for m in apps.get_models()
        if m._meta.app_label in MARKED_APPS and not m._meta.proxy and not m._meta.auto_created
    ]


def test_every_model_of_every_app_is_marked_and_nothing_else():
    labels = {m._meta.label for m in concrete_models()}
    assert sorted(labels - set(all_marks())) == [], "models with no Marks in their app's personal_data.py"
    assert sorted(set(all_marks()) - labels) == [], "Marks for models that do not exist"


def test_every_field_carries_exactly_one_mark():
    unmarked, twice, stale = [], [], []
    for model in concrete_models():
        marks = all_marks()[model._meta.label]
        names = {f.name for f in model._meta.concrete_fields}
        listed = [*marks.erase, *marks.keep, *marks.none]
        unmarked += [f"{model._meta.label}.{n}" for n in sorted(names - set(listed))]
        twice += [f"{model._meta.label}.{n}" for n in sorted({n for n in listed if listed.count(n) > 1})]
        stale += [f"{model._meta.label}.{n}" for n in sorted(set(listed) - names)]
    assert unmarked == [], "fields with no mark: say ERASE, KEEP (with why_kept) or NONE"
    assert twice == []
    assert stale == []


def test_kept_personal_data_says_why_and_erased_data_has_a_blank():
    for marks in all_marks().values():
        model = model_of(marks)
        if marks.keep:
            assert marks.why_kept, f"{marks.model} keeps {marks.keep} without saying why"
        for name in marks.erase:
            field = model._meta.get_field(name)
            if not getattr(field, "generated", False):
                blank_for(field)  # raises for a field that cannot be blanked


def test_personal_data_is_reachable_from_its_customer():
    """Erasure finds every erased field: through a path to the customer, or a matcher."""
    for marks in all_marks().values():
        if marks.erase and not marks.customer_paths:
            assert marks.model in MATCHERS, f"{marks.model} holds personal data nobody can find"
        for path in marks.customer_paths:
            model_of(marks).objects.filter(**{path: 1}).query  # noqa: B018 - the path resolves


def test_every_model_pointing_at_a_customer_has_a_customer_path():
    for model in concrete_models():
        points = [
            f.name
            for f in model._meta.concrete_fields
            if f.is_relation and f.related_model is Customer and model is not Customer
        ]
        if points:
            marks = all_marks()[model._meta.label]
            assert marks.customer_paths, f"{model._meta.label} points at a customer through {points}"
            assert {p.split("__")[0] for p in marks.customer_paths} >= set(points) or model._meta.label in {
                "customers.Customer"
            }, f"{model._meta.label}: every customer field is a path ({points})"
