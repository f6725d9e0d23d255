"""The invoice of one line for one cycle, computed from plain facts: no database, no clock.

:func:`compute_invoice` is the whole rule book of docs/billing-rules.md ("The invoice"):
the monthly fee prorated by UTC days, rated usage one line per charge line, carrier-billing
one-offs outside VAT, VAT once per invoice, the subscriber's wallet credit, and the
cause's share of the net. Amounts are integers in minor units; every rounding is named
where it happens, so the parts always add up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

from django.utils import translation
from django.utils.translation import gettext as _

from kindwave.lines.models import CatalogVersion, LineState
from kindwave.usage.services import ChargeLine, cycle_bounds, to_minor_units

_IN_SERVICE = frozenset({LineState.ACTIVE, LineState.SUSPENDED})
_DAY = timedelta(days=1)
# The instant just before a boundary: the last moment of a day or of the service.
_EPSILON = timedelta(microseconds=1)
INCLUSIVE, EXCLUSIVE = CatalogVersion.TaxMode.INCLUSIVE, CatalogVersion.TaxMode.EXCLUSIVE


class InvoiceKind:
    """The kinds of invoice line (the values of ``InvoiceLine.Kind``)."""

    PLAN_FEE, USAGE, PURCHASE, DONATION, CREDIT = (
        "plan_fee", "usage", "purchase", "donation", "credit",
    )  # fmt: skip


# --- Facts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogTerms:
    """What the invoice needs of one catalogue version of the line's market."""

    effective_from: datetime
    tax_mode: str
    vat_rate: Decimal
    fees: Mapping[str, int]  # plan code → monthly fee, minor units
    plan_names: Mapping[str, tuple[str, str]]  # plan code → (English, French)
    class_names: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    zone_names: Mapping[str, tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class CarrierFact:
    """A confirmed carrier-billing charge of the cycle, not yet invoiced."""

    charge_id: int
    kind: str  # "purchase" | "donation"
    description: str
    amount_minor: int
    cause_id: int | None = None


@dataclass(frozen=True)
class LineFacts:
    """Everything known about one line that its invoice depends on."""

    line_id: int
    currency: str
    language: str
    # (at, to_state) in the order they happened.
    states: Sequence[tuple[datetime, str]]
    # (valid_from, valid_to or None, plan code).
    subscriptions: Sequence[tuple[datetime, datetime | None, str]]
    # (valid_from, cause id or None for the foundation).
    causes: Sequence[tuple[datetime, int | None]]
    charges: Sequence[ChargeLine] = ()
    carrier: Sequence[CarrierFact] = ()
    wallet_minor: int = 0  # credit available in the subscriber's wallet


# --- The draft ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DraftLine:
    kind: str
    description: str
    amount_minor: int
    vat_applies: bool
    quantity: int = 1
    unit: str = ""
    period_start: date | None = None
    period_end: date | None = None


@dataclass(frozen=True)
class InvoiceDraft:
    """An invoice before it has a number. ``total = net + vat + extras + credits``;
    ``cause_share_minor + operator_keeps_minor == net_minor``."""

    line_id: int
    currency: str
    language: str
    tax_mode: str
    vat_rate: Decimal
    period_start: date
    period_end: date
    lines: tuple[DraftLine, ...]
    net_minor: int
    vat_minor: int
    extras_minor: int
    credits_minor: int
    total_minor: int
    cause_id: int | None
    cause_share_minor: int

    @property
    def operator_keeps_minor(self) -> int:
        return self.net_minor - self.cause_share_minor

    @property
    def donations_minor(self) -> int:
        return sum(line.amount_minor for line in self.lines if line.kind == InvoiceKind.DONATION)


# --- Rounding rules ----------------------------------------------------------------------


def half_even(value: Fraction) -> int:
    """``value`` rounded to the nearest integer, ties to even."""
    return round(value)  # Fraction.__round__ rounds half to even


def half_up(value: Fraction) -> int:
    """``value`` (≥ 0) rounded to the nearest integer, ties up (in the cause's favour)."""
    quotient, remainder = divmod(value.numerator, value.denominator)
    return quotient + (2 * remainder >= value.denominator)


def cause_share(net_minor: int, percent: int) -> int:
    """``percent`` % of the net, rounded half-up to the minor unit."""
    return half_up(Fraction(net_minor * percent, 100))


def vat_of(gross_or_net: int, rate: Decimal, tax_mode: str) -> int:
    """The invoice's VAT, rounded once, half-even: ``gross * r / (1 + r)`` when prices
    include VAT, ``net * r`` when they exclude it."""
    r = _exact(rate)
    if tax_mode == INCLUSIVE:
        return half_even(gross_or_net * r / (1 + r))
    return half_even(gross_or_net * r)


@lru_cache(maxsize=64)
def _exact(rate: Decimal) -> Fraction:
    return Fraction(rate)


def prorated_fee(fee_minor: int, days: int, days_in_month: int) -> int:
    """``fee * days / days in the month``, exact, rounded once half-even (the rounding
    ``usage.services.to_minor_units`` applies to every invoice line)."""
    if days == days_in_month:
        return fee_minor
    return half_even(Fraction(fee_minor * days, days_in_month))


# --- Proration ---------------------------------------------------------------------------


def service_intervals(
    states: Sequence[tuple[datetime, str]],
) -> list[tuple[datetime, datetime | None]]:
    """The spans during which the line was in service (active or suspended): from the
    change that brought it into service to the one that took it out (None: still is)."""
    spans: list[tuple[datetime, datetime | None]] = []
    start: datetime | None = None
    for at, to_state in states:
        if to_state in _IN_SERVICE and start is None:
            start = at
        elif to_state not in _IN_SERVICE and start is not None:
            if at > start:
                spans.append((start, at))
            start = None
    if start is not None:
        spans.append((start, None))
    return spans


def _subscription_at(
    subscriptions: Sequence[tuple[datetime, datetime | None, str]], at: datetime
) -> str | None:
    best: tuple[datetime, datetime | None, str] | None = None
    for sub in subscriptions:
        if sub[0] <= at and (best is None or sub[0] > best[0]):
            best = sub
    if best is None or (best[1] is not None and at >= best[1]):
        return None
    return best[2]


def _catalog_at(catalog: Sequence[CatalogTerms], at: datetime) -> CatalogTerms | None:
    best: CatalogTerms | None = None
    for terms in catalog:
        if terms.effective_from <= at and (
            best is None or terms.effective_from > best.effective_from
        ):
            best = terms
    return best


def _fee_of(
    catalog: Sequence[CatalogTerms], plan: str, at: datetime
) -> tuple[int, CatalogTerms] | None:
    """The plan's fee in the version in force at ``at``; a plan the version no longer
    offers keeps the fee of the latest earlier version that did."""
    for terms in sorted(catalog, key=lambda t: t.effective_from, reverse=True):
        if terms.effective_from <= at and plan in terms.fees:
            return terms.fees[plan], terms
    return None


def fee_days(
    facts: LineFacts, catalog: Sequence[CatalogTerms], start: datetime, end: datetime
) -> list[tuple[date, str, int, CatalogTerms]]:
    """Each in-service UTC day of [start, end) with the plan in force at the line's last
    in-service moment of that day and that plan's fee then."""
    out: list[tuple[date, str, int, CatalogTerms]] = []
    # Instants where the answer can change: reuse the previous day's answer when none
    # falls between two evaluation moments (a month of days costs a few lookups).
    changes = sorted(
        {sub[0] for sub in facts.subscriptions}
        | {sub[1] for sub in facts.subscriptions if sub[1] is not None}
        | {terms.effective_from for terms in catalog}
    )
    pointer, first_moment = 0, True
    answer: tuple[str, int, CatalogTerms] | None = None
    for span_start, span_end in service_intervals(facts.states):
        first = max(span_start, start)
        stop = min(span_end, end) if span_end is not None else end
        if first >= stop:
            continue
        day = datetime(first.year, first.month, first.day, tzinfo=first.tzinfo)
        while day < stop:
            moment = min(day + _DAY, stop) - _EPSILON
            # Evaluation moments only grow: pass the changes up to this one.
            changed = first_moment
            while pointer < len(changes) and changes[pointer] <= moment:
                changed, pointer = True, pointer + 1
            if changed:
                plan = _subscription_at(facts.subscriptions, moment)
                found = _fee_of(catalog, plan, moment) if plan is not None else None
                answer = (plan, *found) if plan is not None and found is not None else None
            first_moment = False
            if answer is not None:
                today = day.date()
                if out and out[-1][0] == today:  # a second span the same day: it is later
                    out[-1] = (today, *answer)
                else:
                    out.append((today, *answer))
            day += _DAY
    return out


# --- Wording -----------------------------------------------------------------------------


def _name(names: Mapping[str, tuple[str, str]], code: str | None, language: str) -> str:
    if not code:
        return ""
    english, french = names.get(code, (code, code))
    return french if language.startswith("fr") else english


# Wording is cached per language and inputs: a bill run describes the same few lines
# (a plan's fee, calls to a class) hundreds of thousands of times.


@lru_cache(maxsize=4096)
def _fee_description(
    language: str, plan_name: str, first: date, last: date, days: int, days_in_month: int
) -> str:
    with translation.override(language):
        if days == days_in_month:
            return _("%(plan)s: monthly fee") % {"plan": plan_name}
        return _("%(plan)s: monthly fee, %(first)s to %(last)s (%(days)s of %(month)s days)") % {
            "plan": plan_name,
            "first": first.isoformat(),
            "last": last.isoformat(),
            "days": days,
            "month": days_in_month,
        }


def _usage_description(charge: ChargeLine, terms: CatalogTerms, language: str) -> str:
    zone = _name(terms.zone_names, charge.zone_code, language) if charge.zone_kind != "home" else ""
    destination = _name(terms.class_names, charge.class_code, language)
    return _usage_wording(language, charge.service, charge.direction != "in", destination, zone)


@lru_cache(maxsize=4096)
def _usage_wording(language: str, service: str, out: bool, destination: str, zone: str) -> str:
    with translation.override(language):
        voice = service == "voice"
        if service not in ("voice", "sms"):
            text = _("Mobile data")
        elif not out:
            text = _("Calls received") if voice else _("Texts received")
        elif destination:
            wording = _("Calls to %(destination)s") if voice else _("Texts to %(destination)s")
            text = wording % {"destination": destination}
        else:
            text = _("Calls made") if voice else _("Texts sent")
        if zone:
            text = _("%(usage)s, roaming in %(zone)s") % {"usage": text, "zone": zone}
        return text


@lru_cache(maxsize=16)
def _credit_wording(language: str) -> str:
    with translation.override(language):
        return _("Credit from your wallet")


_UNITS = {"voice": "seconds", "sms": "messages", "data": "kB"}


def cause_at(causes: Sequence[tuple[datetime, int | None]], at: datetime) -> int | None:
    """The cause chosen for the line at ``at`` (None: no choice, the foundation)."""
    choice: tuple[datetime, int | None] | None = None
    for valid_from, cause_id in causes:
        if valid_from <= at and (choice is None or valid_from > choice[0]):
            choice = (valid_from, cause_id)
    return choice[1] if choice is not None else None


# --- The invoice -------------------------------------------------------------------------


def compute_invoice(
    facts: LineFacts,
    cycle: str,
    catalog: Sequence[CatalogTerms],
    *,
    share_percent: int,
) -> InvoiceDraft | None:
    """The line's invoice draft for ``cycle`` (None when there is nothing to bill).

    Pure: the same facts give the same draft. Descriptions are in the subscriber's
    language (French for ``fr…``, English otherwise). Raises ``ValueError`` when the
    facts contradict each other (no catalogue in force at the cycle's end, a charge in
    another currency).
    """
    start, end = cycle_bounds(cycle)
    terms_at_end = _catalog_at(catalog, end - _EPSILON)
    if terms_at_end is None:
        raise ValueError(f"no catalogue is in force at the end of {cycle}")
    currency = facts.currency
    days_in_month = (end - start).days
    lines: list[DraftLine] = []
    # The monthly fee: runs of consecutive days on one plan at one fee.
    runs: list[list[tuple[date, str, int, CatalogTerms]]] = []
    for item in fee_days(facts, catalog, start, end):
        last = runs[-1][-1] if runs else None
        if (
            last is not None
            and last[0] + _DAY == item[0]
            and (last[1], last[2]) == (item[1], item[2])
        ):
            runs[-1].append(item)
        else:
            runs.append([item])
    for run in runs:
        first_day, plan, fee, terms = run[0]
        amount = prorated_fee(fee, len(run), days_in_month)
        if amount == 0:
            continue
        lines.append(
            DraftLine(
                InvoiceKind.PLAN_FEE,
                _fee_description(
                    facts.language,
                    _name(terms.plan_names, plan, facts.language),
                    first_day,
                    run[-1][0],
                    len(run),
                    days_in_month,
                ),
                amount,
                True,
                quantity=len(run),
                unit="days",
                period_start=first_day,
                period_end=run[-1][0],
            )
        )
    # Usage: one line per rated charge line, rounded once.
    for charge in facts.charges:
        if charge.currency != currency:
            raise ValueError(f"line {facts.line_id}: a charge in {charge.currency}, not {currency}")
        amount = to_minor_units(charge.charge, currency)
        if amount == 0:
            continue
        lines.append(
            DraftLine(
                InvoiceKind.USAGE,
                _usage_description(charge, terms_at_end, facts.language),
                amount,
                True,
                quantity=charge.charged,
                unit=_UNITS.get(charge.service, ""),
            )
        )
    # One-offs charged to the bill, outside VAT.
    for one_off in facts.carrier:
        lines.append(
            DraftLine(
                InvoiceKind.DONATION if one_off.kind == "donation" else InvoiceKind.PURCHASE,
                one_off.description,
                one_off.amount_minor,
                False,
            )
        )
    if not lines:
        return None
    taxable = sum(line.amount_minor for line in lines if line.vat_applies)
    extras = sum(line.amount_minor for line in lines if not line.vat_applies)
    vat = vat_of(taxable, terms_at_end.vat_rate, terms_at_end.tax_mode)
    net = taxable - vat if terms_at_end.tax_mode == INCLUSIVE else taxable
    due = net + vat + extras
    applied = min(max(facts.wallet_minor, 0), due)
    if applied:
        lines.append(
            DraftLine(InvoiceKind.CREDIT, _credit_wording(facts.language), -applied, False)
        )
    return InvoiceDraft(
        line_id=facts.line_id,
        currency=currency,
        language=facts.language,
        tax_mode=terms_at_end.tax_mode,
        vat_rate=terms_at_end.vat_rate,
        period_start=start.date(),
        period_end=(end - _DAY).date(),
        lines=tuple(lines),
        net_minor=net,
        vat_minor=vat,
        extras_minor=extras,
        credits_minor=-applied,
        total_minor=due - applied,
        cause_id=cause_at(facts.causes, end),
        cause_share_minor=cause_share(net, share_percent),
    )
