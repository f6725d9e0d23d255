"""The subscriber's "my usage" page: a cycle's daily usage as a chart (and as a table), the
allowances left, the cycle's charges so far and the rated records, newest first.

Every line is fetched through ``lines.selectors.get_line_for`` (404 for anyone but its
owner, staff included); every figure comes from ``usage.services`` (never the lake).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import formats
from django.utils.translation import get_language, gettext_lazy, ngettext, pgettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers

from kindwave.accounts.models import User
from kindwave.lib.money import format_money
from kindwave.lines import selectors
from kindwave.lines.models import DestinationClass, Line, Plan, RoamingZone
from kindwave.usage import services

PER_PAGE = 50
SERVICES = ("voice", "sms", "data")
ZONE_KINDS = ("home", "roam_like_at_home", "priced", "rest_of_world")
_CYCLE = re.compile(r"\d{4}-(0[1-9]|1[0-2])")

SERVICE_LABELS = {
    "voice": pgettext_lazy("usage service", "Calls"),
    "sms": pgettext_lazy("usage service", "Texts"),
    "data": pgettext_lazy("usage service", "Data"),
}
RECORD_TYPE_LABELS = {
    "voice_mo": gettext_lazy("Call made"),
    "voice_mt": gettext_lazy("Call received"),
    "sms_mo": gettext_lazy("Text sent"),
    "sms_mt": gettext_lazy("Text received"),
    "data": gettext_lazy("Data session"),
}
ZONE_KIND_LABELS = dict(RoamingZone.Kind.choices)


class BadRequestError(ValueError):
    """A query parameter the page cannot use; the message is for the person."""


# --- Reading the query ------------------------------------------------------------------------


def parse_cycle(raw: str) -> str:
    """``"2026-11"`` → itself; anything else → ``BadRequestError`` with a clear message."""
    cycle = raw.strip()
    if _CYCLE.fullmatch(cycle):
        try:
            services.cycle_bounds(cycle)
        except ValueError:
            pass
        else:
            return cycle
    raise BadRequestError(
        _("“%(cycle)s” is not a billing month: write it as year-month, e.g. %(example)s.")
        % {"cycle": raw[:20], "example": services.current_cycle()}
    )


def default_cycle(cycles: Sequence[str]) -> str:
    """The current cycle if it has rated usage (or nothing is rated yet), else the latest."""
    current = services.current_cycle()
    return current if current in cycles or not cycles else cycles[0]


def cycle_label(cycle: str) -> str:
    """``"2026-11"`` → ``November 2026`` / ``novembre 2026``."""
    year, month = cycle.split("-")
    return formats.date_format(date(int(year), int(month), 1), "YEAR_MONTH_FORMAT")


def parse_page(raw: str | None) -> int:
    if raw is None or raw == "":
        return 1
    if raw.isdigit() and 1 <= int(raw) <= 1_000_000:
        return int(raw)
    raise BadRequestError(_("The page must be a whole number from 1."))


# --- Quantities and money for people ------------------------------------------------------------


def duration(seconds: int) -> str:
    """125 → ``2:05`` (minutes:seconds)."""
    minutes, rest = divmod(seconds, 60)
    return f"{formats.number_format(minutes, force_grouping=True)}:{rest:02d}"


def data_amount(kilobytes: int) -> str:
    """88 → ``88 kB``; 12,345 → ``12.3 MB``; 8,192,000 → ``8 GB`` (1 MB = 1,000 kB and, as
    the plans count it, 1 GB = 1,024 MB)."""
    if kilobytes < 1000:
        return _("%(n)s kB") % {"n": kilobytes}
    megabytes = kilobytes / 1000
    if megabytes < 1024:
        digits = 1 if megabytes < 100 else 0
        return _("%(n)s MB") % {"n": formats.number_format(round(megabytes, digits), digits)}
    gigabytes = round(megabytes / 1024, 1 if megabytes < 100 * 1024 else 0)
    digits = 0 if gigabytes == int(gigabytes) else 1
    return _("%(n)s GB") % {"n": formats.number_format(gigabytes, digits)}


def quantity(service: str, amount: int) -> str:
    """A service's quantity as people read it: minutes:seconds, texts or a data size."""
    if service == "voice":
        return duration(amount)
    if service == "sms":
        return ngettext("%(n)s text", "%(n)s texts", amount) % {"n": amount}
    return data_amount(amount)


