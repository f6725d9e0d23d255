"""Recording a payment: the postings, partial and over-payments, fees, idempotency and
every refusal (nothing posted)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kindwave.billing.models import Invoice, Payment
from kindwave.billing.services.payments import PaymentError, record_payment, split_payment
from kindwave.ledger import chart
from kindwave.ledger import services as ledger
from kindwave.ledger.models import Account, Transfer, balance
from kindwave.lines.models import Line
from tests.billing.factories import make_invoice

pytestmark = pytest.mark.django_db

RECEIVED = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)


def issue(invoice: Invoice) -> Invoice:
    """Post what the bill run would for ``invoice`` (the factory posts nothing): the
    receivable against revenue, VAT and extras, so payments have something to settle."""
    currency = invoice.currency
    receivables, revenue, vat, unbilled = chart.ensure(
        chart.receivables(currency),
        chart.revenue(currency),
        chart.vat_payable(invoice.market.code, currency),
        chart.unbilled(currency),
    )
    legs = [
        ledger.Leg(receivables, account, amount, currency, code)
        for account, amount, code in (
            (revenue, invoice.net_minor, "invoice-revenue"),
            (vat, invoice.vat_minor, "invoice-vat"),
            (unbilled, invoice.extras_minor, "invoice-extras"),
        )
        if amount
    ]
    ledger.transfer_linked(f"bill:{invoice.cycle}:line:{invoice.line_id}", legs)
    return invoice


def posted(code: str) -> int:
    account = Account.objects.filter(code=code).first()
    return balance(account) if account is not None else 0


def pay(invoice: Invoice | str, ref: str = "e1", amount: int = 1_200, **extra: object) -> Payment:
    details: dict[str, object] = {
        "provider": "bank",
        "provider_ref": ref,
        "amount_minor": amount,
        "currency": "GBP",
        "received_at": RECEIVED,
    }
    details.update(extra)
    return record_payment(invoice, **details)  # type: ignore[arg-type]


def refused(*args: object, **kwargs: object) -> str:
    before = Transfer.objects.count(), Payment.objects.count()
    with pytest.raises(PaymentError) as error:
        pay(*args, **kwargs)  # type: ignore[arg-type]
    assert (Transfer.objects.count(), Payment.objects.count()) == before
    return str(error.value)


class TestRecordPayment:
    def test_paying_in_full_settles_the_receivable(self, active_line: Line) -> None:
        invoice = issue(make_invoice(active_line))

        payment = pay(invoice)

        invoice.refresh_from_db()
        assert (invoice.status, invoice.paid_minor, invoice.paid_at) == ("paid", 1_200, RECEIVED)
        assert payment.state == Payment.State.SUCCEEDED
        assert posted("operator:receivables:GBP") == 0
        assert posted("operator:bank:GBP") == 1_200
        codes = set(Transfer.objects.filter(group__isnull=False).values_list("code", flat=True))
        assert "payment" in codes
        assert ledger.verify().ok

    def test_partial_payments_add_up(self, active_line: Line) -> None:
        invoice = issue(make_invoice(active_line))

        pay(invoice, "e1", 500)
        invoice.refresh_from_db()
        assert (invoice.status, invoice.outstanding_minor) == ("open", 700)
        pay(invoice.number, "e2", 700)

        invoice.refresh_from_db()
        assert (invoice.status, invoice.paid_minor) == ("paid", 1_200)
        assert posted("operator:receivables:GBP") == 0

    def test_an_overpayment_goes_to_the_wallet(self, active_line: Line) -> None:
        invoice = issue(make_invoice(active_line))

        pay(invoice, amount=1_500)

        invoice.refresh_from_db()
        assert invoice.paid_minor == 1_200
        wallet = chart.wallet(active_line.owner_id, "GBP").code
        assert posted(wallet) == 300
        assert Transfer.objects.get(credit_account__code=wallet).code == "overpayment"
        assert ledger.verify().ok

    def test_paying_a_paid_invoice_credits_the_wallet(self, active_line: Line) -> None:
        invoice = issue(make_invoice(active_line))
        pay(invoice, "e1")

        pay(invoice, "e2")

        assert posted(chart.wallet(active_line.owner_id, "GBP").code) == 1_200

    def test_the_fee_is_the_operators_expense(self, active_line: Line) -> None:
        invoice = issue(make_invoice(active_line))

        pay(invoice, fee_minor=38, provider="card", provider_ref="pi_1")

        invoice.refresh_from_db()
        assert invoice.status == "paid"  # the fee is not taken from the payment
        assert posted("operator:payment-fees:GBP") == 38
        assert posted("operator:bank:GBP") == 1_200 - 38
        assert Transfer.objects.get(debit_account__code="operator:payment-fees:GBP").code == (
            "payment-fee"
        )

    def test_the_same_payment_again_changes_nothing(self, active_line: Line) -> None:
        invoice = issue(make_invoice(active_line))
        first = pay(invoice)
        transfers = Transfer.objects.count()

        assert pay(invoice).pk == first.pk
        assert Transfer.objects.count() == transfers

    def test_another_payment_under_the_same_reference_is_refused(self, active_line: Line) -> None:
        invoice = issue(make_invoice(active_line))
        pay(invoice)

        assert "already recorded" in refused(invoice, amount=1_000)

    def test_a_wrong_currency_is_refused(self, active_line: Line) -> None:
        invoice = issue(make_invoice(active_line))

        assert "is in GBP" in refused(invoice, currency="EUR")

    @pytest.mark.parametrize("amount", [0, -1_200, 12.0])
    def test_zero_negative_or_fractional_amounts_are_refused(
        self, active_line: Line, amount: object
    ) -> None:
        invoice = issue(make_invoice(active_line))

        assert "whole number" in refused(invoice, amount=amount)

    def test_a_negative_fee_is_refused(self, active_line: Line) -> None:
        invoice = issue(make_invoice(active_line))

        assert "fee" in refused(invoice, fee_minor=-1)

    def test_an_invoice_that_does_not_exist_is_refused(self, db) -> None:
        assert "no invoice GB-2026-424242" in refused("GB-2026-424242")

    def test_an_unknown_provider_is_refused(self, active_line: Line) -> None:
        invoice = issue(make_invoice(active_line))

        assert "Unknown payment provider" in refused(invoice, provider="cash")


@given(
    outstanding=st.integers(-100, 10**9),
    amount=st.integers(1, 10**9),
    fee=st.integers(0, 10**6),
)
def test_a_payments_parts_add_up_to_it(outstanding: int, amount: int, fee: int) -> None:
    split = split_payment(outstanding, amount, fee)

    assert split.applied_minor + split.excess_minor == amount
    assert 0 <= split.applied_minor <= max(outstanding, 0)
    assert split.excess_minor >= 0
    assert split.fee_minor == fee


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(amounts=st.lists(st.integers(1, 900), min_size=1, max_size=6))
def test_any_payments_keep_the_books_balanced(active_line: Line, amounts: list[int]) -> None:
    with transaction.atomic():
        invoice = issue(make_invoice(active_line))
        for number, amount in enumerate(amounts):
            pay(invoice, f"h{number}", amount)
        invoice.refresh_from_db()
        paid = sum(amounts)
        assert invoice.paid_minor == min(paid, invoice.total_minor)
        assert (invoice.status == "paid") == (paid >= invoice.total_minor)
        wallet = chart.wallet(active_line.owner_id, "GBP").code
        assert posted(wallet) == max(paid - invoice.total_minor, 0)
        assert ledger.verify().ok
        transaction.set_rollback(True)
