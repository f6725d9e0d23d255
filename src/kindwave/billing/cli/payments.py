"""``kindwave billing payments import FILE`` (a bank statement, CSV or camt.053) and
``kindwave billing payments unmatched`` (the entries staff must look at)."""

from __future__ import annotations

from argparse import _SubParsersAction
from collections import Counter
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kindwave.billing.services.payments import PaymentError, bank
from kindwave.lib.money import format_money
from kindwave.lib.progress import progress_bar


def add_parser(actions: _SubParsersAction) -> None:
    parser = actions.add_parser("payments", help="import bank statements; list unmatched entries")
    steps = parser.add_subparsers(dest="step", required=True, metavar="{import,unmatched}")
    importing = steps.add_parser(
        "import", help="import a bank statement (CSV or ISO 20022 camt.053) and pay invoices"
    )
    importing.add_argument("file", type=Path, help="the statement file")
    importing.add_argument("--quiet", action="store_true", help="no progress bar")
    listing = steps.add_parser("unmatched", help="statement entries not matched to an invoice")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (100)")


def _amounts(totals: Counter[str]) -> str:
    return ", ".join(format_money(v, c) for c, v in sorted(totals.items())) or "—"


def handle(command: BaseCommand, options: dict[str, Any]) -> None:
    if options["step"] == "unmatched":
        for entry in bank.entries_to_review(options["limit"]):
            command.stdout.write(
                f"{entry.booked_on} {entry.entry_ref} "
                f"{format_money(entry.amount_minor, entry.currency)} — {entry.problem} "
                f"({entry.remittance!r})"
            )
        return
    path: Path = options["file"]
    if not path.is_file():
        raise CommandError(_("%(path)s is not a file.") % {"path": path})
    try:
        with progress_bar(
            _("Importing %(name)s") % {"name": path.name},
            total=None,
            unit="entries",
            quiet=options["quiet"],
        ) as bar:
            summary = bank.import_bank_statement(path, progress=bar.update)
    except PaymentError as error:  # a malformed or known file, or a refused payment
        raise CommandError(str(error)) from None
    command.stdout.write(
        _(
            "%(name)s (%(format)s): %(entries)s credit entries, %(seen)s already imported, "
            "%(matched)s matched (%(matched_amount)s), %(unmatched)s unmatched "
            "(%(unmatched_amount)s); %(debits)s debits and %(pending)s unbooked entries skipped."
        )
        % {
            "name": path.name,
            "format": summary.statement.format,
            "entries": summary.entries,
            "seen": summary.already_seen,
            "matched": summary.matched,
            "matched_amount": _amounts(summary.matched_minor),
            "unmatched": len(summary.unmatched),
            "unmatched_amount": _amounts(summary.unmatched_minor),
            "debits": summary.debits_skipped,
            "pending": summary.not_booked_skipped,
        }
    )
    for entry in summary.unmatched:
        command.stdout.write(
            _("  unmatched %(ref)s, %(amount)s: %(problem)s")
            % {
                "ref": entry.entry_ref,
                "amount": format_money(entry.amount_minor, entry.currency),
                "problem": entry.problem,
            }
        )
