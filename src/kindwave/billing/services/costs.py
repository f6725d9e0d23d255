"""Costs entered by operator staff for the profit pledge: the host network's wholesale
bill and other operating costs, per quarter and currency (docs/pledge.md).

A cost is posted to the ledger when it is recorded (Dr wholesale or operating costs,
Cr bank) and is never edited. A mistaken cost is cancelled by :func:`reverse_cost` (a
reversing ledger transfer) and entered again; neither is allowed once the quarter's
pledge in that currency is posted, because the pledge must stay reproducible from the
costs it was computed from. Recording, reversing and posting a pledge all hold the
currency's cost accounts locked (:func:`lock_costs`), so a cost saved while a pledge posts
is either counted by it or refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.db import transaction
from django.utils.translation import gettext as _

from kindwave.accounts.models import User
from kindwave.billing.models import OperatingCost, Pledge
from kindwave.ledger import chart, selectors
from kindwave.ledger import services as ledger
from kindwave.ledger.models import Account, Transfer
from kindwave.lines.models import Market

_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
#: Transfer codes of staff-entered costs, by kind (docs/billing-rules.md conventions).
COST_CODES = {
    OperatingCost.Kind.WHOLESALE: "cost-wholesale",
    OperatingCost.Kind.OPERATING: "cost-operating",
}


class CostError(Exception):
    """A cost that cannot be recorded or reversed; the message says why."""


@dataclass(frozen=True)
class Quarter:
    """A calendar quarter in UTC, ``YYYY-Qn``: from ``start`` (included) to ``end``."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        match = _QUARTER.match(text.strip())
        if match is None:
            raise CostError(
                _("%(period)r is not a quarter: expected YYYY-Qn, e.g. 2026-Q3.") % {"period": text}
            )
        year, number = int(match.group(1)), int(match.group(2))
        if year < 2000:
            raise CostError(_("%(period)r is too early a quarter.") % {"period": text})
        return cls(year, number)

    def __str__(self) -> str:
        return f"{self.year}-Q{self.number}"

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def next_first_day(self) -> date:
        if self.number == 4:
            return date(self.year + 1, 1, 1)
        return date(self.year, 3 * self.number + 1, 1)

    @property
    def start(self) -> datetime:
        return datetime(self.first_day.year, self.first_day.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the quarter (UTC)."""
        day = self.next_first_day
        return datetime(day.year, day.month, 1, tzinfo=UTC)

    @property
    def months(self) -> list[str]:
        """The quarter's three months, ``YYYY-MM``."""
        return [f"{self.year}-{3 * self.number - 2 + i:02d}" for i in range(3)]


def cost_key(cost: OperatingCost) -> str:
    return f"cost:{cost.pk}"


def lock_costs(currency: str) -> None:
    """Lock the currency's two cost accounts (wholesale, operating) until the caller's
    transaction ends, opening them if needed. Costs and the pledge take this lock before
    they check whether the pledge is posted, so each sees the other's committed work: a
    second writer waits here, then finds the pledge (or the cost) and acts on it. Must run
    inside ``transaction.atomic()``; always both accounts in id order (no deadlock)."""
    accounts = chart.ensure(chart.wholesale(currency), chart.operating_costs(currency))
    list(
        Account.objects.select_for_update()
        .filter(pk__in=[account.pk for account in accounts])
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _check_open(period: Quarter, currency: str) -> None:
    if Pledge.objects.filter(period=str(period), currency=currency).exists():
        raise CostError(
            _(
                "The pledge of %(period)s in %(currency)s is already posted: its costs can no "
                "longer change. Enter the cost in the current quarter."
            )
            % {"period": period, "currency": currency}
        )


def check_cost(period: str, kind: str, currency: str, amount_minor: object) -> Quarter:
    """Validate a cost before it is recorded (the admin's form calls this too); returns
    the quarter. Raises :class:`CostError` with the reason."""
    quarter = Quarter.parse(period)
    if kind not in OperatingCost.Kind.values:
        raise CostError(
            _("Unknown cost kind %(kind)r: expected %(kinds)s.")
            % {"kind": kind, "kinds": ", ".join(OperatingCost.Kind.values)}
        )
    if currency not in set(Market.CURRENCIES.values()):
        raise CostError(
            _("Kindwave bills in %(currencies)s, not %(currency)r.")
            % {
                "currencies": ", ".join(sorted(set(Market.CURRENCIES.values()))),
                "currency": currency,
            }
        )
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise CostError(
            _("A cost is a positive whole number of minor units (pence, cents), not %(amount)r.")
            % {"amount": amount_minor}
        )
    if amount_minor > ledger.MAX_AMOUNT:
        raise CostError(_("That amount is larger than the ledger accepts."))
    _check_open(quarter, currency)
    return quarter


def record_cost(
    period: str,
    kind: str,
    currency: str,
    amount_minor: int,
    description: str,
    by: User | None,
) -> OperatingCost:
    """Record a staff-entered cost of ``period`` (``YYYY-Qn``) and post it: Dr wholesale
    or operating costs, Cr bank, code ``cost-wholesale``/``cost-operating``, key
    ``cost:<id>``. Atomic: the row and its transfer are written together or not at all.
    Refused (``CostError``, nothing written) on bad input or when the quarter's pledge in
    that currency is already posted — checked again under :func:`lock_costs` in the
    transaction that writes, so a cost racing a pledge is counted by it or refused. Staff
    only (the admin and the CLI call it)."""
    quarter = check_cost(period, kind, currency, amount_minor)
    description = description.strip()
    if not description:
        raise CostError(_("Say what the cost is (a description)."))
    expense = (
        chart.wholesale(currency)
        if kind == OperatingCost.Kind.WHOLESALE
        else chart.operating_costs(currency)
    )
    with transaction.atomic():
        lock_costs(currency)
        _check_open(quarter, currency)  # again, under the lock: a pledge may have just posted
        debit, credit = chart.ensure(expense, chart.bank(currency))
        cost = OperatingCost.objects.create(
            period=str(quarter),
            kind=kind,
            currency=currency,
            amount_minor=amount_minor,
            description=description[:200],
            entered_by=by,
        )
        # The ledger's description is public (the feed): the kind and quarter, not staff text.
        ledger.transfer(
            cost_key(cost),
            debit,
            credit,
            amount_minor,
            currency,
            COST_CODES[OperatingCost.Kind(kind)],
            f"{kind} cost {quarter}",
        )
    return cost


def reverse_cost(cost: OperatingCost) -> Transfer:
    """Cancel a cost entered by mistake: a reversing ledger transfer (key
    ``cost:<id>:reversal``); the pledge then leaves it out. Idempotent (a cost already
    reversed returns its reversal). Refused once the quarter's pledge is posted (checked
    under :func:`lock_costs`, atomically with the reversal)."""
    with transaction.atomic():
        lock_costs(cost.currency)
        _check_open(Quarter.parse(cost.period), cost.currency)
        original = Transfer.objects.get(idempotency_key=cost_key(cost))
        return ledger.reverse(
            f"{cost_key(cost)}:reversal", original, f"cancelled cost {cost.period}"
        )


def is_reversed(cost: OperatingCost) -> bool:
    return bool(selectors.reversed_keys([cost_key(cost)]))


@dataclass(frozen=True)
class QuarterCosts:
    """A quarter's costs in one currency, reversed ones left out (minor units)."""

    wholesale: int
    operating: int


def costs_of(quarter: Quarter, currency: str) -> QuarterCosts:
    """Sum the quarter's costs in ``currency`` that were not reversed."""
    costs = list(OperatingCost.objects.filter(period=str(quarter), currency=currency))
    cancelled = selectors.reversed_keys([cost_key(cost) for cost in costs])
    totals = dict.fromkeys(OperatingCost.Kind.values, 0)
    for cost in costs:
        if cost_key(cost) not in cancelled:
            totals[cost.kind] += cost.amount_minor
    return QuarterCosts(totals[OperatingCost.Kind.WHOLESALE], totals[OperatingCost.Kind.OPERATING])
