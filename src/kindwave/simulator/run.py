"""``kindwave simulate``: check the arguments, build the operator, stream its usage files.

:func:`simulate` is the whole job as a plain function (the management command
only parses arguments and shows progress). Same options ⇒ byte-identical output:
every random draw comes from ``numpy.random.Generator(PCG64(SeedSequence(seed,
spawn_key=(stream, …))))`` with a fixed stream per purpose, hours are generated
independently of each other, nothing depends on dict/set order or on the clock.
"""

from __future__ import annotations

import filecmp
import gzip
import json
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from kindwave.simulator.behaviour import HourContext, NumberPlan, generate_hour
from kindwave.simulator.countries import HOST_COUNTRIES, HostCountry
from kindwave.simulator.geography import ZONE_PRECISION, Geography, build_geography
from kindwave.simulator.numbering import (
    allocate_number_blocks,
    number_capacity,
    pool_size,
    sim_range,
)
from kindwave.simulator.population import build_population, write_subscribers_csv
from kindwave.simulator.writer import (
    RowFormatter,
    write_hour_cdr_file,
    write_hour_file,
    write_text_file,
)
from kindwave.usage.cdr import CDR_SUFFIX, CdrOptions, hour_cdr_file_name, read_cdr_file
from kindwave.usage.fileformat import FORMAT_VERSION, RECORD_TYPES, hour_file_name

DEFAULT_START = date(2026, 10, 1)  # a Thursday: short runs still reach a weekend
MAX_SUBSCRIBERS = 10_000_000
MAX_DAYS = 366
MAX_SEED = 2**63 - 1
FILE_FORMATS = ("csv", "ber")
# The host network's nodes in its 32.298 CDRs (--format ber): the local time zone its
# mediation writes TimeStamps in, its MSC's and SMS centre's E.164 addresses.
CDR_NODES = {
    "GB": ("Europe/London", "+447953000001", "+447953000100"),
    "FR": ("Europe/Paris", "+33609000001", "+33609000100"),
    "US": ("America/New_York", "+13125550001", "+13125550100"),
}
OUTPUT_NAMES = frozenset({"cells.csv", "subscribers.csv", "simulation.json", "usage"})

# Random streams: SeedSequence(seed, spawn_key=(STREAM, …)).
STREAM_GEOGRAPHY = 0
STREAM_POPULATION = 1
STREAM_HOURS = 2

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

HourCallback = Callable[[int, int], None]  # (hours done, records so far)


class SimulationArgumentError(ValueError):
    """The arguments make no sense; the message says which and why."""


@dataclass(frozen=True)
class SimulationOptions:
    country: str
    subscribers: int
    days: int
    seed: int
    start: date
    out_dir: Path
    force: bool = False
    resume: bool = False
    file_format: str = "csv"  # "csv": usage file format v1 (.csv.gz); "ber": 32.298 CDRs

    @property
    def hours(self) -> int:
        return self.days * 24

    @property
    def window_start(self) -> datetime:
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)


@dataclass(frozen=True)
class SimulationSummary:
    out_dir: Path
    subscribers: int
    cells: int
    hour_files: int
    records_by_type: dict[str, int]
    elapsed_s: float

    @property
    def files(self) -> int:
        return self.hour_files + 3  # cells.csv, subscribers.csv, simulation.json

    @property
    def records(self) -> int:
        return sum(self.records_by_type.values())

    @property
    def records_per_second(self) -> float:
        return self.records / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def line(self) -> str:
        by_type = ", ".join(f"{name} {count:,}" for name, count in self.records_by_type.items())
        return (
            f"Simulated {self.subscribers:,} subscribers on {self.cells:,} cells: "
            f"{self.files:,} files ({self.hour_files:,} hourly usage files), "
            f"{self.records:,} records ({by_type}), "
            f"{self.records_per_second:,.0f} records/s, {self.elapsed_s:.1f} s, in {self.out_dir}"
        )


