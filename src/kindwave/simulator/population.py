"""The operator's subscribers: who they are, where they live and work, how much they use.

Everything a subscriber needs for the hourly generation is held in arrays of
length N (one entry per subscriber), so memory grows with the population and
never with the number of days simulated.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from kindwave.simulator.contract import SUBSCRIBERS_HEADER
from kindwave.simulator.countries import HostCountry, RoamingZone
from kindwave.simulator.geography import Geography
from kindwave.simulator.numbering import (
    NumberBlock,
    SimRange,
    iccid_check_digits,
    numbers_at,
)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


WORKER_SHARE = 0.68  # people with a daytime place: a job or a school
COMMUTER_SHARE = 0.3  # workers whose daytime place is in the nearby bigger city
NO_CAUSE_SHARE = 0.10
PROPENSITY_SIGMA = 0.6  # spread of personal habits (lognormal, mean 1)
LEISURE_PLACES = 3
MAX_TENURE_S = 3 * 365 * 86_400
NO_TRIP = -(10**9)
EU_TRIP_SHARE = 0.65


def joining_share(days: int) -> float:
    """Share of subscribers who activate their line during the simulated window."""
    return min(0.15, 0.01 + 0.003 * days)


def travelling_share(days: int) -> float:
    """Share of subscribers with a trip abroad overlapping the window (or just before it)."""
    return min(0.6, 0.03 + 0.008 * days)


@dataclass(frozen=True)
class Population:
    """Per-subscriber state; index ``i`` is the same subscriber in every array."""

    size: int
    msisdn: IntArray  # E.164 digits
    imsi: IntArray
    time_zones: tuple[str, ...]
    tz_index: IntArray
    plan: IntArray
    cause: IntArray  # -1: no cause chosen
    given: IntArray
    family: IntArray
    worker: BoolArray
    # (3, N): habits for data, voice and SMS, plan included, mean about 1.
    propensity: npt.NDArray[np.float32]
    data_volume: npt.NDArray[np.float32]  # multiplies the size of data sessions
    home_cell: IntArray
    work_cell: IntArray  # the home cell for people without a daytime place
    leisure_cells: IntArray  # (LEISURE_PLACES, N)
    activated_at: IntArray  # Unix seconds
    # A trip abroad covers window hours [trip_start, trip_end); NO_TRIP when none.
    trip_start: IntArray
    trip_end: IntArray
    trip_network: IntArray  # index into country.visited_networks
    trip_lac: IntArray
    trip_ci: IntArray  # first of the trip's few foreign cells


def build_population(
    country: HostCountry,
    geography: Geography,
    subscribers: int,
    *,
    window_start: int,
    hours: int,
    number_blocks: tuple[NumberBlock, ...],
    sims: SimRange,
    rng: np.random.Generator,
) -> Population:
    """Draw ``subscribers`` people; deterministic for a given generator state."""
    n = subscribers
    pool = sum(block.size for block in number_blocks)
    msisdn = numbers_at(number_blocks, rng.choice(pool, size=n, replace=False).astype(np.int64))
    imsi = (
        int(country.mcc_mnc) * 10**country.msin_digits
        + sims.first_msin
        + np.arange(n, dtype=np.int64)
    )

    plan_weights = np.array([plan.weight for plan in country.plans])
    plan = rng.choice(len(country.plans), size=n, p=plan_weights / plan_weights.sum()).astype(
        np.int64
    )
    cause = rng.integers(0, len(country.causes), size=n)
    cause[rng.random(n) < NO_CAUSE_SHARE] = -1
    given = rng.integers(0, len(country.given_names), size=n)
    family = rng.integers(0, len(country.family_names), size=n)

    cities = geography.cities
    population = np.array([city.population for city in cities], dtype=np.float64)
    home_city = rng.choice(len(cities), size=n, p=population / population.sum()).astype(np.int64)
    time_zones = tuple(sorted({city.time_zone for city in cities}))
    city_tz = np.array([time_zones.index(city.time_zone) for city in cities], dtype=np.int64)

    worker = rng.random(n) < WORKER_SHARE
    commute = worker & (rng.random(n) < COMMUTER_SHARE)
    work_city = np.where(commute, geography.city_commute[home_city], home_city)
    home_cell = _cell_in_city(geography, home_city, rng, centre_bias=1.0)
    # Jobs and schools gather towards the centre (a city's sites are sorted outwards).
    work_cell = np.where(
        worker, _cell_in_city(geography, work_city, rng, centre_bias=2.0), home_cell
    )
    leisure_cells = np.stack(
        [
            _cell_in_city(geography, home_city, rng, centre_bias=1.5),
            _cell_in_city(geography, home_city, rng, centre_bias=1.0),
            _cell_in_city(geography, geography.city_commute[home_city], rng, centre_bias=1.5),
        ]
    )

    data_use = np.array([p.data_use for p in country.plans])[plan]
    voice_use = np.array([p.voice_use for p in country.plans])[plan]
    sms_use = np.array([p.sms_use for p in country.plans])[plan]
    habits = rng.lognormal(-(PROPENSITY_SIGMA**2) / 2, PROPENSITY_SIGMA, size=(3, n))
    propensity = (habits * np.stack([np.sqrt(data_use), voice_use, sms_use])).astype(np.float32)
    # Unlimited plans mean both more sessions and bigger ones: split the effect.
    data_volume = np.sqrt(data_use).astype(np.float32)

    window_s = hours * 3600
    joins = rng.random(n) < joining_share(hours // 24)
    activated_at = np.where(
        joins,
        window_start + rng.integers(0, window_s, size=n),
        window_start - rng.integers(86_400, MAX_TENURE_S, size=n),
    ).astype(np.int64)

    travels = rng.random(n) < travelling_share(hours // 24)
    trip_start = rng.integers(-4 * 24, hours, size=n)
    trip_end = trip_start + rng.integers(2 * 24, 10 * 24, size=n)
    trip_start = np.where(travels, trip_start, NO_TRIP)
    trip_end = np.where(travels, trip_end, NO_TRIP)
    zones = [network.zone for network in country.visited_networks]
    eu = np.array([i for i, zone in enumerate(zones) if zone is RoamingZone.EU_EEA], dtype=np.int64)
    world = np.array(
        [i for i, zone in enumerate(zones) if zone is RoamingZone.WORLD], dtype=np.int64
    )
    trip_network = np.where(
        rng.random(n) < EU_TRIP_SHARE,
        eu[rng.integers(0, len(eu), size=n)],
        world[rng.integers(0, len(world), size=n)],
    )
    trip_lac = rng.integers(1, 65_000, size=n)
    trip_ci = rng.integers(1, 65_000, size=n)

    return Population(
        size=n,
        msisdn=msisdn,
        imsi=imsi,
        time_zones=time_zones,
        tz_index=city_tz[home_city],
        plan=plan,
        cause=cause,
        given=given,
        family=family,
        worker=worker,
        propensity=propensity,
        data_volume=data_volume,
        home_cell=home_cell,
        work_cell=work_cell,
        leisure_cells=leisure_cells,
        activated_at=activated_at,
        trip_start=trip_start,
        trip_end=trip_end,
        trip_network=trip_network,
        trip_lac=trip_lac,
        trip_ci=trip_ci,
    )


def _cell_in_city(
    geography: Geography, city: IntArray, rng: np.random.Generator, *, centre_bias: float
) -> IntArray:
    """A random cell of a random site of each city; ``centre_bias`` > 1 favours the centre."""
    u = rng.random(len(city)) ** centre_bias
    site = geography.city_first_site[city] + (u * geography.city_site_count[city]).astype(np.int64)
    sector = (rng.random(len(city)) * geography.site_cell_count[site]).astype(np.int64)
    result: IntArray = geography.site_first_cell[site] + sector
    return result


def ascii_fold(text: str) -> str:
    """``"Hélène Le Gall"`` → ``"helenelegall"``: lower-case ASCII letters and digits only."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed.lower() if char.isascii() and char.isalnum())


