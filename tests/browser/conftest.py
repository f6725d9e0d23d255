"""The browser harness: Django's live server driven by Debian's Chromium through Playwright.

Browser tests are off by default (they need Chromium and take seconds each); they run
when ``CI=true`` or ``KINDWAVE_BROWSER_TESTS=1`` (``KINDWAVE_BROWSER_TESTS=0`` turns them
off even in CI). Once on, a missing Chromium is a failure, never a skip: CI must not go
green without having looked at a page.

Chromium is Debian's (``apt-get install chromium``, or ``scripts/ci-services.sh``), never
Playwright's own download; ``KINDWAVE_CHROMIUM`` points at another binary.

Every test in this directory is marked ``browser`` (so ``-m "not browser"`` leaves them
out) and runs after all other tests of its worker; see ``pytest_collection_modifyitems``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.test import Client
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response, sync_playwright
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from kindwave.accounts.models import User
from kindwave.causes import services as causes
from kindwave.causes.models import Cause
from kindwave.lines import services as lines
from kindwave.lines.models import Line, Market
from tests.lines.conftest import FIRST_ICCID, FIRST_IMSI, FIRST_NUMBER, LAST_NUMBER

BROWSER_TESTS_DIR = Path(__file__).resolve().parent
SCREENSHOT_DIR = BROWSER_TESTS_DIR.parents[1] / "artifacts" / "screenshots"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium reaches for Google's services, and
# on a machine whose outbound connections are refused it hangs instead of giving up.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Fail a stuck page in seconds rather than at Playwright's 30 s default.
TIMEOUT_MS = 10_000


def browser_tests_enabled() -> bool:
    explicit = os.environ.get("KINDWAVE_BROWSER_TESTS", "").strip().lower()
    if explicit in {"0", "false", "no", "off"}:
        return False
    return explicit in {"1", "true", "yes", "on"} or os.environ.get("CI", "").lower() == "true"


def _in_this_directory(item: pytest.Item) -> bool:
    return BROWSER_TESTS_DIR in item.path.resolve().parents


@pytest.hookimpl(tryfirst=True)  # before "-m" deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(
        reason="browser tests are off: set CI=true or KINDWAVE_BROWSER_TESTS=1 "
        "(they need Debian's chromium: apt-get install chromium)"
    )
    enabled = browser_tests_enabled()
    ours = [item for item in items if _in_this_directory(item)]
    for item in ours:
        item.add_marker(pytest.mark.browser)
        if not enabled:
            item.add_marker(skip)
    # Playwright's sync API leaves its event loop registered as the thread's running loop
    # for as long as the session's browser lives; a non-browser test after it on the same
    # worker would find asyncio.run() and asgiref's async_to_sync refusing to work. So the
    # browser tests go last (pytest-xdist hands out work in collection order).
    others = [item for item in items if not _in_this_directory(item)]
    items[:] = others + ours


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium per test session (per xdist worker)."""
    wanted = os.environ.get("KINDWAVE_CHROMIUM", DEFAULT_CHROMIUM)
    executable = shutil.which(wanted)
    if executable is None:
        pytest.fail(
            f"Chromium not found at {wanted!r}, and browser tests are on "
            "(CI=true or KINDWAVE_BROWSER_TESTS=1). Install Debian's: apt-get install -y "
            "chromium (scripts/ci-services.sh does), or set KINDWAVE_CHROMIUM to a binary.",
            pytrace=False,
        )
    with pytest.MonkeyPatch.context() as env:
        # Playwright's sync API runs an asyncio loop in this (the main) thread, so Django
        # sees a "running event loop" and raises SynchronousOnlyOperation for the ORM
        # calls tests make here (fixtures, assertions, transactional_db's flush). The ORM
        # never actually runs inside that loop, so the guard is a false alarm: lift it,
        # but only while the browser is up.
        env.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=executable, headless=True, args=CHROMIUM_ARGS
            )
            yield chromium
            chromium.close()


def _is_favicon_probe(url: str) -> bool:
    # Chromium asks every origin for /favicon.ico on its own, whatever the page links,
    # and logs a console error when it is missing; that says nothing about the page.
    return urlsplit(url).path == "/favicon.ico"


