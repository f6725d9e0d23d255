"""Reusable reads of bills, and the access check every bill page and endpoint goes through.

Every invoice is fetched through ``Invoice.objects.readable_by(user)``: a subscriber sees
the invoices of their own lines and nobody else's; another person's invoice is a 404,
exactly like a number that does not exist (staff included: they look through the admin).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date

from django.contrib.auth.models import AnonymousUser
from django.db.models import Min, QuerySet, Sum
from django.http import Http404

from kindwave.accounts.models import User
from kindwave.billing.models import CarrierCharge, Invoice
from kindwave.causes.models import Cause


def bills_of(user: User | AnonymousUser) -> QuerySet[Invoice]:
    """The person's invoices (all their lines'), newest first, with the cause each gave to
    (nothing for an anonymous visitor)."""
    return (
        Invoice.objects.readable_by(user)
        .select_related("cause")
        .order_by("-issued_on", "-year", "-sequence", "-pk")
    )


def get_bill_for(user: User | AnonymousUser, number: str) -> Invoice:
    """The invoice numbered ``number`` if it is one of ``user``'s, with its lines, market
    and cause; ``Http404`` for anyone else, as for a number that does not exist."""
    invoice = (
        Invoice.objects.readable_by(user)
        .filter(number=number)
        .select_related("cause", "market")
        .prefetch_related("lines")
        .first()
    )
    if invoice is None:
        raise Http404("No such bill")
    return invoice


@dataclass(frozen=True)
class Giving:
    """What a subscriber's money has given one cause (``cause`` None: the Kindwave
    foundation, which shares out the bill shares of subscribers who chose no cause) in one
    currency: the bills' 10 % and the donations charged to the bill, each since its first."""

    cause: Cause | None
    currency: str
    bills_minor: int
    bills_since: date | None  # the first day of the first billed period
    donations_minor: int
    donations_since: date | None  # the day of the first confirmed donation (UTC)

    @property
    def total_minor(self) -> int:
        return self.bills_minor + self.donations_minor


def giving_of(user: User | AnonymousUser) -> list[Giving]:
    """Per cause and currency, what ``user``'s bills have given (``Invoice.cause_share_minor``,
    as issued) and their confirmed carrier-billing donations; by currency, then the largest
    total first, then by name (the foundation last among equals). Three queries, whatever
    the number of invoices."""
    if not user.is_authenticated:
        return []
    shares = (
        Invoice.objects.readable_by(user)
        .values("cause_id", "currency")
        .annotate(amount=Sum("cause_share_minor"), since=Min("period_start"))
        .order_by()
    )
    donations = (
        CarrierCharge.objects.filter(
            owner_id=user.pk,
            kind=CarrierCharge.Kind.DONATION,
            state=CarrierCharge.State.CONFIRMED,
        )
        .values("cause_id", "currency")
        .annotate(amount=Sum("amount_minor"), since=Min("settled_at"))
        .order_by()
    )
    bills: dict[tuple[int | None, str], tuple[int, date | None]] = {
        (row["cause_id"], row["currency"]): (row["amount"] or 0, row["since"]) for row in shares
    }
    gifts: dict[tuple[int | None, str], tuple[int, date | None]] = {
        (row["cause_id"], row["currency"]): (
            row["amount"] or 0,
            row["since"].astimezone(UTC).date() if row["since"] is not None else None,
        )
        for row in donations
    }
    keys = bills.keys() | gifts.keys()
    causes = Cause.objects.in_bulk([cause_id for cause_id, _ in keys if cause_id is not None])
    result = []
    for key in keys:
        cause_id, currency = key
        bills_minor, bills_since = bills.get(key, (0, None))
        gifts_minor, gifts_since = gifts.get(key, (0, None))
        result.append(
            Giving(
                cause=causes.get(cause_id) if cause_id is not None else None,
                currency=currency,
                bills_minor=bills_minor,
                bills_since=bills_since,
                donations_minor=gifts_minor,
                donations_since=gifts_since,
            )
        )
    result.sort(
        key=lambda g: (g.currency, -g.total_minor, g.cause is None, g.cause.name if g.cause else "")
    )
    return result


@dataclass(frozen=True)
class MonthlyShare:
    """What a subscriber's bills of one month (cycle) gave, all causes together."""

    cycle: str
    currency: str
    amount_minor: int


def monthly_bill_shares(user: User | AnonymousUser, months: int = 12) -> list[MonthlyShare]:
    """The bill shares of ``user``'s latest ``months`` billed months, newest first (a
    subscriber with lines in two currencies has a row per currency). One query."""
    cycles = (
        Invoice.objects.readable_by(user)
        .values_list("cycle", flat=True)
        .distinct()
        .order_by("-cycle")[:months]
    )
    rows = (
        Invoice.objects.readable_by(user)
        .filter(cycle__in=cycles)
        .values("cycle", "currency")
        .annotate(amount=Sum("cause_share_minor"))
        .order_by("-cycle", "currency")
    )
    return [MonthlyShare(row["cycle"], row["currency"], row["amount"] or 0) for row in rows]
