"""Who counts as a high-value customer: the band the SLA policies and escalation use."""

from customers.metrics import clv
from customers.models import ClvModel, Customer
from support.extensions import HIGH_VALUE_CHECKS


def customer_is_high_value(customer: Customer) -> bool:
    """In the top 10 % by predicted CLV (against the current model's stored percentiles), or
    high value by a registered check."""
    return _clv_top_decile(customer) or any(check(customer) for check in HIGH_VALUE_CHECKS)


def _clv_top_decile(customer: Customer) -> bool:
    model = ClvModel.current()
    predicted = getattr(getattr(customer, "metrics", None), "clv_predicted", None)
    if model is None or not model.clv_percentiles or predicted is None:
        return False
    return predicted >= clv.threshold_for_top(model.clv_percentiles, 10)
