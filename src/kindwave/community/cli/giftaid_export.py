"""``kindwave community giftaid-export --cause SLUG --from DATE --to DATE [--out FILE]``:
the rows of HMRC's Charities Online Gift Aid schedule for one UK cause's completed Gift
Aid donations in a period (UTC dates, both included), as CSV — on standard output, or
written atomically to ``--out``. Reads only; safe to re-run."""

from __future__ import annotations

from argparse import _SubParsersAction
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kindwave.causes.models import Cause
from kindwave.community import giftaid
from kindwave.lib.files import write_atomically


def add_parser(actions: _SubParsersAction) -> None:
    parser = actions.add_parser(
        "giftaid-export", help="HMRC Gift Aid schedule (CSV) of a UK cause's donations"
    )
    parser.add_argument("--cause", required=True, help="the cause's slug")
    parser.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD")
    parser.add_argument("--out", type=Path, help="write the CSV to this file")


def _day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(
            _("%(what)s %(text)r is not a date (YYYY-MM-DD).") % {"what": what, "text": text}
        ) from None


def handle(command: BaseCommand, options: dict[str, Any]) -> None:
    start, end = _day(options["start"], "--from"), _day(options["end"], "--to")
    cause = Cause.objects.filter(slug=options["cause"]).first()
    if cause is None:
        raise CommandError(_("There is no cause %(slug)s.") % {"slug": options["cause"]})
    if cause.country != Cause.Country.GB:
        raise CommandError(
            _("%(cause)s is not a UK charity: Gift Aid does not apply.") % {"cause": cause.name}
        )
    try:
        text = giftaid.write_schedule(cause, start, end)
    except giftaid.GiftAidError as error:
        raise CommandError(str(error)) from None
    summary = giftaid.summarise(text)
    out: Path | None = options["out"]
    if out is None:
        command.stdout.write(text, ending="")
        return
    if not out.parent.is_dir():
        raise CommandError(_("The folder %(folder)s does not exist.") % {"folder": out.parent})
    write_atomically(out.resolve(), text.encode("utf-8"))
    command.stdout.write(
        _("%(rows)s Gift Aid donations to %(cause)s, %(total)s GBP in all, written to %(out)s.")
        % {
            "rows": summary.rows,
            "cause": cause.name,
            "total": f"{summary.total_minor / 100:.2f}",
            "out": out,
        }
    )
