"""The causes' public pages and the transparency pages (no login): every figure on them
is a sum over the public ledger feed (``causes.transparency``), which is served here too
as JSON and CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import pgettext_lazy
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from kindwave.billing.models import Pledge
from kindwave.causes import selectors, transparency
from kindwave.causes.models import Cause, Payout
from kindwave.community.services.accounts import ensure_cause_account
from kindwave.ledger import services as ledger
from kindwave.lib.ratelimit import rate_limited

#: Anonymous requests a client (by IP address) may make to the feed per window.
FEED_RATE_LIMIT, FEED_RATE_WINDOW = 60, 60
#: …and to the public money pages (a cause's page, /transparency/), a budget of their own.
PAGE_RATE_LIMIT, PAGE_RATE_WINDOW = 120, 60
#: How long the public may cache the feed and browsers a page (seconds).
FEED_MAX_AGE, PAGE_MAX_AGE = 300, 60


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
@rate_limited("money-pages", PAGE_RATE_LIMIT, PAGE_RATE_WINDOW)
@cache_control(private=True, max_age=PAGE_MAX_AGE)
def cause_detail(request: HttpRequest, slug: str) -> HttpResponse:
    cause = selectors.get_public_cause(slug)
    return render(
        request,
        "causes/detail.html",
        {
            "cause": cause,
            # Every public cause can be followed: its community account is made on first view.
            "community_account": ensure_cause_account(cause),
            "reports": transparency.reports(transparency.public_feed(), cause.slug),
            "minimum": transparency.MIN_PUBLISHED_COUNT,
            "payouts": [
                (
                    p.created_at,
                    p.reference,
                    transparency.major(p.amount_minor, p.currency),
                    p.currency,
                )
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
@rate_limited("money-pages", PAGE_RATE_LIMIT, PAGE_RATE_WINDOW)
@cache_control(private=True, max_age=PAGE_MAX_AGE)
def transparency_home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "causes/transparency.html",
        {
            "reports": transparency.reports(transparency.public_feed()),
            "minimum": transparency.MIN_PUBLISHED_COUNT,
            "pledges": [
                (
                    p.period,
                    p.currency,
                    PLEDGE_BASES.get(p.base, p.base),
                    transparency.percent(p.share * 100),
                    *(
                        transparency.major(amount, p.currency)
                        for amount in (
                            p.revenue_minor,
                            p.wholesale_minor + p.operating_minor,
                            p.base_minor,
                            p.pledge_minor,
                        )
                    ),
                )
                for p in Pledge.objects.order_by("-period", "currency")
            ],
            "verification": ledger.latest_verification(),
        },
    )


FEED_ABOUT = (
    "Kindwave's public ledger: one row per month (UTC), recipient (a cause's slug, "
    "'foundation', or 'other' for several recipients together), source (the ledger transfer "
    "code) and currency. amount_minor is the net amount, in minor units, that posted "
    "transfers of that source moved into the recipient's account (or accounts) that month: "
    "payouts and reversals are negative. Money from subscribers (bill-share, donation) has "
    "a row of its own for a recipient only when at least {minimum} distinct subscribers "
    "gave it that month; smaller amounts are pooled in the month's 'other' row of that "
    "source and currency (with the month's smallest recipient when the pool alone is too "
    "small), and a month too small as a whole is carried into the next month's pool. "
    "'withheld' lists which recipients' amounts are pooled (published_in: the month of the "
    "'other' row) or still held back (published_in: null), never the amounts. The pledge "
    "and payouts are exact. subscribers counts distinct subscribers, null when not "
    "applicable or fewer than {minimum}. Sum the rows of a source to get the totals on "
    "/transparency/. See docs/transparency.md."
)


def _feed_document() -> dict[str, Any]:
    verification = ledger.latest_verification()
    feed = transparency.public_feed()
    return {
        "generated_at": feed.generated_at.isoformat(timespec="seconds"),
        "about": FEED_ABOUT.format(minimum=transparency.MIN_PUBLISHED_COUNT),
        "minimum_subscribers": transparency.MIN_PUBLISHED_COUNT,
        "columns": list(transparency.FEED_COLUMNS),
        "verification": None
        if verification is None
        else {
            "checked_at": verification.checked_at.isoformat(timespec="seconds"),
            "ok": verification.ok,
            "transfers": verification.transfers,
            "currencies": verification.currencies,
        },
        "rows": [row.as_dict() for row in feed.rows],
        "withheld": [entry.as_dict() for entry in feed.withheld],
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
    for row in transparency.public_feed().rows:
        writer.writerow(["" if value is None else value for value in row.as_dict().values()])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="kindwave-ledger.csv"'
    response["Access-Control-Allow-Origin"] = "*"
    return response
