"""``manage.py install_shipped_flows``: give every shop the ready-made flows it lacks, switched off."""

from django.core.management.base import BaseCommand

from campaigns.flows.shipped import shipped_flows_install_all


class Command(BaseCommand):
    help = (
        "Create the ready-made flows (welcome, abandoned cart, review request, win-back, birthday, "
        "points expiring), switched off, for every shop that lacks them."
    )

    def handle(self, *args, **options):
        made = shipped_flows_install_all()
        self.stdout.write(f"{made} flows installed (switched off).")
