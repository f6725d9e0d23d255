"""The subscriber's bills and giving (to be written)."""

from django.http import Http404, HttpRequest, HttpResponse


def bill_list(request: HttpRequest) -> HttpResponse:
    raise Http404


def bill_detail(request: HttpRequest, number: str) -> HttpResponse:
    raise Http404


def bill_pdf(request: HttpRequest, number: str) -> HttpResponse:
    raise Http404


def giving(request: HttpRequest) -> HttpResponse:
    raise Http404