def money(amount: Decimal, currency: str) -> str:
    """An exact amount rounded (half-even) to the currency's minor unit, in the reader's
    language: ``£1.24`` / ``1,24 £GB``."""
    return format_money(
        services.to_minor_units(amount, currency), currency, (get_language() or "en")[:2]
    )


# --- The chart ----------------------------------------------------------------------------------

CHART_WIDTH = 600
CHART_HEIGHT = 240
PLOT_LEFT = 56
PLOT_RIGHT = 8
PLOT_TOP = 12
PLOT_BOTTOM = 28


@dataclass(frozen=True)
class Segment:
    x: float
    y: float
    width: float
    height: float
    zone_kind: str
    title: str


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class ChartRow:
    day: date
    cells: list[str]  # one per zone kind shown, "" for none
    total: str


@dataclass(frozen=True)
class Chart:
    service: str
    label: str
    unit: str
    segments: list[Segment]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    zone_kinds: list[tuple[str, str]]  # (kind, label) of the kinds present
    rows: list[ChartRow]
    summary: str
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    plot_left: int = PLOT_LEFT
    plot_right: int = CHART_WIDTH - PLOT_RIGHT
    plot_bottom: int = CHART_HEIGHT - PLOT_BOTTOM


def _chart_value(service: str, amount: int) -> float:
    """The chart's unit: minutes for calls, texts, MB for data."""
    return amount / 60 if service == "voice" else amount / 1000 if service == "data" else amount


def _chart_unit(service: str) -> str:
    return {"voice": _("minutes"), "sms": _("texts"), "data": _("MB")}[service]


def nice_ceiling(maximum: float) -> tuple[float, float]:
    """The axis top and step for values up to ``maximum``: four steps of 1, 2 or 5
    times a power of ten."""
    if maximum <= 0:
        return 1.0, 0.25
    raw = maximum / 4
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return step * 4, step


def _decimals(step: float) -> int:
    """Decimal places that show every multiple of ``step`` exactly (0.25 → 2)."""
    return next((d for d in range(4) if round(step * 10**d, 9) == int(step * 10**d)), 3)


def _days(cycle: str) -> list[date]:
    first, following = services.cycle_bounds(cycle)
    count = (following.date() - first.date()).days
    return [first.date() + timedelta(days=n) for n in range(count)]


def build_chart(service: str, cycle: str, usage: Iterable[services.DailyUsage]) -> Chart:
    """One service's daily usage in ``cycle`` as stacked bars by zone kind."""
    days = _days(cycle)
    by_day: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for item in usage:
        if item.service == service:
            by_day[item.day][item.zone_kind] += item.quantity
    kinds = [kind for kind in ZONE_KINDS if any(kind in zones for zones in by_day.values())]
    kinds += sorted({k for zones in by_day.values() for k in zones} - set(ZONE_KINDS))
    top, step = nice_ceiling(
        max((_chart_value(service, sum(z.values())) for z in by_day.values()), default=0)
    )
    plot_width = CHART_WIDTH - PLOT_LEFT - PLOT_RIGHT
    plot_height = CHART_HEIGHT - PLOT_TOP - PLOT_BOTTOM
    band = plot_width / len(days)
    bar = band * 0.72
    base = CHART_HEIGHT - PLOT_BOTTOM
    segments: list[Segment] = []
    rows: list[ChartRow] = []
    for index, day in enumerate(days):
        zones = by_day.get(day)
        if not zones:
            continue
        y = float(base)
        day_label = formats.date_format(day, "MONTH_DAY_FORMAT")
        for kind in kinds:
            amount = zones.get(kind, 0)
            if not amount:
                continue
            height = _chart_value(service, amount) / top * plot_height
            y -= height
            segments.append(
                Segment(
                    x=round(PLOT_LEFT + index * band + (band - bar) / 2, 2),
                    y=round(y, 2),
                    width=round(bar, 2),
                    height=round(max(height, 0.5), 2),
                    zone_kind=kind,
                    title=f"{day_label} — {zone_kind_label(kind)}: {quantity(service, amount)}",
                )
            )
        rows.append(
            ChartRow(
                day=day,
                cells=[quantity(service, zones[k]) if zones.get(k) else "" for k in kinds],
                total=quantity(service, sum(zones.values())),
            )
        )
    y_ticks = [
        Tick(
            position=round(base - (n * step) / top * plot_height, 2),
            label=formats.number_format(n * step, _decimals(step)),
        )
        for n in range(5)
    ]
    x_ticks = [
        Tick(position=round(PLOT_LEFT + index * band + band / 2, 2), label=str(day.day))
        for index, day in enumerate(days)
        if day.day == 1 or day.day % 7 == 0
    ]
    total = sum(sum(zones.values()) for zones in by_day.values())
    summary = (
        ngettext(
            "%(total)s in total, on %(days)s day with usage.",
            "%(total)s in total, over %(days)s days with usage.",
            len(rows),
        )
        % {"total": quantity(service, total), "days": len(rows)}
        if rows
        else _("No usage this month.")
    )
    return Chart(
        service=service,
        label=str(SERVICE_LABELS[service]),
        unit=_chart_unit(service),
        segments=segments,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        zone_kinds=[(kind, zone_kind_label(kind)) for kind in kinds],
        rows=rows,
        summary=summary,
    )


