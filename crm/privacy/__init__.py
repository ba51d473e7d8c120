"""Privacy requests: a customer's data exported, or erased by pseudonymisation, derived from
the personal-data marks every app declares (``<app>/personal_data.py``, ``core.personal_data``).
See docs/privacy.md."""
