"""JSON everywhere under /api/: a path the API does not have is a 404 in the API's error
body, naming the path, whether DEBUG is on (``make demo``) or off (production)."""

import pytest
from django.test import override_settings


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
@pytest.mark.parametrize(
    ("path", "hint"),
    [
        ("/api/v1/no-such-thing", "see /api/v1/schema/"),
        ("/api/nothing", "see /api/v1/schema/"),
        ("/api/v1/orders/", "no trailing slash: /api/v1/orders"),
        ("/api/v1/customers/", "no trailing slash: /api/v1/customers"),
        ("/api/v1/customers/abc", "Ids in paths are numbers"),
        ("/api/v1/customers/1.5/segments", "Ids in paths are numbers"),
        ("/api/v1/segments/-3/members", "Ids in paths are numbers"),
        ("/api/v1/customers/1234567890123456789", "Ids in paths are numbers"),
    ],
)
def test_an_unknown_api_path_is_a_json_404_naming_it(api, debug, path, hint):
    with override_settings(DEBUG=debug):
        for method in ("get", "post"):
            response = getattr(api, method)(path)
            assert response.status_code == 404
            assert response["Content-Type"] == "application/json"
            body = response.json()
            assert body["errors"] == {}
            assert body["detail"].startswith(f"No API endpoint at {path}.") and hint in body["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
@pytest.mark.parametrize("path", ["/api/v1/customers", "/api/v1/segments"])
def test_a_cursor_that_cannot_be_read_is_a_400_naming_it(api, debug, path):
    with override_settings(DEBUG=debug):
        response = api.get(path, {"cursor": "not-a-cursor%%"})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert list(response.json()["errors"]) == ["cursor"]


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_a_host_header_django_refuses_is_a_json_400_under_the_api(api, debug):
    with override_settings(DEBUG=debug):
        response = api.get("/api/v1/customers", HTTP_HOST=":'D;0['*")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "detail": "Bad request: the request could not be read as sent (an invalid Host header, for example).",
        "errors": {},
    }


@pytest.mark.django_db
def test_a_page_outside_the_api_keeps_django_s_html_404(client):
    with override_settings(DEBUG=False):
        response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(("path", "json_expected"), [("/api/v1/orders", True), ("/admin/", False)])
def test_django_s_html_500_page_under_the_api_becomes_the_json_error(path, json_expected):
    """With DEBUG on Django answers an unhandled exception with its HTML debug page; under
    /api/ the client gets the API's error body instead (the traceback stays in the log)."""
    from django.http import HttpResponse
    from django.test import RequestFactory

    from crm.api.handlers import ApiErrorPagesMiddleware

    html_500 = ApiErrorPagesMiddleware(lambda request: HttpResponse("<html>debug page</html>", status=500))
    response = html_500(RequestFactory().post(path))
    assert response.status_code == 500
    if json_expected:
        assert response["Content-Type"] == "application/json"
        assert response.content == b'{"detail": "Internal server error.", "errors": {}}'
    else:
        assert response.content == b"<html>debug page</html>"
