"""The invoice document: HTML from the stored invoice in its own language and currency, and
a real PDF made from it with WeasyPrint (its text read back with poppler's pdftotext)."""

from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import translation

from kindwave.accounts import services as accounts
from kindwave.accounts.models import User
from kindwave.billing import documents
from kindwave.billing.models import Invoice, InvoiceLine
from kindwave.causes.models import Cause
from kindwave.lines import services as lines
from kindwave.lines.models import Line, Market
from tests.billing.factories import make_invoice
from tests.conftest import PASSWORD
from tests.lines.conftest import AT, iccid

pytestmark = pytest.mark.django_db


@pytest.fixture
def french_line(fr: Market) -> Line:
    """Élodie's line in France (euros), on Confort, active since 1 March 2026."""
    elodie = accounts.create_subscriber(
        email="elodie@example.fr", full_name="Élodie Lefèvre", password=PASSWORD, verified=True
    )
    elodie.language = "fr"
    elodie.save(update_fields=["language"])
    lines.add_number_block(fr, "+33612000000", "+33612000009")
    lines.add_sims(fr, iccid(1, "893301"), "208017000000000", 1)
    return lines.activate_line(lines.order_line(elodie, fr, "fr-confort", at=AT), at=AT)


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    """The PDF's text, as poppler's pdftotext reads it (layout kept)."""
    executable = shutil.which("pdftotext")
    if executable is None:
        pytest.skip(
            "pdftotext not found: install Debian's poppler-utils to check the PDF's text "
            "(the PDF itself is still checked by the other tests)"
        )
    path = tmp_path / "invoice.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(
        [executable, "-layout", "-enc", "UTF-8", str(path), "-"],
        check=True,
        capture_output=True,
    )
    return result.stdout.decode("utf-8")


class TestHtml:
    def test_an_english_invoice_shows_what_a_uk_vat_invoice_must(
        self, active_line: Line, demo_causes: dict[str, Cause]
    ) -> None:
        # given alice's March bill: £10.00 net, £2.00 VAT, a £5.00 donation, for WaterAid
        invoice = make_invoice(
            active_line, "2026-03", extras_minor=500, cause=demo_causes["wateraid"]
        )

        html = documents.render_invoice_html(invoice)

        # then the seller, the number, the dates, the customer and every figure are there
        assert 'lang="en"' in html
        assert "Kindwave Ltd" in html
        assert "VAT number" in html
        assert invoice.number in html
        assert "April 1, 2026" in html  # issued
        assert "April 15, 2026" in html  # due
        assert "March 1, 2026 to March 31, 2026" in html
        assert "Alice Martin" in html
        assert "+44 7400 100000" in html
        assert "Plan fee" in html
        assert "£12.00" in html
        assert "Donation" in html
        assert "£5.00" in html
        assert "Telecom services excl. VAT" in html
        assert "£10.00" in html
        assert "VAT at 20&nbsp;%" in html
        assert "£2.00" in html
        assert "£17.00" in html  # total due
        assert "10&nbsp;% of this bill — £1.00 — goes to WaterAid." in html

    def test_without_a_cause_the_share_goes_to_the_foundation(self, active_line: Line) -> None:
        invoice = make_invoice(active_line, net_minor=2_345, vat_minor=469)

        html = documents.render_invoice_html(invoice)

        assert "— £2.35 — goes to the Kindwave foundation." in html

    def test_a_french_invoice_is_in_french_and_in_euros(self, french_line: Line) -> None:
        # given Élodie's French bill of 12,34 € net
        invoice = make_invoice(french_line, net_minor=1_234, vat_minor=247, language="fr")

        # when it is rendered while the site speaks English
        with translation.override("en"):
            html = documents.render_invoice_html(invoice)

        # then the document is in French, amounts with a decimal comma and the € after
        assert 'lang="fr"' in html
        assert "Kindwave France SAS" in html
        assert "Facture" in html, "the French catalogue lacks the invoice's strings"
        assert "TVA" in html
        assert "12,34\xa0€" in html
        assert "14,81\xa0€" in html  # 12,34 + 2,47
        assert "1 avril 2026" in html

    def test_credits_show_outside_vat(self, active_line: Line) -> None:
        invoice = make_invoice(active_line)
        InvoiceLine.objects.create(
            invoice=invoice,
            position=2,
            kind=InvoiceLine.Kind.CREDIT,
            description="Goodwill credit",
            amount_minor=-150,
            vat_applies=False,
        )
        Invoice.objects.filter(pk=invoice.pk).update(credits_minor=-150, total_minor=1_050)
        invoice.refresh_from_db()

        html = documents.render_invoice_html(invoice)

        assert "Outside the scope of VAT" in html
        assert "Goodwill credit" in html
        assert "-£1.50" in html
        assert "£10.50" in html

    def test_what_the_document_shows_comes_from_the_stored_invoice(
        self, active_line: Line, alice: User
    ) -> None:
        # given an issued invoice, then alice changes her name
        invoice = make_invoice(active_line)
        alice.full_name = "Alice Renamed"
        alice.save(update_fields=["full_name"])

        html = documents.render_invoice_html(Invoice.objects.get(pk=invoice.pk))

        # then the invoice still shows her name as it was at issue
        assert "Alice Martin" in html
        assert "Alice Renamed" not in html

    def test_text_is_escaped(self, active_line: Line) -> None:
        invoice = make_invoice(active_line)
        invoice.lines.update(description="<script>alert(1)</script>")

        html = documents.render_invoice_html(invoice)

        assert "<script>" not in html
        assert "&lt;script&gt;" in html


