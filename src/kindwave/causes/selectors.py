"""Reads of causes. Only verified causes are public."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from kindwave.causes.models import Cause


def public_causes(country: str | None = None) -> QuerySet[Cause]:
    causes = Cause.objects.verified().order_by("name")
    if country:
        causes = causes.filter(country=country)
    return causes


def get_public_cause(slug: str) -> Cause:
    """A verified cause by slug; unverified or unknown causes are a 404 for the public."""
    return get_object_or_404(Cause.objects.verified(), slug=slug)
