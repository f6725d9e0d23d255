"""``kindwave causes payouts [--threshold MINOR] [--currency C] [--out DIR]``: pay every
verified cause whose balance reached the threshold, with a remittance statement (CSV and
PDF) per payout. Safe to re-run: a cause already paid today is not paid again."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kindwave.causes import payouts
from kindwave.causes.transparency import major
from kindwave.lib.progress import progress_bar


class Command(BaseCommand):
    help = "Pay causes their balances (payout batches with remittance statements)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{payouts}")
        run = actions.add_parser(
            "payouts", help="pay every cause whose balance reached the threshold"
        )
        run.add_argument("--threshold", type=int, help="minimum balance paid, in minor units")
        run.add_argument("--currency", help="only this currency, e.g. GBP")
        run.add_argument("--out", type=Path, help="where to write the remittance statements")
        run.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with progress_bar(
                _("Payouts"), total=None, unit=_("accounts"), quiet=options["quiet"]
            ) as bar:
                summary = payouts.run_payouts(
                    threshold=options["threshold"],
                    currency=options["currency"],
                    out_dir=options["out"],
                    progress=bar.update,
                )
        except payouts.PayoutError as error:
            raise CommandError(str(error)) from None
        batch = summary.batch
        self.stdout.write(
            _("Batch %(key)s (threshold %(threshold)s minor units).")
            % {"key": batch.key, "threshold": batch.threshold_minor}
        )
        for payout in summary.paid:
            self.stdout.write(
                _("  paid %(cause)s: %(amount)s %(currency)s, reference %(reference)s")
                % {
                    "cause": payout.cause.name,
                    "amount": major(payout.amount_minor),
                    "currency": payout.currency,
                    "reference": payout.reference,
                }
            )
        for payout in summary.already:
            self.stdout.write(
                _("  already paid today: %(cause)s, %(amount)s %(currency)s (%(reference)s)")
                % {
                    "cause": payout.cause.name,
                    "amount": major(payout.amount_minor),
                    "currency": payout.currency,
                    "reference": payout.reference,
                }
            )
        for waiting in summary.unverified:
            self.stdout.write(
                _(
                    "  waiting: %(cause)s is not verified; %(amount)s %(currency)s stays owed "
                    "until it is"
                )
                % {
                    "cause": waiting.cause.name,
                    "amount": major(waiting.amount),
                    "currency": waiting.currency,
                }
            )
        totals: dict[str, int] = {}
        for payout in summary.paid:
            totals[payout.currency] = totals.get(payout.currency, 0) + payout.amount_minor
        self.stdout.write(
            _(
                "%(paid)s payouts made now (%(totals)s), %(already)s already in this batch, "
                "%(waiting)s causes waiting for verification, %(below)s below the threshold."
            )
            % {
                "paid": len(summary.paid),
                "totals": ", ".join(f"{major(v)} {c}" for c, v in sorted(totals.items())) or "0",
                "already": len(summary.already),
                "waiting": len(summary.unverified),
                "below": summary.below_threshold,
            }
        )
        if summary.recovered:
            self.stdout.write(
                _("Statements written now for %(count)s earlier payouts: %(references)s")
                % {
                    "count": len(summary.recovered),
                    "references": ", ".join(p.reference for p in summary.recovered),
                }
            )
        if summary.files:
            self.stdout.write(
                _("Remittance statements: %(dir)s") % {"dir": summary.files[0].parent}
            )
