"""Writing off an unpaid invoice: the operator's bad debt, never the cause's share."""

from __future__ import annotations

import pytest

from kindwave.accounts.models import User
from kindwave.billing.models import Invoice
from kindwave.billing.services.writeoff import WriteOffError, write_off
from kindwave.causes.models import Cause
from kindwave.ledger import chart
from kindwave.ledger import services as ledger
from kindwave.ledger.models import Transfer
from kindwave.lines.models import Line
from tests.billing.factories import make_invoice
from tests.billing.test_payments import issue, pay, posted

pytestmark = pytest.mark.django_db


def share_to(cause: Cause, invoice: Invoice) -> None:
    """The 10 % the bill run gives the cause when it issues ``invoice``."""
    expense, payable = chart.ensure(
        chart.cause_share(invoice.currency), chart.cause(cause.pk, invoice.currency)
    )
    ledger.transfer(
        f"share:{invoice.number}", expense, payable, invoice.cause_share_minor, "GBP", "bill-share"
    )


class TestWriteOff:
    def test_the_outstanding_amount_becomes_bad_debt_and_the_cause_keeps_its_share(
        self, active_line: Line, staff: User, demo_causes: dict[str, Cause]
    ) -> None:
        wateraid = demo_causes["wateraid"]
        invoice = issue(make_invoice(active_line, cause=wateraid))
        share_to(wateraid, invoice)
        pay(invoice, amount=500)

        transfer = write_off(invoice, by=staff, reason="subscriber unreachable for a year")

        assert (transfer.amount, transfer.code) == (700, "writeoff")
        assert transfer.idempotency_key == f"writeoff:{invoice.number}"
        assert posted("operator:bad-debt:GBP") == 700
        assert posted("operator:receivables:GBP") == 0
        assert posted(f"cause:{wateraid.pk}:GBP") == 100  # the cause's 10 % stands
        invoice.refresh_from_db()
        assert (invoice.status, invoice.paid_minor) == ("open", 500)  # nothing else marked
        assert ledger.verify().ok

    def test_a_payment_after_the_write_off_is_a_recovery(
        self, active_line: Line, staff: User
    ) -> None:
        invoice = issue(make_invoice(active_line))
        write_off(invoice.number, by=staff, reason="gone")

        pay(invoice, amount=1_500)

        assert posted("operator:bad-debt:GBP") == 0  # recovered in full
        assert posted("operator:receivables:GBP") == 0  # never negative
        assert posted(f"wallet:{active_line.owner_id}:GBP") == 300
        invoice.refresh_from_db()
        assert invoice.status == "paid"
        assert ledger.verify().ok

    def test_refusals_post_nothing(self, active_line: Line, staff: User, alice: User) -> None:
        invoice = issue(make_invoice(active_line))
        before = Transfer.objects.count()

        with pytest.raises(WriteOffError, match="Only staff"):
            write_off(invoice, by=alice, reason="x")
        with pytest.raises(WriteOffError, match="reason"):
            write_off(invoice, by=staff, reason="  ")
        assert Transfer.objects.count() == before

        write_off(invoice, by=staff, reason="gone")
        with pytest.raises(WriteOffError, match="already written off"):
            write_off(invoice, by=staff, reason="gone")

    def test_a_paid_invoice_has_nothing_to_write_off(self, active_line: Line, staff: User) -> None:
        invoice = issue(make_invoice(active_line))
        pay(invoice)

        with pytest.raises(WriteOffError, match="nothing outstanding"):
            write_off(invoice, by=staff, reason="x")
