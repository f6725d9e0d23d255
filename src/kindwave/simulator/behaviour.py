"""Daily life, one hour at a time: where each subscriber is and what they do there.

For every UTC hour the generator draws, for all subscribers at once:

* a place — home, the work or school place (weekday daytime, for the two thirds
  who have one) or one of three leisure places (evenings, weekends) — from
  presence tables by local hour, weekday or weekend, and whether they work;
  night-time is mostly spent at home. Travellers are abroad on a visited network.
* how many records of each type they make (Poisson), from a daily volume, a
  diurnal curve (voice and SMS follow waking hours; data has a night floor of
  background sync), the subscriber's own habits and plan, and roaming.

Then, per record: a start second, a counterpart (contacts drawn from a personal,
heavy-tailed circle of numbers; on-net friends; freephone, premium and short
codes; numbers abroad), a heavy-tailed duration and data volume, and a cell (the
place's cell, or another sector of the same site now and then). A call or SMS to
another subscriber of the operator also yields the callee's incoming record.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from kindwave.simulator.countries import INTERNATIONAL, HostCountry
from kindwave.simulator.geography import Geography
from kindwave.simulator.numbering import TemplateSet, mix64
from kindwave.simulator.population import Population
from kindwave.usage.fileformat import RECORD_TYPES

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
UIntArray = npt.NDArray[np.uint64]

VOICE_MO, VOICE_MT, SMS_MO, SMS_MT, DATA = (RECORD_TYPES.index(name) for name in (
    "voice_mo", "voice_mt", "sms_mo", "sms_mt", "data"
))  # fmt: skip
if (VOICE_MT, SMS_MT) != (VOICE_MO + 1, SMS_MO + 1):  # on-net mirrors rely on it
    raise ImportError("record types must list each incoming type right after its outgoing one")

# Records per subscriber per day on a mid-range plan, before personal habits.
DAILY_RECORDS = np.zeros(len(RECORD_TYPES))
DAILY_RECORDS[[VOICE_MO, VOICE_MT, SMS_MO, SMS_MT, DATA]] = [2.6, 2.2, 2.0, 2.4, 26.0]
# Which habit (0 data, 1 voice, 2 SMS) and which diurnal curve (0 people, 1 data) each type follows.
_HABIT = np.zeros(len(RECORD_TYPES), dtype=np.int64)
_HABIT[[VOICE_MO, VOICE_MT, SMS_MO, SMS_MT, DATA]] = [1, 1, 2, 2, 0]
_CURVE = np.zeros(len(RECORD_TYPES), dtype=np.int64)
_CURVE[DATA] = 1
# Abroad, people call less (cost, time difference) and use less data.
ROAMING_FACTOR = np.ones(len(RECORD_TYPES))
ROAMING_FACTOR[[VOICE_MO, VOICE_MT, SMS_MO, SMS_MT, DATA]] = [0.5, 0.6, 0.8, 0.9, 0.7]


def _normalised(values: list[float]) -> FloatArray:
    array = np.array(values, dtype=np.float64)
    result: FloatArray = array / array.mean()
    return result


# Relative activity by local hour: [curve][weekend][hour], each row averaging 1.
ACTIVITY = np.array(
    [
        [  # people: voice and SMS
            _normalised([0.10, 0.05, 0.03, 0.02, 0.02, 0.05, 0.20, 0.60, 1.00, 1.30, 1.40, 1.40,
                         1.40, 1.30, 1.30, 1.40, 1.50, 1.60, 1.60, 1.50, 1.30, 1.00, 0.60, 0.30]),
            _normalised([0.25, 0.15, 0.08, 0.04, 0.03, 0.03, 0.08, 0.25, 0.60, 1.00, 1.30, 1.40,
                         1.40, 1.40, 1.30, 1.30, 1.30, 1.30, 1.40, 1.40, 1.20, 1.00, 0.70, 0.40]),
        ],
        [  # data: a floor of background sync at night, an evening peak
            _normalised([0.35, 0.25, 0.20, 0.18, 0.18, 0.25, 0.50, 0.90, 1.10, 1.10, 1.10, 1.15,
                         1.25, 1.20, 1.10, 1.10, 1.15, 1.25, 1.40, 1.55, 1.65, 1.60, 1.30, 0.80]),
            _normalised([0.50, 0.35, 0.25, 0.20, 0.18, 0.20, 0.30, 0.50, 0.80, 1.00, 1.15, 1.20,
                         1.25, 1.25, 1.20, 1.20, 1.20, 1.25, 1.40, 1.55, 1.65, 1.60, 1.35, 0.90]),
        ],
    ]
)  # fmt: skip
WEEKEND_VOLUME = np.array([0.85, 1.05])  # people call less at weekends, stream a bit more


def _presence(spans: dict[range, tuple[float, float]]) -> FloatArray:
    """(p_work, p_leisure) for each local hour from spans of hours; home takes the rest."""
    table = np.full((24, 2), np.nan)
    for hours, shares in spans.items():
        table[hours.start : hours.stop] = shares
    if np.isnan(table).any() or (table.sum(axis=1) > 1).any():
        raise ValueError("presence spans must cover 24 hours with shares adding up to 1 or less")
    return table


# PRESENCE[weekend, worker, local hour] = (p_work, p_leisure); p_home = 1 - both.
# People without a daytime place ("work" is their home cell) go out more in the day.
PRESENCE = np.array(
    [
        [  # weekday
            _presence({range(0, 6): (0.0, 0.03), range(6, 9): (0.0, 0.10),
                       range(9, 18): (0.0, 0.35), range(18, 22): (0.0, 0.30),
                       range(22, 24): (0.0, 0.08)}),
            _presence({range(0, 6): (0.02, 0.03), range(6, 7): (0.08, 0.02),
                       range(7, 8): (0.30, 0.05), range(8, 9): (0.65, 0.05),
                       range(9, 12): (0.85, 0.05), range(12, 14): (0.70, 0.17),
                       range(14, 17): (0.85, 0.05), range(17, 18): (0.55, 0.12),
                       range(18, 19): (0.20, 0.30), range(19, 22): (0.05, 0.35),
                       range(22, 24): (0.02, 0.14)}),
        ],
        [  # weekend: late nights out, lie-ins, leisure in the day, little work
            _presence({range(0, 2): (0.0, 0.12), range(2, 9): (0.0, 0.04),
                       range(9, 10): (0.0, 0.20), range(10, 18): (0.0, 0.45),
                       range(18, 22): (0.0, 0.40), range(22, 24): (0.0, 0.25)}),
            _presence({range(0, 2): (0.0, 0.12), range(2, 6): (0.0, 0.04),
                       range(6, 9): (0.05, 0.05), range(9, 10): (0.08, 0.20),
                       range(10, 18): (0.08, 0.45), range(18, 22): (0.03, 0.40),
                       range(22, 24): (0.02, 0.25)}),
        ],
    ]
)  # fmt: skip
LEISURE_CHOICE = np.array([0.5, 0.8])  # cumulative weights of the three leisure places
OTHER_SECTOR_SHARE = 0.1  # records served by another sector of the same site
FOREIGN_CELLS_PER_TRIP = 4

# Counterpart categories and their share for each record type.
ONNET, MOBILE, LANDLINE, ABROAD, FREEPHONE, PREMIUM, SERVICE_CODE, SMS_CODE, SENDER_CODE = range(9)
_COUNTERPART_SHARES = np.zeros((len(RECORD_TYPES), 9))
_COUNTERPART_SHARES[VOICE_MO] = [0.10, 0.47, 0.20, 0.06, 0.07, 0.02, 0.08, 0, 0]
_COUNTERPART_SHARES[VOICE_MT] = [0, 0.62, 0.28, 0.10, 0, 0, 0, 0, 0]
_COUNTERPART_SHARES[SMS_MO] = [0.12, 0.74, 0, 0.06, 0, 0, 0, 0.08, 0]
_COUNTERPART_SHARES[SMS_MT] = [0, 0.62, 0, 0.08, 0, 0, 0, 0, 0.30]
_COUNTERPART_SHARES[DATA] = [0, 1, 0, 0, 0, 0, 0, 0, 0]  # unused: data has no counterpart
_COUNTERPART_CUMULATIVE = np.cumsum(_COUNTERPART_SHARES, axis=1)[:, :-1]
CONTACTS = 24  # personal circle of off-net numbers, most calls going to the first few
ONNET_CONTACTS = 8
FREEPHONE_POOL = 40  # the hotlines a country's subscribers call
PREMIUM_POOL = 25

# Voice durations (lognormal: median seconds, sigma) by counterpart category.
_CALL_MEDIAN = np.array([70, 70, 70, 70, 220, 150, 50, 50, 50], dtype=np.float64)
_CALL_SIGMA = np.array([1.05, 1.05, 1.05, 1.05, 0.9, 0.9, 0.8, 0.8, 0.8])
MAX_CALL_S = 3 * 3600
DATA_SESSION_MEDIAN_S = 90.0
DATA_SESSION_SIGMA = 1.3
MAX_DATA_SESSION_S = 4 * 3600
DATA_DOWN_MEDIAN_BYTES = 350_000.0
DATA_DOWN_SIGMA = 2.0
MAX_DATA_BYTES = 4_000_000_000
UPLINK_RATIO_MEDIAN = 0.08


@dataclass(frozen=True)
class HourContext:
    """The hour being generated, and the local clock in each of the population's time zones."""

    index: int  # hours since the start of the window
    start: int  # Unix seconds
    local_hour: IntArray  # per time zone
    weekend: IntArray  # per time zone: 1 on Saturday and Sunday


