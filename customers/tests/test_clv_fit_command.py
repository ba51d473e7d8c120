"""manage.py clv_fit on orders in the database: the CDNOW dataset end to end, and the failures."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from customers.models import ClvModel, LifecycleSettings
from customers.tests.commands import fit_json
from customers.tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


def test_the_fit_on_cdnow_matches_the_published_parameters(cdnow_orders):
    result = fit_json("--until", "1997-09-30", "--time-unit", "weeks")

    assert result["n_customers"] == 2357 and result["time_unit"] == "weeks"
    bg, gg = result["bgnbd"], result["gamma_gamma"]
    assert [round(bg[k], 3) for k in ("r", "alpha", "a", "b")] == [0.243, 4.414, 0.793, 2.426]
    assert round(bg["log_likelihood"], 1) == -9582.4
    assert [round(gg[k], 2) for k in ("p", "q", "v")] == [6.25, 3.74, 15.44]

    model = ClvModel.current()
    assert model.n_repeat_buyers == 946
    assert len(model.clv_percentiles) == 101 and model.clv_percentiles == sorted(model.clv_percentiles)
    assert 0 <= model.clv_percentiles[0] < model.clv_percentiles[50] < model.clv_percentiles[100]
    buckets = model.holdout["buckets"]
    assert buckets[0]["frequency"] == "0" and buckets[-1]["frequency"] == "6+"
    assert all(b["predicted"] >= 0 and b["actual"] >= 0 for b in buckets)


def test_a_shop_filter_and_day_units_are_honoured(cdnow_orders):
    result = fit_json("--until", "1997-09-30", "--time-unit", "days", "--shop", cdnow_orders.slug)

    assert result["time_unit"] == "days"
    assert result["bgnbd"]["alpha"] == pytest.approx(4.414 * 7, rel=0.01)  # the same model, in days


def test_too_few_repeat_buyers_keeps_the_previous_model(cdnow_orders):
    call_command("clv_fit", "--until", "1997-09-30", stdout=StringIO())
    good = ClvModel.current()
    LifecycleSettings.objects.filter(pk=LifecycleSettings.load().pk).update(min_repeat_buyers=5000)

    with pytest.raises(CommandError, match="946 repeat buyers; the model needs at least 5000"):
        call_command("clv_fit", "--until", "1997-09-30", stdout=StringIO())

    assert ClvModel.current() == good
    assert ClvModel.objects.first().status == ClvModel.Status.NOT_ENOUGH_DATA


def test_an_empty_base_says_not_enough_data():
    OrderFactory()
    with pytest.raises(CommandError, match="Not enough data: 0 repeat buyers"):
        call_command("clv_fit", stdout=StringIO())


@pytest.mark.parametrize(
    "args,message",
    [
        (["--until", "30/09/1997"], "--until: '30/09/1997' is not a date"),
        (["--shop", "nowhere"], "--shop: no shop with slug 'nowhere'"),
    ],
)
def test_bad_options_are_clear_errors(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("clv_fit", *args, stdout=StringIO())
