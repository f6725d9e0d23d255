"""The demo operator's money: bill the last complete month, let most subscribers pay by
bank transfer, give alice a donation charged to her phone bill, pay the causes that reached
the threshold, and verify the ledger. Every step is idempotent, as the demo must be.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from kindwave.accounts.models import User
from kindwave.billing.models import BankStatement, BillRun, Invoice
from kindwave.billing.services import carrier
from kindwave.billing.services.billrun import BillRunError, run_bill_run
from kindwave.billing.services.payments import import_bank_statement
from kindwave.causes import payouts
from kindwave.ledger import services as ledger
from kindwave.lib.money import format_money
from kindwave.lines import selectors as lines_selectors
from kindwave.lines.models import CauseChoice

# Who does not pay in the demo: bob (so that a reminder and a suspension can be seen) and
# one simulated subscriber in UNPAID_ONE_IN.
UNPAID_EMAILS = frozenset({"bob@example.org"})
UNPAID_ONE_IN = 12
# Alice gives £5 to her cause through her phone bill, in the current month.
ALICE_DONATION_MINOR = 500


def last_complete_cycle(now: datetime) -> str:
    first_of_month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return f"{first_of_month - timedelta(days=1):%Y-%m}"


def bill_demo_month(say: Callable[[str], None]) -> None:
    """Bill the last complete cycle (its usage was ingested and rated just before)."""
    now = timezone.now()
    cycle = last_complete_cycle(now)
    if BillRun.objects.filter(cycle__gt=cycle).exists():
        return
    try:
        summary = run_bill_run(cycle)
    except BillRunError as error:
        say(f"Bill run {cycle} not made: {error}")
        return
    totals = ", ".join(
        f"{t.invoices:,} invoices {format_money(t.total_minor, currency)}"
        for currency, t in sorted(summary.totals.items())
    )
    done = "already complete" if summary.already_complete else "done"
    say(f"Bill run {cycle} {done}: {totals or 'no invoices'}")
    pay_by_bank_transfer(cycle, say)


def pay_by_bank_transfer(cycle: str, say: Callable[[str], None]) -> None:
    """Write the bank statement of the demo's payments (once) and import it."""
    path = settings.DATA_DIR / "demo" / f"bank-statement-{cycle}.csv"
    if path.exists() and BankStatement.objects.filter(source_name=path.name).exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    invoices = (
        Invoice.objects.filter(cycle=cycle, status=Invoice.Status.OPEN)
        .exclude(owner__email__in=UNPAID_EMAILS)
        .order_by("number")
        .values_list("pk", "number", "total_minor", "currency", "issued_on", "due_on")
    )
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["entry_ref", "booking_date", "amount", "currency", "remittance"])
        for pk, number, total, currency, issued_on, due_on in invoices:
            if total <= 0 or pk % UNPAID_ONE_IN == 0:
                continue
            booked = min(issued_on + timedelta(days=pk % 10), due_on)
            writer.writerow(
                [
                    f"DEMO-{number}",
                    booked.isoformat(),
                    f"{total // 100}.{total % 100:02d}",
                    currency,
                    f"Kindwave {number}",
                ]
            )
    summary = import_bank_statement(path)
    say(
        f"Bank statement {path.name}: {summary.matched:,} invoices paid, "
        f"{len(summary.unmatched):,} entries left for staff"
    )


def alice_gives_by_phone(say: Callable[[str], None]) -> None:
    """Alice's donation to her cause, charged to her phone bill (reserved, then confirmed)."""
    alice = User.objects.filter(email="alice@example.org").first()
    line = lines_selectors.lines_of(alice).first() if alice is not None else None
    if alice is None or line is None:
        return
    choice = CauseChoice.in_force(line.cause_choices.all(), timezone.now())
    if choice is None or choice.cause is None:
        return
    month = f"{timezone.now():%Y-%m}"
    charge = carrier.reserve_charge(
        alice,
        client_key=f"demo-donation-{month}",
        amount_minor=ALICE_DONATION_MINOR,
        currency=line.market.currency,
        kind="donation",
        description=f"Donation to {choice.cause.name}",
        cause=choice.cause,
    )
    if charge.state == charge.State.RESERVED:
        charge = carrier.confirm_charge(alice, charge.reference)
        say(
            f"Alice gave {format_money(charge.amount_minor, charge.currency)} to "
            f"{choice.cause.name} on her phone bill"
        )


def pay_causes_and_verify(say: Callable[[str], None]) -> None:
    summary = payouts.run_payouts()
    if summary.paid:
        say(f"Payouts: {len(summary.paid)} causes paid, statements in {summary.files[0].parent}")
    result = ledger.verify()
    ledger.record_verification(result)
    say("Ledger verified" if result.ok else "THE LEDGER DOES NOT VERIFY (kindwave ledger verify)")


def run_demo_money(say: Callable[[str], None]) -> None:
    bill_demo_month(say)
    alice_gives_by_phone(say)
    pay_causes_and_verify(say)
