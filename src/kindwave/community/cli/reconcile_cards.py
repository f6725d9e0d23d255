"""``kindwave community reconcile-cards [--older-than MINUTES]``: settle card donations left
pending by a crash or a lost answer (asks the processor, never charges). Safe to re-run."""

from __future__ import annotations

from argparse import _SubParsersAction
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kindwave.billing.services.payments.card import STALE_AFTER_MINUTES
from kindwave.billing.services.payments.core import PaymentError
from kindwave.community.services import donations


def add_parser(actions: _SubParsersAction) -> None:
    parser = actions.add_parser(
        "reconcile-cards", help="settle card donations left pending by a crash"
    )
    parser.add_argument(
        "--older-than",
        type=int,
        default=STALE_AFTER_MINUTES,
        help="only donations started this many minutes ago or more (default %(default)s)",
    )


def handle(command: BaseCommand, options: dict[str, Any]) -> None:
    if options["older_than"] < 1:
        raise CommandError(_("--older-than must be at least 1 minute."))
    try:
        summary = donations.reconcile_card_donations(older_than_minutes=options["older_than"])
    except PaymentError as error:
        raise CommandError(str(error)) from None
    command.stdout.write(
        _(
            "%(checked)s card donations pending: %(completed)s completed, %(failed)s failed, "
            "%(waiting)s still pending at the processor."
        )
        % {
            "checked": summary.checked,
            "completed": summary.completed,
            "failed": summary.failed,
            "waiting": summary.waiting,
        }
    )
