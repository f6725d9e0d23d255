"""Alice's "my usage" page in a real browser, over a month of usage delivered, ingested
and rated through the real pipeline: English and French, the HTMX "older records" button,
and the accessibility basics at a phone's width (screenshots in artifacts/screenshots/)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pytest_django.fixtures import Settings

from kindwave.accounts.models import User
from kindwave.lines import services as lines
from kindwave.lines.models import Line, Market
from kindwave.usage import views
from tests.lines.conftest import AT
from tests.usage.rated_data import ALICES_MONTH, deliver_and_rate, texts

from .conftest import PageProblems, screenshot
from .test_accessibility import PHONE, problems_on

RECORDS = len(ALICES_MONTH) + 60


@pytest.fixture
def rated_line(gb_operator: Market, alice: User, settings: Settings, tmp_path: Path) -> Line:
    """Alice's Everyday line, active since 1 March 2026, with March rated."""
    settings.DATA_DIR = tmp_path / "data"
    line = lines.activate_line(lines.order_line(alice, gb_operator, "gb-everyday", at=AT), at=AT)
    deliver_and_rate(tmp_path / "delivery", line, ALICES_MONTH + texts(60))
    return line


@pytest.mark.parametrize(
    ("page", "language", "heading", "charges"),
    [("en-GB", "en", "My usage", "£1.85"), ("fr-FR", "fr", "Ma consommation", "1,85\xa0£GB")],
    indirect=["page"],
)
def test_the_usage_page_in_both_languages(
    page: Page,
    page_problems: PageProblems,
    rated_line: Line,
    alice: User,
    log_in: Callable[[Page, User], None],
    language: str,
    heading: str,
    charges: str,
) -> None:
    # given alice, who reads the site in ``language``
    alice.language = language
    alice.save(update_fields=["language"])
    log_in(page, alice)

    # when she opens her usage page
    response = page.goto(f"/me/lines/{rated_line.pk}/usage/")
    screenshot(page, f"usage-{language}")

    # then the month is there: three charts, the allowances, the charges, the records
    assert response is not None
    assert response.status == 200
    page_problems.assert_none()
    expect(page.locator("h1")).to_have_text(heading)
    expect(page.locator("svg.chart")).to_have_count(3)
    expect(page.locator("progress")).to_have_count(1)  # data; calls and texts are unlimited
    expect(page.locator(".charges tfoot")).to_contain_text(charges)
    expect(page.locator("#records-rows tr")).to_have_count(views.PER_PAGE)


def test_older_records_load_in_place(
    page: Page,
    page_problems: PageProblems,
    rated_line: Line,
    alice: User,
    log_in: Callable[[Page, User], None],
) -> None:
    # given alice on her usage page, showing the newest 50 records
    log_in(page, alice)
    page.goto(f"/me/lines/{rated_line.pk}/usage/")
    url = page.url

    # when she asks for older records
    page.get_by_role("link", name="Older records").click()

    # then they are added below, without leaving the page, and there are no more to load
    expect(page.locator("#records-rows tr")).to_have_count(RECORDS)
    expect(page.locator("#records-more")).to_contain_text(f"{RECORDS} of {RECORDS}")
    expect(page.get_by_role("link", name="Older records")).to_have_count(0)
    assert page.url == url
    page_problems.assert_none()


def test_the_figures_table_opens_from_the_chart(
    page: Page, rated_line: Line, alice: User, log_in: Callable[[Page, User], None]
) -> None:
    log_in(page, alice)
    page.goto(f"/me/lines/{rated_line.pk}/usage/")

    page.get_by_text("Calls: the figures, day by day").click()

    table = page.locator(".usage-chart").first.locator("table")
    expect(table).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(4)  # 2, 5, 6 and 12 March


@pytest.mark.parametrize("language", ["en", "fr"])
def test_accessibility_basics_at_phone_width(
    page: Page,
    rated_line: Line,
    alice: User,
    log_in: Callable[[Page, User], None],
    language: str,
) -> None:
    # given a phone-sized window
    alice.language = language
    alice.save(update_fields=["language"])
    page.set_viewport_size(PHONE)
    log_in(page, alice)

    # when alice opens her usage page
    page.goto(f"/me/lines/{rated_line.pk}/usage/")
    screenshot(page, f"phone-usage-rated-{language}")

    # then it passes every check: one h1, labels, references, skip link, nothing too wide
    assert problems_on(page) == {}
