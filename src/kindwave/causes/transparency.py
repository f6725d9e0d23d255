"""The public ledger feed and the totals on the transparency pages (docs/transparency.md).

Everything here is derived from one list, the feed: one row per (month, recipient,
source, currency) with the net amount the ledger's posted transfers of that source moved
into the recipient's account that month (UTC), how many transfers did it and, as a count
only, how many subscribers gave. The pages' totals are sums over those rows, so anyone
holding the feed recomputes every number on them. No names, numbers or ids of people ever
appear.

**The minimum-count rule.** Money that comes from subscribers (bill shares, donations) is
published for a recipient only when at least :data:`MIN_PUBLISHED_COUNT` distinct
subscribers stand behind it that month. Smaller amounts are pooled into one row per
month, source and currency whose recipient is :data:`OTHER`; a pool still too small takes
in the month's smallest published recipient, and a month too small as a whole is carried
into the next month's pool (held back while none has enough). The pledge and payouts are
the operator's and the causes' own money and are published exactly.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from babel.numbers import format_decimal
from django.core.cache import cache
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from kindwave.causes.models import Cause
from kindwave.ledger import chart, selectors
from kindwave.lib.money import minor_to_major

FOUNDATION = "foundation"
#: The recipient of the pooled rows: several recipients together, none shown apart.
OTHER = "other"
#: What reaches a recipient, in the order the pages show it; payouts leave it.
INCOMING = ("bill-share", "pledge", "donation")
PAYOUT = "payout"
#: Sources whose money comes from identifiable subscribers: published for a recipient only
#: with at least MIN_PUBLISHED_COUNT of them behind it (any other source is the operator's
#: or the cause's own money, published exactly).
FROM_SUBSCRIBERS = ("bill-share", "donation")
SOURCE_LABELS = {
    "bill-share": _("Bill shares"),
    "pledge": _("Profit pledge"),
    "donation": _("Donations"),
    "payout": _("Paid out"),
}
#: The fewest distinct subscribers behind any published amount from subscribers (and any
#: published count).
MIN_PUBLISHED_COUNT = 5
#: Why a recipient's amount of a month is not published apart.
FEWER = "fewer-subscribers"  # fewer than MIN_PUBLISHED_COUNT subscribers behind it
MERGED = "merged"  # enough, but pooled so that a smaller amount beside it is not shown
#: The colours of the chart's sources (contrast ≥ 3:1 on white, told apart by order too).
COLOURS = {"bill-share": "#1f6f8b", "pledge": "#b5651d", "donation": "#5b8c2a"}
OTHER_COLOUR = "#6b6f76"
#: The cache key of the computed feed; the ledger's state completes it.
FEED_CACHE_KEY = "kindwave:transparency:feed:v2:{version}"


@dataclass(frozen=True)
class FeedRow:
    """One row of the public ledger feed."""

    month: str  # YYYY-MM, UTC
    recipient: str  # a cause's slug, "foundation" or "other"
    source: str  # the ledger transfer code: bill-share, pledge, donation, payout…
    currency: str
    amount_minor: int  # net into the recipient: negative for payouts and reversals
    transfers: int
    subscribers: int | None  # distinct subscribers, or None (not applicable or < minimum)

    def as_dict(self) -> dict[str, object]:
        return {column: getattr(self, column) for column in FEED_COLUMNS}


FEED_COLUMNS = (
    "month",
    "recipient",
    "source",
    "currency",
    "amount_minor",
    "transfers",
    "subscribers",
)


@dataclass(frozen=True)
class Withheld:
    """A recipient's money of one month, source and currency that has no row of its own:
    it is in the ``other`` row of ``published_in`` (a month), or held back (None)."""

    month: str
    recipient: str
    source: str
    currency: str
    reason: str  # FEWER or MERGED
    published_in: str | None

    def as_dict(self) -> dict[str, object]:
        return {
            "month": self.month,
            "recipient": self.recipient,
            "source": self.source,
            "currency": self.currency,
            "reason": self.reason,
            "published_in": self.published_in,
        }


@dataclass(frozen=True)
class Feed:
    """The public feed: its rows, and which recipients' amounts are pooled or held back."""

    rows: list[FeedRow]
    withheld: list[Withheld]
    generated_at: datetime

    @property
    def held_back(self) -> list[Withheld]:
        return [w for w in self.withheld if w.published_in is None]


# --- Counting subscribers ------------------------------------------------------------------

#: (month, cause id or None, source, currency) → distinct subscribers.
Counts = dict[tuple[str, int | None, str, str], int]


def _month(value: object) -> str:
    if isinstance(value, datetime):
        return f"{value.astimezone(UTC):%Y-%m}"
    if isinstance(value, date):
        return f"{value:%Y-%m}"
    raise TypeError(value)


