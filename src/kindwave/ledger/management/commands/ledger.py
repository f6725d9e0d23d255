"""The ledger for operator staff.

``kindwave ledger verify`` recomputes every account's totals from the transfers and
checks debits against credits per currency (exits non-zero on any mismatch);
``kindwave ledger accounts [--currency GBP]`` lists the accounts and their balances.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kindwave.ledger import services
from kindwave.ledger.models import balance
from kindwave.lib.progress import progress_bar


class Command(BaseCommand):
    help = "Verify the ledger or list its accounts and balances."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{verify,accounts}")
        check = actions.add_parser(
            "verify", help="recompute every balance from the transfers; non-zero exit if wrong"
        )
        check.add_argument("--quiet", action="store_true", help="no progress bar")
        listing = actions.add_parser("accounts", help="list the accounts and their balances")
        listing.add_argument("--currency", help="only accounts in this currency, e.g. GBP")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "verify":
            self._verify(quiet=options["quiet"])
        else:
            self._accounts(options["currency"])

    def _verify(self, quiet: bool) -> None:
        with progress_bar(
            _("Verifying the ledger"), total=None, unit="transfers", quiet=quiet
        ) as bar:
            result = services.verify(progress=bar.update)
        services.record_verification(result)
        self.stdout.write(
            _("%(accounts)s accounts, %(transfers)s transfers checked.")
            % {"accounts": result.accounts, "transfers": result.transfers}
        )
        for totals in result.currencies:
            self.stdout.write(
                _(
                    "%(currency)s: debits %(dp)s / credits %(cp)s posted, "
                    "debits %(dq)s / credits %(cq)s pending (minor units) — %(state)s"
                )
                % {
                    "currency": totals.currency,
                    "dp": totals.debits_posted,
                    "cp": totals.credits_posted,
                    "dq": totals.debits_pending,
                    "cq": totals.credits_pending,
                    "state": _("balanced") if totals.balanced else _("NOT BALANCED"),
                }
            )
        for mismatch in result.mismatches:
            differences = ", ".join(
                f"{column} {mismatch.stored[column]} ≠ {mismatch.recomputed[column]}"
                for column in services.TOTALS
                if mismatch.stored[column] != mismatch.recomputed[column]
            )
            self.stderr.write(
                _(
                    "%(code)s: stored totals differ from the transfers "
                    "(stored ≠ recomputed): %(diff)s"
                )
                % {"code": mismatch.code, "diff": differences}
            )
        for key in result.wrong_currency:
            self.stderr.write(
                _("%(key)s: the transfer's currency differs from its accounts'.") % {"key": key}
            )
        if not result.ok:
            raise CommandError(
                _(
                    "The ledger does not verify: %(accounts)s accounts with wrong totals, "
                    "%(currencies)s currencies out of balance, %(transfers)s transfers in the "
                    "wrong currency."
                )
                % {
                    "accounts": len(result.mismatches),
                    "currencies": sum(1 for totals in result.currencies if not totals.balanced),
                    "transfers": len(result.wrong_currency),
                }
            )
        self.stdout.write(_("The ledger verifies."), self.style.SUCCESS)

    def _accounts(self, currency: str | None) -> None:
        rows = 0
        self.stdout.write(
            _("code\tkind\tcurrency\tbalance\tdebits pending\tcredits pending (minor units)")
        )
        for account in services.accounts_with_balances(currency):
            rows += 1
            self.stdout.write(
                f"{account.code}\t{account.get_kind_display()}\t{account.currency}\t"
                f"{balance(account)}\t{account.debits_pending}\t{account.credits_pending}"
            )
        self.stdout.write(_("%(count)s accounts.") % {"count": rows})
