"""Kindwave's own JSON API (Django Ninja), mounted at ``/api/kindwave/v1/``.

``/api/v1`` and ``/api/v2`` are left to the Mastodon-compatible client API of the
community app. Every app adds its router here. Errors have one shape, RFC 9457 problem
details (``application/problem+json``): ``type``, ``title``, ``status``, ``detail`` and,
for invalid parameters, ``errors``.

Authentication is the Kindwave session (the site's login cookie); CSRF protection applies
to unsafe methods. Each signed-in person may make ``RATE_LIMIT`` requests (per server
process; the cache is per process unless ``CACHES`` says otherwise); beyond it the API
answers 429 with ``Retry-After``.

Nothing personal is logged here: problem details say what was wrong with a request, never
whose data it asked for.
"""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError
from ninja.security import django_auth
from ninja.throttling import UserRateThrottle

from kindwave.billing.api import router as billing_router
from kindwave.usage.api import lines_router
from kindwave.usage.api import router as usage_router

# Per signed-in person (by account id; anonymous callers by IP address).
RATE_LIMIT = "300/m"
DESCRIPTION = """Kindwave's own API: a subscriber's lines, usage and bills (more apps will follow).

* **Authentication**: your Kindwave session (log in on the site first); unauthenticated
  requests get 401. You only ever see your own data: another person's line answers 404,
  exactly like a line that does not exist.
* **Errors** are RFC 9457 problem details (`application/problem+json`): `type`, `title`,
  `status`, `detail`, and `errors` (where and what) for invalid parameters (422).
* **Money** is an object: `amount`, the exact decimal in major units as a string;
  `amount_minor`, rounded half-even to the currency's minor unit; `currency` (ISO 4217).
* **Times** are ISO 8601 in UTC; billing cycles are calendar months in UTC, `YYYY-MM`.
* **Rate limit**: 300 requests a minute per person (per server process); beyond it, 429
  with `Retry-After`.
"""
PROBLEM_TYPE = "application/problem+json"


class ProblemDetails(Schema):
    """RFC 9457: what went wrong, for people (``title``, ``detail``) and programs (``status``)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str = ""
    errors: list[dict[str, Any]] | None = None


class KindwaveAPI(NinjaAPI):
    """Ninja's API, whose OpenAPI document also defines ``ProblemDetails``, the error body
    every operation refers to (``#/components/schemas/ProblemDetails``)."""

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        document = super().get_openapi_schema(*args, **kwargs)
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas["ProblemDetails"] = ProblemDetails.model_json_schema()
        return document


api = KindwaveAPI(
    title="Kindwave API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="kindwave-api-v1",
    auth=django_auth,
    throttle=[UserRateThrottle(RATE_LIMIT)],
    # Ninja's docs page loads Swagger UI from a CDN unless "ninja" is an installed app
    # (then it serves its own copy); Kindwave loads no third-party script, so without it
    # only the OpenAPI document itself is served.
    docs_url="/docs" if "ninja" in settings.INSTALLED_APPS else None,
)
api.add_router("/", lines_router)
api.add_router("/", usage_router)
api.add_router("/", billing_router)


def problem(
    request: HttpRequest,
    status: int,
    title: str,
    detail: str = "",
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    response = api.create_response(request, body, status=status)
    response["Content-Type"] = PROBLEM_TYPE
    for name, value in (headers or {}).items():
        response[name] = value
    return response


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    # The same answer for a line that does not exist and a line that is someone else's.
    return problem(request, 404, "Not Found", "No such resource.")


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem(
        request, 401, "Unauthorized", "Log in first: this API uses your Kindwave session."
    )


@api.exception_handler(ValidationError)
def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    # Only where and what: the submitted values are not echoed back (nor logged).
    errors = [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type")}
        for error in exc.errors
    ]
    return problem(request, 422, "Unprocessable Content", "Invalid parameters.", errors=errors)


@api.exception_handler(Throttled)
def throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    wait = math.ceil(exc.wait) if exc.wait else 60
    return problem(
        request,
        429,
        "Too Many Requests",
        f"Too many requests: try again in {wait} seconds.",
        headers={"Retry-After": str(wait)},
    )


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return problem(request, exc.status_code, _TITLES.get(exc.status_code, "Error"), str(exc))


_TITLES = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict"}
