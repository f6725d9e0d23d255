"""The public ledger feed and the totals on the transparency pages (docs/transparency.md).

Everything here is derived from one list, the feed: one row per (month, recipient,
source, currency) with the net amount the ledger's posted transfers of that source moved
into the recipient's account that month (UTC), how many transfers did it and, as a count
only, how many subscribers gave. The pages' totals are sums over those rows, so anyone
holding the feed recomputes every number on them, and a recipient's rows add up to its
ledger balance. No names, numbers or ids of people ever appear.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date

from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth
from django.utils.translation import gettext_lazy as _

from kindwave.causes.models import Cause
from kindwave.ledger import chart, selectors

FOUNDATION = "foundation"
#: What reaches a recipient, in the order the pages show it; payouts leave it.
INCOMING = ("bill-share", "pledge", "donation")
PAYOUT = "payout"
SOURCE_LABELS = {
    "bill-share": _("Bill shares"),
    "pledge": _("Profit pledge"),
    "donation": _("Donations"),
    "payout": _("Paid out"),
}
#: Subscriber counts below this are published as null (too few to show).
MIN_PUBLISHED_COUNT = 5
#: The colours of the chart's sources (contrast ≥ 3:1 on white, told apart by order too).
COLOURS = {"bill-share": "#1f6f8b", "pledge": "#b5651d", "donation": "#5b8c2a"}
OTHER_COLOUR = "#6b6f76"


@dataclass(frozen=True)
class FeedRow:
    """One row of the public ledger feed."""

    month: str  # YYYY-MM, UTC
    recipient: str  # a cause's slug or "foundation"
    source: str  # the ledger transfer code: bill-share, pledge, donation, payout…
    currency: str
    amount_minor: int  # net into the recipient: negative for payouts and reversals
    transfers: int
    subscribers: int | None  # distinct subscribers, or None (not applicable or < minimum)

    def as_dict(self) -> dict[str, object]:
        return {
            "month": self.month,
            "recipient": self.recipient,
            "source": self.source,
            "currency": self.currency,
            "amount_minor": self.amount_minor,
            "transfers": self.transfers,
            "subscribers": self.subscribers,
        }


FEED_COLUMNS = (
    "month",
    "recipient",
    "source",
    "currency",
    "amount_minor",
    "transfers",
    "subscribers",
)


def _month(value: object) -> str:
    if isinstance(value, date):
        return f"{value:%Y-%m}"
    raise TypeError(value)


def _recipient_names(codes: Iterable[str]) -> dict[str, str]:
    ids = {code: chart.cause_id_of(code) for code in codes}
    slugs = dict(
        Cause.objects.filter(pk__in=[i for i in ids.values() if i is not None]).values_list(
            "pk", "slug"
        )
    )
    return {
        code: FOUNDATION if cause_id is None else slugs.get(cause_id, f"cause-{cause_id}")
        for code, cause_id in ids.items()
    }


def _subscriber_counts() -> dict[tuple[str, int | None, str, str], int]:
    """Distinct subscribers per (month, cause id or None, source, currency): owners of the
    invoices dated that month that gave a bill share; owners of the carrier-billing
    donations confirmed that month; the subscribers a pledge posted that month counted."""
    from kindwave.billing.models import CarrierCharge, Invoice, PledgeAllocation

    counts: dict[tuple[str, int | None, str, str], int] = {}
    shares = (
        Invoice.objects.filter(cause_share_minor__gt=0)
        .annotate(month=TruncMonth("issued_on"))
        .values("month", "cause_id", "currency")
        .annotate(count=Count("owner", distinct=True))
        .order_by()
    )
    for row in shares:
        counts[(_month(row["month"]), row["cause_id"], "bill-share", row["currency"])] = row[
            "count"
        ]
    donations = (
        CarrierCharge.objects.filter(
            kind=CarrierCharge.Kind.DONATION, state=CarrierCharge.State.CONFIRMED
        )
        .annotate(month=TruncMonth("settled_at", tzinfo=UTC))
        .values("month", "cause_id", "currency")
        .annotate(count=Count("owner", distinct=True))
        .order_by()
    )
    for row in donations:
        month = row["month"].date()
        counts[(_month(month), row["cause_id"], "donation", row["currency"])] = row["count"]
    pledged = (
        PledgeAllocation.objects.annotate(month=TruncMonth("pledge__computed_at", tzinfo=UTC))
        .values("month", "cause_id", "pledge__currency")
        .annotate(count=Sum("subscribers"))
        .order_by()
    )
    for row in pledged:
        month = row["month"].date()
        key = (_month(month), row["cause_id"], "pledge", row["pledge__currency"])
        counts[key] = counts.get(key, 0) + (row["count"] or 0)
    return counts


def ledger_feed() -> list[FeedRow]:
    """Every row of the public ledger feed, by month, recipient, source and currency."""
    flows = selectors.monthly_flows()
    names = _recipient_names({flow.account_code for flow in flows})
    counts = _subscriber_counts()
    rows = []
    for flow in flows:
        cause_id = chart.cause_id_of(flow.account_code)
        count = counts.get((f"{flow.month:%Y-%m}", cause_id, flow.code, flow.currency))
        rows.append(
            FeedRow(
                month=f"{flow.month:%Y-%m}",
                recipient=names[flow.account_code],
                source=flow.code,
                currency=flow.currency,
                amount_minor=flow.amount,
                transfers=flow.transfers,
                subscribers=count if count is not None and count >= MIN_PUBLISHED_COUNT else None,
            )
        )
    return sorted(rows, key=lambda r: (r.month, r.recipient, r.source, r.currency))


# --- Totals for the pages ------------------------------------------------------------------


@dataclass
class MonthTotals:
    month: str
    incoming: dict[str, int]  # by source (INCOMING, then any other code)
    paid_out: int

    @property
    def received(self) -> int:
        return sum(self.incoming.values())

    @property
    def cells(self) -> list[str]:
        """The amounts by source, formatted, in the report's source order."""
        return [major(amount) for amount in self.incoming.values()]

    @property
    def shown(self) -> dict[str, str]:
        return {"received": major(self.received), "paid_out": major(self.paid_out)}


