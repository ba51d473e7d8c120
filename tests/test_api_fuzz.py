"""Property-based requests to every endpoint from the live OpenAPI schema (schemathesis).

Valid and invalid bodies, parameters and headers: none may give a 5xx, and every response
must match what the schema promises (status code, content type, body).
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=60)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def keep_test_connection():
    """The WSGI app closes old connections around each request (Django's test client turns that
    off); here it would close the test transaction's connection, so it is turned off too."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def auth_header(shop_and_key, db, keep_test_connection):
    from customers.models import ExchangeRate

    ExchangeRate.objects.create(currency="EUR", rate_to_base="1.10")
    return {"Authorization": f"Bearer {shop_and_key[1].key}"}


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@pytest.mark.django_db
def test_api_never_errors_and_matches_its_schema(case, auth_header):
    case.call_and_validate(headers=auth_header, checks=CHECKS)


def test_the_schema_is_valid_openapi_without_warnings(tmp_path):
    """drf-spectacular validates the schema against the OpenAPI 3.1 meta-schema; a warning (an
    endpoint it cannot describe) fails too."""
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "openapi: 3.1.0" in (tmp_path / "schema.yaml").read_text()
