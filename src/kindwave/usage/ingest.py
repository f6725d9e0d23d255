"""Ingest: loading the host network's cells and ingesting usage files
into the lake exactly once (docs/usage-files.md is the input contract)."""

from __future__ import annotations

import csv
import hashlib
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pyarrow as pa
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from kindwave.lines.models import Line, LineState, LineStateChange, Market
from kindwave.usage import lake
from kindwave.usage.fileformat import (
    COLUMNS,
    UsageFileError,
    hour_of_file,
    read_usage_file,
    validate_record,
)
from kindwave.usage.models import Cell, QuarantinedRecord, QuarantineReason, UsageFile

DEFAULT_DEDUP_HORIZON_DAYS = 35
HORIZON_VARIABLE = "KINDWAVE_DEDUP_HORIZON_DAYS"
_BILLABLE_STATES = frozenset({LineState.ACTIVE, LineState.SUSPENDED})
_CHUNK = 65_536


def dedup_horizon_days() -> int:
    """``KINDWAVE_DEDUP_HORIZON_DAYS`` (default 35): how far back a record id counts as seen."""
    raw = os.environ.get(HORIZON_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_DEDUP_HORIZON_DAYS
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 1:
        raise ImproperlyConfigured(f"{HORIZON_VARIABLE} must be a whole number of days ≥ 1")
    return value


# --- Cells ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellLoadSummary:
    created: int
    updated: int
    unchanged: int


class CellFileError(Exception):
    """cells.csv cannot be loaded; the message names the file and line."""


def load_cells(path: Path) -> CellLoadSummary:
    """Upsert the host network's cells from ``cells.csv`` by ``cell_id``.

    Idempotent (loading the same file twice changes nothing) and atomic: a bad line
    raises :class:`CellFileError` and nothing is written. Cells absent from the file
    are kept, since records may still refer to them.
    """
    wanted: dict[str, tuple[Decimal, Decimal, str, str]] = {}
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames != ["cell_id", "lat", "lon", "site_id", "zone_id"]:
                raise CellFileError(f"{path}: header must be cell_id,lat,lon,site_id,zone_id")
            for row in reader:
                try:
                    wanted[row["cell_id"]] = (
                        Decimal(row["lat"]),
                        Decimal(row["lon"]),
                        row["site_id"],
                        row["zone_id"],
                    )
                except (InvalidOperation, TypeError):
                    raise CellFileError(f"{path}:{reader.line_num}: bad lat/lon") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CellFileError(f"{path}: cannot read ({error})") from None
    created = updated = 0
    with transaction.atomic():
        existing = {cell.cell_id: cell for cell in Cell.objects.all()}
        new: list[Cell] = []
        changed: list[Cell] = []
        for cell_id, (lat, lon, site_id, zone_id) in wanted.items():
            cell = existing.get(cell_id)
            if cell is None:
                new.append(
                    Cell(cell_id=cell_id, lat=lat, lon=lon, site_id=site_id, zone_id=zone_id)
                )
            elif (cell.lat, cell.lon, cell.site_id, cell.zone_id) != (lat, lon, site_id, zone_id):
                cell.lat, cell.lon, cell.site_id, cell.zone_id = lat, lon, site_id, zone_id
                changed.append(cell)
        Cell.objects.bulk_create(new, batch_size=1000)
        Cell.objects.bulk_update(changed, ["lat", "lon", "site_id", "zone_id"], batch_size=1000)
        created, updated = len(new), len(changed)
    return CellLoadSummary(created, updated, len(wanted) - created - updated)


# --- Ingest --------------------------------------------------------------------------------


@dataclass
class IngestSummary:
    ingested: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # the refusal messages
    orphans_removed: int = 0
    records: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


def find_usage_files(paths: Iterable[Path]) -> list[Path]:
    """Files given, and ``usage-*.csv[.gz]`` found recursively in directories given,
    in name order (then path, so the order never depends on the file system)."""
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(
                candidate
                for candidate in path.rglob("usage-*.csv*")
                if candidate.is_file() and candidate.name.endswith((".csv", ".csv.gz"))
            )
        else:
            found.add(path)
    return sorted(found, key=lambda path: (path.name, str(path)))


class LineIndex:
    """Which (MSISDN, IMSI) pairs were a line active or suspended at an instant: built
    once per run from the lines and their state history, so no query per record."""

    def __init__(self, market: Market) -> None:
        self._lines: dict[str, list[tuple[str, list[LineStateChange]]]] = defaultdict(list)
        for line in (
            Line.objects.filter(market=market, sim__isnull=False)
            .select_related("sim")
            .prefetch_related("state_changes")
        ):
            assert line.sim is not None  # noqa: S101 — filtered above
            self._lines[line.msisdn].append((line.sim.imsi, list(line.state_changes.all())))

    def problem(self, msisdn: str, imsi: str, at: datetime) -> tuple[str, str] | None:
        """None when a line with ``msisdn`` and ``imsi`` could be used at ``at``,
        else (reason, message)."""
        candidates = [
            changes for line_imsi, changes in self._lines.get(msisdn, ()) if line_imsi == imsi
        ]
        if not candidates:
            return (
                QuarantineReason.UNKNOWN_LINE,
                f"no line has MSISDN {msisdn} with IMSI {imsi}",
            )
        states = [LineStateChange.state_at(changes, at) for changes in candidates]
        if any(state in _BILLABLE_STATES for state in states):
            return None
        shown = ", ".join(str(state or "not yet ordered") for state in states)
        return (
            QuarantineReason.LINE_NOT_ACTIVE,
            f"line {msisdn} was {shown} at {at:%Y-%m-%dT%H:%M:%SZ}",
        )


def _reason_for(problems: list[str]) -> str:
    """A reason code for the problems :func:`validate_record` found (the first decides)."""
    first = problems[0]
    if first.startswith(("missing field", "more fields", "unknown column")):
        return QuarantineReason.WRONG_FIELD_COUNT
    if "does not belong to the host network" in first:
        return QuarantineReason.FOREIGN_IMSI
    if "is not in the host network's cells.csv" in first:
        return QuarantineReason.UNKNOWN_CELL
    if "outside the file's hour" in first:
        return QuarantineReason.OUTSIDE_HOUR
    return QuarantineReason.INVALID_RECORD


@dataclass
class _FileResult:
    accepted: list[tuple[str, ...]]
    duplicates: int
    quarantine: list[QuarantinedRecord]


class _Ingest:
    def __init__(
        self,
        *,
        market: Market,
        home_plmn: str,
        horizon_days: int,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.market = market
        self.home_plmn = home_plmn
        self.horizon = timedelta(days=horizon_days)
        self.progress = progress or (lambda _records: None)
        self.cells = frozenset(Cell.objects.values_list("cell_id", flat=True))
        self.lines = LineIndex(market)
        # Record ids in the lake per usage date, read once per run and kept up to date.
        self.ids_by_date: dict[date, set[str]] = {}
        self.summary = IngestSummary()

    def run(self, files: Sequence[Path]) -> IngestSummary:
        began = time.perf_counter()
        self.summary.orphans_removed = len(lake.remove_orphans())
        for path in files:
            self.ingest_file(path)
        self.summary.seconds = time.perf_counter() - began
        return self.summary

    def ingest_file(self, path: Path) -> None:
        try:
            content = path.read_bytes()
        except OSError as error:
            self.summary.refused.append(f"{path}: cannot read ({error})")
            return
        sha256 = hashlib.sha256(content).hexdigest()
        if UsageFile.objects.filter(sha256=sha256, status=UsageFile.Status.INGESTED).exists():
            self.summary.skipped.append(str(path))
            return
        try:
            hour = hour_of_file(path)
            rows = list(read_usage_file(path))
        except UsageFileError as error:
            self._refuse(path, sha256, len(content), str(error))
            return
        result = self._check(rows, hour, sha256)
        by_date: dict[date, list[tuple[str, ...]]] = defaultdict(list)
        for fields in result.accepted:
            by_date[date.fromisoformat(fields[5][:10])].append(fields)
        parts = []
        for day, records in sorted(by_date.items()):
            relative = lake.part_name(day, sha256)
            lake.write_part(relative, _table(records, sha256))
            parts.append(relative)
        reasons = Counter(record.reason for record in result.quarantine)
        with transaction.atomic():
            UsageFile.objects.filter(sha256=sha256).delete()  # an earlier refusal
            manifest = UsageFile.objects.create(
                sha256=sha256,
                name=path.name,
                path=str(path),
                size=len(content),
                status=UsageFile.Status.INGESTED,
                file_hour=hour,
                records=len(rows),
                accepted=len(result.accepted),
                duplicates=result.duplicates,
                quarantined=len(result.quarantine),
                quarantined_by_reason=dict(sorted(reasons.items())),
                parts=parts,
            )
            for record in result.quarantine:
                record.file = manifest
            QuarantinedRecord.objects.bulk_create(result.quarantine, batch_size=1000)
        for day, records in by_date.items():
            self.ids_by_date.setdefault(day, set()).update(fields[0] for fields in records)
        self.summary.ingested.append(str(path))
        self.summary.records += len(rows)
        self.summary.accepted += len(result.accepted)
        self.summary.duplicates += result.duplicates
        self.summary.quarantined.update(reasons)

    def _refuse(self, path: Path, sha256: str, size: int, reason: str) -> None:
        with transaction.atomic():
            UsageFile.objects.update_or_create(
                sha256=sha256,
                defaults={
                    "name": path.name,
                    "path": str(path),
                    "size": size,
                    "status": UsageFile.Status.REFUSED,
                    "refusal": reason,
                },
            )
        self.summary.refused.append(reason)

    def _seen_ids(self, hour: datetime) -> set[str]:
        """Record ids in the lake within the horizon around ``hour``."""
        first, last = (hour - self.horizon).date(), (hour + self.horizon).date()
        missing = [
            day
            for day in (first + timedelta(days=n) for n in range((last - first).days + 1))
            if day not in self.ids_by_date
        ]
        if missing:
            by_day: dict[date, list[Path]] = defaultdict(list)
            for part in lake.ingested_parts(min(missing), max(missing)):
                by_day[lake.partition_date(part.parent.name + "/")].append(part)
            for day in missing:
                self.ids_by_date[day] = lake.record_ids(by_day.get(day, []))
        seen: set[str] = set()
        day = first
        while day <= last:
            seen |= self.ids_by_date[day]
            day += timedelta(days=1)
        return seen

    def _check(self, rows: list, hour: datetime, sha256: str) -> _FileResult:
        seen_in_lake = self._seen_ids(hour)
        accepted: dict[str, tuple[str, ...]] = {}
        in_lake: list[tuple[int, dict[str, str], tuple[str, ...]]] = []
        duplicates = 0
        quarantine: list[QuarantinedRecord] = []

        def hold(line: int, row: dict[str, str], reason: str, message: str) -> None:
            quarantine.append(QuarantinedRecord(line=line, raw=row, reason=reason, message=message))

        for count, (line, row) in enumerate(rows, start=1):
            if count % _CHUNK == 0:
                self.progress(_CHUNK)
            problems = validate_record(
                row, home_plmn=self.home_plmn, known_cells=self.cells, file_hour=hour
            )
            if problems:
                hold(line, row, _reason_for(problems), "; ".join(problems))
                continue
            # Validated as YYYY-MM-DDTHH:MM:SSZ above; fromisoformat is ~20x faster than strptime.
            start = datetime.fromisoformat(row["start_time"])
            problem = self.lines.problem(row["msisdn"], row["imsi"], start)
            if problem is not None:
                hold(line, row, *problem)
                continue
            fields = tuple(row[column] for column in COLUMNS)
            record_id = fields[0]
            earlier = accepted.get(record_id)
            if earlier is not None:
                if earlier == fields:
                    duplicates += 1
                else:
                    hold(
                        line,
                        row,
                        QuarantineReason.CONFLICTING_DUPLICATE,
                        f"record_id {record_id} appears earlier in this file with other content",
                    )
                continue
            if record_id in seen_in_lake:
                in_lake.append((line, row, fields))
                continue
            accepted[record_id] = fields
        self.progress(len(rows) % _CHUNK)
        if in_lake:
            first, last = (hour - self.horizon).date(), (hour + self.horizon).date()
            stored = lake.records_as_text(
                lake.ingested_parts(first, last), (fields[0] for _, _, fields in in_lake)
            )
            for line, row, fields in in_lake:
                if stored.get(fields[0]) == fields:
                    duplicates += 1
                else:
                    hold(
                        line,
                        row,
                        QuarantineReason.CONFLICTING_DUPLICATE,
                        f"record_id {fields[0]} is already in the lake with other content",
                    )
        quarantine.sort(key=lambda record: record.line)
        return _FileResult(list(accepted.values()), duplicates, quarantine)


def _table(records: list[tuple[str, ...]], sha256: str) -> pa.Table:
    columns = list(zip(*records, strict=True))
    return pa.table(
        {
            "record_id": pa.array(columns[0], pa.string()),
            "record_type": pa.array(columns[1], pa.string()),
            "msisdn": pa.array(columns[2], pa.string()),
            "imsi": pa.array(columns[3], pa.string()),
            "counterpart": pa.array([value or None for value in columns[4]], pa.string()),
            "start_time": pa.array(
                [datetime.fromisoformat(value) for value in columns[5]],
                pa.timestamp("us", tz="UTC"),
            ),
            "duration_s": pa.array([int(value) for value in columns[6]], pa.int64()),
            "bytes_up": pa.array([int(value) for value in columns[7]], pa.int64()),
            "bytes_down": pa.array([int(value) for value in columns[8]], pa.int64()),
            "cell_id": pa.array(columns[9], pa.string()),
            "visited_plmn": pa.array(columns[10], pa.string()),
            "source_file": pa.array([sha256] * len(records), pa.string()),
        },
        schema=lake.SCHEMA,
    )


def ingest_usage_files(
    paths: Iterable[Path],
    *,
    market: Market,
    home_plmn: str | None = None,
    horizon_days: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> IngestSummary:
    """Ingest usage files v1 (files, or directories searched for ``usage-*.csv[.gz]``)
    into the lake, exactly once.

    Promises: a file already ingested (same SHA-256) is skipped; each file is atomic
    (its parts are written and renamed before its manifest row and quarantined records
    are committed in one transaction, and parts left by an interrupted run are deleted
    first), so re-running after a crash completes the work with the same bytes; a
    malformed file is recorded as refused and contributes nothing; every record is
    either in the lake, counted as a duplicate or quarantined with its reason.
    ``progress(records)`` is called as records are checked. One ingest at a time: a
    second one raises ``lake.LakeBusyError`` while the first runs.
    """
    files = find_usage_files(paths)
    with lake.exclusive_writer():
        return _Ingest(
            market=market,
            home_plmn=home_plmn or market.host_plmn,
            horizon_days=horizon_days or dedup_horizon_days(),
            progress=progress,
        ).run(files)
