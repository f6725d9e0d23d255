"""The rating's read API: what the "my usage" pages and billing read, through
``kindwave.usage.services`` (other apps never read the lake directly).

Summaries and allowances come from the database; daily figures and the record list
from the cycle's rated Parquet, which is split by line shard, so DuckDB reads only the
asked line's shard (a sixty-fourth of the cycle). Every function takes a ``Line`` and
returns only its data.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from kindwave.lib.bulk import ids_in
from kindwave.lines.models import Line
from kindwave.usage.models import AllowanceUse, RatedUsageSummary, RatingRun
from kindwave.usage.rating import store
from kindwave.usage.rating.cycles import cycle_bounds, units_to_decimal

MAX_PER_PAGE = 500
UNITS = {"voice": "seconds", "sms": "messages", "data": "kB"}
SERVICE_ORDER = {"voice": 0, "sms": 1, "data": 2}
# DuckDB hands zone-aware timestamps to Python only through pytz: read microseconds.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DailyUsage:
    day: date  # UTC date
    service: str  # "voice" | "sms" | "data"
    zone_kind: str  # "home" | "roam_like_at_home" | "priced" | "rest_of_world"
    quantity: int  # seconds / messages / kB
    charge: Decimal  # exact, major units


@dataclass(frozen=True)
class AllowanceStatus:
    plan_code: str
    service: str
    unit: str  # "seconds" | "messages" | "kB"
    allowed: int | None  # None = unlimited
    used: int
    remaining: int | None  # None = unlimited; never negative


@dataclass(frozen=True)
class RatedRecord:
    record_id: str
    start_time: datetime  # aware, UTC
    record_type: str
    service: str
    direction: str
    counterpart: str | None
    zone_code: str
    zone_kind: str
    class_code: str | None
    quantity: int
    included: int
    charged: int
    charge: Decimal
    currency: str


@dataclass(frozen=True)
class RatedPage:
    records: list[RatedRecord]  # newest first
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class ChargeLine:
    plan_code: str
    service: str
    direction: str
    zone_code: str
    zone_kind: str
    class_code: str | None
    records: int
    quantity: int
    included: int
    charged: int
    charge: Decimal
    currency: str


def _query(cycle: str, sql: str, parameters: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Run ``sql`` over the rated parts of the cycle that can hold ``parameters["line"]``'s
    records (``rated`` in the query); [] if none."""
    parts = store.cycle_parts(cycle, parameters["line"])
    if not parts:
        return []
    source = "read_parquet($parts, hive_partitioning = false)"
    return (
        _connection()
        .execute(sql.replace("FROM rated", f"FROM {source}"), {"parts": parts, **parameters})
        .fetchall()
    )


_local = threading.local()


def _connection() -> Any:
    """This thread's DuckDB connection (in memory, UTC): opening one costs more than a
    page's queries, and a connection must not be shared between threads."""
    connection = getattr(_local, "connection", None)
    if connection is None:
        import duckdb

        connection = duckdb.connect()
        connection.execute("SET TimeZone='UTC'")
        _local.connection = connection
    return connection


def rated_cycles(line: Line) -> list[str]:
    """Cycles with rating output for the line, newest first."""
    return sorted(
        set(RatedUsageSummary.objects.filter(line=line).values_list("cycle", flat=True))
        | set(AllowanceUse.objects.filter(line=line).values_list("cycle", flat=True)),
        reverse=True,
    )


def daily_usage(line: Line, cycle: str) -> list[DailyUsage]:
    """The line's rated usage per UTC day, service and zone kind, sorted that way."""
    cycle_bounds(cycle)
    rows = _query(
        cycle,
        """
        SELECT usage_date, service, zone_kind, sum(quantity)::BIGINT,
               sum(charge_units)::HUGEINT::VARCHAR
        FROM rated WHERE line_id = $line AND status = 'rated'
        GROUP BY ALL
        """,
        {"line": line.pk},
    )
    usage = [
        DailyUsage(day, service, kind, int(quantity), units_to_decimal(int(units)))
        for day, service, kind, quantity, units in rows
    ]
    return sorted(usage, key=lambda u: (u.day, SERVICE_ORDER.get(u.service, 9), u.zone_kind))


def allowance_status(line: Line, cycle: str) -> list[AllowanceStatus]:
    """One entry per plan used in the cycle x service with an allowance."""
    cycle_bounds(cycle)
    uses = AllowanceUse.objects.filter(line=line, cycle=cycle).order_by("plan_code", "service")
    statuses = [
        AllowanceStatus(
            plan_code=use.plan_code,
            service=use.service,
            unit=UNITS[use.service],
            allowed=use.allowed,
            used=use.used,
            remaining=None if use.allowed is None else max(use.allowed - use.used, 0),
        )
        for use in uses
    ]
    return sorted(statuses, key=lambda s: (s.plan_code, SERVICE_ORDER.get(s.service, 9)))