@dataclass(frozen=True)
class HourRecords:
    """One hour's records, sorted by start second; every array has one entry per record."""

    second: IntArray  # within the hour
    record_type: IntArray  # index into RECORD_TYPES
    subscriber: IntArray
    counterpart: IntArray  # E.164 digits or a short code; 0 for none
    counterpart_is_number: BoolArray  # E.164 (written with "+") rather than a short code
    duration: IntArray
    bytes_up: IntArray
    bytes_down: IntArray
    network: IntArray  # 0 at home, k + 1 on country.visited_networks[k]
    lac: IntArray
    ci: IntArray

    def __len__(self) -> int:
        return len(self.second)

    def counts_by_type(self) -> IntArray:
        counts: IntArray = np.bincount(self.record_type, minlength=len(RECORD_TYPES))
        return counts


@dataclass(frozen=True)
class NumberPlan:
    """A country's counterpart numbers as arrays, prepared once per simulation."""

    mobile: TemplateSet
    landline: TemplateSet
    abroad: TemplateSet
    freephone: TemplateSet
    premium: TemplateSet
    service_codes: IntArray
    sms_codes: IntArray
    sender_codes: IntArray
    salt: np.uint64

    @classmethod
    def of(cls, country: HostCountry, salt: int) -> NumberPlan:
        def codes(values: tuple[str, ...]) -> IntArray:
            return np.array([int(code) for code in values], dtype=np.int64)

        return cls(
            mobile=TemplateSet.of(country.mobile),
            landline=TemplateSet.of(country.landline),
            abroad=TemplateSet.of(INTERNATIONAL),
            freephone=TemplateSet.of(country.freephone),
            premium=TemplateSet.of(country.premium),
            service_codes=codes(country.voice_short_codes),
            sms_codes=codes(country.sms_short_codes),
            sender_codes=codes(country.sender_short_codes),
            salt=np.uint64(salt),
        )


