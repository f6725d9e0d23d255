"""A screenshot of each main page, kept by CI in artifacts/screenshots/: each page answers
200, loads without a problem (console error, script error, failed request) and shows its
heading; the public pages in English and in French, the others in English."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page

from kindwave.accounts.models import User

from .conftest import Operator, PageProblems, screenshot
from .main_pages import MAIN_PAGES, PUBLIC_PAGES, MainPage, visit

CASES = [
    pytest.param("en-GB", "en", main_page, id=f"{main_page}-en") for main_page in MAIN_PAGES
] + [pytest.param("fr-FR", "fr", main_page, id=f"{main_page}-fr") for main_page in PUBLIC_PAGES]


@pytest.mark.parametrize(("page", "language", "main_page"), CASES, indirect=["page"])
def test_main_page(
    page: Page,
    page_problems: PageProblems,
    operator: Operator,
    log_in: Callable[[Page, User], None],
    language: str,
    main_page: MainPage,
) -> None:
    # given the demo operator, and a browser that asks for ``language``

    # when the page is opened by the person it is for
    response = visit(page, main_page, operator, log_in)
    screenshot(page, f"page-{main_page}-{language}")

    # then it is there, whole, in the right language, under its heading
    assert response.status == 200, f"{response.url}: HTTP {response.status}"
    page_problems.assert_none()
    assert page.locator("html").get_attribute("lang") == language
    assert page.locator("h1").first.inner_text().strip() == main_page.expected_heading(
        operator, language
    )
