"""The subscriber's journey in a real browser, from sign-up to an active line, then in French.

Sign up → "check your inbox" → the verification link from the e-mail → My Kindwave →
choose a plan and a cause → the line is ordered → type the SIM's ICCID → the line is
active → switch the site to French in the header → back home, the plan and the cause
are there. A screenshot of every step is kept (artifacts/screenshots/journey-*.png), and
no step may log a console error, a script error or a failed request.
"""

from __future__ import annotations

import re
import zoneinfo
from urllib.parse import urlsplit

from django.core import mail
from django.utils import formats, timezone, translation
from django.utils.dates import MONTHS
from django.utils.translation import gettext
from playwright.sync_api import Page, expect

from kindwave.accounts.models import User
from kindwave.lines.models import Line, LineState, Market, Plan
from kindwave.web.templatetags.kindwave import phone
from tests.conftest import PASSWORD

from .conftest import PageProblems, screenshot

EMAIL = "dora@example.org"
VERIFY_LINK = re.compile(r"https?://\S+?(/accounts/verify/\S+/)")


def step(page: Page, problems: PageProblems, name: str, heading: str | re.Pattern[str]) -> None:
    """Keep a screenshot of the step, then check it loaded cleanly under ``heading``."""
    screenshot(page, f"journey-{name}")
    problems.assert_none()
    expect(page.locator("h1")).to_have_text(heading)


def test_a_visitor_signs_up_orders_activates_and_switches_to_french(
    page: Page, page_problems: PageProblems, gb_operator: Market
) -> None:
    # given the demo offer with GB stock, and a visitor on the sign-up page
    page.goto("/accounts/signup/")
    step(page, page_problems, "01-signup", "Join Kindwave")
    main = page.locator("main")

    # when she signs up
    main.get_by_label("E-mail address").fill(EMAIL)
    main.get_by_label("Full name").fill("Dora Marquez")
    main.get_by_label("Language").select_option("en")
    main.get_by_label("Time zone").select_option("Europe/London")
    main.get_by_label("Password", exact=True).fill(PASSWORD)
    main.get_by_label("Password confirmation").fill(PASSWORD)
    screenshot(page, "journey-02-signup-filled")
    main.get_by_role("button", name="Create my account").click()

    # then she is asked to check her inbox, where the verification link is
    expect(page).to_have_url(re.compile(r"/accounts/signup/done/$"))
    step(page, page_problems, "03-check-your-inbox", "Check your inbox")
    assert [message.to for message in mail.outbox] == [[EMAIL]]
    link = VERIFY_LINK.search(mail.outbox[0].body)
    assert link, f"no verification link in:\n{mail.outbox[0].body}"

    # when she opens it, she is signed in on My Kindwave, verified, with no line yet
    page.goto(urlsplit(link.group(0)).path)
    expect(page).to_have_url(re.compile(r"/me/$"))
    step(page, page_problems, "04-my-kindwave", "Hello Dora")
    expect(page.get_by_role("status")).to_contain_text("Your e-mail address is verified")
    expect(main).to_contain_text("You have no line yet")

    # when she chooses a plan and a cause in the UK (the market her time zone suggests)
    main.get_by_role("link", name="Choose a plan and a cause").click()
    expect(page).to_have_url(re.compile(r"/me/order/$"))
    step(page, page_problems, "05-order", "Choose a plan and a cause")
    markets = page.get_by_role("navigation", name="Country").get_by_role("link")
    expect(markets).to_have_count(3)
    hrefs = {market.get_attribute("href") for market in markets.all()}
    assert hrefs == {"?market=GB", "?market=FR", "?market=US"}
    expect(markets.and_(page.locator("[aria-current=page]"))).to_have_text("United Kingdom")
    main.get_by_role("radio", name=re.compile(r"^Starter\b")).check()
    main.get_by_role("radio", name="WaterAid", exact=True).check()
    screenshot(page, "journey-06-order-chosen")
    main.get_by_role("button", name="Order my line").click()

    # then her line is ordered, waiting for its SIM
    expect(page).to_have_url(re.compile(r"/me/lines/\d+/$"))
    line = Line.objects.get(owner__email=EMAIL)
    number = phone(line.msisdn)  # as the pages show it: +44 7400 100000
    step(page, page_problems, "07-line-ordered", f"{number} Ordered")
    expect(page.get_by_role("status")).to_contain_text("Your line is ordered")
    expect(main.get_by_role("heading", name="Activate my SIM")).to_be_visible()
    iccid = main.locator("dt", has_text="SIM card (ICCID)").locator("+ dd").inner_text().strip()
    assert iccid == line.sim.iccid

    # when she types the ICCID printed on the card she received
    main.get_by_label("SIM card number (ICCID)").fill(iccid)
    main.get_by_role("button", name="Activate", exact=True).click()

    # then the line is active
    expect(page.get_by_role("status")).to_contain_text("Your line is active")
    step(page, page_problems, "08-line-active", f"{number} Active")
    expect(main.get_by_role("heading", name="Activate my SIM")).to_have_count(0)
    line.refresh_from_db()
    assert line.state == LineState.ACTIVE

    # when she switches the site to French in the header
    header = page.locator("header")
    header.get_by_label("Language").select_option("fr")
    header.get_by_role("button", name="Change language").click()

    # then the same page is in French: Django's own words (the month in the order date)
    # and Kindwave's (the navigation)
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page).to_have_url(re.compile(rf"/me/lines/{line.pk}/$"))
    step(page, page_problems, "09-line-in-french", re.compile(rf"^{re.escape(number)} "))
    ordered_at = timezone.localtime(line.ordered_at, zoneinfo.ZoneInfo("Europe/London"))
    with translation.override("fr"):
        ordered_on = formats.date_format(ordered_at, "DATETIME_FORMAT")  # 21 novembre 2026 23:44
        month = str(MONTHS[ordered_at.month])
    assert month in ordered_on, ordered_on
    assert month != ordered_at.strftime("%B").lower()
    expect(main).to_contain_text(ordered_on)
    my_kindwave = header.get_by_role("link", name="Mon Kindwave", exact=True)
    expect(my_kindwave).to_be_visible()
    assert User.objects.get(email=EMAIL).language == "fr"

    # when she goes home
    my_kindwave.click()

    # then My Kindwave shows her line, its plan and its cause, in French
    expect(page).to_have_url(re.compile(r"/me/$"))
    with translation.override("fr"):
        hello, active = gettext("Hello %(name)s") % {"name": "Dora"}, gettext("Active")
    step(page, page_problems, "10-my-kindwave-in-french", hello)
    starter = Plan.objects.filter(code="gb-starter").latest("catalog__effective_from")
    card = main.locator("section.card", has_text=number)
    expect(card).to_contain_text(starter.name_fr)  # "Découverte"
    expect(card.get_by_role("link", name="WaterAid", exact=True)).to_be_visible()
    expect(card.locator(".badge")).to_have_text(active)
