"""Write many rows fast: COPY on PostgreSQL; executemany or ``bulk_create`` elsewhere.

- ``insert_objects`` / ``insert_rows``: plain inserts on the ingestion path (orders, lines).
- ``write_rows`` with explicit ids, then ``reset_sequences``: generated data (the demo
  seeder, benchmarks), whose datetimes and money arrive as strings both databases read.
"""

from collections.abc import Iterable, Sequence

from django.core.management.color import no_style
from django.db import connection
from django.db.models import Max, Model

# Below this many new objects a plain multi-row INSERT (ids come back with RETURNING) is as
# fast as taking ids from the sequence and then COPYing the rows.
COPY_THRESHOLD = 50


def next_id(model: type[Model]) -> int:
    return (model._default_manager.aggregate(m=Max("pk"))["m"] or 0) + 1


def write_rows(model: type[Model], columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    """Insert ``rows``, tuples in ``columns`` order (COPY on PostgreSQL, executemany elsewhere)."""
    table = connection.ops.quote_name(model._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The raw psycopg cursor: wrap its errors so a duplicate key is Django's IntegrityError.
            with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({cols}) VALUES ({placeholders})", list(rows))


def reset_sequences(*models: type[Model]) -> None:
    statements = connection.ops.sequence_reset_sql(no_style(), list(models))
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


def timestamps(seconds) -> list[str]:
    """Epoch seconds (a numpy array) as timestamps each database reads as UTC."""
    import numpy as np

    text = np.datetime_as_string(np.asarray(seconds, dtype="datetime64[s]"), unit="s")
    if connection.vendor == "postgresql":
        return [t + "+00" for t in text.tolist()]
    return [t.replace("T", " ") for t in text.tolist()]


def money(cents) -> list[str]:
    """Integer cents (a numpy array) as exact decimal strings."""
    return [f"{c // 100}.{c % 100:02d}" for c in cents.tolist()]


def allocate_ids(model: type[Model], count: int) -> list[int]:
    """Take ``count`` ids from the table's sequence (PostgreSQL), in one query."""
    table = model._meta.db_table
    pk = model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)", [table, pk, count])
        return [row[0] for row in cursor.fetchall()]


def insert_objects(model: type[Model], objs: list[Model]) -> None:
    """Insert new model instances and set their primary keys: ``bulk_create``'s job, faster.

    On PostgreSQL the ids are taken from the sequence first and the rows go in with COPY,
    about twice as fast as a multi-row INSERT for thousands of rows. Elsewhere it is
    ``bulk_create``. Only for plain inserts: a duplicate key raises IntegrityError as usual.
    """
    if not objs:
        return
    if connection.vendor != "postgresql" or len(objs) < COPY_THRESHOLD:
        model._default_manager.bulk_create(objs)
        return
    fields = model._meta.concrete_fields
    for obj, pk in zip(objs, allocate_ids(model, len(objs)), strict=True):
        obj.pk = pk
        obj._state.adding = False
    rows = ([field.pre_save(obj, True) for field in fields] for obj in objs)
    write_rows(model, [_column(field) for field in fields], rows)


def insert_rows(model: type[Model], columns: Sequence[str], rows: list[tuple]) -> None:
    """Insert rows given as tuples of field attnames, when no ids are needed back: COPY on
    PostgreSQL without building model instances (faster than INSERT even for three rows),
    ``bulk_create`` elsewhere."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create([model(**dict(zip(columns, row, strict=True))) for row in rows])
        return
    write_rows(model, [_column(model._meta.get_field(name)) for name in columns], rows)


def _column(field) -> str:
    """The column of a concrete field (the only kind written here)."""
    assert field.column, f"{field} has no column"
    return field.column