def make_options(
    *,
    country: str,
    subscribers: int,
    days: int,
    seed: int,
    start: str | date | None,
    out_dir: str | Path,
    force: bool = False,
    resume: bool = False,
    file_format: str = "csv",
) -> SimulationOptions:
    """Checked options; raises :class:`SimulationArgumentError` listing every problem."""
    problems: list[str] = []
    code = country.strip().upper()
    host = HOST_COUNTRIES.get(code)
    if host is None:
        problems.append(
            f"unknown country {country!r}: choose one of {', '.join(sorted(HOST_COUNTRIES))}"
        )
    if subscribers < 1:
        problems.append(f"--subscribers must be at least 1, got {subscribers}")
    elif subscribers > MAX_SUBSCRIBERS:
        problems.append(f"--subscribers must be at most {MAX_SUBSCRIBERS:,}, got {subscribers:,}")
    elif host is not None and pool_size(subscribers) > number_capacity(host):
        problems.append(
            f"--subscribers {subscribers:,} is more than the {code} number ranges can serve"
        )
    if days < 1:
        problems.append(f"--days must be at least 1, got {days}")
    elif days > MAX_DAYS:
        problems.append(f"--days must be at most {MAX_DAYS}, got {days}")
    if not 0 <= seed <= MAX_SEED:
        problems.append(f"--seed must be between 0 and {MAX_SEED}, got {seed}")
    start_date = DEFAULT_START
    if isinstance(start, date):
        start_date = start
    elif start is not None:
        try:
            if not _DATE.match(start):
                raise ValueError
            start_date = date.fromisoformat(start)
        except ValueError:
            problems.append(f"--start {start!r} is not a date in the form YYYY-MM-DD")
    if file_format not in FILE_FORMATS:
        problems.append(f"--format must be one of {', '.join(FILE_FORMATS)}, got {file_format!r}")
    path = Path(out_dir)
    if force and resume:
        problems.append("--force and --resume exclude each other")
    else:
        problems.extend(_output_dir_problems(path, force=force, resume=resume))
    if problems:
        raise SimulationArgumentError("; ".join(problems))
    return SimulationOptions(
        country=code,
        subscribers=subscribers,
        days=days,
        seed=seed,
        start=start_date,
        out_dir=path,
        force=force,
        resume=resume,
        file_format=file_format,
    )


def _output_dir_problems(path: Path, *, force: bool, resume: bool) -> list[str]:
    if not path.exists():
        return []
    if not path.is_dir():
        return [f"OUT_DIR {path} exists and is not a directory"]
    entries = sorted(entry.name for entry in path.iterdir())
    if not entries:
        return []
    if not (force or resume):
        return [
            f"OUT_DIR {path} exists and is not empty; pass --force to rewrite it "
            "(or --resume to finish an interrupted run)"
        ]
    # --force only ever deletes what a simulation writes, never a user's other files.
    foreign = [name for name in entries if name.removesuffix(".partial") not in OUTPUT_NAMES]
    if foreign:
        shown = ", ".join(foreign[:5]) + (", …" if len(foreign) > 5 else "")
        return [
            f"OUT_DIR {path} holds files a simulation did not write ({shown}); "
            "--force and --resume only touch a previous simulation's output"
        ]
    return []


def _clear_previous_output(path: Path) -> None:
    for entry in sorted(path.iterdir()):
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _generator(seed: int, *stream: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=stream)))


def hour_context(index: int, start: datetime, time_zones: tuple[str, ...]) -> HourContext:
    """Hour ``index`` of the window and the local clock in each time zone at its start."""
    moment = start + timedelta(hours=index)
    local = [moment.astimezone(ZoneInfo(name)) for name in time_zones]
    return HourContext(
        index=index,
        start=int(moment.timestamp()),
        local_hour=np.array([clock.hour for clock in local], dtype=np.int64),
        weekend=np.array([int(clock.weekday() >= 5) for clock in local], dtype=np.int64),
    )


