"""Donating to a project on the phone bill, end to end in a browser: alice opens a WaterAid
project, gives £5 with one confirmation, sees her receipt, the project's progress bar shows
the new total, and WaterAid's public page and /transparency/ include it — to the penny of
what the ledger holds for WaterAid.

The public figures move as soon as the ledger does (the feed is cached per state of the
ledger), so no job runs here. They publish a month's donations to a cause only when at
least five subscribers gave (docs/transparency.md): four other supporters gave £5 each
earlier this month, so alice's gift is the fifth that makes the month public.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from kindwave.accounts import services as accounts
from kindwave.accounts.models import User
from kindwave.causes import transparency
from kindwave.causes.models import Cause
from kindwave.community.models import Donation, Project
from kindwave.community.services import donations, projects
from kindwave.community.services.accounts import ensure_account
from kindwave.ledger import chart
from kindwave.ledger.models import Account, balance
from kindwave.lines import services as lines
from kindwave.web.templatetags.kindwave import phone
from tests.conftest import PASSWORD

from .conftest import (
    Operator,
    PageProblems,
    broken_references,
    screenshot,
    unlabelled_fields,
)

OTHER_SUPPORTERS = 4  # with alice, the five a month's donations need to be published


@pytest.fixture
def project(operator: Operator) -> Project:
    """A WaterAid project of alice's with a £50 goal, and four other supporters' £5 gifts to
    WaterAid confirmed this month (not to the project)."""
    cause = operator.cause
    for number in range(OTHER_SUPPORTERS):
        supporter = accounts.create_subscriber(
            email=f"giver{number}@example.org",
            full_name=f"Giver {number}",
            password=PASSWORD,
            verified=True,
        )
        line = lines.order_line(supporter, operator.gb, "gb-starter")
        lines.activate_line(line, line.sim.iccid, by=supporter)
        gift = donations.donate_by_phone_bill(
            supporter, cause=cause, amount_minor=500, currency="GBP", client_key="gift"
        )
        donations.confirm_phone_bill_donation(supporter, gift.reference)
    return projects.create_project(
        ensure_account(operator.alice),
        cause=cause,
        title="Wells for Tamale",
        description="Ten wells before the dry season.",
        currency="GBP",
        goal_minor=5_000,
        deadline=projects.today() + timedelta(days=30),
        place="Tamale, Ghana",
    )


def wateraid_received() -> int:
    return balance(
        Account.objects.get(code=chart.cause(Cause.objects.get(slug="wateraid").pk, "GBP").code)
    )


def test_alice_donates_five_pounds_by_phone_bill_and_sees_it_reach_the_public_totals(
    page: Page,
    page_problems: PageProblems,
    operator: Operator,
    project: Project,
    log_in: Callable[[Page, User], None],
) -> None:
    alice = operator.alice
    before = wateraid_received()
    assert before == OTHER_SUPPORTERS * 500

    # WaterAid's public page does not show the month's donations yet: four givers only
    page.goto("/causes/wateraid/")
    expect(page.locator("main")).not_to_contain_text("Received: 20.00 GBP")

    # alice opens the project
    log_in(page, alice)
    page.goto(f"/community/projects/{project.slug}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Wells for Tamale")
    bar = page.get_by_role("progressbar", name="£0.00 raised of £50.00")
    expect(bar).to_have_attribute("value", "0")
    screenshot(page, "community-project")

    # she donates £5 on her phone bill
    page.get_by_role("link", name="Donate", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Donate to WaterAid")
    assert unlabelled_fields(page) == []
    assert broken_references(page) == []
    page.get_by_label("Amount (GBP)").fill("5")
    screenshot(page, "community-donate")
    page.get_by_role("button", name="Continue").click()

    # the one confirmation says what goes on which line's bill, and to whom
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your donation")
    number = phone(operator.line.msisdn)
    expect(page.locator("#confirm-summary")).to_have_text(
        f"£5.00 will be added to the bill of your line {number} and given in full to "
        "WaterAid, for the project “Wells for Tamale”."
    )
    assert Donation.objects.get(donor=alice).state == Donation.State.PENDING
    screenshot(page, "community-donation-confirm")
    page.get_by_role("button", name="Confirm: donate £5.00").click()

    # the receipt
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you for your donation")
    donation = Donation.objects.get(donor=alice)
    assert donation.state == Donation.State.COMPLETED
    receipt = page.locator("section.receipt")
    for shown in ("£5.00", "WaterAid", "Wells for Tamale", "Phone bill", str(donation.reference)):
        expect(receipt).to_contain_text(shown)
    expect(receipt).to_contain_text("Not declared")
    screenshot(page, "community-donation-receipt")

    # the project's progress bar shows the new total
    page.get_by_role("link", name="Back to the project").click()
    bar = page.get_by_role("progressbar", name="£5.00 raised of £50.00")
    expect(bar).to_have_attribute("value", "10")
    expect(page.locator("#project-progress")).to_contain_text("£5.00 raised of £50.00")

    # following it goes through HTMX: the buttons and the count change in place
    page.evaluate("window.notReloaded = true")
    page.get_by_role("button", name="Follow", exact=True).click()
    expect(page.get_by_role("button", name="Stop following")).to_be_visible()
    # keyboard focus stays on the button that replaced the one pressed, and it is said
    expect(page.get_by_role("button", name="Stop following")).to_be_focused()
    expect(page.locator("#project-status[role=status]")).to_have_text("You follow this project.")
    expect(page.locator("#project-progress")).to_contain_text("1 follower")
    assert page.evaluate("window.notReloaded") is True

    # WaterAid's public page and the operator's totals include it, as the ledger does
    received = wateraid_received()
    assert received == before + 500
    shown = f"{transparency.major(received)} GBP"
    page.goto("/causes/wateraid/")
    money = page.locator("section.money-report", has_text="In GBP")
    expect(money).to_contain_text(f"Received: {shown}")
    expect(money.locator("tfoot")).to_contain_text(transparency.major(received))
    screenshot(page, "community-cause-after-donation")
    page.goto("/transparency/")
    row = page.locator("tr", has=page.get_by_role("link", name="WaterAid", exact=True))
    expect(row.get_by_role("cell").first).to_have_text(transparency.major(received))
    page_problems.assert_none()
