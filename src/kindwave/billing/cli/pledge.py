"""``kindwave billing pledge --period YYYY-Qn [--share 25] [--base profit|revenue]
[--rule subscribers|shares]``: compute the quarter's profit pledge per currency, allocate
it across causes and post it to the ledger (docs/pledge.md). Safe to re-run: a currency
already posted is shown as it was and nothing changes."""

from __future__ import annotations

from argparse import _SubParsersAction
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kindwave.billing.models import Pledge
from kindwave.billing.services import pledge as service
from kindwave.lib.progress import progress_bar


def add_parser(actions: _SubParsersAction) -> None:
    parser = actions.add_parser(
        "pledge", help="compute, allocate and post a quarter's profit pledge"
    )
    parser.add_argument("--period", required=True, help="the quarter, YYYY-Qn, e.g. 2026-Q3")
    parser.add_argument("--share", help="percent of the base pledged (default: settings)")
    parser.add_argument("--base", choices=service.BASES, help="profit or revenue")
    parser.add_argument("--rule", choices=service.RULES, help="how the pledge is allocated")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def handle(command: BaseCommand, options: dict[str, Any]) -> None:
    try:
        chosen = service.PledgeOptions.from_settings(
            options["share"], options["base"], options["rule"]
        )
        quarter = service.check_quarter(options["period"])
        currencies = service.quarter_currencies(quarter)
        outcomes = []
        with progress_bar(
            _("Pledge %(period)s") % {"period": quarter},
            total=len(currencies),
            unit=_("currencies"),
            quiet=options["quiet"],
        ) as bar:
            for currency in currencies:
                outcomes.append(service.post_currency(quarter, currency, chosen))
                bar.advance()
    except service.PledgeError as error:
        raise CommandError(str(error)) from None
    if not outcomes:
        command.stdout.write(
            _(
                "No invoices in the cycles of %(period)s and no costs: there is no pledge "
                "to compute."
            )
            % {"period": quarter}
        )
        return
    for outcome in outcomes:
        _report(command, outcome.pledge, outcome.created)


def _report(command: BaseCommand, pledge: Pledge, created: bool) -> None:
    values = {
        "period": pledge.period,
        "currency": pledge.currency,
        "revenue": pledge.revenue_minor,
        "wholesale": pledge.wholesale_minor,
        "operating": pledge.operating_minor,
        "base": pledge.base,
        "base_minor": pledge.base_minor,
        "share": f"{pledge.share * 100:.2f}",
        "pledge": pledge.pledge_minor,
        "rule": pledge.rule,
    }
    status = _("recorded now") if created else _("already recorded, unchanged")
    command.stdout.write(f"{pledge.period} {pledge.currency}: {status}")
    command.stdout.write(
        _(
            "  revenue %(revenue)s - wholesale %(wholesale)s - operating %(operating)s; "
            "base (%(base)s) %(base_minor)s * %(share)s %% = pledge %(pledge)s "
            "(minor units), allocated by %(rule)s"
        )
        % values
    )
    if not pledge.pledge_minor:
        command.stdout.write(_("  The base is zero: nothing is pledged and nothing posted."))
        return
    for allocation in pledge.allocations.select_related("cause").order_by("cause__name"):
        command.stdout.write(
            _("  %(recipient)s: %(amount)s (%(subscribers)s subscribers)")
            % {
                "recipient": allocation.cause.name if allocation.cause else _("the foundation"),
                "amount": allocation.amount_minor,
                "subscribers": allocation.subscribers,
            }
        )
