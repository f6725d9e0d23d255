"""The subscriber's usage through the JSON API: my lines, a cycle's usage and its rated records.

Own data only: every line goes through ``lines.selectors.get_line_for``, so another
person's line answers 404 exactly as a line that does not exist. Figures come from
``usage.services`` (never the lake). Money is given twice: ``amount``, the exact decimal
in major units as a string, and ``amount_minor``, rounded half-even to the currency's
minor unit (integer). Times are ISO 8601 in UTC; days are UTC days.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from kindwave.accounts.models import User
from kindwave.lines import selectors
from kindwave.lines.models import Line, Plan, PlanSubscription
from kindwave.usage import services
from kindwave.usage.views import BadRequestError, default_cycle, parse_cycle

# The plans' units, per service (quantities are integers in these units).
UNITS = {"voice": "seconds", "sms": "messages", "data": "kB"}

_PROBLEMS = {
    400: "Bad parameter, e.g. a cycle that is not YYYY-MM",
    401: "Not logged in",
    404: "No such line (or not yours: the answer is the same)",
    422: "Invalid parameters",
    429: "Too many requests (see Retry-After)",
}


def problem_responses(*statuses: int) -> dict[str, Any]:
    """OpenAPI ``responses`` for errors, as RFC 9457 problem details (the schema is added to
    the document by ``kindwave.api.KindwaveAPI``)."""
    schema = {"$ref": "#/components/schemas/ProblemDetails"}
    return {
        "responses": {
            status: {
                "description": _PROBLEMS[status],
                "content": {"application/problem+json": {"schema": schema}},
            }
            for status in statuses
        }
    }


lines_router = Router(tags=["lines"])
router = Router(tags=["usage"])


# --- Schemas --------------------------------------------------------------------------------


class MoneyOut(Schema):
    amount: str = Field(description="exact amount in major units, a decimal string")
    amount_minor: int = Field(description="rounded half-even to the currency's minor unit")
    currency: str = Field(description="ISO 4217")


class PlanOut(Schema):
    code: str
    name: str


class LineOut(Schema):
    id: int
    msisdn: str = Field(description="E.164")
    state: str = Field(description="ordered | active | suspended | terminated")
    market: str = Field(description="ISO 3166 country code")
    plan: PlanOut | None = Field(description="the plan in force now (none before the first)")


class DailyUsageOut(Schema):
    day: date = Field(description="UTC day")
    service: str = Field(description="voice | sms | data")
    zone_kind: str = Field(description="home | roam_like_at_home | priced | rest_of_world")
    quantity: int
    unit: str = Field(description="seconds | messages | kB")
    charge: MoneyOut


class AllowanceOut(Schema):
    plan_code: str
    service: str
    unit: str
    allowed: int | None = Field(description="null: unlimited")
    used: int
    remaining: int | None = Field(description="null: unlimited; never negative")


class ServiceTotalOut(Schema):
    service: str
    unit: str
    quantity: int
    charge: MoneyOut


class ChargeLineOut(Schema):
    plan_code: str
    service: str
    direction: str = Field(description="out | in")
    zone_code: str
    zone_kind: str
    class_code: str | None
    records: int
    quantity: int
    included: int
    charged: int
    unit: str
    charge: MoneyOut = Field(description="the invoice line's amount, rounded once")


class UsageOut(Schema):
    line_id: int
    cycle: str = Field(description="YYYY-MM, a calendar month in UTC")
    period_start: datetime
    period_end: datetime = Field(description="exclusive: the next cycle's first instant")
    rated_cycles: list[str] = Field(description="cycles with rated usage, newest first")
    daily: list[DailyUsageOut]
    allowances: list[AllowanceOut]
    totals: list[ServiceTotalOut]
    charges: list[ChargeLineOut]
    charges_total: MoneyOut | None = Field(
        description="the sum of the charge lines; amount_minor adds the lines' rounded "
        "amounts, as the invoice will (null when nothing is charged yet)"
    )


class RatedRecordOut(Schema):
    record_id: str
    start_time: datetime
    record_type: str = Field(description="voice_mo | voice_mt | sms_mo | sms_mt | data")
    service: str
    direction: str
    counterpart: str | None
    zone_code: str
    zone_kind: str
    class_code: str | None
    quantity: int
    included: int = Field(description="part of the quantity taken from an allowance")
    charged: int = Field(description="quantity - included")
    unit: str
    charge: MoneyOut


class RecordsPageOut(Schema):
    line_id: int
    cycle: str
    page: int
    per_page: int
    pages: int
    total: int
    records: list[RatedRecordOut] = Field(description="newest first")


class UsageQuery(Schema):
    cycle: str | None = Field(
        None, description="YYYY-MM; default: the current cycle, else the latest rated one"
    )


class RecordsQuery(UsageQuery):
    page: int = Field(1, ge=1, le=1_000_000)
    per_page: int = Field(50, ge=1, le=500)


# --- Helpers --------------------------------------------------------------------------------


def _user(request: HttpRequest) -> User:
    user = request.auth  # type: ignore[attr-defined]  # set by the API's session auth
    assert isinstance(user, User)  # noqa: S101
    return user


def money(amount: Decimal, currency: str) -> MoneyOut:
    return MoneyOut(
        amount=str(amount),
        amount_minor=services.to_minor_units(amount, currency),
        currency=currency,
    )


def _cycle(line: Line, raw: str | None) -> str:
    try:
        return parse_cycle(raw) if raw is not None else default_cycle(services.rated_cycles(line))
    except BadRequestError as error:
        raise HttpError(400, str(error)) from None


def _plans_now(lines: list[Line]) -> dict[int, Plan]:
    """The plan in force now for each line: two queries, whatever the number of lines."""
    now = timezone.now()
    codes: dict[int, str] = {}
    subscriptions: dict[int, list[PlanSubscription]] = defaultdict(list)
    for subscription in PlanSubscription.objects.filter(line__in=lines):
        subscriptions[subscription.line_id].append(subscription)
    for line in lines:
        current = PlanSubscription.in_force(subscriptions[line.pk], now)
        if current is not None:
            codes[line.pk] = current.plan_code
    plans: dict[tuple[int, str], Plan] = {}
    for plan in (
        Plan.objects.filter(
            catalog__market_id__in={line.market_id for line in lines},
            catalog__effective_from__lte=now,
            code__in=set(codes.values()),
        )
        .select_related("catalog")
        .order_by("catalog__effective_from")
    ):
        plans[(plan.catalog.market_id, plan.code)] = plan  # the latest catalogue wins
    return {
        line.pk: plans[(line.market_id, code)]
        for line in lines
        if (code := codes.get(line.pk)) and (line.market_id, code) in plans
    }


# --- Endpoints ------------------------------------------------------------------------------


@lines_router.get(
    "lines",
    response=list[LineOut],
    summary="My lines",
    openapi_extra=problem_responses(401, 429),
)
def my_lines(request: HttpRequest) -> list[LineOut]:
    """The signed-in person's lines, oldest first, with the plan each is on now."""
    lines = list(selectors.lines_of(_user(request)))
    plans = _plans_now(lines)
    language = getattr(request, "LANGUAGE_CODE", "en")
    return [
        LineOut(
            id=line.pk,
            msisdn=line.msisdn,
            state=line.state,
            market=line.market.code,
            plan=PlanOut(code=plan.code, name=plan.name(language))
            if (plan := plans.get(line.pk))
            else None,
        )
        for line in lines
    ]


