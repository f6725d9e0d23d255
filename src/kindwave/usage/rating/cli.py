"""``kindwave usage rate``: the rating subcommand's arguments and handler."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--cycle", required=True, help="billing cycle, YYYY-MM")


def handle(command: BaseCommand, options: dict[str, Any]) -> None:
    raise CommandError("rating is not built yet")
