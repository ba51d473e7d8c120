"""``__in_ids``: an integer column in a list of ids, sent as one parameter.

``__in`` sends one parameter per id. For the batches the follow-up work passes (thousands
of customers, repeated in several parts of a segment rule's query) PostgreSQL then spent
50 ms planning each statement that ran in under 1 ms, and Django as long building it. With
one array (PostgreSQL: ``= ANY(%s)``) or one JSON list (SQLite: ``json_each``) the
statement is short and its plan cheap, whatever the number of ids.
"""

import json

from django.db.models import IntegerField, Lookup


class InIds(Lookup):
    lookup_name = "in_ids"
    prepare_rhs = False

    def get_db_prep_lookup(self, value, connection):
        ids = [int(v) for v in value]
        return "%s", [ids if connection.vendor == "postgresql" else json.dumps(ids)]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        _, rhs_params = self.get_db_prep_lookup(self.rhs, connection)
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s::bigint[])", [*lhs_params, *rhs_params]
        return f"{lhs} IN (SELECT value FROM json_each(%s))", [*lhs_params, *rhs_params]


def register() -> None:
    IntegerField.register_lookup(InIds)
