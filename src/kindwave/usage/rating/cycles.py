"""Billing cycles (calendar months in UTC) and exact money in charge units.

A charge is an integer number of *charge units*: 1 major unit = 60,000,000,000 units.
Prices have at most 6 decimal places, so a price is an integer number of micro-units,
and one second of a per-minute price, one SMS and one kB of a per-MB price are all
whole numbers of units (docs/rating-rules.md, "Exact money").
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Final

from kindwave.lines.models import CURRENCY_EXPONENTS

UNITS_PER_MAJOR: Final = 60_000_000_000
MICRO: Final = 1_000_000
# Charge units per (quantity unit x price in micro-units): seconds at a per-minute price,
# messages at a per-message price, kB at a per-MB price.
VOICE_FACTOR: Final = UNITS_PER_MAJOR // MICRO // 60  # 1000
SMS_FACTOR: Final = UNITS_PER_MAJOR // MICRO  # 60,000
DATA_FACTOR: Final = UNITS_PER_MAJOR // MICRO // 1000  # 60

_CYCLE = re.compile(r"^(\d{4})-(\d{2})$")


def parse_cycle(cycle: str) -> tuple[int, int]:
    """``"2026-10"`` → (2026, 10); ``ValueError`` for anything else."""
    match = _CYCLE.match(cycle) if isinstance(cycle, str) else None
    if match is None:
        raise ValueError(f"a cycle is written YYYY-MM (e.g. 2026-10), not {cycle!r}")
    year, month = int(match.group(1)), int(match.group(2))
    if not (1 <= month <= 12 and 1970 <= year <= 9998):
        raise ValueError(f"no such cycle: {cycle!r}")
    return year, month


def cycle_bounds(cycle: str) -> tuple[datetime, datetime]:
    """[first instant, next cycle's first instant) of ``cycle``, aware UTC."""
    year, month = parse_cycle(cycle)
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def current_cycle(at: datetime | None = None) -> str:
    """The cycle of ``at`` (default: now), in UTC."""
    moment = (at or datetime.now(tz=UTC)).astimezone(UTC)
    return f"{moment.year:04d}-{moment.month:02d}"


def price_micro(price: Decimal | None) -> int:
    """A catalogue price (major units, at most 6 places) as integer micro-units."""
    if price is None:
        return 0
    micro = price * MICRO
    if micro != micro.to_integral_value():
        raise ValueError(f"price {price} has more than 6 decimal places")
    return int(micro)


def units_to_decimal(units: int) -> Decimal:
    """Charge units → major units as a ``Decimal``.

    Exact whenever the amount has a finite decimal expansion (every SMS and data charge,
    and any call charge that is a whole number of 1/600 of a minute's price…); a
    per-second charge such as 1 s at 0.20/min (= 0.00333…) is given to 40 significant
    digits. Either way :func:`to_minor_units` rounds it exactly as it would round the
    true fraction: an amount of units is never closer than one unit (1/6·10⁻¹⁰) to a
    half minor unit without being exactly on it, and then it is exact.
    """
    with localcontext(Context(prec=40)):
        return Decimal(units) / UNITS_PER_MAJOR


def units_to_minor(units: int, currency: str) -> int:
    """Charge units → minor units (pence, cents), rounded half-even, in integers only."""
    per_minor = UNITS_PER_MAJOR // 10 ** CURRENCY_EXPONENTS[currency]
    quotient, remainder = divmod(units, per_minor)
    twice = 2 * remainder
    if twice > per_minor or (twice == per_minor and quotient % 2 == 1):
        quotient += 1
    return quotient


def to_minor_units(amount: Decimal, currency: str) -> int:
    """An amount in major units → whole minor units, half-even (once per invoice line)."""
    try:
        exponent = CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise ValueError(f"unknown currency {currency!r}") from None
    with localcontext(Context(prec=60)):
        scaled = (amount * (10**exponent)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    return int(scaled)
