"""``kindwave simulate``: write a synthetic operator's host-network usage files."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from kindwave.simulator.run import (
    DEFAULT_START,
    FILE_FORMATS,
    SimulationArgumentError,
    make_options,
    progress_bar,
    simulate,
)


class Command(BaseCommand):
    help = (
        "Create a deterministic synthetic operator (cells, subscribers) and write the host "
        "network's hourly usage files into OUT_DIR. Same arguments, same bytes."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("out_dir", metavar="OUT_DIR", help="directory to write (new or empty)")
        parser.add_argument(
            "--country", required=True, help="host market: GB (EE), FR (Orange) or US (Sprint)"
        )
        parser.add_argument("--subscribers", type=int, required=True, help="number of subscribers")
        parser.add_argument("--days", type=int, required=True, help="days of usage to simulate")
        parser.add_argument("--seed", type=int, required=True, help="random seed (0 or more)")
        parser.add_argument(
            "--start",
            default=None,
            help=f"first day, YYYY-MM-DD, from 00:00 UTC (default {DEFAULT_START.isoformat()})",
        )
        parser.add_argument(
            "--format",
            dest="file_format",
            choices=FILE_FORMATS,
            default="csv",
            help="csv: usage file format v1, usage-YYYYMMDDTHH.csv.gz (default); "
            "ber: 3GPP TS 32.298 CDRs (ASN.1 BER), usage-YYYYMMDDTHH.ber",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="replace the output of a previous simulation in OUT_DIR",
        )
        parser.add_argument(
            "--resume",
            action="store_true",
            help="finish an interrupted simulation in OUT_DIR (same arguments), keeping its "
            "complete hour files",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            simulation = make_options(
                country=options["country"],
                subscribers=options["subscribers"],
                days=options["days"],
                seed=options["seed"],
                start=options["start"],
                out_dir=options["out_dir"],
                force=options["force"],
                resume=options["resume"],
                file_format=options["file_format"],
            )
        except SimulationArgumentError as error:
            raise CommandError(str(error)) from None
        with progress_bar(simulation.hours) as on_hour:
            summary = simulate(simulation, on_hour=on_hour)
        self.stdout.write(summary.line())
