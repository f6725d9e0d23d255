"""``kindwave <app> <subcommand> …``: one management command per app whose subcommands are
the modules of a package, each with ``add_parser(actions)`` and ``handle(command, options)``
(a module ``reconcile_cards.py`` is the subcommand ``reconcile-cards``)."""

from __future__ import annotations

import importlib
import pkgutil
from argparse import ArgumentParser
from types import ModuleType
from typing import Any

from django.core.management.base import BaseCommand


def subcommands(package: ModuleType) -> dict[str, ModuleType]:
    """The subcommand modules of ``package`` by name, in name order."""
    found = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        if hasattr(module, "add_parser") and hasattr(module, "handle"):
            found[info.name.replace("_", "-")] = module
    return found


class SubcommandsCommand(BaseCommand):
    """A management command dispatching to the modules of ``package``."""

    package: ModuleType

    def add_arguments(self, parser: ArgumentParser) -> None:
        modules = subcommands(self.package)
        actions = parser.add_subparsers(
            dest="action", required=True, metavar="{" + ",".join(modules) + "}"
        )
        for module in modules.values():
            module.add_parser(actions)

    def handle(self, *args: Any, **options: Any) -> None:
        subcommands(self.package)[options["action"]].handle(self, options)
