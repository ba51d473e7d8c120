"""Static segments' member lists, resolved to customers.

Two inputs: a CSV upload with an ``email`` or an ``external_id`` column (and optionally
``shop``, the shop's slug, since external ids are each shop's own), separated by commas,
semicolons (what spreadsheets export in much of Europe) or tabs; or a pasted list of
emails and customer ids, separated by lines, commas, semicolons or spaces. Every line that
names nobody is reported by its number (the first ``MAX_REPORTED``, then how many more),
and a list with any such line is refused whole, so an upload is never half-applied.
"""

import csv
import io
import re
from collections import defaultdict

from customers.models import Customer, CustomerIdentity
from customers.services.customers import normalize_email

MAX_ROWS = 200_000
MAX_REPORTED = 20
_CHUNK = 5000
# The separators a CSV may use; anything else is read as part of a value.
CSV_DELIMITERS = ",;\t"
# How much of a file the delimiter is guessed from (whole lines of it).
_SNIFF_BYTES = 64 * 1024
# What separates the entries of a pasted list (emails and ids hold none of these).
_PASTED_SEPARATORS = re.compile(r"[,;\s]+")


class MemberListError(ValueError):
    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def _report(problems: list[tuple[int, str]]) -> None:
    """Refuse the list if any line names nobody: the first lines' problems, in line order
    (and on one line, in the order written)."""
    if problems:
        in_order = sorted(problems, key=lambda problem: problem[0])
        shown = [f"line {line}: {problem}" for line, problem in in_order[:MAX_REPORTED]]
        if len(problems) > MAX_REPORTED:
            shown.append(f"… and {len(problems) - MAX_REPORTED} more")
        raise MemberListError(shown)


def _chunks(values: list):
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _ids_by_email(emails: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(emails)):
        found.update(Customer.objects.filter(email_normalized__in=chunk).values_list("email_normalized", "pk"))
    return found


def _ids_by_external_id(keys: set[tuple[str, str]]) -> dict[tuple[str, str], set[int]]:
    """(shop slug or "", external id) → the customers it names; "" matches any shop."""
    wanted = sorted({external_id for _, external_id in keys})
    found: dict[tuple[str, str], set[int]] = defaultdict(set)
    for chunk in _chunks(wanted):
        rows = CustomerIdentity.objects.filter(external_id__in=chunk).values_list(
            "shop__slug", "external_id", "customer_id"
        )
        for slug, external_id, customer_id in rows:
            found[(slug, external_id)].add(customer_id)
            found[("", external_id)].add(customer_id)
    return found


def read_member_csv(upload) -> set[int]:
    """The customers a CSV names (``MemberListError`` listing the lines that name nobody)."""
    try:
        text = upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MemberListError(["the file is not UTF-8 text"]) from None
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
    header = [column.strip().lower() for column in next(reader, [])]
    if "email" not in header and "external_id" not in header:
        raise MemberListError(["the first line must name an email or an external_id column"])
    column = header.index("email" if "email" in header else "external_id")
    shop_column = header.index("shop") if "shop" in header else None

    rows: list[tuple[int, str, str]] = []  # (line, shop, value)
    problems: list[tuple[int, str]] = []
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(rows) >= MAX_ROWS:
            raise MemberListError([f"at most {MAX_ROWS:,} lines at a time"])
        value = row[column].strip() if column < len(row) else ""
        shop = row[shop_column].strip() if shop_column is not None and shop_column < len(row) else ""
        if not value:
            problems.append((line, f"no {header[column]}"))
            continue
        rows.append((line, shop, value))

    ids: set[int] = set()
    if header[column] == "email":
        by_email = _ids_by_email({normalize_email(value) for _, _, value in rows})
        for line, _, value in rows:
            customer_id = by_email.get(normalize_email(value))
            if customer_id is None:
                problems.append((line, f"no customer with email {value}"))
            else:
                ids.add(customer_id)
    else:
        by_external_id = _ids_by_external_id({(shop, value) for _, shop, value in rows})
        for line, shop, value in rows:
            customers = by_external_id.get((shop, value), set())
            if not customers:
                where = f" in shop {shop}" if shop else ""
                problems.append((line, f"no customer with external id {value}{where}"))
            elif len(customers) > 1:
                problems.append((line, f"external id {value} names customers of several shops; add a shop column"))
            else:
                ids |= customers
    _report(problems)
    return ids


def _delimiter(text: str) -> str:
    """The file's separator among ``CSV_DELIMITERS``, guessed from its first lines; a comma
    when the guess fails (a single column has none)."""
    sample = text[:_SNIFF_BYTES]
    if len(text) > _SNIFF_BYTES and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # whole lines only
    try:
        return csv.Sniffer().sniff(sample, delimiters=CSV_DELIMITERS).delimiter
    except csv.Error:
        return ","


def read_member_lines(text: str) -> set[int]:
    """The customers a pasted list names: emails or customer ids, separated by lines,
    commas, semicolons or spaces ("a@x.com; b@x.com")."""
    items = [
        (line, item)
        for line, row in enumerate(text.splitlines(), start=1)
        for item in _PASTED_SEPARATORS.split(row)
        if item
    ]
    if len(items) > MAX_ROWS:
        raise MemberListError([f"at most {MAX_ROWS:,} entries at a time"])
    emails = {normalize_email(item) for _, item in items if "@" in item}
    numbers = {int(item) for _, item in items if item.isdigit() and len(item) < 19}
    by_email = _ids_by_email(emails)
    known: set[int] = set()
    for chunk in _chunks(sorted(numbers)):
        known.update(Customer.objects.filter(pk__in=chunk).values_list("pk", flat=True))

    ids: set[int] = set()
    problems: list[tuple[int, str]] = []
    for line, item in items:
        if "@" in item:
            customer_id = by_email.get(normalize_email(item))
        elif item.isdigit() and len(item) < 19:
            customer_id = int(item) if int(item) in known else None
        else:
            problems.append((line, f"{item!r} is neither an email nor a customer id"))
            continue
        if customer_id is None:
            problems.append((line, f"no customer {item}"))
        else:
            ids.add(customer_id)
    _report(problems)
    return ids
