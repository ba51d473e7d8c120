"""Import orders from a CSV file: one row per order, or one row per order line."""

import csv
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from core.chunks import chunked
from crm import pipeline
from crm.csv_import import COLUMNS, CsvOrderReader
from customers.models import ConsentSource, Shop

BATCH = 500


class Command(BaseCommand):
    help = (
        "Import orders from CSV. Columns (rename with --map): "
        + ", ".join(COLUMNS)
        + ". Rows with the same order_id are lines of one order. Re-running is safe."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--shop", required=True, help="Slug of the shop the orders belong to")
        parser.add_argument(
            "--date-format",
            default=None,
            help="strptime format of placed_at, e.g. '%%d/%%m/%%Y %%H:%%M' (default: ISO 8601)",
        )
        parser.add_argument(
            "--timezone", default="UTC", help="Time zone for placed_at values without an offset (default UTC)"
        )
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="FIELD=COLUMN",
            help="Read FIELD from the CSV column COLUMN, e.g. --map order_id=Name (repeatable)",
        )
        parser.add_argument("--currency", default=None, help="Currency for rows that have no currency column")
        parser.add_argument(
            "--consent-text",
            default="",
            help="What the customers were shown when they said yes or no to marketing email (the checkout's "
            "checkbox words), kept with each change of consent the accepts_marketing column makes",
        )

    def handle(self, file: Path, shop: str, date_format, timezone, map, currency, consent_text, **options):
        shop_obj = Shop.objects.filter(slug=shop).first()
        if shop_obj is None:
            raise CommandError(f"No shop {shop!r}. Create it with: manage.py create_shop {shop}")
        if not file.exists():
            raise CommandError(f"No such file: {file}")
        mapping = {}
        for item in map:
            field, sep, column = item.partition("=")
            if not sep or field not in COLUMNS:
                raise CommandError(f"--map {item!r}: use FIELD=COLUMN with FIELD one of {', '.join(COLUMNS)}")
            mapping[field] = column
        with file.open(newline="", encoding="utf-8-sig") as handle:
            try:
                reader = CsvOrderReader(
                    csv.DictReader(handle), mapping=mapping, date_format=date_format, tz=timezone, currency=currency
                )
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            totals = {"created": 0, "updated": 0, "unchanged": 0, "error": 0}
            bad_rows: list[str] = []
            with tqdm(desc="Importing", unit=" rows", disable=options["verbosity"] == 0) as bar:
                for batch in chunked(reader.orders(), BATCH):
                    good = [(rows, data) for rows, data, _ in batch if data is not None]
                    for rows, _, errors in batch:
                        if errors:
                            totals["error"] += 1
                            bad_rows.append(f"line {_lines(rows)}: {errors}")
                    results = pipeline.orders_receive(
                        shop=shop_obj,
                        orders=[d for _, d in good],
                        consent_source=ConsentSource.IMPORT,
                        consent_shown=consent_text,
                    )
                    for (rows, _), result in zip(good, results, strict=True):
                        totals[str(result.outcome)] += 1
                        if result.errors:
                            bad_rows.append(f"line {_lines(rows)}: {_describe(result.errors)}")
                    bar.update(sum(len(rows) for rows, _, _ in batch))
        for line in bad_rows:
            self.stderr.write(line)
        self.stdout.write(
            f"Imported {file.name}: {totals['created']} created, {totals['updated']} updated, "
            f"{totals['unchanged']} unchanged, {totals['error']} with errors."
        )


def _lines(rows: list[int]) -> str:
    return str(rows[0]) if len(rows) == 1 else f"{rows[0]}-{rows[-1]}"


def _describe(errors: dict[str, list[str]]) -> str:
    return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())