def generate_hour(
    population: Population,
    geography: Geography,
    numbers: NumberPlan,
    hour: HourContext,
    rng: np.random.Generator,
) -> HourRecords:
    """Every record whose start falls in ``hour``; deterministic for a given generator state."""
    local_hour = hour.local_hour[population.tz_index]
    weekend = hour.weekend[population.tz_index]
    place = _places(population, local_hour, weekend, rng)
    abroad = (population.trip_start <= hour.index) & (hour.index < population.trip_end)
    record_type, subscriber, second = _records(population, hour, local_hour, weekend, abroad, rng)
    total = len(second)

    category = np.full(total, -1, dtype=np.int64)
    person = record_type != DATA
    category[person] = (
        rng.random(int(person.sum()))[:, None] > _COUNTERPART_CUMULATIVE[record_type[person]]
    ).sum(axis=1)
    counterpart = np.zeros(total, dtype=np.int64)
    is_number = person.copy()  # data records have no counterpart at all
    callee = _assign_counterparts(
        population, numbers, hour, rng, category, subscriber, second, counterpart, is_number
    )
    duration, bytes_up, bytes_down = _durations_and_volumes(
        population, record_type, subscriber, category, rng
    )

    # The other side of on-net calls and SMS: the callee's incoming record.
    mirrored = np.flatnonzero(callee >= 0)
    if len(mirrored):
        no_bytes = np.zeros(len(mirrored), dtype=np.int64)
        record_type = np.concatenate((record_type, record_type[mirrored] + 1))
        counterpart = np.concatenate((counterpart, population.msisdn[subscriber[mirrored]]))
        subscriber = np.concatenate((subscriber, callee[mirrored]))
        second = np.concatenate((second, second[mirrored]))
        is_number = np.concatenate((is_number, np.ones(len(mirrored), dtype=np.bool_)))
        duration = np.concatenate((duration, duration[mirrored]))
        bytes_up = np.concatenate((bytes_up, no_bytes))
        bytes_down = np.concatenate((bytes_down, no_bytes))

    network, lac, ci = _serving_cells(population, geography, place, abroad, subscriber, rng)

    # Seconds fit in 16 bits, for which numpy's stable sort is a linear radix sort.
    order = np.argsort(second.astype(np.int16), kind="stable")
    records = HourRecords(
        second=second,
        record_type=record_type,
        subscriber=subscriber,
        counterpart=counterpart,
        counterpart_is_number=is_number,
        duration=duration,
        bytes_up=bytes_up,
        bytes_down=bytes_down,
        network=network,
        lac=lac,
        ci=ci,
    )
    return HourRecords(**{f.name: getattr(records, f.name)[order] for f in fields(HourRecords)})


