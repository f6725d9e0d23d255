"""``kindwave community …``: the community's jobs (see :mod:`kindwave.community.cli`)."""

from __future__ import annotations

import importlib
import pkgutil
from argparse import ArgumentParser
from types import ModuleType
from typing import Any

from django.core.management.base import BaseCommand

from kindwave.community import cli


def _subcommands() -> dict[str, ModuleType]:
    found = {}
    for info in sorted(pkgutil.iter_modules(cli.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{cli.__name__}.{info.name}")
        if hasattr(module, "add_parser") and hasattr(module, "handle"):
            found[info.name.replace("_", "-")] = module
    return found


class Command(BaseCommand):
    help = "The community's jobs (Gift Aid export…)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        modules = _subcommands()
        actions = parser.add_subparsers(
            dest="action", required=True, metavar="{" + ",".join(modules) + "}"
        )
        for module in modules.values():
            module.add_parser(actions)

    def handle(self, *args: Any, **options: Any) -> None:
        _subcommands()[options["action"]].handle(self, options)
