from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_slug

from customers.models import Shop
from customers.services.api_keys import api_key_create, shop_create


class Command(BaseCommand):
    help = "Create a shop (or a new key for an existing one with --new-key) and print its API key once."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", help="Display name (default: the slug)")
        parser.add_argument("--new-key", action="store_true", help="Issue another key for an existing shop")

    def handle(self, slug, name, new_key, **options):
        try:
            validate_slug(slug)
        except ValidationError as exc:
            raise CommandError(f"Invalid slug {slug!r}: use letters, digits, - and _.") from exc
        existing = Shop.objects.filter(slug=slug).first()
        if existing and not new_key:
            raise CommandError(f"Shop {slug!r} exists already; add --new-key to issue another key.")
        if existing:
            issued = api_key_create(shop=existing)
        else:
            _, issued = shop_create(slug=slug, name=name or slug)
        self.stdout.write(f"Shop: {slug}")
        self.stdout.write(f"API key (shown once, store it now): {issued.key}")
