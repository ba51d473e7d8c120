"""Import orders from a CSV file: one row per order, or one row per order line."""

import codecs
import csv
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from crm.csv_import import COLUMNS, CRM_STATUSES, CsvOrderReader, detect_delimiter, detect_encoding
from crm.csv_presets import PRESETS
from crm.order_import import orders_import
from customers.models import Shop


class Command(BaseCommand):
    help = (
        "Import orders from CSV: a Shopify or WooCommerce export as it is (--preset), or any file whose "
        "columns are named (rename with --map): " + ", ".join(COLUMNS) + ". Rows with the same order_id are "
        "lines of one order. Re-running is safe. Exits with status 1 if any row was refused."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--shop", required=True, help="Slug of the shop the orders belong to")
        parser.add_argument(
            "--preset",
            choices=sorted(PRESETS),
            help="Read a platform's own order export: its columns, date format and statuses (docs/import.md)",
        )
        parser.add_argument(
            "--dry-run",
            "--preview",
            action="store_true",
            dest="dry_run",
            help="Show what the import would create and the first orders as read, and write nothing",
        )
        parser.add_argument(
            "--date-format",
            default=None,
            help="strptime format of placed_at, e.g. '%%d/%%m/%%Y %%H:%%M' (default: the preset's, else ISO 8601)",
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
        parser.add_argument(
            "--status",
            action="append",
            default=[],
            metavar="VALUE=STATUS",
            help=f"Read the file's status VALUE as STATUS, one of {', '.join(CRM_STATUSES)} (repeatable)",
        )
        parser.add_argument("--currency", default=None, help="Currency for rows that have no currency column")
        parser.add_argument(
            "--delimiter", default=None, help="The column separator (default: found from the header: , ; or tab)"
        )
        parser.add_argument(
            "--encoding",
            default=None,
            help="The file's character set (default: UTF-8 if the file is UTF-8, else Windows-1252 as Excel writes)",
        )
        parser.add_argument(
            "--decimal-comma",
            action="store_true",
            help="Amounts are written 1.234,50 (the default for a file separated by semicolons)",
        )
        parser.add_argument(
            "--consent-text",
            default="",
            help="What the customers were shown when they said yes or no to marketing email (the checkout's "
            "checkbox words), kept with each change of consent the accepts_marketing column makes",
        )

    def handle(self, file: Path, shop: str, **options):
        shop_obj = Shop.objects.filter(slug=shop).first()
        if shop_obj is None:
            raise CommandError(f"No shop {shop!r}. Create it with: manage.py create_shop {shop}")
        if not file.exists():
            raise CommandError(f"No such file: {file}")
        mapping = _pairs(options["map"], "--map", "FIELD=COLUMN", allowed=COLUMNS)
        statuses = _pairs(options["status"], "--status", "VALUE=STATUS")
        encoding = options["encoding"] or detect_encoding(file)
        if encoding == "cp1252" and not options["encoding"]:
            self.stdout.write("The file is not UTF-8: read as Windows-1252 (Excel's CSV); --encoding overrides.")
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise CommandError(
                f"--encoding {encoding!r}: not a character set Python knows, e.g. utf-8, cp1252."
            ) from exc
        with file.open(newline="", encoding=encoding) as handle:
            try:  # the whole file is read once before anything is written
                delimiter = options["delimiter"] or detect_delimiter(handle.readline())
                handle.seek(0)
                rows = sum(1 for _ in csv.reader(handle, delimiter=delimiter)) - 1
            except UnicodeDecodeError as exc:
                raise CommandError(
                    f"The file is not {encoding} (byte {exc.start}): pass its character set with --encoding."
                ) from exc
            handle.seek(0)
            try:
                reader = CsvOrderReader(
                    csv.DictReader(handle, delimiter=delimiter),
                    preset=PRESETS.get(options["preset"]),
                    mapping=mapping,
                    date_format=options["date_format"],
                    tz=options["timezone"],
                    currency=options["currency"],
                    statuses=statuses,
                    decimal_comma=options["decimal_comma"] or delimiter == ";",
                )
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            with tqdm(total=rows, desc="Importing", unit=" rows", disable=options["verbosity"] == 0) as bar:
                report = orders_import(
                    shop=shop_obj,
                    reader=reader,
                    consent_shown=options["consent_text"],
                    dry_run=options["dry_run"],
                    progress=bar.update,
                )
        if options["dry_run"]:
            self.stdout.write("Preview: nothing was written. The first orders as read:")
            for line in report.preview:
                self.stdout.write(f"  {line}")
        for error in report.errors:
            self.stderr.write(str(error))
        verb = "Would import" if options["dry_run"] else "Imported"
        self.stdout.write(f"{verb} {file.name}: {report.summary()}")
        if report.errors:
            raise CommandError(
                f"{len(report.errors)} problem(s) in {file.name}, listed above by row; "
                f"{report.failed} order(s) {'would not be' if options['dry_run'] else 'were not'} imported."
            )


def _pairs(items: list[str], option: str, form: str, allowed=None) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or (allowed and key not in allowed):
            one_of = f" with FIELD one of {', '.join(allowed)}" if allowed else ""
            raise CommandError(f"{option} {item!r}: use {form}{one_of}")
        pairs[key] = value
    return pairs
