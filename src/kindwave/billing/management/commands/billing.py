"""``kindwave billing …``: the billing jobs operator staff run.

Each subcommand lives in its own module of :mod:`kindwave.billing.cli` (``run``,
``pledge``, ``payments``, ``dunning``…) with two functions: ``add_parser(actions)``
registers it and ``handle(command, options)`` runs it.
"""

from __future__ import annotations

import importlib
import pkgutil
from argparse import ArgumentParser
from types import ModuleType
from typing import Any

from django.core.management.base import BaseCommand

from kindwave.billing import cli


def _subcommands() -> dict[str, ModuleType]:
    found = {}
    for info in sorted(pkgutil.iter_modules(cli.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{cli.__name__}.{info.name}")
        if hasattr(module, "add_parser") and hasattr(module, "handle"):
            found[info.name] = module
    return found


class Command(BaseCommand):
    help = "Bill runs, the profit pledge, payments and dunning."

    def add_arguments(self, parser: ArgumentParser) -> None:
        modules = _subcommands()
        actions = parser.add_subparsers(
            dest="action", required=True, metavar="{" + ",".join(modules) + "}"
        )
        for module in modules.values():
            module.add_parser(actions)

    def handle(self, *args: Any, **options: Any) -> None:
        _subcommands()[options["action"]].handle(self, options)
