"""``kindwave billing carrier expire [--at ISO-DATE]``: void the carrier-billing
reservations left unconfirmed past ``CARRIER_RESERVATION_MINUTES``. Safe to re-run (and
meant to run every few minutes): each reservation expires once."""

from __future__ import annotations

from argparse import _SubParsersAction
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone
from django.utils.translation import gettext as _

from kindwave.billing.cli.dunning import parse_instant
from kindwave.billing.services import carrier
from kindwave.lib.progress import progress_bar


def add_parser(actions: _SubParsersAction) -> None:
    parser = actions.add_parser("carrier", help="carrier billing: expire stale reservations")
    steps = parser.add_subparsers(dest="step", required=True, metavar="{expire}")
    expire = steps.add_parser("expire", help="void reservations left unconfirmed too long")
    expire.add_argument(
        "--at", help="act as at this instant (ISO 8601; a date alone is its start, UTC)"
    )
    expire.add_argument("--quiet", action="store_true", help="no progress bar")


def handle(command: BaseCommand, options: dict[str, Any]) -> None:
    at = parse_instant(options["at"]) if options["at"] else timezone.now()
    with progress_bar(
        _("Expiring reservations as at %(at)s") % {"at": at.isoformat()},
        total=None,
        unit="charges",
        quiet=options["quiet"],
    ) as bar:
        expired = carrier.expire_reservations(at, progress=bar.update)
    command.stdout.write(
        _("%(count)s reservations expired (unconfirmed after %(minutes)s minutes).")
        % {
            "count": expired,
            "minutes": int(carrier.reservation_lifetime().total_seconds() // 60),
        }
    )