class TestPercentages:
    @pytest.mark.parametrize(
        ("rate", "language", "expected"),
        [
            (Decimal("0.2000"), "en", "20"),
            (Decimal("0.0550"), "en", "5.5"),
            (Decimal("0.0550"), "fr", "5,5"),
            (Decimal("0.0000"), "en", "0"),
        ],
    )
    def test_vat_percent(self, rate: Decimal, language: str, expected: str) -> None:
        with translation.override(language):
            assert documents.vat_percent(rate) == expected

    @pytest.mark.parametrize(
        ("net", "share", "expected"),
        [
            (1_000, 100, "10"),
            (1_005, 100, "10"),  # 100.5 rounded down
            (1_005, 101, "10"),  # 100.5 rounded up
            (4, 0, "10"),  # a tiny bill
            (0, 0, "10"),
            (1_000, 250, "25"),  # issued under another rule: its own percentage
            (3_000, 1_000, "33.3"),
        ],
    )
    def test_share_percent_never_contradicts_the_figures(
        self, net: int, share: int, expected: str
    ) -> None:
        with translation.override("en"):
            assert documents.share_percent(net, share, 10) == expected


class TestPdf:
    def test_a_real_pdf_with_the_number_and_the_total(
        self, active_line: Line, tmp_path: Path
    ) -> None:
        invoice = make_invoice(active_line, net_minor=1_234, vat_minor=247, extras_minor=500)

        pdf = documents.render_invoice_pdf(invoice)

        assert pdf.startswith(b"%PDF-")
        assert pdf.rstrip().endswith(b"%%EOF")
        text = pdf_text(pdf, tmp_path)
        assert invoice.number in text
        assert "£19.81" in text  # 12.34 + 2.47 + 5.00
        assert "Total due" in text

    def test_a_french_pdf_keeps_its_accents_and_euros(
        self, french_line: Line, tmp_path: Path
    ) -> None:
        invoice = make_invoice(french_line, net_minor=1_234, vat_minor=247, language="fr")

        pdf = documents.render_invoice_pdf(invoice)

        assert pdf.startswith(b"%PDF-")
        text = pdf_text(pdf, tmp_path)
        assert invoice.number in text
        assert "14,81 €" in text
        assert "Élodie Lefèvre" in text  # É and è drawn from DejaVu, read back as text
        assert "Solidarité" in text
        assert "Facture" in text

    def test_the_pdf_fetches_nothing(self, active_line: Line, monkeypatch) -> None:
        # given a line whose description tries to make the renderer fetch a URL
        invoice = make_invoice(active_line)
        invoice.lines.update(description='<img src="http://example.org/x.png">')
        fetched: list[str] = []
        monkeypatch.setattr(
            "urllib.request.OpenerDirector.open",
            lambda self, url, *args, **kwargs: fetched.append(str(url)),
        )

        pdf = documents.render_invoice_pdf(invoice)

        # then the text is escaped and printed, and no request leaves the server
        assert pdf.startswith(b"%PDF-")
        assert fetched == []

    def test_the_filename_is_the_number(self, active_line: Line) -> None:
        invoice = make_invoice(active_line)

        assert documents.pdf_filename(invoice) == f"{invoice.number}.pdf"
