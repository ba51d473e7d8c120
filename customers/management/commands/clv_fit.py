import json as json_module
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from customers.models import ClvModel, Shop
from customers.services.clv_fitting import clv_fit


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--until: {value!r} is not a date; use YYYY-MM-DD.") from None


class Command(BaseCommand):
    help = "Fit the BG/NBD + Gamma-Gamma CLV model on orders up to --until and store it."

    def add_arguments(self, parser):
        parser.add_argument("--until", type=_day, help="Last day of orders to use, YYYY-MM-DD (default: today)")
        parser.add_argument("--time-unit", choices=["days", "weeks"], help="Default: the lifecycle settings' unit")
        parser.add_argument("--shop", help="Fit on one shop's orders (its slug)")
        parser.add_argument("--json", action="store_true", help="Print the fitted parameters as JSON")
        parser.add_argument("--no-holdout", action="store_true", help="Skip the holdout health check")

    def handle(self, until, time_unit, shop, no_holdout, **options):
        shop_obj = None
        if shop:
            shop_obj = Shop.objects.filter(slug=shop).first()
            if shop_obj is None:
                raise CommandError(f"--shop: no shop with slug {shop!r}.")
        model = clv_fit(until=until, time_unit=time_unit, shop=shop_obj, with_holdout=not no_holdout)
        if model.status != ClvModel.Status.FITTED:
            raise CommandError(f"{model.get_status_display()}: {model.message}")
        if options["json"]:
            self.stdout.write(json_module.dumps(_parameters(model)))
        else:
            self.stdout.write(
                f"Fitted on {model.n_customers} customers ({model.n_repeat_buyers} repeat buyers) "
                f"in {model.fit_seconds:.2f} s: r={model.r:.4f} alpha={model.alpha:.4f} a={model.a:.4f} "
                f"b={model.b:.4f}; p={model.p:.4f} q={model.q:.4f} v={model.v:.4f}."
            )


def _parameters(model: ClvModel) -> dict:
    return {
        "bgnbd": {
            "r": model.r,
            "alpha": model.alpha,
            "a": model.a,
            "b": model.b,
            "log_likelihood": model.bgnbd_log_likelihood,
        },
        "gamma_gamma": {"p": model.p, "q": model.q, "v": model.v},
        "n_customers": model.n_customers,
        "time_unit": model.time_unit,
    }