@router.get(
    "lines/{line_id}/usage",
    response=UsageOut,
    summary="A cycle's usage of my line",
    openapi_extra=problem_responses(400, 401, 404, 422, 429),
)
def line_usage(request: HttpRequest, line_id: int, query: Query[UsageQuery]) -> UsageOut:
    """Daily usage by service and zone kind, allowances left, totals per service and the
    cycle's charge lines (what the invoice will show for usage)."""
    line = selectors.get_line_for(_user(request), line_id)
    cycle = _cycle(line, query.cycle)
    start, end = services.cycle_bounds(cycle)
    daily = services.daily_usage(line, cycle)
    charges = services.cycle_charges(line, cycle)
    currency = charges[0].currency if charges else line.market.currency
    quantities: dict[str, int] = defaultdict(int)
    amounts: dict[str, Decimal] = defaultdict(Decimal)
    for item in daily:
        quantities[item.service] += item.quantity
        amounts[item.service] += item.charge
    return UsageOut(
        line_id=line.pk,
        cycle=cycle,
        period_start=start,
        period_end=end,
        rated_cycles=services.rated_cycles(line),
        daily=[
            DailyUsageOut(
                day=item.day,
                service=item.service,
                zone_kind=item.zone_kind,
                quantity=item.quantity,
                unit=UNITS[item.service],
                charge=money(item.charge, currency),
            )
            for item in daily
        ],
        allowances=[
            AllowanceOut(
                plan_code=status.plan_code,
                service=status.service,
                unit=status.unit,
                allowed=status.allowed,
                used=status.used,
                remaining=status.remaining,
            )
            for status in services.allowance_status(line, cycle)
        ],
        totals=[
            ServiceTotalOut(
                service=service,
                unit=UNITS[service],
                quantity=quantities[service],
                charge=money(amounts[service], currency),
            )
            for service in ("voice", "sms", "data")
        ],
        charges=[
            ChargeLineOut(
                plan_code=item.plan_code,
                service=item.service,
                direction=item.direction,
                zone_code=item.zone_code,
                zone_kind=item.zone_kind,
                class_code=item.class_code,
                records=item.records,
                quantity=item.quantity,
                included=item.included,
                charged=item.charged,
                unit=UNITS.get(item.service, ""),
                charge=money(item.charge, item.currency),
            )
            for item in charges
        ],
        charges_total=MoneyOut(
            amount=str(sum((item.charge for item in charges), Decimal(0))),
            amount_minor=sum(services.to_minor_units(i.charge, i.currency) for i in charges),
            currency=currency,
        )
        if charges
        else None,
    )


@router.get(
    "lines/{line_id}/usage/records",
    response=RecordsPageOut,
    summary="The rated records of my line, a page at a time",
    openapi_extra=problem_responses(400, 401, 404, 422, 429),
)
def line_usage_records(
    request: HttpRequest, line_id: int, query: Query[RecordsQuery]
) -> RecordsPageOut:
    """The cycle's rated records, newest first; a page after the last one is empty."""
    line = selectors.get_line_for(_user(request), line_id)
    cycle = _cycle(line, query.cycle)
    page = services.rated_records(line, cycle, page=query.page, per_page=query.per_page)
    return RecordsPageOut(
        line_id=line.pk,
        cycle=cycle,
        page=page.page,
        per_page=query.per_page,
        pages=page.pages,
        total=page.total,
        records=[
            RatedRecordOut(
                record_id=record.record_id,
                start_time=record.start_time,
                record_type=record.record_type,
                service=record.service,
                direction=record.direction,
                counterpart=record.counterpart,
                zone_code=record.zone_code,
                zone_kind=record.zone_kind,
                class_code=record.class_code,
                quantity=record.quantity,
                included=record.included,
                charged=record.charged,
                unit=UNITS.get(record.service, ""),
                charge=money(record.charge, record.currency),
            )
            for record in page.records
        ],
    )
