"""Issued invoices written straight to the database, for tests of what reads them (pages,
payments, dunning, transparency) without a bill run. The bill run has its own tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import transaction

from kindwave.billing.models import BillRun, Invoice, InvoiceLine, InvoiceSequence
from kindwave.causes.models import Cause
from kindwave.lines.models import Line


def make_invoice(
    line: Line,
    cycle: str = "2026-03",
    *,
    net_minor: int = 1_000,
    vat_minor: int = 200,
    extras_minor: int = 0,
    cause: Cause | None = None,
    language: str = "en",
) -> Invoice:
    """An open invoice of ``line`` for ``cycle`` with one plan-fee line (tax-inclusive
    prices: the line's amount is net + VAT) and, if ``extras_minor``, one donation line.
    No ledger postings."""
    year, month = (int(part) for part in cycle.split("-"))
    start = date(year, month, 1)
    issued_on = date(year + (month == 12), month % 12 + 1, 1)
    with transaction.atomic():
        run, _ = BillRun.objects.get_or_create(
            cycle=cycle, defaults={"state": BillRun.State.COMPLETE}
        )
        sequence, _ = InvoiceSequence.objects.get_or_create(market=line.market, year=issued_on.year)
        sequence.last_number += 1
        sequence.save(update_fields=["last_number"])
        invoice = Invoice.objects.create(
            number=f"{line.market.code}-{issued_on.year}-{sequence.last_number:06d}",
            market=line.market,
            year=issued_on.year,
            sequence=sequence.last_number,
            bill_run=run,
            cycle=cycle,
            line=line,
            owner=line.owner,
            customer_name=line.owner.full_name,
            msisdn=line.msisdn,
            language=language,
            issued_at=datetime(issued_on.year, issued_on.month, 1, tzinfo=UTC),
            issued_on=issued_on,
            due_on=issued_on + timedelta(days=14),
            period_start=start,
            period_end=issued_on - timedelta(days=1),
            currency=line.market.currency,
            tax_mode="inclusive",
            vat_rate=Decimal("0.2000"),
            net_minor=net_minor,
            vat_minor=vat_minor,
            extras_minor=extras_minor,
            credits_minor=0,
            total_minor=net_minor + vat_minor + extras_minor,
            cause=cause,
            cause_share_minor=(net_minor + 5) // 10,
        )
        InvoiceLine.objects.create(
            invoice=invoice,
            position=1,
            kind=InvoiceLine.Kind.PLAN_FEE,
            description="Plan fee",
            amount_minor=net_minor + vat_minor,
            vat_applies=True,
        )
        if extras_minor:
            InvoiceLine.objects.create(
                invoice=invoice,
                position=2,
                kind=InvoiceLine.Kind.DONATION,
                description="Donation",
                amount_minor=extras_minor,
                vat_applies=False,
            )
    return invoice
