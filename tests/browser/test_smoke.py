"""Smoke: the main pages open in a real browser with their styles and scripts, and nothing
fails on the way (no console error, no script error, no request answered 4xx/5xx).

Each page leaves a full-page screenshot in artifacts/screenshots/ for CI to keep.
"""

from __future__ import annotations

import pytest
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import Page

from .conftest import PageProblems, screenshot


def assert_stylesheets_loaded(page: Page) -> None:
    sheets: list[dict[str, object]] = page.evaluate(
        """() => Array.from(document.querySelectorAll('link[rel="stylesheet"]'), (link) => ({
            href: link.href,
            rules: link.sheet ? link.sheet.cssRules.length : 0,
        }))"""
    )
    assert sheets, "the page links no stylesheet"
    empty = [sheet["href"] for sheet in sheets if not sheet["rules"]]
    assert not empty, f"stylesheets not loaded: {empty}"


def test_home_page(page: Page, page_problems: PageProblems) -> None:
    response = page.goto("/")
    screenshot(page, "home")  # first, so that a failing page is kept too

    page_problems.assert_none()
    assert response is not None
    assert response.status == 200
    assert "Kindwave" in page.title()
    assert page.locator("html").get_attribute("lang") == "en"
    assert_stylesheets_loaded(page)
    assert page.evaluate("() => typeof window.htmx") == "object", "HTMX did not load"


@pytest.mark.parametrize(("page", "lang"), [("en-GB", "en"), ("fr-FR", "fr")], indirect=["page"])
def test_staff_login_page(page: Page, page_problems: PageProblems, lang: str) -> None:
    response = page.goto("/admin/login/")
    screenshot(page, f"admin-login-{lang}")

    page_problems.assert_none()
    assert response is not None
    assert response.status == 200
    # Whatever the catalogues call it, in the language the browser asked for.
    with translation.override(lang):
        assert page.title().startswith(gettext("Log in"))
    assert page.locator("html").get_attribute("lang") == lang
    assert page.locator("input[name=username]").is_visible()
    assert page.locator("input[name=password]").is_visible()
    assert_stylesheets_loaded(page)