def _month_bounds(month: str) -> tuple[datetime, datetime]:
    year, number = (int(part) for part in month.split("-"))
    start = datetime(year, number, 1, tzinfo=UTC)
    return start, datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)


def _givers(source: str) -> list[QuerySet[Any]]:
    """Who gave money of ``source`` (a FROM_SUBSCRIBERS code): querysets of rows with
    ``giver`` (the person's user id), ``given_at`` (the instant whose UTC month is the month
    the money reached the recipient's account), ``cause_id`` and ``currency``. A person may
    appear in several of them: count distinct givers across all of them together.

    * bill shares: the invoices with a share, by the month they were recorded (the bill run
      writes an invoice and its share's transfer in one transaction);
    * donations: the confirmed carrier-billing donations, by the month they were confirmed,
      and the completed community donations of every method — card ones by the month they
      were completed (completion and its transfer are one transaction), phone-bill ones by
      their carrier charge's confirmation, as above (so the same gift falls in one month).
    """
    from kindwave.billing.models import CarrierCharge, Invoice
    from kindwave.community.models import Donation

    if source == "bill-share":
        return [
            Invoice.objects.filter(cause_share_minor__gt=0).annotate(
                giver=F("owner"), given_at=F("created_at")
            )
        ]
    return [
        CarrierCharge.objects.filter(
            kind=CarrierCharge.Kind.DONATION, state=CarrierCharge.State.CONFIRMED
        ).annotate(giver=F("owner"), given_at=F("settled_at")),
        Donation.objects.filter(state=Donation.State.COMPLETED).annotate(
            giver=F("donor"),
            given_at=Coalesce("carrier_charge__settled_at", "completed_at"),
        ),
    ]


def _subscriber_counts() -> Counts:
    """Distinct subscribers per (month, cause id or None, source, currency): see
    :func:`_givers` for bill shares and donations (a person behind several of its rows, or
    who gave both by card and by phone, counts once); for the pledge, the subscribers its
    allocations counted, by the month it was computed."""
    from kindwave.billing.models import PledgeAllocation

    counts: Counts = {}
    for source in FROM_SUBSCRIBERS:
        by_month = [
            givers.annotate(month=TruncMonth("given_at", tzinfo=UTC)).order_by()
            for givers in _givers(source)
        ]
        if len(by_month) == 1:  # one table: the database counts
            rows = (
                by_month[0]
                .values("month", "cause_id", "currency")
                .annotate(count=Count("giver", distinct=True))
            )
            for row in rows:
                key = (_month(row["month"]), row["cause_id"], source, row["currency"])
                counts[key] = row["count"]
            continue
        # Several tables: their UNION drops a person found in more than one.
        people = functools.reduce(
            lambda union, other: union.union(other),
            [rows.values_list("month", "cause_id", "currency", "giver") for rows in by_month],
        )
        for month, cause_id, currency, _giver in people:
            key = (_month(month), cause_id, source, currency)
            counts[key] = counts.get(key, 0) + 1
    pledged = (
        PledgeAllocation.objects.annotate(month=TruncMonth("pledge__computed_at", tzinfo=UTC))
        .values("month", "cause_id", "pledge__currency")
        .annotate(count=Sum("subscribers"))
        .order_by()
    )
    for row in pledged:
        key = (_month(row["month"]), row["cause_id"], "pledge", row["pledge__currency"])
        counts[key] = counts.get(key, 0) + (row["count"] or 0)
    return counts


@dataclass
class Part:
    """One recipient's money of one month from one source, before it is published."""

    month: str
    cause_id: int | None
    recipient: str
    amount: int
    transfers: int
    subscribers: int


def _distinct_subscribers(source: str, currency: str, parts: list[Part]) -> int:
    """How many distinct subscribers stand behind ``parts`` together. Exact when it may
    reach the minimum; a sum below the minimum is returned as it is (an upper bound)."""
    upper = sum(part.subscribers for part in parts)
    if upper < MIN_PUBLISHED_COUNT or len(parts) == 1:
        return upper
    which = Q()
    for part in parts:
        start, end = _month_bounds(part.month)
        recipient = Q(cause__isnull=True) if part.cause_id is None else Q(cause_id=part.cause_id)
        which |= Q(given_at__gte=start, given_at__lt=end) & recipient
    people = [
        givers.filter(which, currency=currency).order_by().values("giver")
        for givers in _givers(source)
    ]
    if len(people) == 1:
        return people[0].distinct().count()
    return functools.reduce(lambda union, other: union.union(other), people).count()


