from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from kindwave.causes import selectors
from kindwave.causes.models import Cause


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


def cause_detail(request: HttpRequest, slug: str) -> HttpResponse:
    return render(request, "causes/detail.html", {"cause": selectors.get_public_cause(slug)})
