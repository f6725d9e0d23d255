"""The main pages of Kindwave, as the page and accessibility tests visit them.

Each page says who looks at it (nobody, alice the subscriber or a staff member) and
what its one ``<h1>`` says, as an English message that is translated with the page's
language, so that the French pages are checked against the French catalogue whatever
its wording.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import Page, Response

from kindwave.accounts.models import User
from kindwave.causes.models import Cause
from kindwave.lines.models import Line
from kindwave.web.templatetags.kindwave import phone

from .conftest import Operator


@dataclass(frozen=True)
class MainPage:
    name: str  # screenshot names start with it
    path: Callable[[Operator], str]
    heading: Callable[[Operator], str]  # called with the page's language active
    who: str = ""  # "" (a visitor), "alice" or "staff"
    public: bool = True  # public pages are also checked in French

    def __str__(self) -> str:
        return self.name

    def expected_heading(self, operator: Operator, language: str) -> str:
        with translation.override(language):
            return self.heading(operator)


def _fixed(path: str) -> Callable[[Operator], str]:
    return lambda operator: path


def _changelist_title(model: type[Line] | type[Cause]) -> Callable[[Operator], str]:
    # Staff may change lines only through the lifecycle actions, but that is a change.
    return lambda operator: gettext("Select %s to change") % model._meta.verbose_name


MAIN_PAGES = [
    MainPage("home", _fixed("/"), lambda op: gettext("The mobile network that gives back")),
    MainPage("plans", _fixed("/plans/"), lambda op: gettext("Plans")),
    MainPage("causes", _fixed("/causes/"), lambda op: gettext("Causes")),
    MainPage("cause", lambda op: f"/causes/{op.cause.slug}/", lambda op: op.cause.name),
    MainPage("login", _fixed("/accounts/login/"), lambda op: gettext("Log in")),
    MainPage("signup", _fixed("/accounts/signup/"), lambda op: gettext("Join Kindwave")),
    MainPage(
        "signup-done", _fixed("/accounts/signup/done/"), lambda op: gettext("Check your inbox")
    ),
    MainPage(
        "my-kindwave",
        _fixed("/me/"),
        lambda op: gettext("Hello %(name)s") % {"name": op.alice.get_short_name()},
        who="alice",
        public=False,
    ),
    MainPage(
        "line",
        lambda op: f"/me/lines/{op.line.pk}/",
        lambda op: f"{phone(op.line.msisdn)} {gettext('Active')}",
        who="alice",
        public=False,
    ),
    MainPage(
        "usage",
        lambda op: f"/me/lines/{op.line.pk}/usage/",
        lambda op: gettext("My usage"),
        who="alice",
        public=False,
    ),
    MainPage(
        "order",
        _fixed("/me/order/"),
        lambda op: gettext("Choose a plan and a cause"),
        who="alice",
        public=False,
    ),
    MainPage(
        "line-ordered",
        lambda op: f"/me/lines/{op.ordered_line.pk}/",
        lambda op: f"{phone(op.ordered_line.msisdn)} {gettext('Ordered')}",
        who="bob",
        public=False,
    ),
    MainPage(
        "preferences",
        _fixed("/accounts/preferences/"),
        lambda op: gettext("Preferences"),
        who="alice",
        public=False,
    ),
    MainPage(
        "admin-index",
        _fixed("/admin/"),
        lambda op: gettext("Site administration"),
        who="staff",
        public=False,
    ),
    MainPage(
        "admin-lines",
        _fixed("/admin/lines/line/"),
        _changelist_title(Line),
        who="staff",
        public=False,
    ),
    MainPage(
        "admin-causes",
        _fixed("/admin/causes/cause/"),
        _changelist_title(Cause),
        who="staff",
        public=False,
    ),
]
PUBLIC_PAGES = [main_page for main_page in MAIN_PAGES if main_page.public]


def visit(
    page: Page,
    main_page: MainPage,
    operator: Operator,
    log_in: Callable[[Page, User], None],
) -> Response:
    """Open ``main_page`` as whoever it is for; the response must be there."""
    if main_page.who:
        log_in(page, getattr(operator, main_page.who))
    response = page.goto(main_page.path(operator))
    assert response is not None
    return response