def pool_parts(
    source: str,
    currency: str,
    parts: Iterable[Part],
    distinct: Callable[[list[Part]], int],
) -> tuple[list[FeedRow], list[Withheld]]:
    """Publish one source's money from subscribers in one currency, month by month, under
    the minimum-count rule (module docstring; docs/transparency.md). ``distinct(parts)``
    counts the distinct subscribers behind several parts together (exactly, at least when
    the count may reach the minimum). Every amount ends in exactly one published row or
    in a held-back entry."""
    by_month: dict[str, list[Part]] = defaultdict(list)
    for part in parts:
        by_month[part.month].append(part)
    rows: list[FeedRow] = []
    withheld: list[Withheld] = []
    carried: list[Part] = []
    for month in sorted(by_month):
        apart = [p for p in by_month[month] if p.subscribers >= MIN_PUBLISHED_COUNT]
        pooled = carried + [p for p in by_month[month] if p.subscribers < MIN_PUBLISHED_COUNT]
        merged: list[Part] = []
        if pooled:
            count = distinct(pooled)
            if count < MIN_PUBLISHED_COUNT and apart:
                # Not enough together: the month's smallest recipient shown apart joins them.
                merged = [min(apart, key=lambda p: (p.subscribers, p.amount, p.recipient))]
                apart.remove(merged[0])
                count = distinct(pooled + merged)
            if count >= MIN_PUBLISHED_COUNT:
                together = pooled + merged
                rows.append(
                    FeedRow(
                        month,
                        OTHER,
                        source,
                        currency,
                        sum(p.amount for p in together),
                        sum(p.transfers for p in together),
                        count,
                    )
                )
                withheld += [
                    Withheld(p.month, p.recipient, source, currency, reason, month)
                    for group, reason in ((pooled, FEWER), (merged, MERGED))
                    for p in group
                ]
                carried = []
            else:  # the whole month is too small: it waits for the next month's pool
                carried = pooled
        rows += [
            FeedRow(month, p.recipient, source, currency, p.amount, p.transfers, p.subscribers)
            for p in apart
        ]
    withheld += [Withheld(p.month, p.recipient, source, currency, FEWER, None) for p in carried]
    return rows, withheld


# --- The feed ------------------------------------------------------------------------------


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


def build_feed() -> Feed:
    """Compute the public feed from the ledger (uncached; see :func:`public_feed`)."""
    flows = selectors.monthly_flows()
    names = _recipient_names({flow.account_code for flow in flows})
    counts = _subscriber_counts()
    rows: list[FeedRow] = []
    withheld: list[Withheld] = []
    from_subscribers: dict[tuple[str, str], list[Part]] = defaultdict(list)
    for flow in flows:
        month = f"{flow.month:%Y-%m}"
        cause_id = chart.cause_id_of(flow.account_code)
        count = counts.get((month, cause_id, flow.code, flow.currency), 0)
        if flow.code in FROM_SUBSCRIBERS:
            from_subscribers[(flow.code, flow.currency)].append(
                Part(month, cause_id, names[flow.account_code], flow.amount, flow.transfers, count)
            )
            continue
        rows.append(
            FeedRow(
                month=month,
                recipient=names[flow.account_code],
                source=flow.code,
                currency=flow.currency,
                amount_minor=flow.amount,
                transfers=flow.transfers,
                subscribers=count if count >= MIN_PUBLISHED_COUNT else None,
            )
        )
    for (source, currency), parts in sorted(from_subscribers.items()):
        published, pooled = pool_parts(
            source,
            currency,
            parts,
            functools.partial(_distinct_subscribers, source, currency),
        )
        rows += published
        withheld += pooled
    return Feed(
        rows=sorted(rows, key=lambda r: (r.month, r.recipient, r.source, r.currency)),
        withheld=sorted(withheld, key=lambda w: (w.month, w.recipient, w.source, w.currency)),
        generated_at=timezone.now(),
    )


def public_feed() -> Feed:
    """The public feed, computed once per state of the ledger and kept in Django's cache
    (every movement of money adds a transfer, which changes the key)."""
    key = FEED_CACHE_KEY.format(version=selectors.ledger_version())
    feed = cache.get(key)
    if not isinstance(feed, Feed):
        feed = build_feed()
        cache.set(key, feed, timeout=None)
    return feed


def ledger_feed() -> list[FeedRow]:
    """Every published row of the public ledger feed."""
    return public_feed().rows


# --- Totals for the pages ------------------------------------------------------------------


