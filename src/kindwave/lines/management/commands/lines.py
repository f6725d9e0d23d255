"""Stock and imports for operator staff.

``kindwave lines add-numbers GB FIRST LAST``, ``kindwave lines add-sims GB ICCID IMSI COUNT``
and ``kindwave lines import DIRECTORY`` (a simulated operator's ``subscribers.csv`` and
``simulation.json``).
"""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kindwave.lib.progress import progress_bar
from kindwave.lines import services


class Command(BaseCommand):
    help = "Add numbers and SIMs to stock, or import a simulated operator's subscribers."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(
            dest="action", required=True, metavar="{add-numbers,add-sims,import}"
        )
        numbers = actions.add_parser("add-numbers", help="add a block of numbers to the pool")
        numbers.add_argument("market", help="GB, FR or US")
        numbers.add_argument("first", help="first number, E.164 (e.g. +447400100000)")
        numbers.add_argument("last", help="last number, E.164, inclusive")
        sims = actions.add_parser("add-sims", help="add a batch of consecutive SIMs to stock")
        sims.add_argument("market", help="GB, FR or US")
        sims.add_argument("first_iccid")
        sims.add_argument("first_imsi")
        sims.add_argument("count", type=int)
        imports = actions.add_parser("import", help="import a simulated operator's subscribers")
        imports.add_argument("directory", type=Path)
        imports.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "add-numbers":
                block, created = services.add_number_block(
                    options["market"], options["first"], options["last"]
                )
                message = (
                    _("Added %(block)s (%(size)s numbers).")
                    if created
                    else _("%(block)s is already in the pool; nothing to do.")
                )
                self.stdout.write(message % {"block": block, "size": block.size})
            elif options["action"] == "add-sims":
                added = services.add_sims(
                    options["market"],
                    options["first_iccid"],
                    options["first_imsi"],
                    options["count"],
                )
                self.stdout.write(_("Added %(count)s SIMs to stock.") % {"count": added})
            else:
                self._import(options["directory"], quiet=options["quiet"])
        except ValidationError as error:
            raise CommandError("\n".join(error.messages)) from None
        except services.LinesError as error:
            raise CommandError(str(error)) from None

    def _import(self, directory: Path, quiet: bool) -> None:
        with progress_bar(_("Importing subscribers"), total=None, quiet=quiet) as bar:

            def progress(done: int, total: int) -> None:
                bar.update(done, total)

            summary = services.import_simulated_operator(directory, progress=progress)
        self.stdout.write(
            _(
                "%(market)s: %(created)s lines imported, %(present)s already there; "
                "%(users)s people created, %(reused)s already known; %(blocks)s number "
                "blocks and %(sims)s SIMs added to stock."
            )
            % {
                "market": summary.market,
                "created": summary.lines_created,
                "present": summary.lines_already_present,
                "users": summary.users_created,
                "reused": summary.users_reused,
                "blocks": summary.number_blocks_created,
                "sims": summary.sims_added_to_stock,
            },
            self.style.SUCCESS,
        )
