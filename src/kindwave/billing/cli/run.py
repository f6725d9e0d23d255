"""``kindwave billing run --cycle YYYY-MM``: bill every line of a finished, rated cycle."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kindwave.billing.services.billrun import BATCH_SIZE, BillRunError, run_bill_run
from kindwave.lib.money import format_money
from kindwave.lib.progress import progress_bar


def add_parser(actions: Any) -> None:
    parser = actions.add_parser(
        "run",
        help=_("Bill every line of a finished, rated cycle (resumable, idempotent)."),
    )
    parser.add_argument("--cycle", required=True, help=_("the cycle to bill, YYYY-MM (UTC)"))
    parser.add_argument(
        "--batch-size",
        type=int,
        default=BATCH_SIZE,
        help=_("lines per transaction (default %(default)s)"),
    )
    parser.add_argument("--quiet", action="store_true", help=_("no progress bar"))


def handle(command: BaseCommand, options: dict[str, Any]) -> None:
    cycle = options["cycle"]
    try:
        with progress_bar(
            _("Billing %(cycle)s") % {"cycle": cycle},
            total=None,
            unit="lines",
            quiet=options["quiet"],
        ) as bar:
            summary = run_bill_run(cycle, progress=bar.update, batch_size=options["batch_size"])
    except BillRunError as error:
        raise CommandError(str(error)) from None
    out = command.stdout
    if summary.already_complete:
        out.write(
            _("The bill run of %(cycle)s is already complete: nothing to do.") % {"cycle": cycle}
        )
    else:
        out.write(
            _(
                "Bill run %(cycle)s: %(lines)s lines, %(invoices)s invoices "
                "(%(processed)s lines in %(seconds).1f s, %(rate)s lines/s)."
            )
            % {
                "cycle": cycle,
                "lines": summary.lines,
                "invoices": summary.invoices,
                "processed": summary.processed,
                "seconds": summary.seconds,
                "rate": f"{summary.lines_per_second:,.0f}",
            }
        )
    for currency, totals in summary.totals.items():
        out.write(
            _(
                "  %(currency)s: %(invoices)s invoices, net %(net)s, VAT %(vat)s, one-offs "
                "%(extras)s, credits %(credits)s, total due %(total)s, to causes %(shares)s"
            )
            % {
                "currency": currency,
                "invoices": totals.invoices,
                "net": format_money(totals.net_minor, currency),
                "vat": format_money(totals.vat_minor, currency),
                "extras": format_money(totals.extras_minor, currency),
                "credits": format_money(totals.credits_minor, currency),
                "total": format_money(totals.total_minor, currency),
                "shares": format_money(totals.shares_minor, currency),
            }
        )
    causes = sum(1 for cause in summary.shares_by_cause if cause is not None)
    out.write(
        _("  shares: %(causes)s causes, %(foundation)s invoices to the foundation")
        % {"causes": causes, "foundation": summary.shares_by_cause.get(None, 0)}
    )
