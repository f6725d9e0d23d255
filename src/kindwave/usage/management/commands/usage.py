"""``kindwave usage …``: load the host network's cells, ingest usage files into the lake
exactly once, list and reprocess the quarantine, purge what is past retention."""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from kindwave.lib.progress import progress_bar
from kindwave.lines.models import Market
from kindwave.usage import lake, services
from kindwave.usage.models import QuarantinedRecord, QuarantineReason
from kindwave.usage.rating import cli as rating_cli

MAX_SHOWN = 200


class Command(BaseCommand):
    help = (
        "Usage records: load cells, ingest usage files into the lake, list and reprocess "
        "the quarantine, purge records past retention."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(
            dest="action",
            required=True,
            metavar="{ingest,rate,cells,quarantine,reprocess,purge}",
        )
        ingest = actions.add_parser(
            "ingest", help="ingest usage files (v1 CSV, 3GPP BER) into the lake"
        )
        ingest.add_argument("paths", nargs="+", type=Path, help="files or directories")
        ingest.add_argument("--market", help="market code, e.g. GB (default: the only one)")
        ingest.add_argument("--plmn", help="host network MCC-MNC (default: the market's)")
        ingest.add_argument(
            "--horizon-days",
            type=int,
            help="how far back a record id counts as a duplicate "
            f"(default: ${services.HORIZON_VARIABLE} or {services.DEFAULT_DEDUP_HORIZON_DAYS})",
        )
        ingest.add_argument("--quiet", action="store_true", help="no progress bar")

        rate = actions.add_parser("rate", help="price a billing cycle's usage")
        rating_cli.add_arguments(rate)

        cells = actions.add_parser("cells", help="the host network's cells")
        cell_actions = cells.add_subparsers(dest="cells_action", required=True, metavar="{load}")
        load = cell_actions.add_parser("load", help="load (upsert) cells.csv")
        load.add_argument("cells_csv", type=Path)

        quarantine = actions.add_parser("quarantine", help="list quarantined records")
        quarantine.add_argument("--reason", choices=QuarantineReason.values)

        reprocess = actions.add_parser(
            "reprocess", help="check quarantined records again after fixing their cause"
        )
        reprocess.add_argument("--reason", choices=QuarantineReason.values)
        reprocess.add_argument("--file", dest="file_name", help="only this file's records")
        reprocess.add_argument("--market", help="market code, e.g. GB (default: the only one)")
        reprocess.add_argument("--quiet", action="store_true", help="no progress bar")

        purge = actions.add_parser("purge", help="remove usage records past retention")
        purge.add_argument(
            "--before",
            type=_day,
            help="cut-off date YYYY-MM-DD (default: today minus "
            f"${services.RETENTION_VARIABLE} or {services.DEFAULT_RETENTION_DAYS} days)",
        )
        purge.add_argument("--dry-run", action="store_true", help="only say what would go")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "ingest":
            self._ingest(options)
        elif action == "rate":
            rating_cli.handle(self, options)
        elif action == "cells":
            self._load_cells(options["cells_csv"])
        elif action == "reprocess":
            self._reprocess(options)
        elif action == "purge":
            self._purge(options["before"], options["dry_run"])
        else:
            self._quarantine(options["reason"])

    def _ingest(self, options: dict[str, Any]) -> None:
        market = self._market(options["market"], options["plmn"])
        if options["horizon_days"] is not None and options["horizon_days"] < 1:
            raise CommandError("--horizon-days must be at least 1")
        with progress_bar("Ingesting", total=None, unit="records", quiet=options["quiet"]) as bar:
            try:
                summary = services.ingest_usage_files(
                    options["paths"],
                    market=market,
                    home_plmn=options["plmn"],
                    horizon_days=options["horizon_days"],
                    progress=lambda records: bar.advance(records),
                )
            except lake.LakeBusyError as error:
                raise CommandError(str(error)) from None
        for name in summary.skipped:
            self.stdout.write(f"skipped (already ingested): {name}")
        for reason in summary.refused:
            self.stderr.write(f"refused: {reason}")
        quarantined = sum(summary.quarantined.values())
        by_reason = ", ".join(
            f"{reason} {n:,}" for reason, n in sorted(summary.quarantined.items())
        )
        self.stdout.write(
            f"Files: {len(summary.ingested):,} ingested, {len(summary.skipped):,} skipped as "
            f"already ingested, {len(summary.refused):,} refused"
            + (
                f"; {summary.orphans_removed:,} orphan part(s) removed"
                if summary.orphans_removed
                else ""
            )
            + f".\nRecords: {summary.records:,}: {summary.accepted:,} accepted, "
            f"{summary.duplicates:,} duplicates dropped, {quarantined:,} quarantined"
            + (f" ({by_reason})" if by_reason else "")
            + "."
            + _cdr_summary(summary)
            + f"\n{summary.seconds:.1f} s, {summary.records_per_second:,.0f} records/s."
        )
        if summary.refused:
            raise CommandError(f"{len(summary.refused):,} file(s) refused")

    @staticmethod
    def _market(code: str | None, plmn: str | None) -> Market:
        markets = Market.objects.all()
        if code:
            market = markets.filter(code=code.upper()).first()
            if market is None:
                raise CommandError(f"unknown market {code!r}")
            return market
        if plmn:
            matching = [market for market in markets if market.host_plmn == plmn]
            if len(matching) == 1:
                return matching[0]
        only = list(markets[:2])
        if len(only) != 1:
            raise CommandError("say which market with --market (e.g. --market GB)")
        return only[0]

    def _load_cells(self, path: Path) -> None:
        try:
            summary = services.load_cells(path)
        except services.CellFileError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"Cells: {summary.created:,} added, {summary.updated:,} updated, "
            f"{summary.unchanged:,} unchanged."
        )

    def _quarantine(self, reason: str | None) -> None:
        records = QuarantinedRecord.objects.select_related("file").order_by("file__name", "line")
        if reason:
            records = records.filter(reason=reason)
        total = records.count()
        for record in records[:MAX_SHOWN]:
            self.stdout.write(
                f"{record.file.name}:{record.where}\t{record.reason}\t{record.message}"
            )
        if total > MAX_SHOWN:
            self.stdout.write(f"… and {total - MAX_SHOWN:,} more")
        self.stdout.write(f"{total:,} quarantined record(s).")

    def _reprocess(self, options: dict[str, Any]) -> None:
        market = self._market(options["market"], None)
        with progress_bar(
            "Reprocessing", total=None, unit="records", quiet=options["quiet"]
        ) as bar:
            try:
                summary = services.reprocess_quarantine(
                    market=market,
                    reason=options["reason"],
                    file_name=options["file_name"],
                    progress=lambda records: bar.advance(records),
                )
            except lake.LakeBusyError as error:
                raise CommandError(str(error)) from None
        held = ", ".join(f"{reason} {n:,}" for reason, n in sorted(summary.still_held.items()))
        self.stdout.write(
            f"Reprocessed {summary.examined:,} quarantined record(s): "
            f"{summary.accepted:,} now in the lake, {summary.duplicates:,} duplicates dropped, "
            f"{summary.still_held.total():,} still held" + (f" ({held})" if held else "") + "."
        )

    def _purge(self, before: date | None, dry_run: bool) -> None:
        try:
            summary = services.purge_usage(before=before, dry_run=dry_run)
        except lake.LakeBusyError as error:
            raise CommandError(str(error)) from None
        dates = (
            f"{summary.usage_dates[0]} to {summary.usage_dates[-1]}"
            if summary.usage_dates
            else "none"
        )
        cycles = ", ".join(summary.rated_cycles) or "none"
        self.stdout.write(
            ("Would remove" if dry_run else "Removed")
            + f" usage before {summary.cutoff}: {len(summary.usage_dates):,} usage date(s) "
            f"({dates}), {summary.parts:,} part(s) from {summary.manifest_rows:,} manifest "
            f"row(s) (the rows stay), {summary.quarantined:,} quarantined record(s), rated "
            f"cycles: {cycles}."
        )


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--before {text!r} is not a date YYYY-MM-DD") from None


def _cdr_summary(summary: services.IngestSummary) -> str:
    """What the BER files held besides rated records: unrated CDR types left out, vendor
    fields dropped (empty when there were none)."""
    if not summary.cdr_skipped and not summary.cdr_vendor_fields:
        return ""
    by_type = ", ".join(f"{name} {n:,}" for name, n in sorted(summary.cdr_skipped.items()))
    return (
        f"\nCDRs: {summary.cdr_skipped.total():,} of unrated types skipped"
        + (f" ({by_type})" if by_type else "")
        + f", {summary.cdr_vendor_fields:,} vendor field(s) dropped."
    )
