"""Marketing spend: the CSV import (a bad row writes nothing and is named), the admin's
permissions by role, and CAC, ROAS and CLV:CAC from spend, credits and new customers."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from campaigns.attribution.passes import attribution_run
from campaigns.attribution.selectors import marketing_figures
from campaigns.attribution.spend import SpendImportError, spend_import
from campaigns.models import MarketingSpend
from crm.roles import MANAGER, MARKETER, SUPPORT_AGENT
from customers.models import CustomerMetrics
from customers.tests.factories import CustomerFactory, ExchangeRateFactory, OrderFactory, ShopFactory

pytestmark = pytest.mark.django_db
GOOD = "channel,campaign,month,amount,currency\ngoogle,spring,2026-03,1000.00,USD\nfacebook,,2026-03-01,200,EUR\n"


def test_a_csv_is_imported_in_the_base_currency_and_a_reimport_replaces():
    ExchangeRateFactory(currency="EUR", rate_to_base=Decimal("1.10"))
    assert spend_import(text=GOOD) == 2
    fb = MarketingSpend.objects.get(channel="facebook")
    assert (fb.month, fb.amount, fb.amount_base) == (date(2026, 3, 1), Decimal("200.00"), Decimal("220.00"))
    spend_import(text="channel,month,amount,currency\nfacebook,2026-03,300,EUR\n")
    assert MarketingSpend.objects.count() == 2
    assert MarketingSpend.objects.get(channel="facebook").amount_base == Decimal("330.00")


def test_a_bad_row_names_its_row_and_column_and_nothing_is_written():
    text = GOOD + "google,x,March,10,USD\nbing,,2026-04,-5,USD\nbing,,2026-05,5,XYZ\n"
    with pytest.raises(SpendImportError) as caught:
        spend_import(text=text)
    assert caught.value.problems == [
        "Row 4, column month: expected a month as YYYY-MM, got 'March'.",
        "Row 5, column amount: expected an amount from 0 with at most 2 decimals, got '-5'.",
        "Row 3, column currency: no exchange rate for EUR.",
        "Row 6, column currency: no exchange rate for XYZ.",
    ]
    assert not MarketingSpend.objects.exists()
    with pytest.raises(SpendImportError, match="column 'amount' is missing"):
        spend_import(text="channel,month,currency\ngoogle,2026-03,USD\n")


def staff(django_user_model, role):
    user = django_user_model.objects.create_user(role.lower().replace(" ", "_"), is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


def test_marketers_and_managers_enter_spend_and_agents_cannot_see_it(django_user_model):
    changelist = reverse("admin:campaigns_marketingspend_changelist")
    importer = reverse("admin:campaigns_marketingspend_import")
    agent = staff(django_user_model, SUPPORT_AGENT)
    assert agent.get(changelist).status_code == 403
    assert agent.get(importer).status_code == 403
    clients = {role: staff(django_user_model, role) for role in (MARKETER, MANAGER)}
    for client in clients.values():
        assert client.get(changelist).status_code == 200
        bad = client.post(
            importer, {"file": SimpleUploadedFile("s.csv", b"channel,month,amount,currency\n,2026-3,1,USD\n")}
        )
        assert bad.status_code == 400 and "Row 2, column channel: required." in bad.content.decode()
        assert not MarketingSpend.objects.exists()
    ok = clients[MARKETER].post(importer, {"file": SimpleUploadedFile("s.csv", GOOD.split("facebook")[0].encode())})
    assert ok.status_code == 302 and MarketingSpend.objects.count() == 1


def test_cac_roas_and_clv_to_cac():
    shop = ShopFactory()
    march = datetime.fromisoformat("2026-03-10T12:00:00+00:00")
    spend_import(text="channel,month,amount,currency\ngoogle,2026-03,300.00,USD\nemail,2026-03,100,USD\n")
    for clv, utm in ((120.0, "crm"), (60.0, "google"), (None, "")):
        c = CustomerFactory(first_order_at=march)
        if clv is not None:
            CustomerMetrics.objects.create(customer=c, clv_predicted=clv, computed_at=march, stage_since=march)
        OrderFactory(
            customer=c, shop=shop, placed_at=march, total=Decimal("50.00"), utm_source=utm, utm_campaign="email:1"
        )
    attribution_run()
    f = marketing_figures(first=date(2026, 3, 1), last=date(2026, 3, 31), model="last_click")
    assert (f.attributed, f.email, f.spend, f.new_customers) == (
        Decimal("100.00"),
        Decimal("50.00"),
        Decimal("400.00"),
        3,
    )
    assert f.cac == Decimal("133.33")
    assert f.roas == pytest.approx(0.25)
    assert f.clv_cac == pytest.approx(90.0 / 133.33)


def test_email_revenue_splits_between_campaigns_and_flows_and_each_channel_has_its_roas():
    from django.utils import timezone

    from campaigns.emails import email_send
    from campaigns.models import Send
    from campaigns.tests.flow_helpers import mailable, shop_with_sender
    from crm.tests.campaign_360_data import a_campaign, a_flow_with_an_email, no_cap_nor_quiet_hours
    from messaging.models import MessageEvent, MessageStatus

    shop = shop_with_sender()
    no_cap_nor_quiet_hours()
    now = timezone.now()
    ann, bob, cid = mailable(shop, 3)
    campaign = a_campaign(shop)
    email_send(email=campaign.email, customer_ids=[ann.pk])
    flow = a_flow_with_an_email(shop, now, [bob])
    for email, customer in ((campaign.email, ann), (flow.steps.get(email__isnull=False).email, bob)):
        message_id = Send.objects.get(email=email, customer=customer).message_id
        MessageEvent.objects.create(message_id=message_id, status=MessageStatus.CLICKED, at=now - timedelta(hours=2))
    for customer, total, utm in ((ann, "30.00", ""), (bob, "70.00", ""), (cid, "45.00", "google")):
        placed = now - timedelta(hours=1)
        OrderFactory(customer=customer, shop=shop, placed_at=placed, total=Decimal(total), utm_source=utm)
    month = now.date().replace(day=1).isoformat()[:7]
    rows = (f"google,{month},90.00,USD", f"email,{month},20,USD", f"bing,{month},5,USD")
    spend_import(text="channel,month,amount,currency\n" + "\n".join(rows) + "\n")
    attribution_run()

    f = marketing_figures(first=now.date() - timedelta(days=1), last=now.date(), model="linear")

    assert (f.email, f.campaigns, f.flows) == (Decimal("100.00"), Decimal("30.00"), Decimal("70.00"))
    assert [(c.channel, c.attributed, c.spend) for c in f.channels] == [
        ("email", Decimal("100.00"), Decimal("20.00")),
        ("google", Decimal("45.00"), Decimal("90.00")),
        ("bing", Decimal("0.00"), Decimal("5.00")),
    ]
    assert [c.roas for c in f.channels] == [pytest.approx(5.0), pytest.approx(0.5), pytest.approx(0.0)]
    assert [(e.source.kind, e.source.name, e.source.step, e.revenue) for e in f.earners] == [
        ("flow", "Welcome series", 2, Decimal("70.00")),
        ("campaign", "Spring sale", None, Decimal("30.00")),
    ]
    with pytest.raises(ValueError, match="Unknown attribution model"):
        marketing_figures(first=now.date(), last=now.date(), model="amount")


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("em\x00ail,,2026-03,10,USD", "Row 2, column channel: control characters are not allowed"),
        ("email,spr\x01ing,2026-03,10,USD", "Row 2, column campaign: control characters are not allowed"),
        ("email,,1900-01,10,USD", "Row 2, column month: expected a month in 2000 to 2100, got '1900-01'."),
        ("email,,9999-12,10,USD", "Row 2, column month: expected a month in 2000 to 2100, got '9999-12'."),
    ],
)
def test_control_characters_and_far_months_are_refused_and_nothing_is_written(row, problem):
    with pytest.raises(SpendImportError) as refused:
        spend_import(text=f"channel,campaign,month,amount,currency\n{row}\n")
    assert any(p.startswith(problem) for p in refused.value.problems)
    assert not MarketingSpend.objects.exists()


def test_channels_are_lower_case_so_email_and_email_meet():
    spend_import(text="channel,month,amount,currency\nEmail,2026-03,10,USD\n")
    assert list(MarketingSpend.objects.values_list("channel", flat=True)) == ["email"]
