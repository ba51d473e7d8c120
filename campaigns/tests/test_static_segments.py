"""Static segments: hand-picked members, or a CSV of emails or external ids, resolved whole
or refused whole, with every bad line named."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from campaigns.member_lists import MemberListError, read_member_csv, read_member_lines
from campaigns.models import Segment, SegmentMembership
from campaigns.services import segment_create, segment_members_set
from customers.models import CustomerIdentity
from customers.tests.factories import CustomerFactory, ShopFactory

pytestmark = pytest.mark.django_db


def person(email, **extra):
    return CustomerFactory(email=email, email_normalized=email.lower(), **extra)


def upload(text: str, name="members.csv"):
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def open_members(segment):
    return set(SegmentMembership.objects.filter(segment=segment, exited_at=None).values_list("customer_id", flat=True))


def test_a_csv_of_emails_names_its_customers_whatever_the_case():
    ada, bob = person("ada@example.com"), person("bob@example.com")
    ids = read_member_csv(upload("Email,note\nADA@example.com,vip\n\n bob@example.com ,\n"))
    assert ids == {ada.pk, bob.pk}


def test_a_csv_of_external_ids_uses_the_shop_column_when_two_shops_share_an_id():
    north, south = ShopFactory(slug="north"), ShopFactory(slug="south")
    ada, bob = person("ada@example.com"), person("bob@example.com")
    CustomerIdentity.objects.create(shop=north, customer=ada, external_id="42")
    CustomerIdentity.objects.create(shop=south, customer=bob, external_id="42")
    CustomerIdentity.objects.create(shop=south, customer=ada, external_id="7")

    assert read_member_csv(upload("external_id,shop\n42,south\n7,\n")) == {bob.pk, ada.pk}
    with pytest.raises(MemberListError) as error:
        read_member_csv(upload("external_id\n42\n"))
    assert error.value.errors == ["line 2: external id 42 names customers of several shops; add a shop column"]


def test_every_line_that_names_nobody_is_reported_by_number_and_nothing_is_taken():
    person("ada@example.com")
    with pytest.raises(MemberListError) as error:
        read_member_csv(upload("email,note\nada@example.com\nnobody@example.com\n\n,vip\nghost@example.com\n"))
    assert error.value.errors == [
        "line 3: no customer with email nobody@example.com",
        "line 5: no email",
        "line 6: no customer with email ghost@example.com",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"name\nAda\n", "the first line must name an email or an external_id column"),
        (b"", "the first line must name an email or an external_id column"),
        (b"email\n\xff\xfe\n", "the file is not UTF-8 text"),
    ],
)
def test_a_file_that_is_not_a_member_list_is_refused_clearly(content, message):
    with pytest.raises(MemberListError) as error:
        read_member_csv(SimpleUploadedFile("x.csv", content))
    assert error.value.errors == [message]


def test_a_long_list_of_problems_is_cut_short():
    with pytest.raises(MemberListError) as error:
        read_member_csv(upload("email\n" + "".join(f"n{i}@example.com\n" for i in range(30))))
    assert len(error.value.errors) == 21 and error.value.errors[-1] == "… and 10 more"
    with pytest.raises(MemberListError) as error:
        read_member_lines("; ".join(f"n{i}@example.com" for i in range(25)))
    assert error.value.errors[19:] == ["line 1: no customer n19@example.com", "… and 5 more"]


def test_a_pasted_list_takes_emails_and_customer_ids():
    ada, bob = person("ada@example.com"), person("bob@example.com")
    assert read_member_lines(f"ada@example.com, {bob.pk}\n\n") == {ada.pk, bob.pk}
    with pytest.raises(MemberListError) as error:
        read_member_lines("ada@example.com\nDROP TABLE\n999999999")
    assert error.value.errors == [
        "line 2: 'DROP' is neither an email nor a customer id",
        "line 2: 'TABLE' is neither an email nor a customer id",
        "line 3: no customer 999999999",
    ]


@pytest.mark.parametrize(
    "pasted",
    [
        "a@x.com; b@x.com",
        "a@x.com;b@x.com;",
        "a@x.com b@x.com",
        "a@x.com\tb@x.com",
        " a@x.com ,\r\n\r\n; B@X.com ",
        "a@x.com, b@x.com; {c}",
    ],
)
def test_a_pasted_list_is_separated_by_lines_commas_semicolons_or_spaces(pasted):
    a, b, c = person("a@x.com"), person("b@x.com"), person("c@x.com")
    expected = {a.pk, b.pk} | ({c.pk} if "{c}" in pasted else set())

    assert read_member_lines(pasted.format(c=c.pk)) == expected


def test_every_unknown_address_of_a_pasted_list_is_named_at_once():
    person("a@x.com")
    with pytest.raises(MemberListError) as error:
        read_member_lines("a@x.com; nobody@x.com; ghost@x.com\nwho@x.com")
    assert error.value.errors == [
        "line 1: no customer nobody@x.com",
        "line 1: no customer ghost@x.com",
        "line 2: no customer who@x.com",
    ]


@pytest.mark.parametrize(
    "content",
    [
        # what a spreadsheet in much of Europe exports: semicolons, a BOM, CRLF, quotes
        '\ufeffFirst name;Email;Note\r\nAda;ada@example.com;"Lovelace, A."\r\nBob;bob@example.com;\r\n',
        "email;note\nada@example.com;vip, early\nbob@example.com;\n",
        "name\temail\nAda\tada@example.com\nBob\tbob@example.com\n",
        'Name,Email\n"Lovelace; Ada",ada@example.com\nBob,bob@example.com\n',
        "email\nada@example.com\nbob@example.com\n",  # one column: no separator to find
        "email",  # a header alone
    ],
)
def test_a_csv_separated_by_commas_semicolons_or_tabs_is_read(content):
    ada, bob = person("ada@example.com"), person("bob@example.com")

    expected = set() if content == "email" else {ada.pk, bob.pk}
    assert read_member_csv(upload(content)) == expected


def test_a_semicolon_csv_with_unknown_addresses_names_each_of_them():
    person("ada@example.com")
    with pytest.raises(MemberListError) as error:
        read_member_csv(upload("email;note\nada@example.com;x\nnobody@example.com;y\nghost@example.com;z\n"))
    assert error.value.errors == [
        "line 3: no customer with email nobody@example.com",
        "line 4: no customer with email ghost@example.com",
    ]


def test_members_set_keeps_the_history_of_who_was_added_and_removed():
    a, b, c = (person(f"{n}@example.com") for n in "abc")
    segment = segment_create(name="VIP list", kind=Segment.Kind.STATIC)
    start = timezone.now()

    assert segment_members_set(segment=segment, add={a.pk, b.pk}, now=start) == (2, 0)
    assert segment_members_set(segment=segment, add={b.pk}, now=start) == (0, 0)  # already in
    assert segment_members_set(segment=segment, replace={b.pk, c.pk}, now=start + timedelta(hours=1)) == (1, 1)
    assert segment_members_set(segment=segment, remove={c.pk, a.pk}, now=start + timedelta(hours=2)) == (0, 1)

    assert open_members(segment) == {b.pk}
    segment.refresh_from_db()
    assert segment.member_count == 1
    a_stay = SegmentMembership.objects.get(segment=segment, customer=a)
    assert a_stay.exited_at == start + timedelta(hours=1) and a_stay.version is None


def static_form(segment, **fields):
    data = {"name": segment.name, "description": "", "kind": "static", "owner": "", "upload_mode": "add", "rule": ""}
    data |= {"versions-TOTAL_FORMS": 0, "versions-INITIAL_FORMS": 0}  # the versions inline
    data.update(fields)
    return data


def test_the_admin_takes_a_csv_and_a_pasted_list_for_a_static_segment(admin_client):
    a, b, c = (person(f"{n}@example.com") for n in "abc")
    segment = segment_create(name="VIP list", kind=Segment.Kind.STATIC)
    url = reverse("admin:campaigns_segment_change", args=[segment.pk])

    response = admin_client.post(
        url, static_form(segment, members_upload=upload("email\na@example.com\nb@example.com\n"), members_add=str(c.pk))
    )
    assert response.status_code == 302
    assert open_members(segment) == {a.pk, b.pk, c.pk}

    response = admin_client.post(
        url,
        static_form(segment, members_upload=upload("email\nb@example.com\n"), upload_mode="replace"),
    )
    assert response.status_code == 302
    assert open_members(segment) == {b.pk}


# What the hidden rule builder submits with a static segment: its empty first condition.
BUILDER_EMPTY_RULE = '{"match": "all", "negate": false, "children": [{"field": "", "operator": "", "value": null}]}'


def test_a_static_segment_is_created_and_edited_whatever_the_hidden_rule_builder_sends(admin_client):
    a, b = person("a@example.com"), person("b@example.com")
    form = {"name": "Press list", "description": "", "kind": "static", "owner": "", "upload_mode": "add"}
    form |= {"versions-TOTAL_FORMS": 0, "versions-INITIAL_FORMS": 0, "rule": BUILDER_EMPTY_RULE}

    response = admin_client.post(reverse("admin:campaigns_segment_add"), form | {"members_add": "a@example.com"})

    assert response.status_code == 302, response.context["adminform"].form.errors
    segment = Segment.objects.get(name="Press list")
    assert open_members(segment) == {a.pk}
    assert segment.current_version is None

    url = reverse("admin:campaigns_segment_change", args=[segment.pk])
    response = admin_client.post(url, static_form(segment, rule=BUILDER_EMPTY_RULE, members_add="b@example.com"))
    assert response.status_code == 302
    assert open_members(segment) == {a.pk, b.pk}


def test_a_dynamic_segment_with_the_builders_empty_condition_is_refused_on_the_rule(admin_client):
    form = {"name": "Nobody yet", "description": "", "kind": "dynamic", "owner": "", "upload_mode": "add"}
    form |= {"versions-TOTAL_FORMS": 0, "versions-INITIAL_FORMS": 0, "rule": BUILDER_EMPTY_RULE}

    response = admin_client.post(reverse("admin:campaigns_segment_add"), form)

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["rule"]
    assert not Segment.objects.filter(name="Nobody yet").exists()


def test_a_bad_csv_in_the_admin_is_explained_and_changes_nothing(admin_client):
    a = person("a@example.com")
    segment = segment_create(name="VIP list", kind=Segment.Kind.STATIC)
    segment_members_set(segment=segment, add={a.pk})
    url = reverse("admin:campaigns_segment_change", args=[segment.pk])

    response = admin_client.post(
        url,
        static_form(segment, members_upload=upload("email\nb@example.com\n"), upload_mode="replace", name="Renamed"),
    )
    assert response.status_code == 200
    assert "line 2: no customer with email b@example.com" in response.content.decode()
    segment.refresh_from_db()
    assert segment.name == "VIP list" and open_members(segment) == {a.pk}

    response = admin_client.post(url, static_form(segment, members_add="a@example.com; c@example.com; d@example.com"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["members_add"] == [
        "line 1: no customer c@example.com",
        "line 1: no customer d@example.com",
    ]
    segment.refresh_from_db()
    assert segment.name == "VIP list" and open_members(segment) == {a.pk}


def test_a_dynamic_segment_takes_no_member_list(admin_client):
    response = admin_client.post(
        reverse("admin:campaigns_segment_add"),
        {
            "name": "Mixed up",
            "kind": "dynamic",
            "upload_mode": "add",
            "members_add": "a@example.com",
            "rule": '{"match": "all", "children": [{"field": "country", "operator": "eq", "value": "DE"}]}',
            "versions-TOTAL_FORMS": 0,
            "versions-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 200
    assert "Only a static segment takes a member list" in response.content.decode()
    assert not Segment.objects.filter(name="Mixed up").exists()


def test_a_rule_nested_beyond_reason_is_refused_on_the_rule_not_a_500(admin_client):
    form = {"name": "Deep", "description": "", "kind": "dynamic", "owner": "", "upload_mode": "add"}
    form |= {"versions-TOTAL_FORMS": 0, "versions-INITIAL_FORMS": 0, "rule": "[" * 100_000 + "]" * 100_000}

    response = admin_client.post(reverse("admin:campaigns_segment_add"), form)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["rule"] == ["The rule is nested too deeply."]
    assert not Segment.objects.filter(name="Deep").exists()
