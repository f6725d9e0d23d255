"""``kindwave demo``: load the demo operator (idempotent). ``make demo`` then serves it."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from kindwave.web.demo import load_demo


class Command(BaseCommand):
    help = (
        "Load the demo operator: catalogues, causes, simulated UK/FR/US subscribers and the "
        "demo logins. Safe to run again."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--no-simulation",
            action="store_true",
            help="skip simulating and importing subscribers (catalogues, causes, logins only)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        load_demo(self.stdout.write, with_simulation=not options["no_simulation"])
        self.stdout.write(self.style.SUCCESS("The demo operator is ready."))
