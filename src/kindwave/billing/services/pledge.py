"""The profit pledge: a share of each quarter's profit (or revenue) given to causes, in
proportion to subscribers' choices, posted to the ledger (docs/pledge.md).

Per currency: revenue is the net (before VAT) of the invoices of the quarter's three
cycles (the months of service it covers), and the pledge waits until those three bill runs
are complete; wholesale and operating costs are the quarter's staff-entered costs not reversed; the
base is profit (revenue - wholesale - operating, never below 0) or revenue; the pledge is
``share`` % of the base, rounded half up to a minor unit. It is split across the causes
(and the foundation, for subscribers who chose none) by the largest-remainder method, so
the parts add up to the pledge exactly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from kindwave.billing.models import BillRun, Invoice, OperatingCost, Pledge, PledgeAllocation
from kindwave.billing.services.costs import CostError, Quarter, costs_of, lock_costs
from kindwave.ledger import chart
from kindwave.ledger import services as ledger
from kindwave.lines.models import CauseChoice, Line, LineState, LineStateChange

BASES = ("profit", "revenue")
RULES = ("subscribers", "shares")
#: Line states that count as a subscriber at the quarter's end.
SUBSCRIBED = frozenset({LineState.ACTIVE, LineState.SUSPENDED})

#: A recipient: a cause id, or None for the foundation.
Recipient = int | None


class PledgeError(Exception):
    """A pledge that cannot be computed or posted; the message says why."""


def split_largest_remainder(total: int, weights: Mapping[Recipient, int]) -> dict[Recipient, int]:
    """Split ``total`` minor units in proportion to ``weights`` so that the parts add up to
    ``total`` exactly (Hamilton's largest-remainder method).

    Each recipient first gets ``floor(total * weight / Σweights)``; the units left over go
    one each to the largest remainders ``(total * weight) mod Σweights``; ties go to the
    smaller id, the foundation (None) first. Recipients of weight 0 get 0. With no weight
    at all, everything goes to the foundation.
    """
    if total < 0:
        raise ValueError("total must be ≥ 0")
    if any(weight < 0 for weight in weights.values()):
        raise ValueError("weights must be ≥ 0")
    whole = sum(weights.values())
    if whole == 0:
        return {None: total} if total else {}
    parts = {key: total * weight // whole for key, weight in weights.items()}
    left = total - sum(parts.values())
    by_remainder = sorted(
        weights, key=lambda key: (-(total * weights[key] % whole), -1 if key is None else key)
    )
    for key in by_remainder[:left]:
        parts[key] += 1
    return parts


@dataclass(frozen=True)
class PledgeOptions:
    share_percent: Decimal
    base: str
    rule: str

    @classmethod
    def from_settings(
        cls, share: str | Decimal | int | None, base: str | None, rule: str | None
    ) -> PledgeOptions:
        """Options from the command line, defaults from ``settings.BILLING``; checked."""
        defaults = settings.BILLING
        raw = defaults["PLEDGE_SHARE_PERCENT"] if share is None else share
        try:
            percent = Decimal(str(raw))
        except InvalidOperation:
            raise PledgeError(_("The share %(share)r is not a number.") % {"share": raw}) from None
        if (
            not percent.is_finite()
            or not 0 < percent <= 100
            or percent != percent.quantize(Decimal("0.01"))
        ):
            raise PledgeError(
                _("The share is a percentage above 0 and at most 100, to two decimals, not %(s)s.")
                % {"s": raw}
            )
        base = base or str(defaults["PLEDGE_BASE"])
        rule = rule or str(defaults["PLEDGE_RULE"])
        if base not in BASES:
            raise PledgeError(_("The base is profit or revenue, not %(b)r.") % {"b": base})
        if rule not in RULES:
            raise PledgeError(_("The rule is subscribers or shares, not %(r)r.") % {"r": rule})
        return cls(percent, base, rule)


@dataclass(frozen=True)
class PledgeComputation:
    """What a quarter's pledge in one currency is, before it is posted."""

    period: str
    currency: str
    options: PledgeOptions
    revenue: int
    wholesale: int
    operating: int
    base_amount: int
    pledge: int
    subscribers: dict[Recipient, int] = field(default_factory=dict)
    weights: dict[Recipient, int] = field(default_factory=dict)
    parts: dict[Recipient, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PledgeOutcome:
    """One currency's pledge after ``post_pledge``: newly posted or already there."""

    pledge: Pledge
    created: bool


def pledge_amount(base_amount: int, share_percent: Decimal) -> int:
    """``share_percent`` % of ``base_amount`` minor units, rounded half up."""
    exact = Decimal(base_amount) * share_percent / 100
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def subscribers_at(currency: str, at: datetime) -> dict[Recipient, int]:
    """Lines billing in ``currency`` that are active or suspended at ``at``, counted by the
    cause in force at ``at`` (None: no cause, the foundation)."""
    counts: dict[Recipient, int] = defaultdict(int)
    lines = (
        Line.objects.filter(market__currency=currency, ordered_at__lte=at)
        .prefetch_related("state_changes", "cause_choices")
        .order_by("pk")
    )
    for line in lines.iterator(chunk_size=2_000):
        if LineStateChange.state_at(line.state_changes.all(), at) not in SUBSCRIBED:
            continue
        choice = CauseChoice.in_force(line.cause_choices.all(), at)
        counts[choice.cause_id if choice is not None else None] += 1
    return dict(counts)


def quarter_invoices(quarter: Quarter, currency: str | None = None) -> QuerySet[Invoice]:
    """The invoices of the quarter's three cycles (optionally in one currency): what its
    three bill runs issued, for the months of service the quarter covers."""
    invoices = Invoice.objects.filter(cycle__in=quarter.months)
    return invoices if currency is None else invoices.filter(currency=currency)


def bill_shares_in(quarter: Quarter, currency: str) -> dict[Recipient, int]:
    """The bill shares each recipient received from the invoices of the quarter's cycles
    (an invoice is never changed, so this is what those invoices posted)."""
    return {
        row["cause_id"]: row["total"]
        for row in quarter_invoices(quarter, currency)
        .values("cause_id")
        .annotate(total=Sum("cause_share_minor"))
        .order_by()
        if row["total"]
    }


def quarter_currencies(quarter: Quarter) -> list[str]:
    """Currencies with invoices of the quarter's cycles or costs entered for the quarter."""
    invoiced = quarter_invoices(quarter).values_list("currency", flat=True)
    costed = OperatingCost.objects.filter(period=str(quarter)).values_list("currency", flat=True)
    return sorted(set(invoiced) | set(costed))


def compute_pledge(quarter: Quarter, currency: str, options: PledgeOptions) -> PledgeComputation:
    """Compute (not post) the pledge of ``quarter`` in ``currency``. Reads only."""
    revenue = quarter_invoices(quarter, currency).aggregate(total=Sum("net_minor"))["total"] or 0
    costs = costs_of(quarter, currency)
    if options.base == "profit":
        base_amount = max(revenue - costs.wholesale - costs.operating, 0)
    else:
        base_amount = max(revenue, 0)
    amount = pledge_amount(base_amount, options.share_percent)
    # The quarter's last instant: a choice or a line change exactly at the next quarter's
    # first instant belongs to the next quarter.
    last_instant = quarter.end - timedelta(microseconds=1)
    subscribers = subscribers_at(currency, last_instant)
    weights = subscribers if options.rule == "subscribers" else bill_shares_in(quarter, currency)
    parts = split_largest_remainder(amount, weights) if amount else {}
    return PledgeComputation(
        period=str(quarter),
        currency=currency,
        options=options,
        revenue=revenue,
        wholesale=costs.wholesale,
        operating=costs.operating,
        base_amount=base_amount,
        pledge=amount,
        subscribers=subscribers,
        weights=dict(weights),
        parts=parts,
    )


def check_quarter(period: str, now: datetime | None = None) -> Quarter:
    """The quarter named by ``period``, refused unless it has ended and the bill runs of its
    three cycles are complete (its revenue is then final: a complete run is closed)."""
    try:
        quarter = Quarter.parse(period)
    except CostError as error:
        raise PledgeError(str(error)) from None
    now = now or timezone.now()
    if now < quarter.end:
        raise PledgeError(
            _("%(period)s has not ended yet (it ends %(end)s UTC): its profit is not known.")
            % {"period": quarter, "end": f"{quarter.end:%Y-%m-%d %H:%M}"}
        )
    complete = set(
        BillRun.objects.filter(cycle__in=quarter.months, state=BillRun.State.COMPLETE).values_list(
            "cycle", flat=True
        )
    )
    missing = [cycle for cycle in quarter.months if cycle not in complete]
    if missing:
        raise PledgeError(
            _(
                "The pledge of %(period)s needs the complete bill runs of its cycles "
                "%(cycles)s; not complete yet: %(missing)s. Run `kindwave billing run "
                "--cycle` for each first."
            )
            % {
                "period": quarter,
                "cycles": ", ".join(quarter.months),
                "missing": ", ".join(missing),
            }
        )
    return quarter


def recorded_pledge(period: str, currency: str) -> Pledge | None:
    """The pledge already recorded for ``period`` in ``currency``, if any."""
    return Pledge.objects.filter(period=period, currency=currency).first()


def pledge_key(period: str, currency: str) -> str:
    return f"pledge:{period}:{currency}"


def post_pledge(
    period: str,
    options: PledgeOptions,
    now: datetime | None = None,
) -> list[PledgeOutcome]:
    """Compute and post the pledge of ``period`` (``YYYY-Qn``) in every currency billed
    in the quarter's cycles or costed in the quarter. Per currency, atomically: a
    ``Pledge`` with its ``PledgeAllocation`` rows and one linked ledger transfer (key
    ``pledge:<period>:<CUR>``): Dr pledge expense Cr pledge fund, then Dr pledge fund Cr
    each cause or the foundation (code ``pledge``). A zero pledge is recorded with no
    transfer. Idempotent: a currency already posted is returned unchanged (the options
    given are then ignored). Refused (``PledgeError``, nothing written) for a bad period, a
    quarter not yet ended, or one whose three bill runs are not all complete. Staff only
    (the CLI calls it)."""
    quarter = check_quarter(period, now)
    return [post_currency(quarter, currency, options) for currency in quarter_currencies(quarter)]


def post_currency(quarter: Quarter, currency: str, options: PledgeOptions) -> PledgeOutcome:
    """Post the pledge of a checked ``quarter`` (see :func:`check_quarter`) in one currency,
    as :func:`post_pledge` does; idempotent. The currency's cost accounts stay locked from
    the check "already posted?" to the commit (:func:`costs.lock_costs`): a concurrent run
    waits, then returns the pledge this one posted; a cost saved meanwhile is counted (it
    committed first) or refused (it waited and found the pledge)."""
    period = str(quarter)
    try:
        with transaction.atomic():
            lock_costs(currency)
            existing = recorded_pledge(period, currency)
            if existing is not None:
                return PledgeOutcome(existing, created=False)
            return PledgeOutcome(_post(compute_pledge(quarter, currency, options)), created=True)
    except IntegrityError:
        # Another run inserted the same (period, currency) without the lock seeing it (it
        # cannot through post_currency; a direct write could): show what it recorded.
        existing = recorded_pledge(period, currency)
        if existing is None:
            raise
        return PledgeOutcome(existing, created=False)


def _post(computed: PledgeComputation) -> Pledge:
    currency = computed.currency
    with transaction.atomic():
        pledge = Pledge.objects.create(
            period=computed.period,
            currency=currency,
            base=computed.options.base,
            share=computed.options.share_percent / 100,
            rule=computed.options.rule,
            revenue_minor=computed.revenue,
            wholesale_minor=computed.wholesale,
            operating_minor=computed.operating,
            base_minor=computed.base_amount,
            pledge_minor=computed.pledge,
        )
        recipients = sorted(
            set(computed.parts) | set(computed.subscribers),
            key=lambda key: -1 if key is None else key,
        )
        PledgeAllocation.objects.bulk_create(
            PledgeAllocation(
                pledge=pledge,
                cause_id=recipient,
                subscribers=computed.subscribers.get(recipient, 0),
                amount_minor=computed.parts.get(recipient, 0),
            )
            for recipient in recipients
        )
        if computed.pledge:
            expense, fund = chart.ensure(
                chart.pledge_expense(currency), chart.pledge_fund(currency)
            )
            description = f"pledge {computed.period}"
            legs = [ledger.Leg(expense, fund, computed.pledge, currency, "pledge", description)]
            for recipient in recipients:
                amount = computed.parts.get(recipient, 0)
                if amount:
                    (account,) = chart.ensure(
                        chart.foundation(currency)
                        if recipient is None
                        else chart.cause(recipient, currency)
                    )
                    legs.append(ledger.Leg(fund, account, amount, currency, "pledge", description))
            ledger.transfer_linked(pledge_key(computed.period, currency), legs)
    return pledge
