"""Accessibility basics on each main page, in a real browser at a phone's width (375 px):
one ``<h1>``, the page's language declared, a name for every form field, no label or ARIA
reference to a missing element, a skip link first (on screen once focused), and nothing
wider than the screen. The public pages are checked in English and in French.

A defect found in a page that this change does not own is marked here, not fixed: its
case is ``xfail(strict=True, raises=KnownDefectError)``, so the case fails again as soon as
the defect is fixed (remove the mark then), and any *other* problem on that page still
fails it outright.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page

from kindwave.accounts.models import User

from .conftest import (
    Operator,
    broken_references,
    horizontal_overflow,
    screenshot,
    skip_link_problem,
    unlabelled_fields,
)
from .main_pages import MAIN_PAGES, PUBLIC_PAGES, MainPage, visit

PHONE = {"width": 375, "height": 812}


class KnownDefectError(AssertionError):
    """A defect this file reports, in a page it does not own (see KNOWN_DEFECTS)."""


# (page name, check name): where the defect is.
KNOWN_DEFECTS: dict[tuple[str, str], str] = {}


def problems_on(page: Page) -> dict[str, list[str]]:
    """Every failed check by name; the empty dict if the page passes them all."""
    h1s = page.locator("h1").all_inner_texts()
    lang = page.locator("html").get_attribute("lang") or ""
    skip = skip_link_problem(page)
    found = {
        "one-h1": [] if len(h1s) == 1 else [f"{len(h1s)} <h1>: {h1s}"],
        "lang": [] if lang.strip() else ['<html> has no "lang"'],
        "labels": unlabelled_fields(page),
        "references": broken_references(page),
        "skip-link": [skip] if skip else [],
        "phone-width": horizontal_overflow(page),
    }
    return {check: problems for check, problems in found.items() if problems}


def _case(locale: str, main_page: MainPage) -> object:
    defects = {check: why for (name, check), why in KNOWN_DEFECTS.items() if name == main_page.name}
    marks = (
        [
            pytest.mark.xfail(
                strict=True, raises=KnownDefectError, reason="; ".join(defects.values())
            )
        ]
        if defects
        else []
    )
    return pytest.param(locale, main_page, id=f"{main_page}-{locale[:2]}", marks=marks)


CASES = [_case("en-GB", main_page) for main_page in MAIN_PAGES] + [
    _case("fr-FR", main_page) for main_page in PUBLIC_PAGES
]


@pytest.mark.parametrize(("page", "main_page"), CASES, indirect=["page"])
def test_accessibility_basics(
    page: Page,
    operator: Operator,
    log_in: Callable[[Page, User], None],
    main_page: MainPage,
) -> None:
    # given a phone-sized window, in English or French
    page.set_viewport_size(PHONE)

    # when the page is opened by the person it is for
    visit(page, main_page, operator, log_in)
    lang = page.locator("html").get_attribute("lang") or "none"
    screenshot(page, f"phone-{main_page}-{lang}")

    # then it passes every check, but for the defects known on it
    problems = problems_on(page)
    known = {check for name, check in KNOWN_DEFECTS if name == main_page.name}
    unexpected = {check: found for check, found in problems.items() if check not in known}
    assert not unexpected, f"{main_page}: {unexpected}"
    still_there = {check: found for check, found in problems.items() if check in known}
    if still_there:
        raise KnownDefectError(f"{main_page}: {still_there}")


def test_the_checks_see_what_they_look_for(page: Page) -> None:
    # given a page with every defect the checks look for
    page.set_viewport_size(PHONE)
    page.set_content(
        """<html><body>
        <button>first</button><a href="#nowhere">Skip to content</a>
        <h1>One</h1><h1>Two</h1>
        <label for="missing">Name</label><input name="name">
        <input name="iccid" aria-describedby="gone"><label><input type="checkbox"></label>
        <div style="width: 600px">too wide</div>
        </body></html>"""
    )

    # when they look at it
    problems = problems_on(page)

    # then each of them reports it
    assert set(problems) == {"one-h1", "lang", "labels", "references", "skip-link", "phone-width"}
    assert len(problems["labels"]) == 3, problems["labels"]
    assert len(problems["references"]) == 2, problems["references"]