@dataclass
class PageProblems:
    """What went wrong while a page loaded: console errors, script errors, failed requests.

    The one thing left out is Chromium's own /favicon.ico probe (see _is_favicon_probe).
    """

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return self.console_errors + self.page_errors + self.failed_requests

    def assert_none(self) -> None:
        problems = self.all()
        assert not problems, "the page had problems:\n" + "\n".join(problems)

    def on_console(self, message: ConsoleMessage) -> None:
        # "Failed to load resource" repeats what on_response / on_request_failed report,
        # with less detail.
        if (
            message.type == "error"
            and not message.text.startswith("Failed to load resource")
            and not _is_favicon_probe(message.location.get("url", ""))
        ):
            self.console_errors.append(f"console: {message.text} ({message.location})")

    def on_page_error(self, error: Exception) -> None:
        self.page_errors.append(f"script error: {error}")

    def on_request_failed(self, request: Request) -> None:
        if _is_favicon_probe(request.url):
            return
        self.failed_requests.append(f"{request.method} {request.url}: {request.failure}")

    def on_response(self, response: Response) -> None:
        if response.status >= 400 and not _is_favicon_probe(response.url):
            self.failed_requests.append(
                f"{response.request.method} {response.url}: HTTP {response.status}"
            )


@pytest.fixture
def page_problems() -> PageProblems:
    return PageProblems()


@pytest.fixture(autouse=True)
def _static_files_from_the_source_tree(settings: Settings) -> None:
    # With DEBUG off (as Django runs tests) the settings use WhiteNoise's manifest
    # storage, which needs `collectstatic` to have run. The live server serves static
    # files straight from the apps' static/ directories (StaticFilesHandler), so the
    # pages must link to those unhashed names.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def page(
    request: pytest.FixtureRequest,
    browser: Browser,
    live_server: LiveServer,
    transactional_db: None,
    page_problems: PageProblems,
) -> Iterator[Page]:
    """A fresh browser context and page on the live server; relative URLs work.

    The locale is en-GB unless the test parametrises ``page`` indirectly with another,
    e.g. ``@pytest.mark.parametrize("page", ["fr-FR"], indirect=True)``.
    """
    locale = getattr(request, "param", "en-GB")
    context = browser.new_context(
        base_url=live_server.url, locale=locale, viewport={"width": 1280, "height": 800}
    )
    context.set_default_timeout(TIMEOUT_MS)
    new_page = context.new_page()
    new_page.on("console", page_problems.on_console)
    new_page.on("pageerror", page_problems.on_page_error)
    new_page.on("requestfailed", page_problems.on_request_failed)
    new_page.on("response", page_problems.on_response)
    yield new_page
    context.close()


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG as artifacts/screenshots/<name>.png (kept by CI)."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", name):
        raise ValueError(f"screenshot name {name!r}: use lower-case letters, digits, - _ .")
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# --- The demo operator, signed-in visitors and the page checks (pages, journey, accessibility) ---


@dataclass(frozen=True)
class Operator:
    """What the subscriber-facing tests need in the database (see the ``operator`` fixture)."""

    gb: Market
    alice: User
    bob: User
    staff: User
    line: Line
    ordered_line: Line
    cause: Cause


@pytest.fixture
def gb_operator(transactional_db: None) -> Market:
    """The demo offer, as a visitor meets it: the UK, French and US demo catalogues, the
    demo causes, and ten numbers and ten SIMs in the GB pool."""
    lines.load_demo_catalogs()
    causes.load_demo_causes()
    gb = Market.objects.get(code="GB")
    lines.add_number_block(gb, FIRST_NUMBER, LAST_NUMBER)
    lines.add_sims(gb, FIRST_ICCID, FIRST_IMSI, 10)
    return gb


@pytest.fixture
def operator(gb_operator: Market, alice: User, bob: User, staff: User) -> Operator:
    """``gb_operator`` plus alice with an active GB line (Everyday, for WaterAid), bob with
    a line ordered but not yet activated (Starter, no cause) and a staff member."""
    cause = Cause.objects.get(slug="wateraid")
    line = lines.order_line(alice, gb_operator, "gb-everyday", cause=cause)
    lines.activate_line(line, line.sim.iccid, by=alice)
    ordered_line = lines.order_line(bob, gb_operator, "gb-starter")
    return Operator(
        gb=gb_operator,
        alice=alice,
        bob=bob,
        staff=staff,
        line=line,
        ordered_line=ordered_line,
        cause=cause,
    )