def zone_kind_label(kind: str) -> str:
    return str(ZONE_KIND_LABELS.get(kind, kind))


# --- The rest of the page -------------------------------------------------------------------------


@dataclass(frozen=True)
class Allowance:
    service: str
    label: str
    plan: str
    used: str
    allowed: str | None  # None: unlimited
    remaining: str | None
    value: int  # for <progress>, in the service's unit
    maximum: int


@dataclass(frozen=True)
class Total:
    service: str
    label: str
    quantity: str
    charge: str


@dataclass(frozen=True)
class ChargeRow:
    label: str
    detail: str
    records: int
    quantity: str
    charge: str


@dataclass(frozen=True)
class RecordRow:
    record: services.RatedRecord
    type_label: str
    zone: str
    destination: str
    quantity: str
    included: str
    charged: str
    charge: str


class Names:
    """Localised names of the market's plans, roaming zones and destination classes, by code
    (the latest catalogue's name wins): three queries, whatever the number of records."""

    def __init__(self, line: Line) -> None:
        language = get_language() or "en"
        self.plans = self._load(Plan.objects.filter(catalog__market_id=line.market_id), language)
        self.zones = self._load(
            RoamingZone.objects.filter(catalog__market_id=line.market_id), language
        )
        self.classes = self._load(
            DestinationClass.objects.filter(catalog__market_id=line.market_id), language
        )

    @staticmethod
    def _load(queryset: Any, language: str) -> dict[str, str]:
        field = "name_fr" if language.startswith("fr") else "name_en"
        rows = queryset.order_by("catalog__effective_from").values_list("code", field)
        return dict(rows)

    def plan(self, code: str) -> str:
        return self.plans.get(code, code)

    def zone(self, code: str) -> str:
        return self.zones.get(code, code)

    def destination(self, code: str | None) -> str:
        return "" if code is None else self.classes.get(code, code)


def allowances(line: Line, cycle: str, names: Names) -> list[Allowance]:
    result = []
    for status in services.allowance_status(line, cycle):
        unlimited = status.allowed is None
        result.append(
            Allowance(
                service=status.service,
                label=str(SERVICE_LABELS.get(status.service, status.service)),
                plan=names.plan(status.plan_code),
                used=quantity(status.service, status.used),
                allowed=None if unlimited else quantity(status.service, status.allowed or 0),
                remaining=None
                if status.remaining is None
                else quantity(status.service, status.remaining),
                value=min(status.used, status.allowed or 0),
                maximum=status.allowed or 0,
            )
        )
    return result


def totals(usage: Iterable[services.DailyUsage], currency: str) -> list[Total]:
    amounts: dict[str, int] = defaultdict(int)
    charges: dict[str, Decimal] = defaultdict(Decimal)
    for item in usage:
        amounts[item.service] += item.quantity
        charges[item.service] += item.charge
    return [
        Total(
            service=service,
            label=str(SERVICE_LABELS[service]),
            quantity=quantity(service, amounts[service]),
            charge=money(charges[service], currency),
        )
        for service in SERVICES
    ]