def write_subscribers_csv(
    path: Path,
    population: Population,
    country: HostCountry,
    geography: Geography,
    sims: SimRange,
) -> None:
    """Write ``subscribers.csv`` (UTF-8, ``\\n`` line ends), one row per subscriber in order."""
    n = population.size
    serials = sims.first_serial + np.arange(n, dtype=np.int64)
    checks = iccid_check_digits(sims.iccid_prefix, serials)
    folded_given = [ascii_fold(name) for name in country.given_names]
    folded_family = [ascii_fold(name) for name in country.family_names]
    activated = np.datetime_as_string(population.activated_at.astype("datetime64[s]"), unit="s")
    prefix = country.code.lower()
    rows = (
        (
            f"{prefix}-{i + 1:08d}",
            country.given_names[given],
            country.family_names[family],
            f"{folded_given[given]}.{folded_family[family]}.{i + 1}@example.org",
            country.language,
            population.time_zones[tz],
            f"+{msisdn}",
            f"{sims.iccid_prefix}{serial:012d}{check}",
            f"{imsi:015d}",
            country.plans[plan].code,
            country.causes[cause] if cause >= 0 else "",
            f"{since}Z",
            geography.cell_ids[cell],
        )
        for i, (
            msisdn,
            imsi,
            serial,
            check,
            tz,
            plan,
            cause,
            given,
            family,
            since,
            cell,
        ) in enumerate(
            zip(
                population.msisdn.tolist(),
                population.imsi.tolist(),
                serials.tolist(),
                checks.tolist(),
                population.tz_index.tolist(),
                population.plan.tolist(),
                population.cause.tolist(),
                population.given.tolist(),
                population.family.tolist(),
                activated.tolist(),
                population.home_cell.tolist(),
                strict=True,
            )
        )
    )
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(SUBSCRIBERS_HEADER)
        writer.writerows(rows)
