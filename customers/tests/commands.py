"""Running the customers app's management commands in tests."""

import json
from io import StringIO

from django.core.management import call_command


def fit_json(*args) -> dict:
    """``manage.py clv_fit --json`` with these arguments, its output parsed."""
    out = StringIO()
    call_command("clv_fit", "--json", *args, stdout=out)
    return json.loads(out.getvalue())
