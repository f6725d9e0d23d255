"""The subscriber's billing pages under /me/: my bills, a bill and its PDF, my giving — as
alice (her own), charlie the outsider (404, like a number that does not exist) and an
anonymous visitor (sent to log in)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from kindwave.accounts.models import User
from kindwave.billing.models import CarrierCharge, Invoice
from kindwave.causes.models import Cause
from kindwave.lines import services as lines
from kindwave.lines.models import Line, Market
from tests.billing.factories import make_invoice
from tests.conftest import client_for
from tests.lines.conftest import AT

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices_bills(active_line: Line, demo_causes: dict[str, Cause]) -> list[Invoice]:
    """Alice's bills for March and April 2026 (WaterAid), the March one paid."""
    march = make_invoice(active_line, "2026-03", cause=demo_causes["wateraid"])
    april = make_invoice(
        active_line, "2026-04", net_minor=2_000, vat_minor=400, cause=demo_causes["wateraid"]
    )
    Invoice.objects.filter(pk=march.pk).update(status=Invoice.Status.PAID, paid_minor=1_200)
    return [march, april]


@pytest.fixture
def charlies_line(gb_stock: Market, charlie: User) -> Line:
    return lines.activate_line(lines.order_line(charlie, gb_stock, "gb-starter", at=AT), at=AT)


def a_year_of_bills(line: Line, year: int = 2025) -> list[Invoice]:
    """Twelve open bills of ``line``, January to December of ``year``."""
    return [make_invoice(line, f"{year}-{month:02d}") for month in range(1, 13)]


def donation(line: Line, cause: Cause, amount_minor: int, state: str, key: str) -> CarrierCharge:
    at = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
    return CarrierCharge.objects.create(
        reference=uuid.uuid4(),
        client_key=key,
        owner=line.owner,
        line=line,
        kind=CarrierCharge.Kind.DONATION,
        cause=cause,
        description="Donation",
        amount_minor=amount_minor,
        currency=line.market.currency,
        state=state,
        reserved_at=at,
        settled_at=at,
        cycle="2026-03",
    )


class TestMyBills:
    def test_lists_my_bills_newest_first_with_status_and_total(
        self, alices_bills: list[Invoice], alice: User
    ) -> None:
        response = client_for(alice).get(reverse("billing:bills"))

        assert response.status_code == 200
        html = response.content.decode()
        march, april = alices_bills
        assert html.index(april.number) < html.index(march.number)
        assert "£24.00" in html
        assert "£12.00" in html
        assert ">Paid<" in html
        assert ">Unpaid<" in html
        assert reverse("billing:bill_pdf", args=[april.number]) in html

    def test_an_outsider_sees_none_of_alices_bills(
        self, alices_bills: list[Invoice], charlie: User
    ) -> None:
        html = client_for(charlie).get(reverse("billing:bills")).content.decode()

        assert "No bill yet" in html
        assert all(invoice.number not in html for invoice in alices_bills)

    def test_the_query_count_does_not_grow_with_bills(
        self, active_line: Line, alice: User, django_assert_max_num_queries
    ) -> None:
        a_year_of_bills(active_line)
        client = client_for(alice)

        with django_assert_max_num_queries(8):
            response = client.get(reverse("billing:bills"))
        assert response.content.decode().count("GB-20") >= 12

    def test_pages_of_bills(self, active_line: Line, alice: User) -> None:
        for year in (2024, 2025, 2026):
            a_year_of_bills(active_line, year)
        client = client_for(alice)

        first = client.get(reverse("billing:bills")).content.decode()
        second = client.get(reverse("billing:bills") + "?page=2").content.decode()

        assert "Page 1 of 2" in first
        assert "GB-2027-000001" in first
        assert "GB-2024-000001" not in first
        assert "GB-2024-000001" in second


class TestMyBill:
    def test_shows_the_document_and_the_pdf_link(
        self, alices_bills: list[Invoice], alice: User
    ) -> None:
        april = alices_bills[1]

        response = client_for(alice).get(reverse("billing:bill", args=[april.number]))

        assert response.status_code == 200
        html = response.content.decode()
        assert html.count("<h1") == 1
        assert f"Bill {april.number}" in html
        assert f"Invoice {april.number}" in html  # the document's own heading
        assert "£24.00" in html
        assert "goes to WaterAid" in html
        assert reverse("billing:bill_pdf", args=[april.number]) in html

    def test_the_pdf_is_a_download_named_after_the_number(
        self, alices_bills: list[Invoice], alice: User
    ) -> None:
        march = alices_bills[0]

        response = client_for(alice).get(reverse("billing:bill_pdf", args=[march.number]))

        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"] == f'attachment; filename="{march.number}.pdf"'
        assert "no-store" in response["Cache-Control"]
        assert response.content.startswith(b"%PDF-")

    def test_a_french_reader_sees_a_page_in_french_around_an_english_bill(
        self, alices_bills: list[Invoice], alice: User
    ) -> None:
        alice.language = "fr"
        alice.save(update_fields=["language"])

        html = client_for(alice).get(reverse("billing:bill", args=[alices_bills[1].number]))

        text = html.content.decode()
        assert '<html lang="fr">' in text
        assert 'lang="en"' in text  # the document keeps the language it was issued in
        assert "£24.00" in text

    @pytest.mark.parametrize("route", ["billing:bill", "billing:bill_pdf"])
    @pytest.mark.parametrize("persona", ["charlie", "bob", "staff"])
    def test_anyone_else_gets_the_missing_bill_404(
        self,
        alices_bills: list[Invoice],
        route: str,
        persona: str,
        request: pytest.FixtureRequest,
    ) -> None:
        client = client_for(request.getfixturevalue(persona))

        theirs = client.get(reverse(route, args=[alices_bills[0].number]))
        missing = client.get(reverse(route, args=["GB-2026-999999"]))

        assert theirs.status_code == missing.status_code == 404
        assert theirs.content == missing.content


