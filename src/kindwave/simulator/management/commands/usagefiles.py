"""``kindwave usagefiles check DIR`` and ``kindwave usagefiles to-ber SRC_DIR DST_DIR``.

``check`` reads ``DIR/cells.csv`` and every ``DIR/usage/**/usage-*.csv[.gz]``, validates
every record with ``kindwave.usage.fileformat`` and reports each problem with its file and
line. Read-only, so safe to run at any time; exits non-zero when anything is invalid.

``to-ber`` rewrites a delivery's hour files as 3GPP TS 32.298 CDR files
(``DST_DIR/usage/YYYY-MM-DD/usage-YYYYMMDDTHH.ber``, see docs/cdr-files.md): test data
for the BER ingest from any CSV delivery. Each file is written atomically and the same
input gives the same bytes, so a re-run (after a crash, say) is safe.
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
        to_ber = actions.add_parser(
            "to-ber", help="rewrite every hour file as 3GPP TS 32.298 CDRs (ASN.1 BER)"
        )
        to_ber.add_argument("source", type=Path, metavar="SRC_DIR")
        to_ber.add_argument("destination", type=Path, metavar="DST_DIR")
        to_ber.add_argument(
            "--country",
            help="the host network's country, GB, FR or US, for its CDRs' time zone and "
            "node addresses (default: from SRC_DIR/simulation.json)",
        )
        to_ber.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "to-ber":
            self._to_ber(options["source"], options["destination"], options)
            return
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

    def _to_ber(self, source: Path, destination: Path, options: dict[str, Any]) -> None:
        from kindwave.simulator.run import CDR_NODES, cdr_options_for
        from kindwave.usage.cdr import hour_cdr_file_name, write_cdr_file

        if not source.is_dir():
            raise CommandError(f"{source}: not a directory")
        if destination.resolve() == source.resolve():
            raise CommandError("DST_DIR must not be SRC_DIR")
        country = (options["country"] or self._country_from_simulation(source)).upper()
        if country not in CDR_NODES:
            raise CommandError(f"--country must be one of {', '.join(CDR_NODES)}, got {country!r}")
        files = self._usage_files(source)
        if not files:
            raise CommandError(f"{source}/usage: no usage-YYYYMMDDTHH.csv[.gz] files")
        cdr_options = cdr_options_for(country)
        records = 0
        began = time.perf_counter()
        with progress_bar(
            "Converting", total=len(files), unit="files", quiet=options["quiet"]
        ) as bar:
            for path in files:
                try:
                    hour = hour_of_file(path)
                    rows = [row for _, row in read_usage_file(path)]
                    target = destination / "usage" / f"{hour:%Y-%m-%d}" / hour_cdr_file_name(hour)
                    write_cdr_file(target, rows, cdr_options)
                except (UsageFileError, ValueError, KeyError) as error:
                    raise CommandError(f"{path}: cannot be written as CDRs: {error}") from None
                records += len(rows)
                bar.advance()
        elapsed = time.perf_counter() - began
        self.stdout.write(
            f"Wrote {len(files):,} CDR files, {records:,} records, into {destination}/usage "
            f"in {elapsed:.1f} s ({records / max(elapsed, 1e-9):,.0f} records/s)."
        )

    @staticmethod
    def _usage_files(directory: Path) -> list[Path]:
        return sorted(
            path
            for path in (directory / "usage").rglob("usage-*")
            if FILE_NAME_PATTERN.match(path.name)
        )

    @staticmethod
    def _country_from_simulation(directory: Path) -> str:
        try:
            info = json.loads((directory / "simulation.json").read_text("utf-8"))
            return str(info["host_network"]["country"])
        except (OSError, ValueError, KeyError):
            raise CommandError(
                f"{directory}: no simulation.json to read the host network from; pass --country"
            ) from None

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
