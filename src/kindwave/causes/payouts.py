"""Payouts to causes: every verified cause whose account holds at least the threshold is
paid its whole balance, with a remittance statement (CSV and PDF) saying what made the
amount (docs/transparency.md, "Payouts").

One batch per UTC day (a re-run the same day joins it). Each payout is written in its own
transaction together with its ledger transfer (Dr cause:ID, Cr bank, code ``payout``, key
``payout:<reference>``), so a crash between two payouts leaves the first paid and the
second not, and a re-run pays the second only. The cause's account is locked while its
balance is read and paid, so the statement (every posted transfer into or out of the
account since the previous payout) adds up to the payout exactly.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import cast

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kindwave.causes.models import Cause, Payout, PayoutBatch
from kindwave.causes.transparency import SOURCE_LABELS, major
from kindwave.ledger import chart, selectors
from kindwave.ledger import services as ledger
from kindwave.ledger.models import Account, Transfer, balance
from kindwave.lib.files import write_atomically
from kindwave.lines.models import Market


class PayoutError(Exception):
    """A payout run that cannot start; the message says why."""


@dataclass(frozen=True)
class Waiting:
    """Money owed to a cause that is not paid in this batch, and why."""

    cause: Cause
    currency: str
    amount: int


@dataclass
class PayoutSummary:
    batch: PayoutBatch
    paid: list[Payout] = field(default_factory=list)
    already: list[Payout] = field(default_factory=list)
    unverified: list[Waiting] = field(default_factory=list)
    below_threshold: int = 0
    files: list[Path] = field(default_factory=list)
    # Payouts of earlier batches whose statements were missing (a crash after the payout
    # committed and before its files were written): written by this run.
    recovered: list[Payout] = field(default_factory=list)


@dataclass(frozen=True)
class StatementLine:
    month: date
    source: str
    transfers: int
    amount: int


def batch_key(day: date) -> str:
    return f"{day:%Y-%m-%d}"


def payout_reference(day: date, cause_id: int, currency: str) -> str:
    """A reference the cause sees on its bank statement: the day, the cause and currency."""
    return f"KW-{day:%Y%m%d}-{cause_id}-{currency}"


def check_currency(currency: str | None) -> str | None:
    if currency is None:
        return None
    currency = currency.upper()
    if currency not in set(Market.CURRENCIES.values()):
        raise PayoutError(
            _("Kindwave pays causes in %(known)s, not %(currency)r.")
            % {"known": ", ".join(sorted(set(Market.CURRENCIES.values()))), "currency": currency}
        )
    return currency


def run_payouts(
    threshold: int | None = None,
    currency: str | None = None,
    out_dir: Path | None = None,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PayoutSummary:
    """Pay every verified cause whose balance (in ``currency``, or every currency) is at
    least ``threshold`` minor units (default ``settings.BILLING["PAYOUT_THRESHOLD_MINOR"]``)
    and write each payout's remittance statement to ``out_dir`` (default
    ``<data dir>/payouts/<batch>/``). Idempotent per UTC day: a cause already paid in
    today's batch is not paid again; each payout is atomic with its ledger transfer.
    Unverified causes are not paid (their money waits and is listed). Statements missing
    for payouts of earlier batches (a crash after the payout committed) are written too
    (``recovered``). Staff only."""
    if threshold is None:
        threshold = cast(int, settings.BILLING["PAYOUT_THRESHOLD_MINOR"])
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise PayoutError(
            _("The threshold is a whole number of minor units, at least 1, not %(t)r.")
            % {"t": threshold}
        )
    currency = check_currency(currency)
    day = (now or timezone.now()).astimezone(UTC).date()
    batch, _created = PayoutBatch.objects.get_or_create(
        key=batch_key(day), defaults={"threshold_minor": threshold}
    )
    summary = PayoutSummary(batch)
    accounts = selectors.recipient_accounts().filter(code__startswith=selectors.CAUSE_PREFIX)
    if currency:
        accounts = accounts.filter(currency=currency)
    candidates = list(accounts)
    causes = Cause.objects.in_bulk(
        [cause_id for a in candidates if (cause_id := chart.cause_id_of(a.code)) is not None]
    )
    # Causes paid in this batch by an earlier run today are not paid again today.
    earlier = batch.payouts.select_related("cause").order_by("pk")
    summary.already = list(earlier.filter(currency=currency) if currency else earlier)
    done_before = {(payout.cause_id, payout.currency) for payout in summary.already}
    for number, account in enumerate(candidates, start=1):
        cause = causes.get(chart.cause_id_of(account.code) or 0)
        owed = balance(account)
        if cause is None or (cause.pk, account.currency) in done_before:
            pass  # paid earlier today (or an account whose cause row is gone)
        elif owed < threshold:
            summary.below_threshold += owed > 0
        elif not cause.is_verified:
            summary.unverified.append(Waiting(cause, account.currency, owed))
        else:
            payout = pay_cause(batch, cause, account, threshold, day)
            if payout is not None:
                summary.paid.append(payout)
        if progress is not None:
            progress(number, len(candidates))
    for payout in [*summary.already, *summary.paid]:
        summary.files += write_statement(payout, statement_dir(batch, out_dir))
    for payout in missing_statements(batch, currency, out_dir):
        summary.files += write_statement(payout, statement_dir(payout.batch, out_dir))
        summary.recovered.append(payout)
    return summary


def statement_dir(batch: PayoutBatch, out_dir: Path | None = None) -> Path:
    """Where a batch's remittance statements go: ``out_dir`` when given, else
    ``<data dir>/payouts/<batch key>/``."""
    return out_dir or Path(settings.DATA_DIR) / "payouts" / batch.key


def statement_paths(payout: Payout, directory: Path) -> tuple[Path, Path]:
    return directory / f"{payout.reference}.csv", directory / f"{payout.reference}.pdf"


def missing_statements(
    current: PayoutBatch, currency: str | None = None, out_dir: Path | None = None
) -> list[Payout]:
    """Payouts of batches other than ``current`` (in ``currency``, or any) one of whose two
    statement files is missing where this run writes them: a crash between a payout's
    commit and its files leaves such a payout, and any later run finds it here."""
    earlier = Payout.objects.exclude(batch=current).select_related("batch", "cause").order_by("pk")
    if currency:
        earlier = earlier.filter(currency=currency)
    return [
        payout
        for payout in earlier
        if not all(
            path.exists() for path in statement_paths(payout, statement_dir(payout.batch, out_dir))
        )
    ]


def pay_cause(
    batch: PayoutBatch, cause: Cause, account: Account, threshold: int, day: date
) -> Payout | None:
    """Pay ``cause`` the whole balance of ``account`` in ``batch``: the ``Payout`` and its
    ledger transfer in one transaction, the account locked meanwhile. None when the
    balance fell under ``threshold`` since it was read."""
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=account.pk)
        amount = balance(locked)
        if amount < threshold:
            return None
        reference = payout_reference(day, cause.pk, locked.currency)
        payout = Payout.objects.create(
            batch=batch,
            cause=cause,
            currency=locked.currency,
            amount_minor=amount,
            reference=reference,
            transfer_key=f"payout:{reference}",
        )
        (bank,) = chart.ensure(chart.bank(locked.currency))
        ledger.transfer(
            payout.transfer_key,
            locked,
            bank,
            amount,
            locked.currency,
            "payout",
            f"payout {reference}",
        )
    return payout


def statement_lines(payout: Payout) -> list[StatementLine]:
    """What made ``payout``: the posted transfers into and out of the cause's account since
    its previous payout, net per month and source. They add up to the payout (checked)."""
    paid = Transfer.objects.select_related("debit_account").get(idempotency_key=payout.transfer_key)
    previous = selectors.last_transfer_out(paid.debit_account, "payout", before_id=paid.pk)
    flows = selectors.monthly_flows(
        Account.objects.filter(pk=paid.debit_account_id),
        after_id=previous.pk if previous is not None else None,
        before_id=paid.pk,
    )
    lines = [StatementLine(f.month, f.code, f.transfers, f.amount) for f in flows]
    if sum(line.amount for line in lines) != payout.amount_minor:
        raise PayoutError(
            _("The statement of %(reference)s does not add up to the payout.")
            % {"reference": payout.reference}
        )
    return lines


def write_statement(payout: Payout, directory: Path) -> list[Path]:
    """Write ``<reference>.csv`` and ``<reference>.pdf`` into ``directory`` (replaced
    atomically, so a re-run rewrites the same statements). Returns the two paths."""
    lines = statement_lines(payout)
    directory.mkdir(parents=True, exist_ok=True)
    csv_path, pdf_path = statement_paths(payout, directory)
    write_atomically(csv_path, _csv_bytes(payout, lines))
    write_atomically(pdf_path, _pdf_bytes(payout, lines))
    return [csv_path, pdf_path]


def _csv_bytes(payout: Payout, lines: Iterable[StatementLine]) -> bytes:
    with tempfile.SpooledTemporaryFile(mode="w+", newline="", encoding="utf-8") as buffer:
        writer = csv.writer(buffer)
        writer.writerow(
            ["reference", "cause", "month", "source", "transfers", "amount_minor", "currency"]
        )
        for line in lines:
            writer.writerow(
                [
                    payout.reference,
                    payout.cause.slug,
                    f"{line.month:%Y-%m}",
                    line.source,
                    line.transfers,
                    line.amount,
                    payout.currency,
                ]
            )
        writer.writerow(
            [
                payout.reference,
                payout.cause.slug,
                "",
                "total",
                "",
                payout.amount_minor,
                payout.currency,
            ]
        )
        buffer.seek(0)
        return buffer.read().encode("utf-8")


def statement_language(cause: Cause) -> str:
    """The language a cause reads its statement in: French for a French charity, English
    otherwise (the languages Kindwave speaks)."""
    return "fr" if cause.country == Cause.Country.FR else "en"


def _pdf_bytes(payout: Payout, lines: list[StatementLine]) -> bytes:
    from weasyprint import HTML  # heavy import: only when a statement is written

    language = statement_language(payout.cause)
    with translation.override(language):
        html = render_to_string(
            "causes/remittance.html",
            {
                "payout": payout,
                "language": language,
                "lines": [
                    {
                        "month": line.month,
                        "source": str(SOURCE_LABELS.get(line.source, line.source)),
                        "transfers": line.transfers,
                        "amount": major(line.amount, payout.currency),
                    }
                    for line in lines
                ],
                "total": major(payout.amount_minor, payout.currency),
            },
        )
    return bytes(HTML(string=html).write_pdf())
