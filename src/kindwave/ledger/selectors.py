"""Read-only queries over the ledger's transfers, for payouts and the public transparency
pages. Nothing here writes; every figure is summed in the database from
posted transfers, so it can be recomputed by anyone holding the same transfers.

A *recipient* is an account that holds money owed to a cause or to the foundation
(``cause:ID:C`` and ``foundation:fund:C``). The net amount a group of transfers moved into
a recipient is its credits minus its debits, so a reversal (or a payout, which debits the
recipient) counts negative and the sum of every net amount is the account's balance.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.db.models import Count, Max, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from kindwave.ledger.models import Account, Transfer, TransferState

#: Account code prefixes of the recipients: the causes' and the foundation's accounts.
CAUSE_PREFIX = "cause:"
FOUNDATION_PREFIX = "foundation:fund:"


@dataclass(frozen=True)
class Flow:
    """Net money moved into one account in one month by one transfer code."""

    month: date  # the first day of the month (UTC) the transfers were posted in
    account_code: str
    currency: str
    code: str
    amount: int  # credits minus debits, minor units
    transfers: int


def recipient_accounts() -> QuerySet[Account]:
    """Every cause and foundation account, by code."""
    return Account.objects.filter(
        Q(code__startswith=CAUSE_PREFIX) | Q(code__startswith=FOUNDATION_PREFIX)
    ).order_by("code")


def monthly_flows(
    accounts: QuerySet[Account] | None = None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    after_id: int | None = None,
    before_id: int | None = None,
) -> list[Flow]:
    """Net posted amounts into ``accounts`` (default: every recipient) per UTC month,
    account and transfer code, in that order. Optional bounds: posted at or after
    ``since`` and before ``until``; transfer id above ``after_id`` and below ``before_id``.
    Pending and voided transfers move no posted balance and are left out."""
    accounts = recipient_accounts() if accounts is None else accounts
    posted = Transfer.objects.filter(state=TransferState.POSTED)
    if since is not None:
        posted = posted.filter(created_at__gte=since)
    if until is not None:
        posted = posted.filter(created_at__lt=until)
    if after_id is not None:
        posted = posted.filter(pk__gt=after_id)
    if before_id is not None:
        posted = posted.filter(pk__lt=before_id)
    totals: dict[tuple[date, str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for side, sign in (("credit_account", 1), ("debit_account", -1)):
        rows = (
            posted.filter(**{f"{side}__in": accounts})
            .annotate(month=TruncMonth("created_at", tzinfo=UTC))
            .values("month", f"{side}__code", "currency", "code")
            .annotate(total=Sum("amount"), count=Count("pk"))
            .order_by()
        )
        for row in rows:
            month = row["month"]
            day = month.date() if isinstance(month, datetime) else month
            entry = totals[(day, row[f"{side}__code"], row["currency"], row["code"])]
            entry[0] += sign * row["total"]
            entry[1] += row["count"]
    return [
        Flow(month, account, currency, code, amount, count)
        for (month, account, currency, code), (amount, count) in sorted(totals.items())
    ]


def last_transfer_out(account: Account, code: str, before_id: int | None = None) -> Transfer | None:
    """The latest posted transfer of ``code`` debiting ``account`` (optionally with an id
    below ``before_id``): e.g. the previous payout of a cause."""
    found = Transfer.objects.filter(
        debit_account=account, code=code, state=TransferState.POSTED
    ).order_by("-pk")
    if before_id is not None:
        found = found.filter(pk__lt=before_id)
    return found.first()


def reversed_keys(keys: list[str]) -> set[str]:
    """Which of the transfers named by ``keys`` have been reversed."""
    return set(
        Transfer.objects.filter(reverses__idempotency_key__in=keys).values_list(
            "reverses__idempotency_key", flat=True
        )
    )


def ledger_version() -> str:
    """A short text that changes whenever a transfer is written, for caching what is
    computed from the ledger: the last transfer id, the number of transfers (a transfer
    with a lower id can commit after a higher one on PostgreSQL) and the latest time."""
    state = Transfer.objects.aggregate(last=Max("pk"), count=Count("pk"), at=Max("created_at"))
    at = state["at"].isoformat() if state["at"] is not None else "-"
    return f"{state['last'] or 0}.{state['count']}.{at}"
