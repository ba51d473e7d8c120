"""Content-Security-Policy on the admin, the customer-facing pages and the API docs
(issue 16, section 4; the admin's exception for its theme, issue 19);
tests/test_browser_csp.py checks a real browser reports no violation."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def assert_strict(response):
    policy = directives(response)
    assert policy["default-src"] == ["'self'"]
    # 'self', and the request's nonce when a template used it (none does today).
    assert policy["script-src"][0] == "'self'" and all(v.startswith("'nonce-") for v in policy["script-src"][1:])
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]


def test_admin_pages_add_only_eval_for_the_theme(admin_client):
    """The admin's theme runs Alpine.js, which needs 'unsafe-eval' (crm/admin_csp.py); inline
    scripts and other origins stay forbidden there too."""
    for url in (reverse("admin:index"), reverse("admin:campaigns_segment_add"), reverse("admin:login")):
        policy = directives(admin_client.get(url))
        assert policy["default-src"] == ["'self'"]
        assert policy["script-src"][0] == "'self'" and "'unsafe-eval'" in policy["script-src"]
        assert "'unsafe-inline'" not in policy["script-src"]
        assert {v for v in policy["script-src"] if not v.startswith("'nonce-")} == {"'self'", "'unsafe-eval'"}
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]


def test_the_customer_facing_pages_send_it(client):
    for name in ("support-csat", "support-review"):
        assert_strict(client.get(reverse(name, args=["not-a-valid-token"])))


def test_the_api_docs_run_no_inline_script(client):
    page = client.get(reverse("api-docs"))
    assert page.status_code == 200
    assert_strict(page)
    html = page.content.decode()
    assert "<script>" not in html  # every script has a src on this origin
    script = client.get(reverse("api-docs") + "?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()