def _places(
    population: Population, local_hour: IntArray, weekend: IntArray, rng: np.random.Generator
) -> IntArray:
    """The cell where each subscriber spends this hour: home, work or a leisure place."""
    presence = PRESENCE[weekend, population.worker.astype(np.int64), local_hour]
    u = rng.random(population.size)
    slot = np.searchsorted(LEISURE_CHOICE, rng.random(population.size))
    leisure = population.leisure_cells[slot, np.arange(population.size)]
    place: IntArray = np.where(
        u < presence[:, 0],
        population.work_cell,
        np.where(u < presence[:, 0] + presence[:, 1], leisure, population.home_cell),
    )
    return place


def _records(
    population: Population,
    hour: HourContext,
    local_hour: IntArray,
    weekend: IntArray,
    abroad: BoolArray,
    rng: np.random.Generator,
) -> tuple[IntArray, IntArray, IntArray]:
    """Type, subscriber and start second of each record this hour (Poisson counts)."""
    n = population.size
    active = population.activated_at < hour.start + 3600
    rates = (
        (DAILY_RECORDS / 24)[:, None]
        * ACTIVITY[_CURVE[:, None], weekend[None, :], local_hour[None, :]]
        * np.where(weekend[None, :] == 1, WEEKEND_VOLUME[_CURVE][:, None], 1.0)
        * population.propensity[_HABIT]
        * np.where(abroad[None, :], ROAMING_FACTOR[:, None], 1.0)
        * active[None, :]
    )
    counts = rng.poisson(rates)
    slots = np.repeat(np.arange(counts.size, dtype=np.int64), counts.ravel())
    record_type = slots // n
    subscriber = slots % n
    second = rng.integers(0, 3600, size=len(slots))
    # A line that comes alive during this hour has no records before its activation.
    alive = hour.start + second >= population.activated_at[subscriber]
    if not alive.all():
        return record_type[alive], subscriber[alive], second[alive]
    return record_type, subscriber, second


def _durations_and_volumes(
    population: Population,
    record_type: IntArray,
    subscriber: IntArray,
    category: IntArray,
    rng: np.random.Generator,
) -> tuple[IntArray, IntArray, IntArray]:
    """Heavy-tailed call and session durations and data volumes (0 where not applicable)."""
    total = len(record_type)
    duration = np.zeros(total, dtype=np.int64)
    bytes_up = np.zeros(total, dtype=np.int64)
    bytes_down = np.zeros(total, dtype=np.int64)
    calls = np.flatnonzero((record_type == VOICE_MO) | (record_type == VOICE_MT))
    call_category = category[calls]
    duration[calls] = _lognormal_int(
        rng, _CALL_MEDIAN[call_category], _CALL_SIGMA[call_category], 1, MAX_CALL_S, len(calls)
    )
    sessions = np.flatnonzero(record_type == DATA)
    duration[sessions] = _lognormal_int(
        rng, DATA_SESSION_MEDIAN_S, DATA_SESSION_SIGMA, 1, MAX_DATA_SESSION_S, len(sessions)
    )
    volume = DATA_DOWN_MEDIAN_BYTES * population.data_volume[subscriber[sessions]]
    bytes_down[sessions] = _lognormal_int(
        rng, volume, DATA_DOWN_SIGMA, 0, MAX_DATA_BYTES, len(sessions)
    )
    uplink = rng.lognormal(np.log(UPLINK_RATIO_MEDIAN), 0.7, size=len(sessions))
    bytes_up[sessions] = np.minimum(
        bytes_down[sessions] * uplink + rng.integers(200, 4000, size=len(sessions)),
        MAX_DATA_BYTES,
    ).astype(np.int64)
    return duration, bytes_up, bytes_down


