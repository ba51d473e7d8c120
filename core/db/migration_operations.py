"""Index operations for migrations on tables of millions of rows: CONCURRENTLY on
PostgreSQL (no lock that stops writes; the migration must be non-atomic), plain on SQLite,
which has no such thing."""

from typing import Any

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations


class _ConcurrentlyOnPostgres:
    """Runs the concurrent operation on PostgreSQL and ``plain`` elsewhere."""

    plain: Any  # the plain operation's class, whose methods are called with this instance

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            forwards = super().database_forwards  # type: ignore[misc]  # a mixin: the concurrent operation's
            return forwards(app_label, schema_editor, from_state, to_state)
        return self.plain.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            backwards = super().database_backwards  # type: ignore[misc]  # a mixin: the concurrent operation's
            return backwards(app_label, schema_editor, from_state, to_state)
        return self.plain.database_backwards(self, app_label, schema_editor, from_state, to_state)


class AddIndexConcurrentlyOnPostgres(_ConcurrentlyOnPostgres, AddIndexConcurrently):
    plain = migrations.AddIndex


class RemoveIndexConcurrentlyOnPostgres(_ConcurrentlyOnPostgres, RemoveIndexConcurrently):
    plain = migrations.RemoveIndex


class RunSQLOnPostgres(migrations.RunSQL):
    """SQL for PostgreSQL alone, such as an index SQLite cannot have (trigram GIN); nothing
    on other databases. Like any ``RunSQL`` it leaves the models' state alone, so the
    models do not declare what it builds: a comment on the model names the migration."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class AddUniqueIndexConcurrentlyOnPostgres(migrations.AddConstraint):
    """A ``UniqueConstraint`` that PostgreSQL keeps as a unique index (one with a condition,
    like "unique per shop where the external id is set"), built CONCURRENTLY there, so the
    table takes writes while it is built (the migration must be non-atomic); the plain
    constraint elsewhere. Removing it is the plain ``DROP INDEX``."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        if schema_editor.connection.in_atomic_block:
            raise ValueError("A concurrent index build needs a non-atomic migration (atomic = False).")
        model = to_state.apps.get_model(app_label, self.model_name)
        sql = str(self.constraint.create_sql(model, schema_editor))
        if not sql.startswith("CREATE UNIQUE INDEX "):
            raise ValueError(f"{self.constraint.name} is not kept as an index on PostgreSQL: add it plainly.")
        schema_editor.execute(sql.replace("CREATE UNIQUE INDEX ", "CREATE UNIQUE INDEX CONCURRENTLY ", 1))
