"""``kindwave usagefiles check DIR``: check a host network's delivery against format v1.

Reads ``DIR/cells.csv`` and every ``DIR/usage/**/usage-*.csv[.gz]``, validates every
record with ``kindwave.usage.fileformat`` and reports each problem with its file and line.
Read-only, so safe to run at any time; exits non-zero when anything is invalid.
(It lives here until the ``usage`` app arrives with the ingest.)
"""

from __future__ import annotations

import csv
import json
import time
from argparse import ArgumentParser
from collections import Counter
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from kindwave.lib.progress import progress_bar
from kindwave.usage.fileformat import (
    FILE_NAME_PATTERN,
    UsageFileError,
    hour_of_file,
    read_usage_file,
    validate_record,
)

MAX_SHOWN = 20


class Command(BaseCommand):
    help = "Check a directory of host-network usage files against usage file format v1."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{check}")
        check = actions.add_parser("check", help="validate every record of every hour file")
        check.add_argument("directory", type=Path)
        check.add_argument(
            "--plmn", help="the host network, MCC-MNC (default: from simulation.json)"
        )
        check.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        directory: Path = options["directory"]
        if not directory.is_dir():
            raise CommandError(f"{directory}: not a directory")
        plmn = options["plmn"] or self._plmn_from_simulation(directory)
        cells = self._cells(directory / "cells.csv")
        files = sorted(
            path
            for path in (directory / "usage").rglob("usage-*")
            if FILE_NAME_PATTERN.match(path.name)
        )
        if not files:
            raise CommandError(f"{directory}/usage: no usage-YYYYMMDDTHH.csv[.gz] files")
        records = 0
        by_type: Counter[str] = Counter()
        problems: list[str] = []
        began = time.perf_counter()
        with progress_bar(
            "Checking", total=len(files), unit="files", quiet=options["quiet"]
        ) as bar:
            for path in files:
                try:
                    hour = hour_of_file(path)
                    for line, row in read_usage_file(path):
                        records += 1
                        by_type[row.get("record_type", "?")] += 1
                        for problem in validate_record(
                            row, home_plmn=plmn, known_cells=cells, file_hour=hour
                        ):
                            problems.append(f"{path}:{line}: {problem}")
                except UsageFileError as error:
                    problems.append(str(error))
                bar.advance()
        elapsed = time.perf_counter() - began
        types = ", ".join(f"{kind} {count:,}" for kind, count in sorted(by_type.items()))
        self.stdout.write(
            f"Checked {len(files):,} files, {records:,} records ({types}) against usage file "
            f"format v1 in {elapsed:.1f} s ({records / max(elapsed, 1e-9):,.0f} records/s): "
            f"{len(problems):,} problem(s)."
        )
        for problem in problems[:MAX_SHOWN]:
            self.stderr.write(problem)
        if problems:
            more = len(problems) - MAX_SHOWN
            if more > 0:
                self.stderr.write(f"… and {more:,} more")
            raise CommandError(f"{len(problems):,} invalid record(s) or file(s)")

    @staticmethod
    def _plmn_from_simulation(directory: Path) -> str:
        try:
            info = json.loads((directory / "simulation.json").read_text("utf-8"))
            return str(info["host_network"]["plmn"])
        except (OSError, ValueError, KeyError):
            raise CommandError(
                f"{directory}: no simulation.json to read the host network from; pass --plmn"
            ) from None

    @staticmethod
    def _cells(path: Path) -> frozenset[str]:
        try:
            with path.open(encoding="utf-8", newline="") as handle:
                return frozenset(row["cell_id"] for row in csv.DictReader(handle))
        except (OSError, KeyError) as error:
            raise CommandError(f"{path}: cannot read the cell list ({error})") from None