@pytest.fixture
def log_in(live_server: LiveServer) -> Callable[[Page, User], None]:
    """``log_in(page, user)``: the page's browser context is signed in as ``user``.

    The session is made server-side (``Client.force_login``) and handed to the browser as
    its cookie: much faster than the login form, which has its own tests.
    """

    def log_in(page: Page, user: User) -> None:
        client = Client()
        client.force_login(user)
        name = django_settings.SESSION_COOKIE_NAME
        page.context.add_cookies(
            [{"name": name, "value": client.cookies[name].value, "url": live_server.url}]
        )

    return log_in


def unlabelled_fields(page: Page) -> list[str]:
    """The visible form fields that have no accessible name from a label or ARIA attribute."""
    return page.evaluate(
        """() => {
            const text = (el) => (el.innerText + ' ' + Array.from(
                el.querySelectorAll('img[alt]'), (img) => img.alt).join(' ')).trim();
            const named = (el) => {
                if ((el.getAttribute('aria-label') || '').trim()) return true;
                const by = (el.getAttribute('aria-labelledby') || '').split(/\\s+/)
                    .map((id) => id && document.getElementById(id));
                if (by.some((label) => label && text(label))) return true;
                return Array.from(el.labels || []).some((label) => text(label));
            };
            const fields = document.querySelectorAll(
                'input:not([type=hidden]):not([type=submit]):not([type=button])'
                + ':not([type=reset]):not([type=image]), select, textarea');
            return Array.from(fields)
                .filter((el) => el.getClientRects().length
                    && getComputedStyle(el).visibility !== 'hidden')
                .filter((el) => !named(el))
                .map((el) => el.outerHTML.slice(0, 160));
        }"""
    )


def skip_link_problem(page: Page) -> str | None:
    """None if the first focusable element is a link to an element of the page that is on
    screen once focused (a "skip to content" link), else what is wrong."""
    return page.evaluate(
        """() => {
            const first = document.body.querySelector(
                'a[href], button, input:not([type=hidden]), select, textarea, [tabindex]');
            if (!first || first.tagName !== 'A' || !first.getAttribute('href').startsWith('#'))
                return 'the first focusable element is not a skip link: '
                    + (first ? first.outerHTML.slice(0, 160) : 'none');
            const target = document.getElementById(first.getAttribute('href').slice(1));
            if (!target) return 'the skip link points at nothing: ' + first.outerHTML;
            first.focus();
            const box = first.getBoundingClientRect();
            const shown = box.width > 1 && box.height > 1 && box.left >= 0 && box.top >= 0
                && box.right <= window.innerWidth && box.bottom <= window.innerHeight;
            first.blur();
            return shown ? null : 'the skip link stays off screen when focused: ' + first.outerHTML;
        }"""
    )


def broken_references(page: Page) -> list[str]:
    """The ``label for``, ``aria-describedby`` and ``aria-labelledby`` that name an id no
    element of the page has (a screen reader then reads nothing for them)."""
    return page.evaluate(
        """() => {
            const broken = [];
            for (const el of document.querySelectorAll(
                    'label[for], [aria-describedby], [aria-labelledby]')) {
                const ids = el.tagName === 'LABEL' && el.hasAttribute('for')
                    ? [el.getAttribute('for')]
                    : ((el.getAttribute('aria-describedby') || '') + ' '
                        + (el.getAttribute('aria-labelledby') || '')).split(/\\s+/).filter(Boolean);
                for (const id of ids)
                    if (!id || !document.getElementById(id))
                        broken.push(`#${id} not found, named by ${el.outerHTML.slice(0, 160)}`);
            }
            return broken;
        }"""
    )


def horizontal_overflow(page: Page) -> list[str]:
    """Empty if the page fits the window's width, else the widest elements that stick out
    (a few, the outermost first) with their right edge in CSS pixels."""
    return page.evaluate(
        """() => {
            const width = window.innerWidth;
            if (document.documentElement.scrollWidth <= width) return [];
            const out = [];
            for (const el of document.body.querySelectorAll('*')) {
                const box = el.getBoundingClientRect();
                if (box.right > width + 0.5 && !out.some((o) => o.el.contains(el)))
                    out.push({el, right: Math.round(box.right)});
            }
            const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
                + (el.className && typeof el.className === 'string'
                    ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
            return [`scrollWidth ${document.documentElement.scrollWidth} > innerWidth ${width}`]
                .concat(out.slice(0, 8).map((o) => `${name(o.el)} right=${o.right}`));
        }"""
    )