class Balance:
    """What was received and paid out, hence what is owed (minor units and shown)."""

    received: int
    paid_out: int

    @property
    def owed(self) -> int:
        return self.received - self.paid_out

    @property
    def shown(self) -> dict[str, str]:
        return {
            "received": major(self.received),
            "paid_out": major(self.paid_out),
            "owed": major(self.owed),
        }


@dataclass
class RecipientTotals(Balance):
    recipient: str
    name: str
    received: int
    paid_out: int


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass
class Chart:
    """An inline SVG stacked bar chart of what was received per month, by source."""

    width: int
    height: int
    plot_left: int
    plot_right: int
    bars: list[Bar] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)


@dataclass
class CurrencyReport(Balance):
    """What a recipient (or every recipient) received and was paid in one currency."""

    currency: str
    sources: list[str]
    months: list[MonthTotals]
    by_source: dict[str, int]
    received: int
    paid_out: int
    recipients: list[RecipientTotals] = field(default_factory=list)
    chart: Chart | None = None

    @property
    def source_labels(self) -> list[tuple[str, str]]:
        return [(s, str(SOURCE_LABELS.get(s, s))) for s in self.sources]

    @property
    def source_totals(self) -> list[tuple[str, str, str]]:
        """(label, formatted total, chart colour) per source: the legend and totals row."""
        return [
            (label, major(self.by_source[s]), COLOURS.get(s, OTHER_COLOUR))
            for s, label in self.source_labels
        ]


