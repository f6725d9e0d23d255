"""The small tables the rating joins the cycle's records to, resolved in Python.

Everything that depends on history — which line had a (MSISDN, IMSI) pair, its plan
subscription, which catalogue version priced that plan — is a step function of time.
For each line we cut the cycle at every instant one of those histories changes and
evaluate the project's own pure rules (``LineStateChange.state_at``,
``PlanSubscription.in_force``, the catalogue's "latest version that offered the plan")
once per piece. The engine then only needs an interval join; it never re-implements
those rules.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Final

import pyarrow as pa

from kindwave.lines.models import (
    CatalogVersion,
    DestinationPrefix,
    Line,
    LineState,
    LineStateChange,
    Plan,
    PlanRate,
    PlanSubscription,
    RoamingZone,
    RoamingZoneCountry,
)
from kindwave.usage.rating.cycles import (
    DATA_FACTOR,
    SMS_FACTOR,
    VOICE_FACTOR,
    cycle_bounds,
    price_micro,
)

# The most plan codes in use in one cycle (the engine's bucket keys have room for them).
MAX_PLAN_CODES: Final = 1023
UNLIMITED: Final = -1  # an allowance with no limit, in the engine's integer columns
NO_ALLOWANCE: Final = 0
_BILLABLE = frozenset({LineState.ACTIVE, LineState.SUSPENDED})
# The largest quantities a record can carry (docs/usage-files.md): a day of call, 2x10¹² bytes.
_MAX_SECONDS, _MAX_KB, _INT64 = 86_400 + 3_600, 2_000_000_000, 2**63 - 1

TS = pa.timestamp("us", tz="UTC")
TERMS_SCHEMA = pa.schema(
    [
        ("t_msisdn", pa.string()),
        ("t_imsi", pa.string()),
        ("t_from", TS),
        ("t_to", TS),
        ("terms_id", pa.int64()),  # the row's number: the engine carries it, not the names
        ("line_id", pa.int64()),
        ("plan_code", pa.string()),
        ("plan_id", pa.int64()),
        ("plan_seq", pa.int64()),  # the plan code's number, for the engine's bucket key
        ("version_id", pa.int64()),
        ("catalog_version", pa.string()),
        ("currency", pa.string()),
        ("min_s", pa.int64()),
        ("incr_s", pa.int64()),
        ("allow_voice", pa.int64()),
        ("allow_sms", pa.int64()),
        ("allow_data", pa.int64()),
        ("data_micro", pa.int64()),
    ]
)
ZONES_SCHEMA = pa.schema(
    [
        ("z_version_id", pa.int64()),
        ("z_mcc", pa.string()),
        ("z_zone_id", pa.int64()),
        ("z_home", pa.bool_()),  # home or roam like at home: the plan's prices and allowances
        ("z_code", pa.string()),
        ("z_kind", pa.string()),
        ("z_voice_out", pa.int64()),
        ("z_voice_in", pa.int64()),
        ("z_sms_out", pa.int64()),
        ("z_sms_in", pa.int64()),
        ("z_data", pa.int64()),
    ]
)
WORLD_SCHEMA = pa.schema(
    [
        ("w_version_id", pa.int64()),
        ("w_zone_id", pa.int64()),
        ("w_home", pa.bool_()),
        ("w_code", pa.string()),
        ("w_kind", pa.string()),
        ("w_voice_out", pa.int64()),
        ("w_voice_in", pa.int64()),
        ("w_sms_out", pa.int64()),
        ("w_sms_in", pa.int64()),
        ("w_data", pa.int64()),
    ]
)
PREFIX_SCHEMA = pa.schema(
    [
        ("p_version_id", pa.int64()),
        ("p_prefix", pa.string()),
        ("p_length", pa.int64()),
        ("p_class", pa.string()),
    ]
)
RATES_SCHEMA = pa.schema(
    [
        ("r_plan_id", pa.int64()),
        ("r_class", pa.string()),
        ("r_voice", pa.int64()),
        ("r_sms", pa.int64()),
        ("r_covered", pa.bool_()),
    ]
)


@dataclass(frozen=True)
class Dimensions:
    terms: pa.Table
    zones: pa.Table
    world: pa.Table
    prefixes: pa.Table
    rates: pa.Table
    lengths: list[int]
    fingerprint: str
    markets_with_lines: list[int]


def _allowance(value: int | None, scale: int) -> int:
    return UNLIMITED if value is None else value * scale


def _check_price(price: int, factor: int, most: int, what: str) -> int:
    if price * factor * most > _INT64:
        raise ValueError(f"{what}: price too large to rate exactly in 64-bit charge units")
    return price


@dataclass(frozen=True)
class _Terms:
    plan_id: int
    version_id: int
    version: str
    currency: str
    min_s: int
    incr_s: int
    allow_voice: int
    allow_sms: int
    allow_data: int
    data_micro: int


def _plan_terms(plan: Plan) -> _Terms:
    catalog = plan.catalog
    return _Terms(
        plan_id=plan.pk,
        version_id=catalog.pk,
        version=catalog.version,
        currency=catalog.currency,
        min_s=plan.call_minimum_seconds,
        incr_s=plan.call_increment_seconds,
        allow_voice=_allowance(plan.included_minutes, 60),
        allow_sms=_allowance(plan.included_sms, 1),
        allow_data=_allowance(plan.included_data_mb, 1000),
        data_micro=_check_price(
            price_micro(plan.data_per_mb), DATA_FACTOR, _MAX_KB, f"plan {plan.code} data"
        ),
    )


class _Catalogue:
    """Each market's versions and plans: "the terms of plan P at instant T"."""

    def __init__(self, versions: Iterable[CatalogVersion], plans: Iterable[Plan]) -> None:
        self.versions: dict[int, list[CatalogVersion]] = defaultdict(list)
        for version in versions:
            self.versions[version.market_id].append(version)
        for listed in self.versions.values():
            listed.sort(key=lambda v: v.effective_from)
        self.plans: dict[tuple[int, str], _Terms] = {
            (plan.catalog_id, plan.code): _plan_terms(plan) for plan in plans
        }

    def terms(self, market_id: int, plan_code: str, at: datetime) -> _Terms | None:
        """The plan's terms in the latest version in force at ``at`` that offers it."""
        for version in reversed(self.versions.get(market_id, [])):
            if version.effective_from <= at:
                found = self.plans.get((version.pk, plan_code))
                if found is not None:
                    return found
        return None

    def changes(self, market_id: int) -> list[datetime]:
        return [version.effective_from for version in self.versions.get(market_id, [])]


