from django.core.management.base import BaseCommand, CommandError

from crm.api import compatibility


class Command(BaseCommand):
    help = (
        "Compare the API's OpenAPI schema with its snapshot, docs/openapi-v1.yaml (--check), or refresh the "
        "snapshot (--write). Either fails while the schema loses or changes a field, parameter, operation or enum "
        "value that docs/api-changelog.md does not name."
    )

    def add_arguments(self, parser):
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--check", action="store_true", help="Fail if the snapshot is not the current schema")
        action.add_argument("--write", action="store_true", help="Write the current schema to the snapshot")

    def handle(self, check, write, **options):
        schema = compatibility.current_schema()
        report = compatibility.check(schema)
        if report.unlogged:
            raise CommandError(report.message())
        if write:
            if report.stale:
                compatibility.write_snapshot(schema)
                self.stdout.write(f"Wrote {compatibility.SNAPSHOT.name}.")
            else:
                self.stdout.write(f"{compatibility.SNAPSHOT.name} is current.")
            return
        if report.stale:
            raise CommandError(report.message())
        self.stdout.write(f"{compatibility.SNAPSHOT.name} is current; nothing lost.")