def simulate(
    options: SimulationOptions, *, on_hour: HourCallback | None = None
) -> SimulationSummary:
    """Write the whole simulation into ``options.out_dir``; see docs/simulator.md.

    Deterministic: the same options give byte-identical files. Every file is
    written under a temporary name and renamed when complete; ``simulation.json``
    comes last, so its presence means the run finished. With ``resume``, hour
    files already complete are kept (hours are independent, so the result is the
    same as an uninterrupted run), after checking that the directory holds the
    same simulation. Memory grows with the number of subscribers, never with
    the number of days.
    """
    began = time.perf_counter()
    problems = _output_dir_problems(options.out_dir, force=options.force, resume=options.resume)
    if options.resume and options.file_format != "csv" and _hour_files(options.out_dir, ".csv.gz"):
        problems.append("OUT_DIR holds CSV usage files; --resume cannot finish them as BER")
    if options.resume and options.file_format != "ber" and _hour_files(options.out_dir, CDR_SUFFIX):
        problems.append("OUT_DIR holds BER usage files; --resume cannot finish them as CSV")
    if problems:
        raise SimulationArgumentError("; ".join(problems))
    country = HOST_COUNTRIES[options.country]
    out_dir = options.out_dir
    if out_dir.exists() and options.force:
        _clear_previous_output(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    geography = build_geography(
        country, options.subscribers, _generator(options.seed, STREAM_GEOGRAPHY)
    )
    pool = pool_size(options.subscribers)
    number_blocks = allocate_number_blocks(country, pool)
    sims = sim_range(country, pool)
    population_rng = _generator(options.seed, STREAM_POPULATION)
    window_start = int(options.window_start.timestamp())
    population = build_population(
        country,
        geography,
        options.subscribers,
        window_start=window_start,
        hours=options.hours,
        number_blocks=number_blocks,
        sims=sims,
        rng=population_rng,
    )
    numbers = NumberPlan.of(country, salt=int(population_rng.integers(0, 2**63)))
    (out_dir / "cells.csv.partial").write_text(
        _cells_csv(geography), encoding="utf-8", newline="\n"
    )
    write_subscribers_csv(out_dir / "subscribers.csv.partial", population, country, geography, sims)
    for name in ("cells.csv", "subscribers.csv"):
        partial, final = out_dir / f"{name}.partial", out_dir / name
        if options.resume and final.exists() and not filecmp.cmp(partial, final, shallow=False):
            partial.unlink()
            raise SimulationArgumentError(
                f"OUT_DIR {out_dir} holds a simulation with other arguments ({name} differs); "
                "--resume only finishes the same simulation (use --force to replace it)"
            )
        partial.replace(final)

    plmns = [country.plmn, *(network.plmn for network in country.visited_networks)]
    formatter = RowFormatter(population.msisdn, population.imsi, plmns)
    counts = np.zeros(len(RECORD_TYPES), dtype=np.int64)
    ber = options.file_format == "ber"
    cdr_options = cdr_options_for(options.country) if ber else None
    name_of = hour_cdr_file_name if ber else hour_file_name
    for index in range(options.hours):
        moment = options.window_start + timedelta(hours=index)
        path = out_dir / "usage" / f"{moment:%Y-%m-%d}" / name_of(moment)
        if options.resume and path.exists():
            counts += records_by_type_in(path)
        else:
            hour = hour_context(index, options.window_start, population.time_zones)
            records = generate_hour(
                population, geography, numbers, hour, _generator(options.seed, STREAM_HOURS, index)
            )
            if cdr_options is not None:
                write_hour_cdr_file(path, formatter.format(records, moment), cdr_options)
            else:
                write_hour_file(path, formatter.format(records, moment))
            counts += records.counts_by_type()
        if on_hour is not None:
            on_hour(index + 1, int(counts.sum()))

    records_by_type = {name: int(count) for name, count in zip(RECORD_TYPES, counts, strict=True)}
    joined = int((population.activated_at >= window_start).sum())
    manifest = _manifest(
        options, country, geography, number_blocks, sims.as_json(), records_by_type, joined
    )
    write_text_file(
        out_dir / "simulation.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    )
    return SimulationSummary(
        out_dir=out_dir,
        subscribers=options.subscribers,
        cells=geography.cell_count,
        hour_files=options.hours,
        records_by_type=records_by_type,
        elapsed_s=time.perf_counter() - began,
    )


def cdr_options_for(country: str) -> CdrOptions:
    """How the host network of ``country`` names its nodes in its CDRs."""
    zone, msc, smsc = CDR_NODES[country]
    return CdrOptions(time_zone=ZoneInfo(zone), msc_address=msc, smsc_address=smsc)


def records_by_type_in(path: Path) -> npt.NDArray[np.int64]:
    """Records of each type in an hour file this simulator wrote (",type," occurs once a line)."""
    if path.name.endswith(CDR_SUFFIX):
        kinds = read_cdr_file(path).column("record_type").to_pylist()
        return np.array([kinds.count(name) for name in RECORD_TYPES], dtype=np.int64)
    with gzip.open(path, "rb") as handle:
        content = handle.read()
    return np.array([content.count(f",{name},".encode()) for name in RECORD_TYPES], dtype=np.int64)


def _hour_files(out_dir: Path, suffix: str) -> bool:
    return any((out_dir / "usage").glob(f"*/usage-*{suffix}"))


def _cells_csv(geography: Geography) -> str:
    lines = ["cell_id,lat,lon,site_id,zone_id"]
    for cell_id, site, zone in zip(
        geography.cell_ids, geography.cell_site.tolist(), geography.cell_zones, strict=True
    ):
        lat = geography.site_lat[site]
        lon = geography.site_lon[site]
        lines.append(f"{cell_id},{lat:.5f},{lon:.5f},{geography.site_id(site)},{zone}")
    return "\n".join(lines) + "\n"


def _manifest(
    options: SimulationOptions,
    country: HostCountry,
    geography: Geography,
    number_blocks: tuple[Any, ...],
    sims: dict[str, str | int],
    records_by_type: dict[str, int],
    joined: int,
) -> dict[str, Any]:
    window_end = options.window_start + timedelta(hours=options.hours)
    manifest: dict[str, Any] = {
        "generator": "kindwave simulate",
        "usage_file_format": FORMAT_VERSION,
        "arguments": {
            "country": options.country,
            "subscribers": options.subscribers,
            "days": options.days,
            "seed": options.seed,
            "start": options.start.isoformat(),
        },
        "host_network": {
            "country": country.code,
            "plmn": country.plmn,
            "operator": country.operator,
            "language": country.language,
        },
        "window": {
            "start": f"{options.window_start:%Y-%m-%dT%H:%M:%SZ}",
            "end": f"{window_end:%Y-%m-%dT%H:%M:%SZ}",
            "hours": options.hours,
        },
        "zone_id": f"geohash, precision {ZONE_PRECISION}, of the cell's site",
        "counts": {
            "cities": len(geography.cities),
            "sites": geography.site_count,
            "cells": geography.cell_count,
            "subscribers": options.subscribers,
            "subscribers_activated_in_window": joined,
            "usage_files": options.hours,
            "records": sum(records_by_type.values()),
            "records_by_type": records_by_type,
        },
        "number_blocks": [block.as_json() for block in number_blocks],
        "sim_ranges": [sims],
        "visited_networks": [
            {
                "plmn": network.plmn,
                "country": network.country,
                "operator": network.operator,
                "zone": network.zone.value,
            }
            for network in country.visited_networks
        ],
    }
    if options.file_format != "csv":  # CSV manifests stay as they were before --format
        manifest["arguments"]["format"] = options.file_format
    return manifest


@contextmanager
def progress_bar(total_hours: int, stream: TextIO | None = None) -> Iterator[HourCallback]:
    """A progress bar on stderr (hidden when it is not a terminal) with records/s."""
    console = Console(file=stream or sys.stderr)
    progress = Progress(
        TextColumn("simulating"),
        BarColumn(bar_width=20),
        TextColumn("{task.completed}/{task.total} h"),
        TextColumn("{task.fields[records]:,} records, {task.fields[rate]:,.0f}/s"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    task = progress.add_task("simulate", total=total_hours, records=0, rate=0.0)
    began = time.perf_counter()

    def update(hours_done: int, records: int) -> None:
        elapsed = time.perf_counter() - began
        progress.update(
            task,
            completed=hours_done,
            records=records,
            rate=records / elapsed if elapsed > 0 else 0.0,
        )

    with progress:
        yield update