class TestAnonymous:
    @pytest.mark.parametrize("route", ["billing:bills", "billing:giving"])
    def test_pages_send_to_the_login(self, route: str) -> None:
        url = reverse(route)

        response = Client().get(url)

        assert response.status_code == 302
        assert response["Location"] == f"{reverse('accounts:login')}?next={url}"

    @pytest.mark.parametrize("route", ["billing:bill", "billing:bill_pdf"])
    def test_a_bill_sends_to_the_login_without_saying_if_it_exists(
        self, alices_bills: list[Invoice], route: str
    ) -> None:
        existing = Client().get(reverse(route, args=[alices_bills[0].number]))
        missing = Client().get(reverse(route, args=["GB-2026-999999"]))

        assert existing.status_code == missing.status_code == 302
        assert existing["Location"].startswith(reverse("accounts:login"))

    def test_writes_are_refused(self, alices_bills: list[Invoice], alice: User) -> None:
        response = client_for(alice).post(reverse("billing:bills"))

        assert response.status_code == 405


class TestMyGiving:
    def test_what_my_bills_and_donations_have_given_per_cause(
        self,
        alices_bills: list[Invoice],
        active_line: Line,
        alice: User,
        demo_causes: dict[str, Cause],
    ) -> None:
        # given two bills for WaterAid (shares £1.00 + £2.00), a confirmed £5.00 donation
        # to WaterAid, a £3.00 one still awaiting confirmation and a cancelled one
        wateraid = demo_causes["wateraid"]
        donation(active_line, wateraid, 500, CarrierCharge.State.CONFIRMED, "a")
        donation(active_line, wateraid, 300, CarrierCharge.State.RESERVED, "b")
        donation(active_line, wateraid, 700, CarrierCharge.State.CANCELLED, "c")

        html = client_for(alice).get(reverse("billing:giving")).content.decode()

        # then only what was billed and confirmed counts
        assert "Your bills have given £3.00 to WaterAid since March 2026." in html
        assert "Your donations charged to your bill: £5.00, since March 20, 2026." in html
        assert "£8.00" in html
        assert "£11.00" not in html
        assert "£15.00" not in html

    def test_bills_without_a_cause_go_to_the_foundation(
        self, active_line: Line, alice: User
    ) -> None:
        make_invoice(active_line, "2026-05", net_minor=1_500, vat_minor=300)

        html = client_for(alice).get(reverse("billing:giving")).content.decode()

        assert "Your bills have given £1.50 to the Kindwave foundation since May 2026." in html

    def test_month_by_month_bars_compare_the_months(
        self, alices_bills: list[Invoice], alice: User
    ) -> None:
        # given March's share of £1.00 and April's of £2.00
        html = client_for(alice).get(reverse("billing:giving")).content.decode()

        # then April comes first with the full bar, March with half of it
        section = html[html.index('id="months-heading"') :]
        assert section.index("April 2026") < section.index("March 2026")
        assert "width: 100%" in section
        assert "width: 50%" in section

    def test_an_outsider_sees_nothing_of_alices_giving(
        self, alices_bills: list[Invoice], charlies_line: Line, charlie: User
    ) -> None:
        html = client_for(charlie).get(reverse("billing:giving")).content.decode()

        assert "Nothing given yet" in html
        assert "WaterAid" not in html

    def test_the_query_count_is_bounded(
        self,
        active_line: Line,
        alice: User,
        demo_causes: dict[str, Cause],
        django_assert_max_num_queries,
    ) -> None:
        for month, slug in enumerate(demo_causes, start=1):
            make_invoice(active_line, f"2025-{month:02d}", cause=demo_causes[slug])
        client = client_for(alice)

        with django_assert_max_num_queries(8):
            response = client.get(reverse("billing:giving"))
        assert response.content.decode().count("Your bills have given") == len(demo_causes)
