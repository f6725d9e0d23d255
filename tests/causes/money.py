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
from kindwave.causes.models import Cause
from kindwave.ledger import chart
from kindwave.ledger import services as ledger
from kindwave.ledger.models import Transfer
from kindwave.lines import services as lines
from kindwave.lines.models import Line, Market

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
