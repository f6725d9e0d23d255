"""The subscriber's carrier-billing setting (to be written)."""

from django.http import Http404, HttpRequest, HttpResponse


def carrier_billing(request: HttpRequest) -> HttpResponse:
    raise Http404
