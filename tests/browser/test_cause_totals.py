"""The promise, end to end in a browser: a real bill run bills alice and five other
WaterAid supporters; alice opens her bill and downloads its PDF; then WaterAid's public page
shows, as received from bill shares, exactly what the ledger holds for WaterAid."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from kindwave.accounts import services as accounts
from kindwave.accounts.models import User
from kindwave.billing.models import Invoice
from kindwave.billing.services.billrun import run_bill_run
from kindwave.causes.models import Cause
from kindwave.ledger import chart
from kindwave.ledger.models import Account, balance
from kindwave.lib.money import format_money
from kindwave.lines.models import Market
from tests.billing.test_run import CYCLE, make_line, rate
from tests.conftest import PASSWORD

from .conftest import PageProblems, screenshot

# Five more supporters than alice: the public page shows a month's bill shares only when at
# least five subscribers gave (docs/transparency.md).
OTHER_SUPPORTERS = 5


@pytest.fixture
def billed(gb_operator: Market, alice: User) -> tuple[Invoice, Cause]:
    cause = Cause.objects.get(slug="wateraid")
    make_line(alice, gb_operator, "gb-everyday", cause=cause)
    for number in range(OTHER_SUPPORTERS):
        supporter = accounts.create_subscriber(
            email=f"supporter{number}@example.org",
            full_name=f"Supporter {number}",
            password=PASSWORD,
            verified=True,
        )
        make_line(supporter, gb_operator, "gb-starter", cause=cause)
    rate(CYCLE)
    run_bill_run(CYCLE)
    return Invoice.objects.get(owner=alice, cycle=CYCLE), cause


def test_alice_sees_her_bill_and_her_cause_shows_what_the_ledger_holds(
    page: Page,
    page_problems: PageProblems,
    billed: tuple[Invoice, Cause],
    alice: User,
    log_in: Callable[[Page, User], None],
    tmp_path: Path,
) -> None:
    invoice, cause = billed
    log_in(page, alice)

    # alice opens her bill from her list of bills and downloads the PDF
    page.goto("/me/bills/")
    page.get_by_role("link", name=invoice.number, exact=True).click()
    document = page.locator("article.invoice")
    expect(document).to_contain_text(format_money(invoice.total_minor, "GBP"))
    share = format_money(invoice.cause_share_minor, "GBP")
    expect(document).to_contain_text(f"10 % of this bill — {share} — goes to WaterAid.")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the PDF").click()
    saved = tmp_path / "bill.pdf"
    download_info.value.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF-")

    # WaterAid's public page: received = what the ledger holds for WaterAid, to the penny
    owed = balance(Account.objects.get(code=chart.cause(cause.pk, "GBP").code))
    shares = sum(
        Invoice.objects.filter(cycle=CYCLE, cause=cause).values_list("cause_share_minor", flat=True)
    )
    assert owed == shares > 0
    page.goto(f"/causes/{cause.slug}/")
    expect(page.get_by_role("heading", name="Money given to WaterAid")).to_be_visible()
    money = page.locator("section.money-report", has_text="In GBP")
    expect(money).to_contain_text(f"Received: {owed // 100}.{owed % 100:02d} GBP")
    screenshot(page, "cause-totals")
    page_problems.assert_none()