def charge_rows(
    lines: Iterable[services.ChargeLine], names: Names
) -> tuple[list[ChargeRow], int, str | None]:
    """The cycle's charged lines, and their total in minor units — each line rounded once,
    as the invoice will round it."""
    rows = []
    total_minor = 0
    currency = None
    for item in lines:
        minor = services.to_minor_units(item.charge, item.currency)
        currency = item.currency
        total_minor += minor
        if not minor:
            continue
        where = names.zone(item.zone_code)
        detail = (
            f"{names.destination(item.class_code)} — {where}" if item.class_code else str(where)
        )
        direction = _("outgoing") if item.direction == "out" else _("incoming")
        rows.append(
            ChargeRow(
                label=f"{SERVICE_LABELS.get(item.service, item.service)} ({direction})"
                if item.service != "data"
                else str(SERVICE_LABELS["data"]),
                detail=detail,
                records=item.records,
                quantity=quantity(item.service, item.charged),
                charge=format_money(minor, item.currency, (get_language() or "en")[:2]),
            )
        )
    return rows, total_minor, currency


def record_rows(page: services.RatedPage, names: Names) -> list[RecordRow]:
    return [
        RecordRow(
            record=record,
            type_label=str(RECORD_TYPE_LABELS.get(record.record_type, record.record_type)),
            zone=names.zone(record.zone_code),
            destination=names.destination(record.class_code),
            quantity=quantity(record.service, record.quantity),
            included=quantity(record.service, record.included) if record.included else "",
            charged=quantity(record.service, record.charged) if record.charged else "",
            charge=money(record.charge, record.currency),
        )
        for record in page.records
    ]


# --- The view -------------------------------------------------------------------------------------


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # guaranteed by @login_required  # noqa: S101
    return user


@login_required
@require_safe
@vary_on_headers("HX-Request")
def my_usage(request: HttpRequest, line_id: int) -> HttpResponse:
    """``/me/lines/<id>/usage/?cycle=YYYY-MM&page=N``; with HTMX (``HX-Request``) and a page
    after the first, only that page's rows and the next "load more" link."""
    line = selectors.get_line_for(_user(request), line_id)
    cycles = services.rated_cycles(line)
    try:
        raw_cycle = request.GET.get("cycle")
        cycle = parse_cycle(raw_cycle) if raw_cycle is not None else default_cycle(cycles)
        page_number = parse_page(request.GET.get("page"))
    except BadRequestError as error:
        problem = {
            "line": line,
            "error": str(error),
            "cycle_options": [(value, cycle_label(value)) for value in cycles],
        }
        return render(request, "usage/bad_request.html", problem, status=400)
    names = Names(line)
    page = services.rated_records(line, cycle, page=page_number, per_page=PER_PAGE)
    context: dict[str, Any] = {
        "line": line,
        "cycle": cycle,
        "page": page,
        "records": record_rows(page, names),
        "next_page": page.page + 1 if page.page < page.pages else None,
        "previous_page": page.page - 1 if page.page > 1 else None,
        "shown": min(page.page * PER_PAGE, page.total),
    }
    if request.headers.get("HX-Request") and page_number > 1:
        return render(request, "usage/_records_more.html", context)
    usage = services.daily_usage(line, cycle)
    charges, total_minor, charge_currency = charge_rows(services.cycle_charges(line, cycle), names)
    currency = charge_currency or line.market.currency
    first, following = services.cycle_bounds(cycle)
    context |= {
        "cycle_label": cycle_label(cycle),
        "cycle_options": [
            (value, cycle_label(value)) for value in sorted({cycle, *cycles}, reverse=True)
        ],
        "cycle_start": first,
        "cycle_end": following - timedelta(days=1),
        "is_current": cycle == services.current_cycle(),
        "has_usage": bool(usage) or page.total > 0,
        "charts": [build_chart(service, cycle, usage) for service in SERVICES] if usage else [],
        "allowances": allowances(line, cycle, names),
        "totals": totals(usage, currency),
        "charges": charges,
        "charges_total": format_money(total_minor, currency, (get_language() or "en")[:2]),
        "zone_kinds": [(kind, zone_kind_label(kind)) for kind in ZONE_KINDS],
    }
    return render(request, "usage/my_usage.html", context)
