"""``kindwave usage rate``: the rating subcommand's arguments and handler."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from kindwave.lib.progress import progress_bar
from kindwave.usage import lake, services
from kindwave.usage.rating.cycles import parse_cycle


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--cycle", required=True, help="billing cycle, YYYY-MM (UTC month)")
    parser.add_argument(
        "--engine",
        choices=["duckdb", "spark"],
        default="duckdb",
        help="duckdb (default, embedded) or spark (PySpark, local[2])",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def handle(command: BaseCommand, options: dict[str, Any]) -> None:
    cycle = options["cycle"]
    try:
        parse_cycle(cycle)
    except ValueError as error:
        raise CommandError(str(error)) from None
    from kindwave.usage.rating.engine import EngineUnavailableError

    with progress_bar(f"Rating {cycle}", total=None, unit="records", quiet=options["quiet"]) as bar:
        try:
            summary = services.rate_cycle(
                cycle, engine=options["engine"], progress=lambda records: bar.advance(records)
            )
        except (lake.LakeBusyError, services.CycleClosedError) as error:
            raise CommandError(str(error)) from None
        except EngineUnavailableError as error:
            raise CommandError(str(error)) from None
    for warning in summary.warnings:
        command.stderr.write(f"warning: {warning}")
    if summary.records == 0:
        command.stdout.write(
            f"No usage in the lake for {cycle}: nothing to rate. The cycle's outputs are now "
            "empty (any earlier ones were replaced)."
        )
        return
    unrated = ", ".join(f"{reason} {n:,}" for reason, n in sorted(summary.unrated.items()))
    charges = ", ".join(
        f"{currency} {amount:,.2f}" for currency, amount in summary.charges().items()
    )
    command.stdout.write(
        f"Cycle {cycle} on {summary.engine}: {summary.records:,} records, "
        f"{summary.rated:,} rated, {summary.unrated_total:,} unrated"
        + (f" ({unrated})" if unrated else "")
        + f"; {summary.lines:,} line(s).\n"
        f"Charges (before rounding per invoice line): {charges or 'none'}.\n"
        f"{summary.seconds:.1f} s, {summary.records_per_second:,.0f} records/s."
    )
