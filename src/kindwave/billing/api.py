"""The subscriber's bills through the JSON API: the list, one bill with its lines, its PDF.

Own data only: every invoice goes through ``billing.selectors`` (``readable_by``), so
another person's bill answers 404 exactly as a number that does not exist. Figures are the
invoice's as issued (never recomputed). Money is given as elsewhere in the API: ``amount``,
the exact decimal in major units as a string, ``amount_minor`` and ``currency``.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Query, Router, Schema
from pydantic import Field

from kindwave.billing import selectors
from kindwave.billing.models import Invoice, InvoiceLine
from kindwave.billing.views import pdf_response
from kindwave.lib.money import minor_to_major
from kindwave.usage.api import MoneyOut, problem_responses

router = Router(tags=["bills"])


# --- Schemas --------------------------------------------------------------------------------


class CauseOut(Schema):
    slug: str
    name: str


class BillSummaryOut(Schema):
    number: str = Field(description="e.g. GB-2026-000123: market, year, gap-free sequence")
    cycle: str = Field(description="the billed month, YYYY-MM (UTC)")
    line_id: int
    msisdn: str = Field(description="E.164")
    issued_on: date
    due_on: date
    status: str = Field(description="open (unpaid) | paid")
    total: MoneyOut = Field(description="what is due: net + VAT + one-offs + credits")
    outstanding: MoneyOut = Field(description="what is left to pay")
    url: str = Field(description="this bill in the API")
    pdf_url: str = Field(description="this bill as a PDF")


class BillLineOut(Schema):
    position: int
    kind: str = Field(description="plan_fee | usage | purchase | donation | credit")
    description: str
    quantity: int
    unit: str = Field(description="the quantity's unit, empty when it is a count of one")
    period_start: date | None
    period_end: date | None
    amount: MoneyOut = Field(
        description="VAT included when the bill's tax_mode is inclusive and vat_applies"
    )
    vat_applies: bool


class BillOut(BillSummaryOut):
    customer_name: str
    language: str = Field(description="the language the bill was issued in: en | fr")
    period_start: date
    period_end: date = Field(description="the last day billed (inclusive)")
    issued_at: datetime
    tax_mode: str = Field(description="inclusive | exclusive: how line amounts treat VAT")
    vat_rate: str = Field(description="a decimal fraction, e.g. 0.2 for 20 %")
    vat_percent: str = Field(description="the VAT rate in percent, e.g. 20")
    net: MoneyOut = Field(description="telecom charges before VAT")
    vat: MoneyOut
    extras: MoneyOut = Field(description="one-offs outside VAT: donations and purchases")
    credits: MoneyOut = Field(description="credits applied (zero or negative)")
    paid: MoneyOut
    cause: CauseOut | None = Field(description="null: the Kindwave foundation")
    cause_share: MoneyOut = Field(description="the share of the net given to the cause")
    lines: list[BillLineOut]


class BillsPageOut(Schema):
    page: int
    per_page: int
    pages: int
    total: int
    bills: list[BillSummaryOut] = Field(description="newest first")


class BillsQuery(Schema):
    page: int = Field(1, ge=1, le=1_000_000)
    per_page: int = Field(50, ge=1, le=500)


# --- Helpers --------------------------------------------------------------------------------


def problems(*statuses: int) -> dict[int, Any]:
    """The problem-details responses of a bill endpoint (the API's shared ones, with a 404
    that speaks of bills)."""
    responses: dict[int, Any] = problem_responses(*statuses)["responses"]
    if 404 in responses:
        responses[404] = responses[404] | {
            "description": "No such bill (or not yours: the answer is the same)"
        }
    return responses


def money(amount_minor: int, currency: str) -> MoneyOut:
    return MoneyOut(
        amount=str(minor_to_major(amount_minor, currency)),
        amount_minor=amount_minor,
        currency=currency,
    )


def _summary_fields(invoice: Invoice) -> dict[str, Any]:
    currency = invoice.currency
    return {
        "number": invoice.number,
        "cycle": invoice.cycle,
        "line_id": invoice.line_id,
        "msisdn": invoice.msisdn,
        "issued_on": invoice.issued_on,
        "due_on": invoice.due_on,
        "status": invoice.status,
        "total": money(invoice.total_minor, currency),
        "outstanding": money(invoice.outstanding_minor, currency),
        "url": reverse("kindwave-api-v1:bill", args=[invoice.number]),
        "pdf_url": reverse("kindwave-api-v1:bill_pdf", args=[invoice.number]),
    }


def _line(line: InvoiceLine, currency: str) -> BillLineOut:
    return BillLineOut(
        position=line.position,
        kind=line.kind,
        description=line.description,
        quantity=line.quantity,
        unit=line.unit,
        period_start=line.period_start,
        period_end=line.period_end,
        amount=money(line.amount_minor, currency),
        vat_applies=line.vat_applies,
    )


# --- Endpoints ------------------------------------------------------------------------------


@router.get(
    "bills",
    response=BillsPageOut,
    summary="My bills",
    openapi_extra={"responses": problems(401, 422, 429)},
)
def my_bills(request: HttpRequest, query: Query[BillsQuery]) -> BillsPageOut:
    """The invoices of all my lines, newest first, a page at a time; a page after the last
    one is empty."""
    bills = selectors.bills_of(request.user)
    total = bills.count()
    start = (query.page - 1) * query.per_page
    return BillsPageOut(
        page=query.page,
        per_page=query.per_page,
        pages=math.ceil(total / query.per_page),
        total=total,
        bills=[
            BillSummaryOut(**_summary_fields(invoice))
            for invoice in bills[start : start + query.per_page]
        ],
    )


@router.get(
    "bills/{number}",
    response=BillOut,
    url_name="bill",
    summary="One of my bills",
    openapi_extra={"responses": problems(401, 404, 429)},
)
def my_bill(request: HttpRequest, number: str) -> BillOut:
    """The bill as issued: its totals, the cause's share and every line."""
    invoice = selectors.get_bill_for(request.user, number)
    currency = invoice.currency
    return BillOut(
        **_summary_fields(invoice),
        customer_name=invoice.customer_name,
        language=invoice.language,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        issued_at=invoice.issued_at,
        tax_mode=invoice.tax_mode,
        vat_rate=f"{invoice.vat_rate.normalize():f}",
        vat_percent=f"{(invoice.vat_rate * 100).normalize():f}",
        net=money(invoice.net_minor, currency),
        vat=money(invoice.vat_minor, currency),
        extras=money(invoice.extras_minor, currency),
        credits=money(invoice.credits_minor, currency),
        paid=money(invoice.paid_minor, currency),
        cause=CauseOut(slug=invoice.cause.slug, name=invoice.cause.name) if invoice.cause else None,
        cause_share=money(invoice.cause_share_minor, currency),
        lines=[_line(line, currency) for line in invoice.lines.all()],
    )


_PDF: dict[int, Any] = {
    200: {
        "description": "The bill as a PDF (attachment named <number>.pdf)",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.get(
    "bills/{number}/pdf",
    url_name="bill_pdf",
    summary="One of my bills as a PDF",
    openapi_extra={"responses": _PDF | problems(401, 404, 429)},
)
def my_bill_pdf(request: HttpRequest, number: str) -> HttpResponse:
    """The bill's PDF, rendered on demand from the bill as issued, in its language."""
    return pdf_response(selectors.get_bill_for(request.user, number))
