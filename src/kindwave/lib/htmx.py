"""Small helpers for pages enhanced with HTMX."""

from __future__ import annotations

import functools
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.utils.http import url_has_allowed_host_and_scheme

View = Callable[..., HttpResponse]


def is_htmx(request: HttpRequest) -> bool:
    """Whether HTMX sent ``request`` (it then wants a fragment, not a whole page)."""
    return request.headers.get("HX-Request") == "true"


def _page_to_return_to(request: HttpRequest) -> str:
    """The page a person should come back to after logging in: for a GET the page itself;
    for an action (a POST) the page the action was pressed on (HTMX's ``HX-Current-URL``,
    else the referrer) if it is one of ours, never the POST-only action URL."""
    if request.method in ("GET", "HEAD"):
        return request.get_full_path()
    headers = request.headers
    for candidate in (headers.get("HX-Current-URL", ""), headers.get("Referer", "")):
        if candidate and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            parts = urlsplit(candidate)
            return parts.path + (f"?{parts.query}" if parts.query else "")
    return "/"


def login_required(view: View) -> View:
    """Like Django's ``login_required``, but an HTMX request from someone whose session
    has ended is answered ``HX-Redirect`` to the login page (HTMX would otherwise swap the
    whole login page into a fragment), and an action comes back, after login, to the page it
    was pressed on rather than to its POST-only URL."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        login = redirect_to_login(_page_to_return_to(request), settings.LOGIN_URL)
        if is_htmx(request):
            response = HttpResponse()  # HTMX acts on HX-Redirect and swaps nothing
            response["HX-Redirect"] = login["Location"]
            return response
        return login

    return wrapped