def rated_records(line: Line, cycle: str, page: int = 1, per_page: int = 50) -> RatedPage:
    """The line's rated records of the cycle, newest first, one page at a time.

    A page beyond the end is empty; ``page < 1`` or ``per_page`` outside 1..500 raise
    ``ValueError``.
    """
    cycle_bounds(cycle)
    if page < 1:
        raise ValueError("page counts from 1")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}")
    counted = _query(
        cycle,
        "SELECT count(*) FROM rated WHERE line_id = $line AND status = 'rated'",
        {"line": line.pk},
    )
    total = int(counted[0][0]) if counted else 0
    pages = math.ceil(total / per_page)
    if total == 0 or page > pages:
        return RatedPage([], total, page, pages)
    rows = _query(
        cycle,
        """
        SELECT record_id, epoch_us(start_time), record_type, service, direction, counterpart,
               zone_code, zone_kind, class_code, quantity, included, charged,
               charge_units, currency
        FROM rated WHERE line_id = $line AND status = 'rated'
        ORDER BY start_time DESC, record_id DESC
        LIMIT $limit OFFSET $offset
        """,
        {"line": line.pk, "limit": per_page, "offset": (page - 1) * per_page},
    )
    records = [
        RatedRecord(
            record_id=row[0],
            start_time=_EPOCH + timedelta(microseconds=int(row[1])),
            record_type=row[2],
            service=row[3],
            direction=row[4],
            counterpart=row[5],
            zone_code=row[6],
            zone_kind=row[7],
            class_code=row[8],
            quantity=int(row[9]),
            included=int(row[10]),
            charged=int(row[11]),
            charge=units_to_decimal(int(row[12])),
            currency=row[13],
        )
        for row in rows
    ]
    return RatedPage(records, total, page, pages)


_CHARGE_ORDER = ("plan_code", "service", "direction", "zone_code", "class_code", "currency")


_CHARGE_FIELDS = (
    "plan_code", "service", "direction", "zone_code", "zone_kind", "class_code", "records",
    "quantity", "included", "charged", "charge_units", "currency",
)  # fmt: skip


def _charge_line(
    plan_code: str, service: str, direction: str, zone_code: str, zone_kind: str,
    class_code: str, records: int, quantity: int, included: int, charged: int,
    charge_units: int, currency: str,
) -> ChargeLine:  # fmt: skip
    return ChargeLine(
        plan_code=plan_code,
        service=service,
        direction=direction,
        zone_code=zone_code,
        zone_kind=zone_kind,
        class_code=class_code or None,
        records=records,
        quantity=quantity,
        included=included,
        charged=charged,
        charge=units_to_decimal(charge_units),
        currency=currency,
    )


def cycle_charges(line: Line, cycle: str) -> list[ChargeLine]:
    """The line's future invoice lines for the cycle, from the database summaries."""
    cycle_bounds(cycle)
    summaries = RatedUsageSummary.objects.filter(line=line, cycle=cycle).order_by(*_CHARGE_ORDER)
    return [_charge_line(*row) for row in summaries.values_list(*_CHARGE_FIELDS)]


def cycle_charges_for_lines(line_ids: Iterable[int], cycle: str) -> dict[int, list[ChargeLine]]:
    """:func:`cycle_charges` of many lines in one query (the bill run reads a batch at a
    time): line id → its charge lines, in the same order; lines without usage are absent."""
    cycle_bounds(cycle)
    found: dict[int, list[ChargeLine]] = {}
    summaries = RatedUsageSummary.objects.filter(
        line_id__in=ids_in(list(line_ids)), cycle=cycle
    ).order_by("line_id", *_CHARGE_ORDER)
    for line_id, *row in summaries.values_list("line_id", *_CHARGE_FIELDS):
        found.setdefault(line_id, []).append(_charge_line(*row))
    return found


def lines_with_usage(cycle: str) -> list[int]:
    """The ids of the lines with rated usage in ``cycle`` (the bill run's candidates)."""
    cycle_bounds(cycle)
    return list(
        RatedUsageSummary.objects.filter(cycle=cycle)
        .values_list("line_id", flat=True)
        .distinct()
        .order_by("line_id")
    )


def latest_run(cycle: str) -> RatingRun | None:
    """The cycle's latest finished rating run (None if never rated)."""
    return (
        RatingRun.objects.filter(cycle=cycle, finished_at__isnull=False)
        .order_by("-finished_at")
        .first()
    )
