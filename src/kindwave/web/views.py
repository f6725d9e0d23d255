"""Public pages of the operator. Thin: reads come from each context's selectors."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from kindwave.causes import selectors as causes
from kindwave.lines import selectors as lines


def home(request: HttpRequest) -> HttpResponse:
    public = causes.public_causes()
    return render(
        request,
        "web/home.html",
        {
            "active_lines": lines.active_line_count(),
            "cause_count": public.count(),
            "causes": public[:6],
        },
    )


def plans(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    offers = [(market, lines.plans_on_offer(market, now)) for market in lines.markets_on_offer(now)]
    return render(request, "web/plans.html", {"offers": offers})
