"""Reusable reads of lines and the catalogue, and the access check every page goes through."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.http import Http404

from kindwave.accounts.models import User
from kindwave.causes.models import Cause
from kindwave.lines.models import (
    CatalogVersion,
    CauseChoice,
    DestinationClass,
    Line,
    LineState,
    LineStateChange,
    Market,
    Plan,
    PlanSubscription,
    RoamingZone,
    longest_prefix_match,
)


def _market(market: Market | str) -> Market | None:
    if isinstance(market, Market):
        return market
    return Market.objects.filter(code=market.upper()).first()


# --- Lines: access ---------------------------------------------------------------------------


def lines_of(user: User | AnonymousUser) -> QuerySet[Line]:
    """The person's own lines, oldest first (terminated ones included, for their history)."""
    if not user.is_authenticated:
        return Line.objects.none()
    return (
        Line.objects.filter(owner=user)
        .select_related("market", "sim", "port_in")
        .order_by("ordered_at", "pk")
    )


def get_line_for(user: User | AnonymousUser, line_id: int) -> Line:
    """The line ``line_id`` if ``user`` owns it; ``Http404`` for anyone else.

    Staff are no exception here: they look at other people's lines through the admin.
    A line that exists but is someone else's is indistinguishable from no line at all.
    """
    line = lines_of(user).filter(pk=line_id).first()
    if line is None:
        raise Http404("No such line")
    return line


# --- Lines: history ---------------------------------------------------------------------------


def subscription_in_force(line: Line, at: datetime) -> PlanSubscription | None:
    """The line's plan subscription at ``at`` (None before the first, or after the end)."""
    return PlanSubscription.in_force(line.plan_subscriptions.all(), at)


def plan_in_force(line: Line, at: datetime) -> Plan | None:
    """The plan the line is on at ``at``, as priced by the catalogue in force at ``at``.

    A plan withdrawn from a later catalogue keeps, for the lines still on it, the terms
    of the latest catalogue in force that still offered it.
    """
    subscription = subscription_in_force(line, at)
    if subscription is None:
        return None
    return (
        Plan.objects.filter(
            catalog__market_id=line.market_id,
            catalog__effective_from__lte=at,
            code=subscription.plan_code,
        )
        .select_related("catalog")
        .order_by("-catalog__effective_from")
        .first()
    )


def cause_in_force(line: Line, at: datetime) -> Cause | None:
    """The cause the line gives to at ``at``; None for no choice (the foundation) or
    before the line's first choice."""
    choice = CauseChoice.in_force(line.cause_choices.select_related("cause"), at)
    return choice.cause if choice is not None else None


def line_state_at(line: Line, at: datetime) -> str | None:
    """The line's lifecycle state at ``at`` (None before it was ordered)."""
    return LineStateChange.state_at(line.state_changes.all(), at)


# --- Catalogue ---------------------------------------------------------------------------------


def catalog_versions(market: Market | str) -> QuerySet[CatalogVersion]:
    """Every loaded version of a market's catalogue, newest first (without the file text)."""
    resolved = _market(market)
    if resolved is None:
        return CatalogVersion.objects.none()
    return (
        CatalogVersion.objects.filter(market=resolved)
        .select_related("market")
        .defer("source_text")
        .order_by("-effective_from")
    )


def catalog_in_force(market: Market | str, at: datetime) -> CatalogVersion | None:
    """The catalogue version of ``market`` in force at ``at`` (None before the first)."""
    return CatalogVersion.in_force(catalog_versions(market).filter(effective_from__lte=at), at)


def plans_on_offer(market: Market | str, at: datetime) -> list[Plan]:
    """The plans sold in ``market`` at ``at``, in catalogue order, with their rates."""
    catalog = catalog_in_force(market, at)
    if catalog is None:
        return []
    return list(
        catalog.plans.order_by("position").prefetch_related(
            "allowance_covers", "rates__destination_class"
        )
    )


def destination_class_for(catalog: CatalogVersion, number: str) -> DestinationClass | None:
    """The destination class of a called number (``+…`` or a short code): longest prefix."""
    prefixes = {
        prefix: klass
        for klass in catalog.destination_classes.prefetch_related("prefixes")
        for prefix in (p.prefix for p in klass.prefixes.all())
    }
    return longest_prefix_match(number, prefixes)


def roaming_zone_for(catalog: CatalogVersion, mcc: str) -> RoamingZone | None:
    """The roaming zone of a visited network's MCC (the rest-of-world zone if unlisted)."""
    zones = list(catalog.roaming_zones.prefetch_related("countries"))
    for zone in zones:
        if any(country.mcc == mcc for country in zone.countries.all()):
            return zone
    return next((zone for zone in zones if zone.kind == RoamingZone.Kind.REST_OF_WORLD), None)


# --- Public figures ---------------------------------------------------------------------------


def markets_on_offer(at: datetime) -> list[Market]:
    """The markets with a catalogue in force at ``at`` (the ones where lines can be ordered)."""
    return list(
        Market.objects.filter(catalog_versions__effective_from__lte=at).distinct().order_by("code")
    )


def active_line_count() -> int:
    """How many lines are active now (a public figure on the home page)."""
    return Line.objects.filter(state=LineState.ACTIVE).count()
