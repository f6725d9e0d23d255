"""``kindwave billing payments …``: ``import FILE`` (a bank statement, CSV or camt.053),
``unmatched`` (the entries held in suspense for staff), ``apply ENTRY_REF INVOICE``
(apply one of them to an invoice) and ``reconcile-cards`` (settle card payments a crash
left in progress)."""

from __future__ import annotations

from argparse import _SubParsersAction
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kindwave.accounts.models import User
from kindwave.billing.services.payments import PaymentError, bank, card
from kindwave.lib.money import format_money
from kindwave.lib.progress import progress_bar


def add_parser(actions: _SubParsersAction) -> None:
    parser = actions.add_parser(
        "payments", help="import bank statements; list and apply unmatched entries; cards"
    )
    steps = parser.add_subparsers(
        dest="step", required=True, metavar="{import,unmatched,apply,reconcile-cards}"
    )
    importing = steps.add_parser(
        "import", help="import a bank statement (CSV or ISO 20022 camt.053) and pay invoices"
    )
    importing.add_argument("file", type=Path, help="the statement file")
    importing.add_argument("--quiet", action="store_true", help="no progress bar")
    listing = steps.add_parser("unmatched", help="statement entries not matched to an invoice")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (100)")
    applying = steps.add_parser("apply", help="apply an unmatched entry to an invoice")
    applying.add_argument("entry_ref", help="the bank's reference of the entry")
    applying.add_argument("invoice_number", help="the invoice it pays, e.g. GB-2026-000123")
    applying.add_argument("--by", required=True, help="the e-mail of the staff member applying it")
    applying.add_argument(
        "--booked-on", type=date.fromisoformat, help="the booking date (YYYY-MM-DD), if reused"
    )
    applying.add_argument("--account", help="the statement's IBAN, if the reference is reused")
    cards = steps.add_parser(
        "reconcile-cards", help="ask the card processor about payments left in progress"
    )
    cards.add_argument(
        "--older-than",
        type=int,
        default=card.STALE_AFTER_MINUTES,
        help=f"only payments started at least this many minutes ago ({card.STALE_AFTER_MINUTES})",
    )


def _amounts(totals: Counter[str]) -> str:
    return ", ".join(format_money(v, c) for c, v in sorted(totals.items())) or "—"


def handle(command: BaseCommand, options: dict[str, Any]) -> None:
    step = options["step"]
    try:
        if step == "unmatched":
            _unmatched(command, options["limit"])
        elif step == "apply":
            _apply(command, options)
        elif step == "reconcile-cards":
            _reconcile(command, options["older_than"])
        else:
            _import(command, options)
    except PaymentError as error:  # a malformed or known file, or a refused payment
        raise CommandError(str(error)) from None


def _unmatched(command: BaseCommand, limit: int) -> None:
    for entry in bank.entries_to_review(limit):
        command.stdout.write(
            f"{entry.booked_on} {entry.account or 'CSV'} {entry.entry_ref} "
            f"{format_money(entry.amount_minor, entry.currency)} — {entry.problem} "
            f"({entry.remittance!r})"
        )


def _apply(command: BaseCommand, options: dict[str, Any]) -> None:
    staff = User.objects.filter(email__iexact=options["by"].strip(), is_staff=True).first()
    if staff is None:
        raise CommandError(
            _("%(who)s is not a member of staff; only staff apply bank entries.")
            % {"who": options["by"]}
        )
    entry = bank.find_bank_entry(
        options["entry_ref"], booked_on=options["booked_on"], account=options["account"]
    )
    payment = bank.apply_bank_entry(entry, options["invoice_number"], by=staff)
    command.stdout.write(
        _("%(ref)s (%(date)s, %(amount)s) applied to %(number)s.")
        % {
            "ref": entry.entry_ref,
            "date": entry.booked_on.isoformat(),
            "amount": format_money(entry.amount_minor, entry.currency),
            "number": payment.invoice.number,
        }
    )


def _reconcile(command: BaseCommand, older_than: int) -> None:
    summary = card.reconcile_card_payments(older_than_minutes=older_than)
    command.stdout.write(
        _(
            "%(checked)s card payments in progress: %(succeeded)s completed, %(failed)s failed, "
            "%(waiting)s still pending at the processor."
        )
        % {
            "checked": summary.checked,
            "succeeded": summary.succeeded,
            "failed": summary.failed,
            "waiting": summary.waiting,
        }
    )


def _import(command: BaseCommand, options: dict[str, Any]) -> None:
    path: Path = options["file"]
    if not path.is_file():
        raise CommandError(_("%(path)s is not a file.") % {"path": path})
    with progress_bar(
        _("Importing %(name)s") % {"name": path.name},
        total=None,
        unit="entries",
        quiet=options["quiet"],
    ) as bar:
        summary = bank.import_bank_statement(path, progress=bar.update)
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
