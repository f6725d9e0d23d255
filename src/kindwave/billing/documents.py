"""The invoice as a document: HTML, and a PDF made from the same HTML with WeasyPrint.

Everything shown comes from the stored ``Invoice`` and its ``InvoiceLine`` rows, as issued:
nothing is recomputed, so the document of an invoice reads the same forever. It is written
in the invoice's own language (``Invoice.language``, fixed at issue) whatever the reader's
language is, and amounts are in the invoice's currency. The seller's legal details (name,
address, registration and VAT numbers) are a block the operator edits in
``billing/templates/billing/_seller.html``.

PDFs are rendered on demand (a page or API request), never in the bill run; rendering
fetches nothing (no image, font or stylesheet from any URL): the fonts are the machine's
own through fontconfig (Debian's DejaVu, which has é, è, ç, €, £).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.template.loader import render_to_string
from django.utils import formats, translation
from django.utils.translation import gettext as _

from kindwave.billing.models import Invoice, InvoiceLine

#: The font stack of the PDF: Debian's fonts-dejavu-core, found through fontconfig.
PDF_FONTS = '"DejaVu Sans", "DejaVu Sans Condensed", sans-serif'


@dataclass(frozen=True)
class DocumentLine:
    """One invoice line as the document shows it."""

    line: InvoiceLine
    detail: str  # quantity and period, when the line has them

    @property
    def is_credit(self) -> bool:
        return self.line.kind == InvoiceLine.Kind.CREDIT


@dataclass(frozen=True)
class InvoiceDocument:
    """What an invoice's document shows, split as a French or UK invoice must show it."""

    invoice: Invoice
    telecom: list[DocumentLine]  # VAT applies
    outside_vat: list[DocumentLine]  # one-offs (donations, purchases) and credits
    vat_percent: str  # "20", "5.5"
    prices_include_vat: bool
    telecom_with_vat_minor: int  # net + VAT
    cause_name: str  # the cause, or the Kindwave foundation
    share_percent: str  # "10": the cause's share, in percent of the net


def share_percent(net_minor: int, share_minor: int, configured: int) -> str:
    """The percentage of the net that the stored share is: the configured one (10) when the
    share is that percentage of the net to within one minor unit (whatever the rounding),
    else the share's own percentage, so that an invoice issued under another rule never
    claims a percentage its figures contradict. ``(1_000, 100, 10)`` → ``"10"``."""
    if net_minor == 0 or abs(share_minor * 100 - net_minor * configured) < 100:
        return str(configured)
    return _percent((Decimal(share_minor * 100) / Decimal(net_minor)).quantize(Decimal("0.1")))


def vat_percent(rate: Decimal) -> str:
    """``Decimal("0.2000")`` → ``"20"``; ``Decimal("0.0550")`` → ``"5.5"`` (``"5,5"`` in
    French: the active language's decimal separator)."""
    return _percent(rate * 100)


def _percent(value: Decimal) -> str:
    return formats.number_format(Decimal(f"{value.normalize():f}"))


def _detail(line: InvoiceLine) -> str:
    parts = []
    if line.unit and line.quantity != 1:
        parts.append(f"{formats.number_format(line.quantity, force_grouping=True)} {line.unit}")
    if line.period_start and line.period_end:
        parts.append(
            _("%(start)s to %(end)s")
            % {
                "start": formats.date_format(line.period_start, "MONTH_DAY_FORMAT"),
                "end": formats.date_format(line.period_end, "MONTH_DAY_FORMAT"),
            }
        )
    return " — ".join(parts)


def build_document(invoice: Invoice) -> InvoiceDocument:
    """The document's content; call it with the invoice's language active (the details
    are formatted in it). Reads ``invoice.lines`` (prefetch it) and ``invoice.cause``."""
    lines = [DocumentLine(line, _detail(line)) for line in invoice.lines.all()]
    return InvoiceDocument(
        invoice=invoice,
        telecom=[item for item in lines if item.line.vat_applies],
        outside_vat=[item for item in lines if not item.line.vat_applies],
        vat_percent=vat_percent(invoice.vat_rate),
        prices_include_vat=invoice.tax_mode == "inclusive",
        telecom_with_vat_minor=invoice.net_minor + invoice.vat_minor,
        cause_name=invoice.cause.name if invoice.cause else _("the Kindwave foundation"),
        share_percent=share_percent(
            invoice.net_minor,
            invoice.cause_share_minor,
            _configured_share_percent(),
        ),
    )


def _configured_share_percent() -> int:
    percent = settings.BILLING["CAUSE_SHARE_PERCENT"]
    if not isinstance(percent, int):
        raise ImproperlyConfigured("BILLING['CAUSE_SHARE_PERCENT'] must be a whole number")
    return percent


def render_invoice_html(invoice: Invoice, *, standalone: bool = False) -> str:
    """The invoice as HTML in its own language: an ``<article>`` to place in a page, or,
    with ``standalone``, a whole HTML document with its print styles (what the PDF is made
    from)."""
    with translation.override(invoice.language):
        context = {"doc": build_document(invoice), "invoice": invoice, "fonts": PDF_FONTS}
        template = "billing/invoice_print.html" if standalone else "billing/_invoice.html"
        return render_to_string(template, context)


def render_invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice as a PDF (A4), from :func:`render_invoice_html`; fetches no URL."""
    # Imported here: WeasyPrint loads Pango and HarfBuzz, which most processes never need.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    html = render_invoice_html(invoice, standalone=True)
    # No protocol allowed: the document is self-contained, and a PDF request must never
    # make the server fetch a URL (or read a file) on anyone's behalf.
    fetcher = URLFetcher(allowed_protocols=())
    pdf = HTML(string=html, url_fetcher=fetcher).write_pdf()
    assert pdf is not None  # noqa: S101 - write_pdf returns the bytes when given no target
    return pdf


def pdf_filename(invoice: Invoice) -> str:
    """``GB-2026-000123.pdf``."""
    return f"{invoice.number}.pdf"