def reports(rows: Iterable[FeedRow], recipient: str | None = None) -> list[CurrencyReport]:
    """Per currency, the totals by month and source of ``recipient`` (a slug or
    "foundation"), or of every recipient when None — sums over the feed's rows only."""
    chosen = [r for r in rows if recipient is None or r.recipient == recipient]
    names = dict(Cause.objects.values_list("slug", "name"))
    names[FOUNDATION] = str(_("Kindwave foundation"))
    found = []
    for currency in sorted({r.currency for r in chosen}):
        mine = [r for r in chosen if r.currency == currency]
        extra = sorted({r.source for r in mine} - {*INCOMING, PAYOUT})
        sources = [*INCOMING, *extra]
        months: dict[str, MonthTotals] = {}
        people: dict[str, RecipientTotals] = {}
        for row in mine:
            month = months.setdefault(
                row.month, MonthTotals(row.month, dict.fromkeys(sources, 0), 0)
            )
            who = people.setdefault(
                row.recipient,
                RecipientTotals(row.recipient, names.get(row.recipient, row.recipient), 0, 0),
            )
            if row.source == PAYOUT:
                month.paid_out -= row.amount_minor
                who.paid_out -= row.amount_minor
            else:
                month.incoming[row.source] += row.amount_minor
                who.received += row.amount_minor
        ordered = [months[key] for key in sorted(months)]
        by_source = {s: sum(m.incoming[s] for m in ordered) for s in sources}
        report = CurrencyReport(
            currency=currency,
            sources=sources,
            months=ordered,
            by_source=by_source,
            received=sum(by_source.values()),
            paid_out=sum(m.paid_out for m in ordered),
            recipients=sorted(people.values(), key=lambda p: (-p.received, p.recipient)),
        )
        report.chart = build_chart(report)
        found.append(report)
    return found


def _nice_top(value: int) -> int:
    """A round axis maximum at or above ``value`` (1, 2 or 5 times a power of ten)."""
    top = 1
    while True:
        for step in (1, 2, 5):
            if step * top >= value:
                return step * top
        top *= 10


def build_chart(report: CurrencyReport) -> Chart:
    """Stacked bars, one per month, of the amounts received by source (negative nets, such
    as a month of reversals, draw nothing; the table beside the chart has every figure)."""
    width, height, left, right, top, bottom = 720, 260, 72, 712, 12, 228
    chart_ = Chart(width, height, left, right)
    if not report.months:
        return chart_
    highest = max(sum(max(v, 0) for v in m.incoming.values()) for m in report.months)
    axis_top = _nice_top(max(highest, 1))
    for step in range(5):
        value = axis_top * step // 4
        chart_.y_ticks.append((bottom - (bottom - top) * step / 4, major(value)))
    slot = (right - left) / len(report.months)
    bar_width = max(min(slot * 0.7, 48), 2)
    # A YYYY-MM label needs about 64 units: with many months, label every n-th only.
    label_every = max(1, math.ceil(64 / slot))
    for index, month in enumerate(report.months):
        x = left + slot * index + (slot - bar_width) / 2
        base = float(bottom)
        for source in report.sources:
            amount = max(month.incoming[source], 0)
            if not amount:
                continue
            height_ = (bottom - top) * amount / axis_top
            base -= height_
            chart_.bars.append(
                Bar(
                    round(x, 1),
                    round(base, 1),
                    round(bar_width, 1),
                    round(height_, 1),
                    COLOURS.get(source, OTHER_COLOUR),
                    f"{month.month} {SOURCE_LABELS.get(source, source)}: "
                    f"{major(amount)} {report.currency}",
                )
            )
        if index % label_every == 0:
            chart_.x_labels.append((round(x + bar_width / 2, 1), month.month))
    return chart_


def major(amount: int) -> str:
    """Minor units as major units with two decimals, e.g. ``1,234.50`` (every currency
    Kindwave bills in has two minor digits)."""
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(amount) // 100:,}.{abs(amount) % 100:02d}"