@dataclass
class MonthTotals:
    month: str
    incoming: dict[str, int]  # by source (INCOMING, then any other code)
    paid_out: int
    # Sources whose amount for the page's recipient is withheld this month, and why.
    withheld: dict[str, str] = field(default_factory=dict)

    @property
    def received(self) -> int:
        return sum(self.incoming.values())

    @property
    def cells(self) -> list[str]:
        """The amounts by source, formatted, in the report's source order; a withheld
        amount says why instead."""
        return [
            str(WITHHELD_LABELS[self.withheld[source]]) % {"minimum": MIN_PUBLISHED_COUNT}
            if source in self.withheld and not amount
            else major(amount)
            for source, amount in self.incoming.items()
        ]

    @property
    def shown(self) -> dict[str, str]:
        return {"received": major(self.received), "paid_out": major(self.paid_out)}


WITHHELD_LABELS = {
    FEWER: _("fewer than %(minimum)s supporters this month"),
    MERGED: _("counted with other causes this month"),
}


class Balance:
    """What was received and paid out, hence what is owed (minor units and shown). When
    some of the money received is withheld (counted with other causes, or held back),
    what is owed cannot be told from the published figures and is not shown."""

    received: int
    paid_out: int
    withheld: bool

    @property
    def owed(self) -> int:
        return self.received - self.paid_out

    @property
    def shown(self) -> dict[str, str | None]:
        return {
            "received": major(self.received),
            "paid_out": major(self.paid_out),
            "owed": None if self.withheld else major(self.owed),
        }


@dataclass
class RecipientTotals(Balance):
    recipient: str
    name: str
    received: int
    paid_out: int
    withheld: bool = False


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
    # Some money of this currency is not in the figures: the recipient's own (on a cause's
    # page) is counted with other causes, or (on the operator's page) some is held back.
    withheld: bool = False

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


def recipient_label(recipient: str, names: dict[str, str]) -> str:
    if recipient == FOUNDATION:
        return str(_("Kindwave foundation"))
    if recipient == OTHER:
        return str(_("Other causes together"))
    return names.get(recipient, recipient)


def _month_totals(months: dict[str, MonthTotals], key: str, sources: list[str]) -> MonthTotals:
    return months.setdefault(key, MonthTotals(key, dict.fromkeys(sources, 0), 0))


def reports(feed: Feed, recipient: str | None = None) -> list[CurrencyReport]:
    """Per currency, the totals by month and source of ``recipient`` (a slug or
    "foundation"), or of every recipient when None — sums over the feed's rows only. On a
    recipient's report, months where its money is withheld say so instead of an amount."""
    chosen = [r for r in feed.rows if recipient is None or r.recipient == recipient]
    if recipient is None:
        hidden = feed.held_back
    else:
        hidden = [w for w in feed.withheld if w.recipient == recipient]
    names = dict(Cause.objects.values_list("slug", "name"))
    found = []
    for currency in sorted({r.currency for r in chosen} | {w.currency for w in hidden}):
        mine = [r for r in chosen if r.currency == currency]
        mine_hidden = [w for w in hidden if w.currency == currency]
        extra = sorted({r.source for r in mine} - {*INCOMING, PAYOUT})
        sources = [*INCOMING, *extra]
        months: dict[str, MonthTotals] = {}
        people: dict[str, RecipientTotals] = {}

        for row in mine:
            month = _month_totals(months, row.month, sources)
            who = people.setdefault(
                row.recipient,
                RecipientTotals(row.recipient, recipient_label(row.recipient, names), 0, 0),
            )
            if row.source == PAYOUT:
                month.paid_out -= row.amount_minor
                who.paid_out -= row.amount_minor
            else:
                month.incoming[row.source] += row.amount_minor
                who.received += row.amount_minor
        if recipient is not None:
            for w in mine_hidden:
                _month_totals(months, w.month, sources).withheld[w.source] = w.reason
        for w in feed.withheld:
            if w.currency == currency and w.recipient in people:
                people[w.recipient].withheld = True
        if OTHER in people:
            people[OTHER].withheld = True  # its money belongs to several, some paid out
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
            withheld=bool(mine_hidden),
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


def number_locale(language: str | None = None) -> str:
    """The Babel locale whose number format a reader of ``language`` (default: the active
    language) expects: French ``1 234,50``, English ``1,234.50``."""
    language = language or get_language() or "en"
    return "fr_FR" if language.startswith("fr") else "en_GB"


def major(amount: int, currency: str = "GBP", language: str | None = None) -> str:
    """Minor units as major units for a reader of ``language`` (default: the active one),
    without the currency: ``1,234.50`` in English, ``1 234,50`` in French. Every currency
    Kindwave bills in has two minor digits. Files for machines (CSV, JSON) carry minor
    units instead."""
    return format_decimal(
        minor_to_major(amount, currency), format="#,##0.00", locale=number_locale(language)
    )


def percent(value: Decimal, language: str | None = None) -> str:
    """A percentage with two decimals in the reader's format (``25.00``, ``25,00``)."""
    return format_decimal(value, format="0.00", locale=number_locale(language))
