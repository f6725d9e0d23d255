"""``kindwave billing dunning [--at ISO-DATE]``: reminders, suspensions and reactivations
due at a date (default now). Safe to re-run: each step happens once per invoice."""

from __future__ import annotations

from argparse import _SubParsersAction
from datetime import UTC, datetime, time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from kindwave.billing.services import dunning
from kindwave.lib.progress import progress_bar


def add_parser(actions: _SubParsersAction) -> None:
    parser = actions.add_parser("dunning", help="remind, suspend and reactivate for unpaid bills")
    parser.add_argument(
        "--at",
        help="act as at this instant (ISO 8601, e.g. 2026-04-30 or 2026-04-30T09:00Z; "
        "a date alone is its start, UTC); default now",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def parse_instant(text: str) -> datetime:
    """``2026-04-30`` → its first instant, UTC; a time without a zone is UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(
            _("--at %(text)r is not an ISO 8601 date or date and time.") % {"text": text}
        ) from None
    if len(text.strip()) == 10:
        value = datetime.combine(value.date(), time(0), tzinfo=UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def handle(command: BaseCommand, options: dict[str, Any]) -> None:
    at = parse_instant(options["at"]) if options["at"] else timezone.now()
    with progress_bar(
        _("Dunning as at %(at)s") % {"at": at.isoformat()},
        total=None,
        unit="invoices",
        quiet=options["quiet"],
    ) as bar:
        summary = dunning.run_dunning(at, progress=bar.update)
    command.stdout.write(
        _(
            "%(overdue)s overdue invoices: %(reminders)s reminders sent, %(suspensions)s lines "
            "suspended, %(reactivations)s lines reactivated."
        )
        % {
            "overdue": summary.overdue,
            "reminders": summary.reminders,
            "suspensions": summary.suspensions,
            "reactivations": summary.reactivations,
        }
    )
    for number in summary.skipped:
        command.stderr.write(
            _("%(number)s: the line has a later change; not suspended as at this date.")
            % {"number": number}
        )