def _pieces(start: datetime, end: datetime, instants: Iterable[datetime]) -> list[datetime]:
    inside = sorted({start, end} | {at for at in instants if start < at < end})
    return inside


def resolve(cycle: str) -> Dimensions:
    """The cycle's dimension tables (every line with a SIM, every catalogue version)."""
    start, end = cycle_bounds(cycle)
    versions = list(CatalogVersion.objects.select_related("market").defer("source_text"))
    catalogue = _Catalogue(
        versions, Plan.objects.select_related("catalog").filter(catalog__in=versions)
    )
    # Three plain queries grouped here: prefetch_related's per-line managers cost more
    # than the rating's own work at a national operator's hundreds of thousands of lines.
    lines = Line.objects.filter(sim__isnull=False).values_list(
        "pk", "msisdn", "sim__imsi", "market_id"
    )
    changes_of: dict[int, list[LineStateChange]] = defaultdict(list)
    for change in LineStateChange.objects.filter(line__sim__isnull=False).only(
        "id", "line_id", "at", "to_state"
    ):
        changes_of[change.line_id].append(change)
    subscriptions_of: dict[int, list[PlanSubscription]] = defaultdict(list)
    for sub in PlanSubscription.objects.filter(line__sim__isnull=False).only(
        "id", "line_id", "plan_code", "valid_from", "valid_to"
    ):
        subscriptions_of[sub.line_id].append(sub)
    rows: dict[str, list[object]] = {name: [] for name in TERMS_SCHEMA.names}
    markets_with_lines: set[int] = set()
    plan_numbers: dict[str, int] = {}
    for line_id, msisdn, imsi, market_id in lines.order_by("pk"):
        markets_with_lines.add(market_id)
        changes = changes_of.get(line_id, [])
        subscriptions = subscriptions_of.get(line_id, [])
        instants = [change.at for change in changes]
        for sub in subscriptions:
            instants.append(sub.valid_from)
            if sub.valid_to is not None:
                instants.append(sub.valid_to)
        instants.extend(catalogue.changes(market_id))
        cuts = _pieces(start, end, instants)
        previous: tuple[object, ...] | None = None
        for begin, finish in pairwise(cuts):
            if LineStateChange.state_at(changes, begin) not in _BILLABLE:
                previous = None
                continue
            subscription = PlanSubscription.in_force(subscriptions, begin)
            plan_code = subscription.plan_code if subscription is not None else None
            terms = catalogue.terms(market_id, plan_code, begin) if plan_code is not None else None
            key = (plan_code, terms)
            if previous == key:  # same terms as the piece before: extend it
                rows["t_to"][-1] = finish
                continue
            previous = key
            values: dict[str, object] = {
                "t_msisdn": msisdn,
                "t_imsi": imsi,
                "t_from": begin,
                "t_to": finish,
                "terms_id": len(rows["t_msisdn"]),
                "line_id": line_id,
                "plan_code": plan_code,
                "plan_id": terms.plan_id if terms else None,
                "plan_seq": plan_numbers.setdefault(plan_code, len(plan_numbers))
                if plan_code is not None
                else None,
                "version_id": terms.version_id if terms else None,
                "catalog_version": terms.version if terms else None,
                "currency": terms.currency if terms else None,
                "min_s": terms.min_s if terms else None,
                "incr_s": terms.incr_s if terms else None,
                "allow_voice": terms.allow_voice if terms else None,
                "allow_sms": terms.allow_sms if terms else None,
                "allow_data": terms.allow_data if terms else None,
                "data_micro": terms.data_micro if terms else None,
            }
            for name, value in values.items():
                rows[name].append(value)
    if len(plan_numbers) > MAX_PLAN_CODES:
        raise ValueError(
            f"{len(plan_numbers)} plan codes in use: the rating's bucket keys allow "
            f"{MAX_PLAN_CODES}"
        )
    terms_table = pa.table(rows, schema=TERMS_SCHEMA)

    zones: dict[str, list[object]] = {name: [] for name in ZONES_SCHEMA.names}
    world: dict[str, list[object]] = {name: [] for name in WORLD_SCHEMA.names}
    zone_by_id: dict[int, RoamingZone] = {}
    for zone in RoamingZone.objects.filter(catalog__in=versions).order_by("pk"):
        zone_by_id[zone.pk] = zone
        if zone.kind == RoamingZone.Kind.REST_OF_WORLD:
            prices = _zone_prices(zone)
            for name, value in zip(
                WORLD_SCHEMA.names,
                (zone.catalog_id, zone.pk, _is_home(zone), zone.code, zone.kind, *prices),
                strict=True,
            ):
                world[name].append(value)
    for country in RoamingZoneCountry.objects.filter(catalog__in=versions).order_by("pk"):
        zone = zone_by_id[country.zone_id]
        for name, value in zip(
            ZONES_SCHEMA.names,
            (
                zone.catalog_id,
                country.mcc,
                zone.pk,
                _is_home(zone),
                zone.code,
                zone.kind,
                *_zone_prices(zone),
            ),
            strict=True,
        ):
            zones[name].append(value)

    prefixes: dict[str, list[object]] = {name: [] for name in PREFIX_SCHEMA.names}
    for catalog_id, prefix, klass in (
        DestinationPrefix.objects.filter(catalog__in=versions)
        .order_by("pk")
        .values_list("catalog_id", "prefix", "destination_class__code")
    ):
        for name, value in zip(
            PREFIX_SCHEMA.names, (catalog_id, prefix, len(prefix), klass), strict=True
        ):
            prefixes[name].append(value)

    covered: set[tuple[int, int]] = set(
        Plan.allowance_covers.through.objects.filter(plan__catalog__in=versions).values_list(
            "plan_id", "destinationclass_id"
        )
    )
    rates: dict[str, list[object]] = {name: [] for name in RATES_SCHEMA.names}
    for rate in PlanRate.objects.filter(plan__catalog__in=versions).select_related(
        "destination_class", "plan"
    ):
        what = f"plan {rate.plan.code} → {rate.destination_class.code}"
        rate_values = (
            rate.plan_id,
            rate.destination_class.code,
            _check_price(price_micro(rate.voice_per_minute), VOICE_FACTOR, _MAX_SECONDS, what),
            _check_price(price_micro(rate.sms_per_message), SMS_FACTOR, 1, what),
            (rate.plan_id, rate.destination_class_id) in covered,
        )
        for name, value in zip(RATES_SCHEMA.names, rate_values, strict=True):
            rates[name].append(value)

    fingerprint = hashlib.sha256(
        "\n".join(
            sorted(f"{v.market.code} {v.version} {v.source_sha256}" for v in versions)
        ).encode()
    ).hexdigest()
    return Dimensions(
        terms=terms_table,
        zones=pa.table(zones, schema=ZONES_SCHEMA),
        world=pa.table(world, schema=WORLD_SCHEMA),
        prefixes=pa.table(prefixes, schema=PREFIX_SCHEMA),
        rates=pa.table(rates, schema=RATES_SCHEMA),
        lengths=sorted({len(p) for p in prefixes["p_prefix"]}),  # type: ignore[arg-type]
        fingerprint=fingerprint,
        markets_with_lines=sorted(markets_with_lines),
    )


def _is_home(zone: RoamingZone) -> bool:
    """Rated at the plan's home prices and allowances (home, and roam like at home)."""
    return zone.kind in (RoamingZone.Kind.HOME, RoamingZone.Kind.ROAM_LIKE_AT_HOME)


def _zone_prices(zone: RoamingZone) -> tuple[int, int, int, int, int]:
    what = f"roaming zone {zone.code}"
    return (
        _check_price(price_micro(zone.voice_out_per_minute), VOICE_FACTOR, _MAX_SECONDS, what),
        _check_price(price_micro(zone.voice_in_per_minute), VOICE_FACTOR, _MAX_SECONDS, what),
        _check_price(price_micro(zone.sms_out), SMS_FACTOR, 1, what),
        _check_price(price_micro(zone.sms_in), SMS_FACTOR, 1, what),
        _check_price(price_micro(zone.data_per_mb), DATA_FACTOR, _MAX_KB, what),
    )
