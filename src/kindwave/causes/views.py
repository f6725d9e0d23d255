"""The causes' public pages and the transparency pages (no login): every figure on them
is a sum over the public ledger feed (``causes.transparency``), which is served here too
as JSON and CSV."""

from __future__ import annotations

import csv
import functools
import io
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from kindwave.billing.models import Pledge
from kindwave.causes import selectors, transparency
from kindwave.causes.models import Cause, Payout
from kindwave.ledger import services as ledger

#: Anonymous requests a client (by IP address) may make to the feed per window.
FEED_RATE_LIMIT, FEED_RATE_WINDOW = 60, 60
#: How long the public may cache the feed and browsers a page (seconds).
FEED_MAX_AGE, PAGE_MAX_AGE = 300, 60

View = Callable[..., HttpResponse]


def rate_limited(scope: str, limit: int, window: int) -> Callable[[View], View]:
    """Refuse more than ``limit`` requests per ``window`` seconds from one IP address to the
    views sharing ``scope``, with
    429 and ``Retry-After``, counted in Django's cache (per process unless ``CACHES`` says
    otherwise, as the JSON API's throttle). The address is only hashed into a cache key,
    never logged."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            now = int(time.time())
            slot = now // window
            key = f"kindwave:rate:{scope}:{request.META.get('REMOTE_ADDR', '')}:{slot}"
            cache.add(key, 0, timeout=window + 1)
            try:
                count = cache.incr(key)
            except ValueError:  # evicted between add and incr: count this one afresh
                cache.set(key, 1, timeout=window + 1)
                count = 1
            if count > limit:
                response = HttpResponse(
                    _("Too many requests: try again in a minute."),
                    status=429,
                    content_type="text/plain; charset=utf-8",
                )
                response["Retry-After"] = str((slot + 1) * window - now)
                return response
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def cause_list(request: HttpRequest) -> HttpResponse:
    country = request.GET.get("country", "")
    if country not in Cause.Country.values:
        country = ""
    return render(
        request,
        "causes/list.html",
        {
            "causes": selectors.public_causes(country or None),
            "countries": Cause.Country.choices,
            "country": country,
        },
    )


@require_safe
@cache_control(private=True, max_age=PAGE_MAX_AGE)
def cause_detail(request: HttpRequest, slug: str) -> HttpResponse:
    cause = selectors.get_public_cause(slug)
    return render(
        request,
        "causes/detail.html",
        {
            "cause": cause,
            "reports": transparency.reports(transparency.ledger_feed(), cause.slug),
            "payouts": [
                (p.created_at, p.reference, transparency.major(p.amount_minor), p.currency)
                for p in Payout.objects.filter(cause=cause).order_by("-created_at")[:12]
            ],
        },
    )


# How the pledge's base is named on the page (the stored value is the setting's word).
PLEDGE_BASES = {
    "profit": pgettext_lazy("pledge base", "profit"),
    "revenue": pgettext_lazy("pledge base", "revenue"),
}


@require_safe
@cache_control(private=True, max_age=PAGE_MAX_AGE)
def transparency_home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "causes/transparency.html",
        {
            "reports": transparency.reports(transparency.ledger_feed()),
            "pledges": [
                (
                    p.period,
                    p.currency,
                    PLEDGE_BASES.get(p.base, p.base),
                    f"{p.share * 100:.2f}",
                    *map(
                        transparency.major,
                        (
                            p.revenue_minor,
                            p.wholesale_minor + p.operating_minor,
                            p.base_minor,
                            p.pledge_minor,
                        ),
                    ),
                )
                for p in Pledge.objects.order_by("-period", "currency")
            ],
            "verification": ledger.latest_verification(),
        },
    )


def _feed_document() -> dict[str, Any]:
    verification = ledger.latest_verification()
    return {
        "generated_at": timezone.now().isoformat(timespec="seconds"),
        "about": (
            "Kindwave's public ledger: one row per month (UTC), recipient (a cause's slug or "
            "'foundation'), source (the ledger transfer code) and currency. amount_minor is "
            "the net amount, in minor units, that posted transfers of that source moved into "
            "the recipient's account that month: payouts and reversals are negative. Sum a "
            "recipient's rows to get what it is owed now; sum the rows of a source to get the "
            "totals on /transparency/. subscribers counts distinct subscribers, null when not "
            f"applicable or fewer than {transparency.MIN_PUBLISHED_COUNT}. See "
            "docs/transparency.md."
        ),
        "columns": list(transparency.FEED_COLUMNS),
        "verification": None
        if verification is None
        else {
            "checked_at": verification.checked_at.isoformat(timespec="seconds"),
            "ok": verification.ok,
            "transfers": verification.transfers,
            "currencies": verification.currencies,
        },
        "rows": [row.as_dict() for row in transparency.ledger_feed()],
    }


@require_safe
@rate_limited("ledger-feed", FEED_RATE_LIMIT, FEED_RATE_WINDOW)
@cache_control(public=True, max_age=FEED_MAX_AGE)
def ledger_json(request: HttpRequest) -> HttpResponse:
    response = JsonResponse(_feed_document(), json_dumps_params={"ensure_ascii": False})
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_safe
@rate_limited("ledger-feed", FEED_RATE_LIMIT, FEED_RATE_WINDOW)
@cache_control(public=True, max_age=FEED_MAX_AGE)
def ledger_csv(request: HttpRequest) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(transparency.FEED_COLUMNS)
    for row in transparency.ledger_feed():
        writer.writerow(["" if value is None else value for value in row.as_dict().values()])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="kindwave-ledger.csv"'
    response["Access-Control-Allow-Origin"] = "*"
    return response