def _serving_cells(
    population: Population,
    geography: Geography,
    place: IntArray,
    abroad: BoolArray,
    subscriber: IntArray,
    rng: np.random.Generator,
) -> tuple[IntArray, IntArray, IntArray]:
    """Network, LAC and CI of each record: the subscriber's place (now and then another
    sector of the same site), or one of the trip's foreign cells."""
    total = len(subscriber)
    cell = place[subscriber]
    other = np.flatnonzero(rng.random(total) < OTHER_SECTOR_SHARE)
    site = geography.cell_site[cell[other]]
    first = geography.site_first_cell[site]
    sectors = geography.site_cell_count[site]
    shift = 1 + (rng.random(len(other)) * (sectors - 1)).astype(np.int64)
    cell[other] = first + (cell[other] - first + shift) % sectors
    lac = geography.cell_lac[cell]
    ci = geography.cell_ci[cell]
    network = np.zeros(total, dtype=np.int64)
    roaming = np.flatnonzero(abroad[subscriber])
    if len(roaming):
        traveller = subscriber[roaming]
        network[roaming] = population.trip_network[traveller] + 1
        lac[roaming] = population.trip_lac[traveller]
        ci[roaming] = population.trip_ci[traveller] + rng.integers(
            0, FOREIGN_CELLS_PER_TRIP, size=len(roaming)
        )
    return network, lac, ci


def _assign_counterparts(
    population: Population,
    numbers: NumberPlan,
    hour: HourContext,
    rng: np.random.Generator,
    category: IntArray,
    subscriber: IntArray,
    second: IntArray,
    counterpart: IntArray,
    is_number: BoolArray,
) -> IntArray:
    """Fill ``counterpart``/``is_number`` in place; return the on-net callee (-1 if none)."""
    callee = np.full(len(category), -1, dtype=np.int64)
    salt = numbers.salt

    onnet = np.flatnonzero(category == ONNET)
    if len(onnet) and population.size > 1:
        caller = subscriber[onnet]
        rank = _contact_rank(rng, len(onnet), ONNET_CONTACTS)
        key = (caller.astype(np.uint64) << np.uint64(8)) | rank.astype(np.uint64)
        chosen = (mix64(key ^ (salt + np.uint64(ONNET))) % np.uint64(population.size)).astype(
            np.int64
        )
        chosen = np.where(chosen == caller, (chosen + 1) % population.size, chosen)
        reachable = population.activated_at[chosen] <= hour.start + second[onnet]
        callee[onnet[reachable]] = chosen[reachable]
        counterpart[onnet[reachable]] = population.msisdn[chosen[reachable]]
        category[onnet[~reachable]] = MOBILE  # a friend not yet with us: an off-net call
    elif len(onnet):
        category[onnet] = MOBILE

    for kind, templates in (
        (MOBILE, numbers.mobile),
        (LANDLINE, numbers.landline),
        (ABROAD, numbers.abroad),
    ):
        picked = np.flatnonzero(category == kind)
        if not len(picked):
            continue
        rank = _contact_rank(rng, len(picked), CONTACTS)
        key = (subscriber[picked].astype(np.uint64) << np.uint64(8)) | rank.astype(np.uint64)
        counterpart[picked] = templates.pick(mix64(key ^ (salt + np.uint64(kind))))

    for kind, templates, pool in (
        (FREEPHONE, numbers.freephone, FREEPHONE_POOL),
        (PREMIUM, numbers.premium, PREMIUM_POOL),
    ):
        picked = np.flatnonzero(category == kind)
        if not len(picked):
            continue
        line = rng.integers(0, pool, size=len(picked)).astype(np.uint64)
        counterpart[picked] = templates.pick(mix64(line ^ (salt + np.uint64(kind))))

    for kind, codes in (
        (SERVICE_CODE, numbers.service_codes),
        (SMS_CODE, numbers.sms_codes),
        (SENDER_CODE, numbers.sender_codes),
    ):
        picked = np.flatnonzero(category == kind)
        if not len(picked):
            continue
        counterpart[picked] = codes[rng.integers(0, len(codes), size=len(picked))]
        is_number[picked] = False
    return callee


def _contact_rank(rng: np.random.Generator, size: int, contacts: int) -> IntArray:
    """Which of a subscriber's contacts: heavy-tailed, the first few take most calls."""
    result: IntArray = (contacts * rng.random(size) ** 2.5).astype(np.int64)
    return result


def _lognormal_int(
    rng: np.random.Generator,
    median: npt.NDArray[np.floating[Any]] | float,
    sigma: FloatArray | float,
    low: int,
    high: int,
    size: int,
) -> IntArray:
    """``size`` heavy-tailed whole numbers in [low, high] around ``median``."""
    values = np.exp(np.log(median) + sigma * rng.standard_normal(size))
    result: IntArray = np.clip(np.rint(values), low, high).astype(np.int64)
    return result
