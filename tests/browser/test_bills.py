"""Alice's bills in a real browser: she opens her bills from the header, opens a bill, and
downloads its PDF; her giving page says what her bills have given; charlie cannot open
hers. The accessibility basics are checked on each page at a phone's width (screenshots
in artifacts/screenshots/bills-*.png)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from kindwave.accounts.models import User
from kindwave.billing.models import Invoice
from tests.billing.factories import make_invoice

from .conftest import Operator, PageProblems, screenshot
from .test_accessibility import PHONE, problems_on


@pytest.fixture
def bills(operator: Operator) -> list[Invoice]:
    """Alice's March and April 2026 bills, for WaterAid (shares £1.00 and £2.00)."""
    return [
        make_invoice(operator.line, "2026-03", extras_minor=500, cause=operator.cause),
        make_invoice(
            operator.line, "2026-04", net_minor=2_000, vat_minor=400, cause=operator.cause
        ),
    ]


def test_alice_opens_her_bill_and_downloads_the_pdf(
    page: Page,
    page_problems: PageProblems,
    operator: Operator,
    bills: list[Invoice],
    log_in: Callable[[Page, User], None],
    tmp_path: Path,
) -> None:
    march, april = bills
    log_in(page, operator.alice)

    # when alice follows "Bills" in the header
    page.goto("/me/")
    page.get_by_role("navigation", name="Main navigation").get_by_role(
        "link", name="Bills", exact=True
    ).click()

    # then her bills are listed, newest first, with their totals
    expect(page.locator("h1")).to_have_text("My bills")
    screenshot(page, "bills-list")
    rows = page.locator("table.bills tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(april.number)
    expect(rows.nth(0)).to_contain_text("£24.00")
    expect(rows.nth(1)).to_contain_text(march.number)
    expect(rows.nth(1)).to_contain_text("£17.00")

    # when she opens the March bill
    page.get_by_role("link", name=march.number, exact=True).click()

    # then the invoice is shown inside the site, with its total and her cause's share
    expect(page.locator("h1")).to_have_text(f"Bill {march.number}")
    screenshot(page, "bills-bill")
    document = page.locator("article.invoice")
    expect(document).to_contain_text("Total due")
    expect(document).to_contain_text("£17.00")
    expect(document).to_contain_text("10 % of this bill — £1.00 — goes to WaterAid.")

    # when she downloads the PDF
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the PDF").click()
    download = download_info.value

    # then it is a PDF named after the bill
    assert download.suggested_filename == f"{march.number}.pdf"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF-")
    page_problems.assert_none()


def test_her_giving_page(
    page: Page,
    page_problems: PageProblems,
    operator: Operator,
    bills: list[Invoice],
    log_in: Callable[[Page, User], None],
) -> None:
    log_in(page, operator.alice)

    page.goto("/me/giving/")

    expect(page.locator("h1")).to_have_text("My giving")
    expect(page.locator("main")).to_contain_text(
        "Your bills have given £3.00 to WaterAid since March 2026."
    )
    screenshot(page, "bills-giving")
    page_problems.assert_none()


def test_charlie_cannot_open_alices_bill(
    page: Page,
    operator: Operator,
    bills: list[Invoice],
    charlie: User,
    log_in: Callable[[Page, User], None],
) -> None:
    log_in(page, charlie)

    for path in (f"/me/bills/{bills[0].number}/", f"/me/bills/{bills[0].number}/pdf/"):
        response = page.goto(path)
        assert response is not None
        assert response.status == 404
    page.goto("/me/bills/")
    expect(page.locator("main")).not_to_contain_text(bills[0].number)


@pytest.mark.parametrize("path", ["/me/bills/", "bill", "/me/giving/"])
def test_accessibility_basics_at_phone_width(
    page: Page,
    operator: Operator,
    bills: list[Invoice],
    log_in: Callable[[Page, User], None],
    path: str,
) -> None:
    page.set_viewport_size(PHONE)
    log_in(page, operator.alice)

    page.goto(f"/me/bills/{bills[0].number}/" if path == "bill" else path)

    name = "bill" if path == "bill" else path.strip("/").replace("/", "-")
    screenshot(page, f"bills-phone-{name}")
    assert problems_on(page) == {}
