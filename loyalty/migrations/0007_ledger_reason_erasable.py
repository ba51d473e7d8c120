"""The ledger stays append-only on PostgreSQL, with one exception: an erasure may blank an
entry's free-text ``reason`` (written by staff, it may name the person), and nothing else
(docs/privacy.md). Every other UPDATE, and every DELETE, is still refused."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION loyalty_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    erased loyalty_pointsentry;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.reason = '' THEN
        erased := OLD;
        erased.reason := '';
        IF erased IS NOT DISTINCT FROM NEW THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'the points ledger is append-only: % refused', TG_OP USING ERRCODE = 'restrict_violation';
END $$;
"""
BEFORE = """
CREATE OR REPLACE FUNCTION loyalty_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the points ledger is append-only: % refused', TG_OP USING ERRCODE = 'restrict_violation';
END $$;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BEFORE, params=None)


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0006_past_orders_credit")]
    operations = [migrations.RunPython(forwards, backwards)]
