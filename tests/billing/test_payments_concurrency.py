"""Payments racing for one invoice (PostgreSQL: real row locks; SQLite serialises every
writer): clicks on "Pay" from several tabs charge the card once, and staff applying one
bank entry twice at once apply it once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection, connections

from kindwave.accounts.models import User
from kindwave.billing.models import BankEntry, Invoice, Payment
from kindwave.billing.services.payments import (
    PaymentError,
    apply_bank_entry,
    import_bank_statement,
    pay_invoice_by_card,
)
from kindwave.ledger import services as ledger
from kindwave.lines.models import Line
from tests.billing import card_double
from tests.billing.factories import make_invoice
from tests.billing.test_payments import issue, posted

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serialises writers (BEGIN IMMEDIATE); row locks need PostgreSQL",
    ),
]

THREADS = 8


double = card_double.double  # the running double, configured


def race(work: object) -> list[str]:
    def attempt(thread: int) -> str:
        try:
            work(thread)  # type: ignore[operator]
            return "ok"
        except PaymentError as error:
            return type(error).__name__
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(attempt, range(THREADS)))


def test_clicks_from_several_tabs_charge_the_card_once(
    double: card_double.CardDouble, active_line: Line, alice: User
) -> None:
    invoice = issue(make_invoice(active_line))

    outcomes = race(
        lambda tab: pay_invoice_by_card(
            alice, invoice.number, token=card_double.SUCCEEDS, idempotency_key=f"tab-{tab}"
        )
    )

    assert outcomes.count("ok") == 1
    assert set(outcomes) - {"ok"} <= {"PaymentInProgress", "InvoiceAlreadyPaid"}
    assert double.counter == 1
    assert Payment.objects.filter(state="succeeded").count() == 1
    assert Invoice.objects.get(pk=invoice.pk).paid_minor == 1_200
    assert ledger.verify().ok


def test_one_bank_entry_applied_twice_at_once_is_applied_once(
    active_line: Line, staff: User, tmp_path: Path
) -> None:
    invoice = issue(make_invoice(active_line))
    statement = tmp_path / "s.csv"
    statement.write_text(
        "entry_ref,booking_date,amount,currency,remittance\nE-1,2026-04-02,12.00,GBP,oops\n"
    )
    import_bank_statement(statement)
    entry = BankEntry.objects.get()

    outcomes = race(lambda _staff: apply_bank_entry(entry.pk, invoice.number, by=staff))

    assert outcomes.count("ok") == 1
    assert Payment.objects.count() == 1
    assert posted("operator:suspense:GBP") == 0
    assert ledger.verify().ok
