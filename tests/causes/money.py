"""Helpers for the tests of the causes' money (pledge, payouts, transparency): lines with a
cause, and ledger transfers into a cause's account posted at a chosen instant. The bill
run and carrier billing are tested elsewhere; here their transfers are written directly
with ``ledger.services`` and the chart's accounts, as they will post them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from unittest import mock

from kindwave.accounts import services as accounts
from kindwave.accounts.models import User
from kindwave.billing.models import CarrierCharge, Invoice
from kindwave.billing.services import carrier
from kindwave.causes.models import Cause
from kindwave.ledger import chart
from kindwave.ledger import services as ledger
from kindwave.ledger.models import Transfer
from kindwave.lines import services as lines
from kindwave.lines.models import Line, Market
from tests.billing.factories import make_invoice
from tests.lines.conftest import iccid

PASSWORD = "correct-horse-battery-staple-42"


@contextmanager
def posted_at(moment: datetime) -> Iterator[None]:
    """Transfers written inside are stamped ``moment`` (their ``created_at``)."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


def subscriber(number: int) -> User:
    return accounts.create_subscriber(
        email=f"subscriber{number}@example.org",
        full_name=f"Subscriber {number}",
        password=PASSWORD,
        verified=True,
    )


def line_for(user: User, market: Market, cause: Cause | None, at: datetime) -> Line:
    """An active line of ``user`` from ``at``, giving to ``cause`` (None: the foundation)."""
    line = lines.order_line(user, market, "gb-starter", cause=cause, at=at)
    return lines.activate_line(line, at=at)


def recipient(cause: Cause | None, currency: str = "GBP") -> chart.AccountName:
    return chart.foundation(currency) if cause is None else chart.cause(cause.pk, currency)


def bill_share(
    key: str, cause: Cause | None, amount: int, at: datetime, currency: str = "GBP"
) -> Transfer:
    """The 10 % of a bill, as the bill run posts it: Dr cause share Cr the cause."""
    debit, credit = chart.ensure(chart.cause_share(currency), recipient(cause, currency))
    with posted_at(at):
        return ledger.transfer(key, debit, credit, amount, currency, "bill-share")


def donation(key: str, cause: Cause, amount: int, at: datetime, currency: str = "GBP") -> Transfer:
    """A carrier-billing donation confirmed: reserved then posted into the cause."""
    debit, credit = chart.ensure(chart.unbilled(currency), chart.cause(cause.pk, currency))
    with posted_at(at):
        pending = ledger.reserve(f"{key}:reserve", debit, credit, amount, currency, "donation")
        return ledger.post_pending(f"{key}:confirm", pending)


def more_stock(market: Market, count: int = 40) -> None:
    """``count`` more numbers and SIMs in the GB pool, after the ten of ``gb_stock``."""
    lines.add_number_block(market, "+447400100010", f"+4474001{10 + count - 1:05d}")
    lines.add_sims(market, iccid(202_600_000_010), "234307000000010", count)


def billed(
    line: Line, cause: Cause | None, net: int, at: datetime, cycle: str = "2026-09"
) -> Invoice:
    """``line``'s invoice of ``cycle`` recorded at ``at`` with its share to ``cause`` posted
    then, in the same instant, as the bill run writes both."""
    invoice = make_invoice(line, cycle, net_minor=net, cause=cause)
    Invoice.objects.filter(pk=invoice.pk).update(created_at=at)
    bill_share(f"bill:{cycle}:line:{line.pk}", cause, invoice.cause_share_minor, at)
    return invoice


def gift(user: User, cause: Cause, amount: int, at: datetime, key: str) -> CarrierCharge:
    """A donation charged to ``user``'s phone bill, reserved and confirmed at ``at``."""
    with posted_at(at):
        charge = carrier.reserve_charge(
            user,
            client_key=key,
            amount_minor=amount,
            currency="GBP",
            kind="donation",
            description="A gift",
            cause=cause,
            at=at,
        )
        return carrier.confirm_charge(user, charge.reference, at=at)
