"""Numbers and SIMs: MSISDN blocks, ICCIDs with their Luhn digit, IMSIs, number templates.

Numbers are handled as integers (the E.164 digits without ``+``) so that whole
arrays of them can be drawn and formatted at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kindwave.simulator.countries import HostCountry, NumberTemplate

IntArray = npt.NDArray[np.int64]
UIntArray = npt.NDArray[np.uint64]

POOL_GRANULE = 10_000
MIN_POOL = 10_000
ICCID_SERIAL_BASE = 202_600_000_000  # 12 digits: the batch of SIMs issued for 2026


class NumberingError(ValueError):
    """The numbering plan cannot serve the requested number of subscribers."""


@dataclass(frozen=True)
class NumberBlock:
    first: int  # E.164 digits
    last: int

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    def as_json(self) -> dict[str, str]:
        return {"first": f"+{self.first}", "last": f"+{self.last}"}


@dataclass(frozen=True)
class SimRange:
    """SIM ``k`` of the range has ICCID serial ``first_serial + k`` and MSIN ``first_msin + k``."""

    iccid_prefix: str
    first_serial: int
    mcc_mnc: str
    msin_digits: int
    first_msin: int
    count: int

    def iccid(self, k: int) -> str:
        body = f"{self.iccid_prefix}{self.first_serial + k:012d}"
        return body + str(luhn_check_digit(body))

    def imsi(self, k: int) -> str:
        return f"{self.mcc_mnc}{self.first_msin + k:0{self.msin_digits}d}"

    def as_json(self) -> dict[str, str | int]:
        return {
            "iccid_first": self.iccid(0),
            "iccid_last": self.iccid(self.count - 1),
            "imsi_first": self.imsi(0),
            "imsi_last": self.imsi(self.count - 1),
            "count": self.count,
        }


def pool_size(subscribers: int) -> int:
    """Numbers (and SIMs) to provision: a quarter spare for sign-ups, in round blocks."""
    wanted = max(MIN_POOL, subscribers + subscribers // 4)
    return -(-wanted // POOL_GRANULE) * POOL_GRANULE


def number_capacity(country: HostCountry) -> int:
    return sum(last - first + 1 for first, last in country.msisdn_ranges)


def allocate_number_blocks(country: HostCountry, size: int) -> tuple[NumberBlock, ...]:
    """Cut ``size`` numbers from the country's ranges, in order, as few blocks as possible."""
    blocks: list[NumberBlock] = []
    remaining = size
    for first, last in country.msisdn_ranges:
        if remaining == 0:
            break
        take = min(remaining, last - first + 1)
        blocks.append(NumberBlock(first, first + take - 1))
        remaining -= take
    if remaining:
        raise NumberingError(
            f"the {country.code} number ranges hold {number_capacity(country):,} numbers; "
            f"{size:,} are needed"
        )
    return tuple(blocks)


def numbers_at(blocks: tuple[NumberBlock, ...], positions: IntArray) -> IntArray:
    """The numbers at ``positions`` (0-based) of the pool formed by ``blocks`` end to end."""
    sizes = np.array([block.size for block in blocks], dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    firsts = np.array([block.first for block in blocks], dtype=np.int64)
    which = np.searchsorted(starts, positions, side="right") - 1
    return firsts[which] + (positions - starts[which])


def sim_range(country: HostCountry, count: int) -> SimRange:
    return SimRange(
        iccid_prefix=country.iccid_prefix,
        first_serial=ICCID_SERIAL_BASE,
        mcc_mnc=country.mcc_mnc,
        msin_digits=country.msin_digits,
        first_msin=country.msin_base,
        count=count,
    )


def luhn_check_digit(digits: str) -> int:
    """The digit that makes ``digits`` + it pass the Luhn check (ISO/IEC 7812)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:  # doubled: these are odd positions once the check digit follows
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10


def luhn_valid(number: str) -> bool:
    return number.isdigit() and luhn_check_digit(number[:-1]) == int(number[-1])


def iccid_check_digits(prefix: str, serials: IntArray) -> IntArray:
    """Vectorised Luhn check digits of ``prefix`` + 12-digit ``serials``."""
    body = np.empty((len(serials), len(prefix) + 12), dtype=np.int64)
    body[:, : len(prefix)] = [int(char) for char in prefix]
    rest = serials.copy()
    for column in range(len(prefix) + 11, len(prefix) - 1, -1):
        body[:, column] = rest % 10
        rest //= 10
    doubled = body[:, ::-1][:, ::2] * 2
    doubled -= np.where(doubled > 9, 9, 0)
    total = doubled.sum(axis=1) + body[:, ::-1][:, 1::2].sum(axis=1)
    result: IntArray = (10 - total % 10) % 10
    return result


@dataclass(frozen=True)
class TemplateSet:
    """Number templates as arrays, to draw many numbers at once."""

    firsts: IntArray
    sizes: IntArray

    @classmethod
    def of(cls, templates: tuple[NumberTemplate, ...]) -> TemplateSet:
        return cls(
            firsts=np.array([t.first for t in templates], dtype=np.int64),
            sizes=np.array([t.size for t in templates], dtype=np.int64),
        )

    def pick(self, hashes: UIntArray) -> IntArray:
        """One number per hash, spread over the templates and within each."""
        which = (hashes % np.uint64(len(self.firsts))).astype(np.int64)
        offset = ((hashes >> np.uint64(20)) % self.sizes[which].astype(np.uint64)).astype(np.int64)
        result: IntArray = self.firsts[which] + offset
        return result


_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def mix64(values: UIntArray) -> UIntArray:
    """SplitMix64's finaliser: a fast, well-spread hash of 64-bit integers (wraps)."""
    z = values + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX_1
    z = (z ^ (z >> np.uint64(27))) * _MIX_2
    result: UIntArray = z ^ (z >> np.uint64(31))
    return result
