"""The subscriber's bills and giving, under ``/me/``: my bills, one bill (its document in
the site's layout, and its PDF) and what my bills and donations have given.

Every invoice is fetched through ``billing.selectors`` (``Invoice.objects.readable_by``):
another person's bill, page or PDF, is a 404 exactly like a number that does not exist.
The bill's document is in the language it was issued in; the page around it is in the
reader's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import formats, timezone
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from kindwave.billing import documents, selectors
from kindwave.billing.models import Invoice
from kindwave.lib.money import format_money

PER_PAGE = 24


def month_label(cycle: str) -> str:
    """``"2026-03"`` → ``March 2026`` / ``mars 2026``."""
    year, month = cycle.split("-")
    return formats.date_format(date(int(year), int(month), 1), "YEAR_MONTH_FORMAT")


@dataclass(frozen=True)
class BillRow:
    invoice: Invoice
    month: str
    overdue: bool


@dataclass(frozen=True)
class GivingRow:
    item: selectors.Giving
    name: str  # the cause's, or the foundation's


@login_required
@require_safe
def bill_list(request: HttpRequest) -> HttpResponse:
    """``/me/bills/?page=N``: my bills, newest first, with their status and total."""
    paginator = Paginator(selectors.bills_of(request.user), PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    today = timezone.now().date()
    rows = [
        BillRow(
            invoice=invoice,
            month=month_label(invoice.cycle),
            overdue=invoice.status != Invoice.Status.PAID and invoice.due_on < today,
        )
        for invoice in page.object_list
    ]
    return render(request, "billing/bills.html", {"bills": rows, "page": page})


@login_required
@require_safe
def bill_detail(request: HttpRequest, number: str) -> HttpResponse:
    """``/me/bills/<number>/``: the bill's document inside the site's layout."""
    invoice = selectors.get_bill_for(request.user, number)
    # The document is rendered by our own template, every value escaped there.
    document = mark_safe(documents.render_invoice_html(invoice))  # noqa: S308
    context = {
        "invoice": invoice,
        "month": month_label(invoice.cycle),
        "document": document,
        "other_language": not (get_language() or "en").startswith(invoice.language[:2]),
    }
    return render(request, "billing/bill.html", context)


@login_required
@require_safe
def bill_pdf(request: HttpRequest, number: str) -> HttpResponse:
    """``/me/bills/<number>/pdf/``: the bill as a PDF download (``<number>.pdf``)."""
    invoice = selectors.get_bill_for(request.user, number)
    return pdf_response(invoice)


def pdf_response(invoice: Invoice) -> HttpResponse:
    """The invoice's PDF as a download; shared by the page and the API."""
    response = HttpResponse(documents.render_invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{documents.pdf_filename(invoice)}"'
    # Personal data: kept by the subscriber's browser only, never by a shared cache.
    response["Cache-Control"] = "private, no-store"
    return response


@dataclass(frozen=True)
class MonthBar:
    month: str
    amount: str
    percent: int  # of the largest month in the same currency


def month_bars(shares: list[selectors.MonthlyShare]) -> list[MonthBar]:
    """Each month's bill shares as a bar as long as its share of the largest month."""
    largest: dict[str, int] = {}
    for share in shares:
        largest[share.currency] = max(largest.get(share.currency, 0), share.amount_minor)
    language = (get_language() or "en")[:2]
    return [
        MonthBar(
            month=month_label(share.cycle),
            amount=format_money(share.amount_minor, share.currency, language),
            percent=round(100 * share.amount_minor / largest[share.currency])
            if largest[share.currency]
            else 0,
        )
        for share in shares
    ]


@login_required
@require_safe
def giving(request: HttpRequest) -> HttpResponse:
    """``/me/giving/``: per cause and currency, what my bills and donations have given."""
    rows = [
        GivingRow(item, item.cause.name if item.cause else _("the Kindwave foundation"))
        for item in selectors.giving_of(request.user)
    ]
    months = month_bars(selectors.monthly_bill_shares(request.user))
    return render(request, "billing/giving.html", {"giving": rows, "months": months})
