"""Ingest: loading the host network's cells and ingesting usage files
into the lake exactly once (docs/usage-files.md is the input contract)."""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import itertools
import multiprocessing
import os
import re
import shutil
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from kindwave.lines.models import Line, LineState, LineStateChange, Market
from kindwave.usage import lake
from kindwave.usage.fileformat import (
    COLUMNS,
    EXTRA_FIELDS_KEY,
    FORMAT_VERSION,
    HEADER_LINE,
    MAX_RECORD_ID_LENGTH,
    NO_HOUR,
    TIME_FORMAT,
    BulkChecked,
    BulkValidator,
    TextColumn,
    UsageFileError,
    hour_of_file,
    read_usage_file,
    record_problems,
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

BATCH_VARIABLE = "KINDWAVE_INGEST_BATCH_MB"
DEFAULT_BATCH_MB = 16
_MAX_BATCH_FILES = 512
_READER_THREADS = 2
# From this many BER files on, they are decoded in worker processes (pycrate's types are
# stateful, so not threads; each worker takes a couple of seconds to import pycrate).
_BER_PROCESSES_FROM = 4
_BER_NAME = re.compile(r"usage-(\d{8}T\d{2})\.ber")


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
    # BER files: records of unrated types left out (by 32.298 record name), and unknown
    # vendor fields dropped from the records that were read.
    cdr_skipped: Counter[str] = field(default_factory=Counter)
    cdr_vendor_fields: int = 0
    seconds: float = 0.0

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


def batch_bytes() -> int:
    """``KINDWAVE_INGEST_BATCH_MB`` (default 16): compressed bytes of files checked together
    (smaller batches let the reading of the next one overlap the checks of this one)."""
    raw = os.environ.get(BATCH_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_BATCH_MB * 2**20
    try:
        value = float(raw)
    except ValueError:
        value = -1
    if value <= 0:
        raise ImproperlyConfigured(f"{BATCH_VARIABLE} must be a positive number of megabytes")
    return max(1, int(value * 2**20))


def find_usage_files(paths: Iterable[Path]) -> list[Path]:
    """Files given, and ``usage-*.csv[.gz]`` and ``*.ber`` found recursively in directories
    given, in name order (then path, so the order never depends on the file system)."""
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(
                candidate
                for candidate in path.rglob("*")
                if candidate.is_file() and _is_usage_file(candidate.name)
            )
        else:
            found.add(path)
    return sorted(found, key=lambda path: (path.name, str(path)))


def _is_usage_file(name: str) -> bool:
    if name.endswith(".ber"):
        return True
    return name.startswith("usage-") and name.endswith((".csv", ".csv.gz"))


def _is_ber(path: Path) -> bool:
    return path.name.endswith(".ber")


def file_hour_of(path: Path) -> datetime | None:
    """The UTC hour a usage file covers: from a CSV file's name (which must have one), from
    a BER file's name when it is ``usage-YYYYMMDDTHH.ber`` (else None: no hour check)."""
    if not _is_ber(path):
        return hour_of_file(path)
    match = _BER_NAME.fullmatch(path.name)
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), "%Y%m%dT%H").replace(tzinfo=UTC)
    except ValueError:
        raise UsageFileError(f"{path.name}: the date or hour in the name does not exist") from None


class LineIndex:
    """Which (MSISDN, IMSI) pairs were a line active or suspended at an instant, in
    memory. The ingest checks lines in bulk against :func:`line_intervals`; this index only
    words the message of the few records that fail."""

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


def line_intervals(market: Market) -> pa.Table:
    """Every period in which a (MSISDN, IMSI) pair of the market was an active or suspended
    line: ``msisdn, imsi, valid_from, valid_to`` (UTC, ``valid_to`` null while it lasts),
    from the lines' state history. Several changes at one instant apply in the order they
    were recorded, as in ``LineStateChange.state_at``."""
    msisdns: list[str] = []
    imsis: list[str] = []
    starts: list[datetime] = []
    ends: list[datetime | None] = []
    changes = (
        LineStateChange.objects.filter(line__market=market, line__sim__isnull=False)
        .order_by("line_id", "at", "id")
        .values_list("line_id", "line__msisdn", "line__sim__imsi", "to_state", "at")
    )
    history = list(changes)
    for index, (line_id, msisdn, imsi, state, at) in enumerate(history):
        following = history[index + 1] if index + 1 < len(history) else None
        until = following[4] if following is not None and following[0] == line_id else None
        if state in _BILLABLE_STATES and (until is None or until > at):
            msisdns.append(msisdn)
            imsis.append(imsi)
            starts.append(_naive_utc(at))
            ends.append(_naive_utc(until) if until is not None else None)
    return pa.table(
        {
            "msisdn": pa.array(msisdns, pa.string()),
            "imsi": pa.array(imsis, pa.string()),
            "valid_from": pa.array(starts, pa.timestamp("us")),
            "valid_to": pa.array(ends, pa.timestamp("us")),
        }
    )


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class _Source:
    """One file (or, for a reprocess, one file's quarantined records) being checked."""

    index: int
    name: str
    sha256: str
    file_hour: datetime | None
    position_kind: str
    whole_file: bool = True  # False for a reprocess: only some records of the file


@dataclass
class _Held:
    source: int
    position: int
    raw: dict[str, str]
    reason: str
    message: str


@dataclass
class _Checked:
    typed: pa.Table  # every row: lake columns plus file_index, usage_date and position
    ok: np.ndarray  # which rows of ``typed`` are accepted
    held: list[_Held]
    duplicates: Counter[int]
    dropped: set[tuple[int, int]]  # (source, position) of duplicates and conflicts
    broken: dict[int, str]  # source → why the whole file is refused


class _Checker:
    """Checks records in bulk: the format (:class:`BulkValidator`, in the reader threads
    for whole files), the line and the duplicates (on DuckDB). Holds what one run needs:
    cells, line intervals, the lake's record ids."""

    def __init__(self, *, market: Market, home_plmn: str, horizon_days: int) -> None:
        self.market = market
        self.home_plmn = home_plmn
        self.horizon_days = horizon_days
        self.cells = frozenset(Cell.objects.values_list("cell_id", flat=True))
        self.validator = BulkValidator(home_plmn=home_plmn, known_cells=self.cells)
        self.db = duckdb.connect()
        self.db.execute("SET TimeZone = 'UTC'")
        self.db.execute("CREATE TABLE seen (id_hash UBIGINT, usage_date DATE)")
        self.loaded: tuple[date, date] | None = None
        self.seen_count = 0
        self._intervals = False
        self._line_index: LineIndex | None = None

    def _load_intervals(self) -> None:
        """The lines' service intervals, loaded when first needed (by then the reader
        threads are busy with the first files)."""
        if not self._intervals:
            self.db.register("intervals_arrow", line_intervals(self.market))
            self.db.execute("CREATE TABLE intervals AS SELECT * FROM intervals_arrow")
            self.db.unregister("intervals_arrow")
            self._intervals = True

    def close(self) -> None:
        self.db.close()

    def check(
        self,
        sources: Sequence[_Source],
        rows: pa.Table,
        bulk: BulkChecked | None = None,
        id_hash: np.ndarray | None = None,
        sorted_hash: np.ndarray | None = None,
    ) -> _Checked:
        """Check ``rows`` (``file_index``, ``position`` and the 11 columns as text);
        ``bulk`` is what :class:`BulkValidator` said of them, ``id_hash`` their
        :func:`record_id_hashes` and ``sorted_hash`` the same sorted (or made of sorted
        runs), when already known.

        Only the rows that fail are turned into Python values (to word their reason);
        DuckDB answers narrow questions (which pairs, which rows) by row number, and the
        accepted rows are typed from the validator's values.
        """
        by_index = {source.index: source for source in sources}
        count = rows.num_rows
        if bulk is None:
            hours = {
                s.index: int(s.file_hour.timestamp()) if s.file_hour else NO_HOUR for s in sources
            }
            file_hours = (
                np.array([hours[i] for i in range(max(hours, default=0) + 1)])
                if hours
                else np.zeros(0, np.int64)
            )
            row_hours = (
                file_hours[rows.column("file_index").to_numpy()] if count else np.zeros(0, np.int64)
            )
            bulk = self.validator.check(rows, row_hours.astype(np.int64))
        ok = bulk.valid.copy()
        start_us = bulk.start_us
        held: list[_Held] = []
        broken: dict[int, str] = {}
        suspects = np.flatnonzero(~ok)
        late: list[int] = []  # valid after all in Python: typed below
        for index, record in zip(suspects.tolist(), _take(rows, suspects.tolist()), strict=True):
            source = by_index[record["file_index"]]
            raw = {column: record[column] for column in COLUMNS}
            if source.whole_file and source.position_kind == "line":
                why = _broken_line(raw)
                if why is not None:
                    broken.setdefault(
                        source.index, f"{source.name}: line {record['position']}: {why}"
                    )
                    continue
            problems = record_problems(
                raw, home_plmn=self.home_plmn, known_cells=self.cells, file_hour=source.file_hour
            )
            if problems:
                held.append(
                    _Held(
                        source.index,
                        record["position"],
                        raw,
                        problems[0].code,
                        "; ".join(problem.message for problem in problems),
                    )
                )
            else:  # only a row holding nulls can get here: the bulk check mirrors Python
                late.append(index)
        if late:
            bulk = _with_python_values(bulk, rows, late)
            start_us = bulk.start_us
            ok[late] = True
        if broken:
            held = [entry for entry in held if entry.source not in broken]
            ok &= ~np.isin(rows.column("file_index").to_numpy(), sorted(broken))
        if id_hash is None:
            id_hash = record_id_hashes(rows.column("record_id"))
        if sorted_hash is None:
            sorted_hash = id_hash
        # Stable (a merge) sort is quick on the runs sorted by each reader thread.
        sorted_hash = np.sort(sorted_hash, kind="stable")
        self._load_intervals()
        db = self.db
        at = pa.Array.from_buffers(pa.timestamp("us"), count, [None, pa.py_buffer(start_us)])
        usage_date = pc.cast(at, pa.date32())
        checking = pa.table(
            {
                "row": pa.array(np.arange(count, dtype=np.int64)),
                "ok": pa.array(ok),
                "id_hash": pa.array(id_hash),
                "msisdn": rows.column("msisdn"),
                "imsi": rows.column("imsi"),
                "started": at,
                "usage_date": usage_date,
            }
        )
        db.register("batch_ok", checking)
        try:
            for index in self._rows(_LINE_FAILURES).tolist():
                record = _take(rows, [index])[0]
                line = self._line_problem(record)
                if line is not None:
                    ok[index] = False
                    raw = {column: record[column] for column in COLUMNS}
                    held.append(_Held(record["file_index"], record["position"], raw, *line))
            db.unregister("batch_ok")
            db.register("batch_ok", checking.set_column(1, "ok", pa.array(ok)))
            duplicates, dropped = self._duplicates(
                rows, by_index, held, ok, usage_date, id_hash, sorted_hash
            )
            ok[dropped] = False
        finally:
            with contextlib.suppress(duckdb.Error):
                db.unregister("batch_ok")
        held.sort(key=lambda entry: (entry.source, entry.position))
        file_index = rows.column("file_index").to_numpy()
        dropped_keys = {
            (int(file_index[i]), int(position))
            for i, position in zip(
                dropped, rows.column("position").to_numpy()[dropped], strict=True
            )
        }
        return _Checked(
            _typed(rows, bulk, usage_date),
            ok,
            held,
            duplicates,
            dropped_keys,
            broken,
        )

    def _rows(self, query: str) -> np.ndarray:
        """The row numbers a query returns (as a sorted int64 array)."""
        result = self.db.sql(query).to_arrow_table()
        return np.sort(result.column(0).to_numpy())

    def remember(self, checked: _Checked, id_hash: np.ndarray) -> None:
        """Count the accepted rows of ``checked`` (now committed to the lake) as seen by
        later batches (``id_hash``: their :func:`record_id_hashes`)."""
        if self.loaded is None or not checked.ok.any():
            return
        self._add_seen(
            pa.table(
                {
                    "id_hash": pa.array(id_hash[checked.ok]),
                    "usage_date": checked.typed.column("usage_date").filter(pa.array(checked.ok)),
                }
            ),
            *self.loaded,
        )

    def _add_seen(self, entries: pa.Table, first: date, last: date) -> None:
        self.db.register("entries", entries)
        try:
            added = self.db.execute(
                "INSERT INTO seen SELECT id_hash, usage_date FROM entries "
                "WHERE usage_date BETWEEN ? AND ?",
                [first, last],
            ).fetchall()
        finally:
            self.db.unregister("entries")
        self.seen_count += int(added[0][0]) if added else 0

    def _line_problem(self, record: dict[str, Any]) -> tuple[str, str] | None:
        """(reason, message) when the record's line was not in service, else None."""
        if self._line_index is None:
            self._line_index = LineIndex(self.market)
        at = datetime.strptime(record["start_time"], TIME_FORMAT).replace(tzinfo=UTC)
        return self._line_index.problem(record["msisdn"], record["imsi"], at)

    def _load_seen(self, first: date, last: date) -> None:
        """Make ``seen`` hold (a hash of) the lake's record ids of usage dates ``first`` to
        ``last``; a hash match is confirmed against the lake's text before it counts."""
        wanted: list[tuple[date, date]] = []
        if self.loaded is None:
            wanted.append((first, last))
            self.loaded = (first, last)
        else:
            low, high = self.loaded
            if first < low:
                wanted.append((first, low - timedelta(days=1)))
            if last > high:
                wanted.append((high + timedelta(days=1), last))
            self.loaded = (min(first, low), max(last, high))
        for begin, end in wanted:
            for part in lake.ingested_parts(begin, end, market=self.market):
                stored = pq.read_table(part, columns=["record_id", "start_time"])
                self._add_seen(
                    pa.table(
                        {
                            "id_hash": pa.array(record_id_hashes(stored.column("record_id"))),
                            "usage_date": pc.cast(
                                stored.column("start_time").cast(pa.timestamp("us")),
                                pa.date32(),
                            ),
                        }
                    ),
                    begin,
                    end,
                )

    def _duplicates(
        self,
        rows: pa.Table,
        sources: dict[int, _Source],
        held: list[_Held],
        ok: np.ndarray,
        usage_date: pa.Array,
        id_hash: np.ndarray,
        sorted_hash: np.ndarray,
    ) -> tuple[Counter[int], np.ndarray]:
        """Drop re-deliveries (same content) and hold conflicts (same id, other content):
        against the lake within the horizon of each record's date, and within the batch
        against the first occurrence (in file order). Returns the duplicates per source and
        the row numbers dropped or held."""
        duplicates: Counter[int] = Counter()
        dropped: list[int] = []
        if not ok.any():
            return duplicates, np.array(dropped, dtype=np.int64)
        days = usage_date.cast(pa.int32()).to_numpy()[ok]
        epoch = date(1970, 1, 1)
        horizon = timedelta(days=self.horizon_days)
        earliest = epoch + timedelta(days=int(days.min())) - horizon
        latest = epoch + timedelta(days=int(days.max())) + horizon
        self._load_seen(earliest, latest)
        candidates = np.zeros(0, dtype=np.int64)
        if self.seen_count:
            candidates = self._rows(
                f"""SELECT row FROM batch_ok b
                WHERE ok AND EXISTS (
                    SELECT 1 FROM seen s WHERE s.id_hash = b.id_hash
                    AND s.usage_date BETWEEN b.usage_date - {self.horizon_days}
                                         AND b.usage_date + {self.horizon_days})"""  # noqa: S608 — an int
            )
        in_lake: set[int] = set()
        if candidates.size:
            records = _take(rows, candidates.tolist())
            stored = lake.records_as_text(
                lake.ingested_parts(earliest, latest, market=self.market),
                (record["record_id"] for record in records),
            )
            for index, record in zip(candidates.tolist(), records, strict=True):
                fields = tuple(record[column] for column in COLUMNS)
                earlier = stored.get(fields[0])
                if earlier is None:  # only the hash matched
                    continue
                in_lake.add(index)
                dropped.append(index)
                if earlier == fields:
                    duplicates[record["file_index"]] += 1
                    continue
                held.append(
                    _Held(
                        record["file_index"],
                        record["position"],
                        dict(zip(COLUMNS, fields, strict=True)),
                        QuarantineReason.CONFLICTING_DUPLICATE,
                        f"record_id {fields[0]} is already in the lake with other content",
                    )
                )
        repeated = _repeated(id_hash, sorted_hash, ok)
        firsts: dict[str, tuple[int, tuple[str, ...]]] = {}
        for index, record in zip(repeated.tolist(), _take(rows, repeated.tolist()), strict=True):
            if index in in_lake:
                continue
            fields = tuple(record[column] for column in COLUMNS)
            first = firsts.get(fields[0])
            if first is None:
                firsts[fields[0]] = (record["file_index"], fields)
                continue
            dropped.append(index)
            if first[1] == fields:
                duplicates[record["file_index"]] += 1
                continue
            where = (
                "earlier in this file"
                if first[0] == record["file_index"]
                else f"in {sources[first[0]].name}"
            )
            held.append(
                _Held(
                    record["file_index"],
                    record["position"],
                    dict(zip(COLUMNS, fields, strict=True)),
                    QuarantineReason.CONFLICTING_DUPLICATE,
                    f"record_id {fields[0]} appears {where} with other content",
                )
            )
        return duplicates, np.array(sorted(dropped), dtype=np.int64)


_LINE_FAILURES = """
    WITH pairs AS (
        SELECT msisdn, imsi, min(started) AS first_at, max(started) AS last_at
        FROM batch_ok WHERE ok GROUP BY msisdn, imsi),
    uncovered AS (
        SELECT msisdn, imsi FROM pairs p WHERE NOT EXISTS (
            SELECT 1 FROM intervals i WHERE i.msisdn = p.msisdn AND i.imsi = p.imsi
            AND i.valid_from <= p.first_at AND (i.valid_to IS NULL OR p.last_at < i.valid_to)))
    SELECT b.row FROM batch_ok b JOIN uncovered u ON b.msisdn = u.msisdn AND b.imsi = u.imsi
    WHERE b.ok AND NOT EXISTS (
        SELECT 1 FROM intervals i WHERE i.msisdn = b.msisdn AND i.imsi = b.imsi
        AND i.valid_from <= b.started AND (i.valid_to IS NULL OR b.started < i.valid_to))"""
"""The accepted rows whose line was not in service at their start: each (MSISDN, IMSI)
pair is first checked once, for its earliest and latest record; only the rows of pairs
that no single service interval covers are checked one by one."""


def _repeated(id_hash: np.ndarray, sorted_hash: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """The ``ok`` rows whose record id hash another ``ok`` row shares (``sorted_hash``:
    every row's hash, sorted), in row order."""
    same = sorted_hash[1:] == sorted_hash[:-1]
    if not same.any():
        return np.zeros(0, dtype=np.int64)
    shared = np.unique(sorted_hash[1:][same])
    rows = np.flatnonzero(np.isin(id_hash, shared) & ok)
    values, counts = np.unique(id_hash[rows], return_counts=True)
    return rows[np.isin(id_hash[rows], values[counts > 1])]


def _take(rows: pa.Table, indices: Sequence[int]) -> list[dict[str, Any]]:
    """Rows by number, as dicts (nothing copied when there are none)."""
    if not indices:
        return []
    return rows.take(pa.array(indices, pa.int64())).to_pylist()


def _with_python_values(bulk: BulkChecked, rows: pa.Table, indices: list[int]) -> BulkChecked:
    """``bulk`` with the typed values of rows ``indices`` (valid ones) computed in Python."""
    start_us, duration, up, down = (
        bulk.start_us.copy(),
        bulk.duration_s.copy(),
        bulk.bytes_up.copy(),
        bulk.bytes_down.copy(),
    )
    for index, record in zip(indices, _take(rows, indices), strict=True):
        start = datetime.strptime(record["start_time"], TIME_FORMAT).replace(tzinfo=UTC)
        start_us[index] = round(start.timestamp()) * 1_000_000
        duration[index] = int(record["duration_s"])
        up[index] = int(record["bytes_up"])
        down[index] = int(record["bytes_down"])
    valid = bulk.valid.copy()
    valid[indices] = True
    return BulkChecked(valid, start_us, duration, up, down)


def _typed(rows: pa.Table, bulk: BulkChecked, usage_date: pa.Array) -> pa.Table:
    """The rows as lake columns (but ``source_file``, the same for a whole part) plus
    ``file_index``, ``usage_date`` and ``position``, in their order (the values of rows the
    validator refused are meaningless)."""
    count = rows.num_rows

    def integers(values: np.ndarray, kind: pa.DataType | None = None) -> pa.Array:
        return pa.Array.from_buffers(kind or pa.int64(), count, [None, pa.py_buffer(values)])

    counterpart = rows.column("counterpart")
    sources = rows.column("file_index")
    table = pa.table(
        {
            "file_index": sources,
            "usage_date": usage_date,
            "record_id": rows.column("record_id"),
            "record_type": rows.column("record_type"),
            "msisdn": rows.column("msisdn"),
            "imsi": rows.column("imsi"),
            "counterpart": pc.if_else(pc.equal(counterpart, ""), None, counterpart),
            "start_time": integers(bulk.start_us, pa.timestamp("us", tz="UTC")),
            "duration_s": integers(bulk.duration_s),
            "bytes_up": integers(bulk.bytes_up),
            "bytes_down": integers(bulk.bytes_down),
            "cell_id": rows.column("cell_id"),
            "visited_plmn": rows.column("visited_plmn"),
            "position": rows.column("position"),
        }
    )
    return table


def record_id_hashes(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit hash of each record id (of its first 64 bytes and its length), computed
    with NumPy: equal ids hash equal; a match is always confirmed on the text."""
    text = TextColumn(column)
    count = len(text.lengths)
    width = min(int(text.lengths.max(initial=0)), MAX_RECORD_ID_LENGTH)
    matrix = np.zeros((count, -(-width // 8) * 8), dtype=np.uint8)
    if (text.lengths == width).all():
        matrix[:, :width] = text.fixed(width)[1]
    else:
        for position in range(width):
            matrix[:, position] = text.byte(position)
    words = matrix.view(np.uint64)
    value = text.lengths.astype(np.uint64) * _HASH_MULTIPLIER
    for column_index in range(words.shape[1]):
        value ^= words[:, column_index]
        value *= _HASH_MULTIPLIER
        value ^= value >> np.uint64(31)
    return value


_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


def _broken_line(raw: dict[str, str]) -> str | None:
    """Why a CSV row is not one record on one line, or None: a blank line, or a quoted
    field spanning lines (either would also make every later line number wrong)."""
    if not any(raw.values()):
        return f"an empty line; usage file format v{FORMAT_VERSION} has {len(COLUMNS)} fields"
    if any("\n" in value or "\r" in value for value in raw.values()):
        return "a quoted field holds a line break, which usage file format v1 does not allow"
    return None


# --- Reading files -------------------------------------------------------------------------

_STRING_COLUMNS = {column: pa.string() for column in COLUMNS}
_BLOCK = 1 << 24  # an hour file's text in one block: one chunk per column, nothing to join


def read_csv_records(path: Path) -> pa.Table:
    """The records of a usage file v1 as text columns plus ``position`` (the line number),
    or :class:`UsageFileError` naming the file and, for a bad line, the line."""
    try:
        content = _file_content(path)
    except (OSError, EOFError, zlib.error) as error:
        raise UsageFileError(f"{path}: not a complete gzip file ({error})") from None
    start = content.slice(0, min(content.size, len(HEADER_LINE) + 16)).to_pybytes()
    _check_header(path, start.split(b"\n", 1)[0])
    ascii_only = content.size == 0 or int(np.frombuffer(content, dtype=np.uint8).max()) < 0x80
    try:
        table = pacsv.read_csv(
            pa.BufferReader(content),
            read_options=pacsv.ReadOptions(
                column_names=list(COLUMNS), skip_rows=1, use_threads=False, block_size=_BLOCK
            ),
            parse_options=pacsv.ParseOptions(ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types=_STRING_COLUMNS,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                # ASCII text (every v1 file) is valid UTF-8: no need to check each field.
                check_utf8=not ascii_only,
            ),
        )
    except (pa.ArrowInvalid, OSError, EOFError) as error:
        raise UsageFileError(_diagnose(path, error)) from None
    lines = pa.array(np.arange(2, table.num_rows + 2, dtype=np.int64))
    return table.append_column("position", lines)


def _file_content(path: Path) -> pa.Buffer:
    """A usage file's text, gunzipped when it is ``.gz``: by Arrow, into its memory pool
    (much cheaper than fresh memory for every file: page faults cost more than inflating),
    or, when Arrow cannot, by Python's gzip, which says why (or reads it after all)."""
    if not path.name.endswith(".gz"):
        return pa.py_buffer(path.read_bytes())
    try:
        with pa.input_stream(str(path), compression="gzip") as stream:
            return stream.read_buffer()
    except OSError:
        return pa.py_buffer(gzip.decompress(path.read_bytes()))


def _check_header(path: Path, first: bytes) -> None:
    if not first:
        raise UsageFileError(f"{path}: empty file; expected the header line {HEADER_LINE}")
    try:
        header = first.decode("utf-8").removesuffix("\r")
    except UnicodeDecodeError:
        raise UsageFileError(f"{path}: line 1: not UTF-8 text") from None
    if header != HEADER_LINE:
        hint = " (it starts with a byte-order mark)" if header.startswith("\ufeff") else ""
        raise UsageFileError(
            f"{path}: wrong header{hint}: {header!r}; "
            f"usage file format v{FORMAT_VERSION} needs exactly {HEADER_LINE!r}"
        )


def _diagnose(path: Path, error: Exception) -> str:
    """Why the fast reader failed, in the reference reader's words, with the line."""
    try:
        for line, row in read_usage_file(path):
            extra = row.get(EXTRA_FIELDS_KEY)
            count = len(COLUMNS) + len(extra.split(",")) if extra is not None else len(row)
            if count != len(COLUMNS):
                return (
                    f"{path}: line {line}: {count} field(s) where usage file format "
                    f"v{FORMAT_VERSION} has {len(COLUMNS)}"
                )
    except UsageFileError as refusal:
        return str(refusal)
    return f"{path}: cannot be read ({str(error).splitlines()[0]})"


_CDR_SKIPPED = b"kindwave.cdr.skipped_records"
_CDR_VENDOR_FIELDS = b"kindwave.cdr.vendor_fields"


def read_ber_records(path: Path) -> pa.Table:
    """The records of a 3GPP TS 32.298 BER file, as text columns plus ``position`` (the
    byte offset), through ``kindwave.usage.cdr`` (imported only when a BER file comes:
    pycrate's CDR module takes seconds to import). The schema's metadata keeps the
    reader's counts of unrated records skipped and vendor fields dropped."""
    from kindwave.usage.cdr import read_cdr_file

    return _ber_columns(read_cdr_file(path))


def _ber_columns(table: pa.Table) -> pa.Table:
    """A table of ``read_cdr_file`` as the ingest reads it (its counts kept)."""
    metadata = table.schema.metadata or {}
    typed = table.select([*COLUMNS, "position"]).cast(
        pa.schema(
            [*(pa.field(column, pa.string()) for column in COLUMNS), ("position", pa.int64())]
        )
    )
    return typed.replace_schema_metadata(
        {key: value for key, value in metadata.items() if key in (_CDR_SKIPPED, _CDR_VENDOR_FIELDS)}
    )


def cdr_counts(table: pa.Table) -> tuple[Counter[str], int]:
    """(unrated CDRs skipped by record name, vendor fields dropped) of a table from
    :func:`read_ber_records`; nothing for a CSV file's."""
    metadata = table.schema.metadata or {}
    skipped: Counter[str] = Counter()
    for entry in metadata.get(_CDR_SKIPPED, b"").decode().split(","):
        name, _, count = entry.partition("=")
        if name and count.isdigit():
            skipped[name] += int(count)
    vendor = metadata.get(_CDR_VENDOR_FIELDS, b"0").decode()
    return skipped, int(vendor) if vendor.isdigit() else 0


# --- The run -------------------------------------------------------------------------------


@dataclass
class _Pending:
    source: _Source
    path: Path
    size: int


@dataclass
class _Read:
    """One file's records (text columns and ``position``) and what the validator said."""

    table: pa.Table
    bulk: BulkChecked
    id_hash: np.ndarray
    sorted_hash: np.ndarray


@dataclass
class _Batch:
    """Files to check together, with the reads of their CSV files under way."""

    pending: list[_Pending]
    reads: dict[int, Future[_Read]]
    decoded: dict[int, Future[pa.Table]]  # BER files being decoded in worker processes


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
        self.progress = progress or (lambda _records: None)
        self.checker = _Checker(market=market, home_plmn=home_plmn, horizon_days=horizon_days)
        self.summary = IngestSummary()
        self.seen_sha256: set[str] = set()
        self.batch_bytes = batch_bytes()
        self.decoders: ProcessPoolExecutor | None = None

    def run(self, files: Sequence[Path]) -> IngestSummary:
        began = time.perf_counter()
        self.summary.orphans_removed = len(lake.remove_orphans())
        if sum(_is_ber(path) for path in files) >= _BER_PROCESSES_FROM:
            # Spawned, not forked: this process holds threads and database connections.
            self.decoders = ProcessPoolExecutor(
                _READER_THREADS, mp_context=multiprocessing.get_context("spawn")
            )
        try:
            with ThreadPoolExecutor(_READER_THREADS) as readers:
                batches = self._batches(files)
                current = self._start(next(batches, None), readers)
                while current is not None:
                    # The next batch is read and validated while this one is finished.
                    following = self._start(next(batches, None), readers)
                    self._finish(current)
                    current = following
        finally:
            self.checker.close()
            if self.decoders is not None:
                self.decoders.shutdown(cancel_futures=True)
        self.summary.seconds = time.perf_counter() - began
        return self.summary

    def _batches(self, files: Sequence[Path]) -> Iterator[list[Path]]:
        batch: list[Path] = []
        size = 0
        for path in files:
            with contextlib.suppress(OSError):  # reported when the batch reads it
                size += path.stat().st_size
            batch.append(path)
            if size >= self.batch_bytes or len(batch) >= _MAX_BATCH_FILES:
                yield batch
                batch, size = [], 0
        if batch:
            yield batch

    def _start(self, paths: list[Path] | None, readers: ThreadPoolExecutor) -> _Batch | None:
        """Skip the batch's files already ingested, refuse those with a bad name, and set
        the reader threads to read and validate its CSV files."""
        if paths is None:
            return None
        digests: list[tuple[Path, str, int]] = []
        for path in paths:
            try:
                with path.open("rb") as handle:
                    sha256 = hashlib.file_digest(handle, "sha256").hexdigest()
                size = path.stat().st_size
            except OSError as error:
                self.summary.refused.append(f"{path}: cannot read ({error})")
                continue
            digests.append((path, sha256, size))
        done = set(
            UsageFile.objects.filter(
                sha256__in=[sha for _, sha, _ in digests], status=UsageFile.Status.INGESTED
            ).values_list("sha256", flat=True)
        )
        pending: list[_Pending] = []
        for path, sha256, size in digests:
            if sha256 in done or sha256 in self.seen_sha256:
                self.summary.skipped.append(str(path))
                continue
            self.seen_sha256.add(sha256)
            try:
                hour = file_hour_of(path)
            except UsageFileError as error:
                self._refuse(path, sha256, size, str(error))
                continue
            kind = (
                QuarantinedRecord.PositionKind.OFFSET
                if _is_ber(path)
                else QuarantinedRecord.PositionKind.LINE
            )
            source = _Source(len(pending), path.name, sha256, hour, kind)
            pending.append(_Pending(source, path, size))
        validator = self.checker.validator
        reads = {
            item.source.index: readers.submit(_read_csv, item.path, item.source, validator)
            for item in pending
            if not _is_ber(item.path)
        }
        decoded: dict[int, Future[pa.Table]] = {}
        if self.decoders is not None:
            from kindwave.usage.cdr import read_cdr_file

            decoded = {
                item.source.index: self.decoders.submit(read_cdr_file, item.path)
                for item in pending
                if _is_ber(item.path)
            }
        return _Batch(pending, reads, decoded)

    def _finish(self, batch: _Batch) -> None:
        reads = self._read(batch)
        readable = [item for item in batch.pending if item.source.index in reads]
        if not readable:
            return
        tables = {index: read.table for index, read in reads.items()}
        rows = pa.concat_tables(
            [
                tables[item.source.index].append_column(
                    "file_index",
                    pa.array(
                        np.full(tables[item.source.index].num_rows, item.source.index, np.int32)
                    ),
                )
                for item in readable
            ],
            promote_options="none",
        )
        bulk = BulkChecked(
            *(
                np.concatenate([reads[item.source.index].bulk[field] for item in readable])
                for field in range(len(BulkChecked._fields))
            )
        )
        id_hash = np.concatenate([reads[item.source.index].id_hash for item in readable])
        sorted_hash = np.concatenate([reads[item.source.index].sorted_hash for item in readable])
        checked = self.checker.check(
            [item.source for item in readable], rows, bulk, id_hash, sorted_hash
        )
        for item in readable:
            if item.source.index in checked.broken:
                self._refuse(
                    item.path, item.source.sha256, item.size, checked.broken[item.source.index]
                )
        kept = [item for item in readable if item.source.index not in checked.broken]
        parts = _write_parts(
            checked.typed, checked.ok, {i.source.index: i.source.sha256 for i in kept}
        )
        file_index = rows.column("file_index").to_numpy()
        counts = np.bincount(file_index[checked.ok], minlength=len(batch.pending))
        held_by: dict[int, list[_Held]] = defaultdict(list)
        for entry in checked.held:
            held_by[entry.source].append(entry)
        with transaction.atomic():
            UsageFile.objects.filter(
                sha256__in=[item.source.sha256 for item in kept]
            ).delete()  # earlier refusals
            manifests = UsageFile.objects.bulk_create(
                [
                    UsageFile(
                        sha256=item.source.sha256,
                        market=self.market,
                        name=item.path.name,
                        path=str(item.path),
                        size=item.size,
                        status=UsageFile.Status.INGESTED,
                        file_hour=item.source.file_hour,
                        records=tables[item.source.index].num_rows,
                        accepted=int(counts[item.source.index]),
                        duplicates=checked.duplicates[item.source.index],
                        quarantined=len(held_by[item.source.index]),
                        quarantined_by_reason=dict(
                            sorted(Counter(e.reason for e in held_by[item.source.index]).items())
                        ),
                        parts=parts.get(item.source.index, []),
                    )
                    for item in kept
                ]
            )
            if any(manifest.pk is None for manifest in manifests):  # backends without RETURNING
                by_sha = dict(
                    UsageFile.objects.filter(sha256__in=[m.sha256 for m in manifests]).values_list(
                        "sha256", "pk"
                    )
                )
                for manifest in manifests:
                    manifest.pk = by_sha[manifest.sha256]
            QuarantinedRecord.objects.bulk_create(
                [
                    QuarantinedRecord(
                        file_id=manifest.pk,
                        line=entry.position,
                        position_kind=item.source.position_kind,
                        raw=entry.raw,
                        reason=entry.reason,
                        message=entry.message,
                    )
                    for item, manifest in zip(kept, manifests, strict=True)
                    for entry in held_by[item.source.index]
                ],
                batch_size=1000,
            )
        self.checker.remember(checked, id_hash)
        for item in kept:
            index = item.source.index
            self.summary.ingested.append(str(item.path))
            self.summary.records += tables[index].num_rows
            self.summary.accepted += int(counts[index])
            self.summary.duplicates += checked.duplicates[index]
            self.summary.quarantined.update(entry.reason for entry in held_by[index])
            skipped, vendor_fields = cdr_counts(tables[index])
            self.summary.cdr_skipped.update(skipped)
            self.summary.cdr_vendor_fields += vendor_fields
        self.progress(sum(tables[item.source.index].num_rows for item in readable))

    def _read(self, batch: _Batch) -> dict[int, _Read]:
        """The batch's files read and validated (CSV in the reader threads; BER decoded in
        worker processes when a run has several, else in this thread, as pycrate's types
        are not thread-safe); those that cannot be read are refused."""
        reads: dict[int, _Read] = {}
        for item in batch.pending:
            index = item.source.index
            try:
                if _is_ber(item.path):
                    table = self._ber_table(batch, item)
                    bulk = self.checker.validator.check(table, item.source.file_hour)
                    id_hash = record_id_hashes(table.column("record_id"))
                    reads[index] = _Read(table, bulk, id_hash, np.sort(id_hash))
                else:
                    reads[index] = batch.reads[index].result()
            except UsageFileError as error:
                self._refuse(item.path, item.source.sha256, item.size, str(error))
        return reads

    def _ber_table(self, batch: _Batch, item: _Pending) -> pa.Table:
        """A BER file's records: from its worker process, or read here."""
        decoding = batch.decoded.get(item.source.index)
        if decoding is not None:
            try:
                return _ber_columns(decoding.result())
            except BrokenProcessPool:  # a worker died (e.g. out of memory): read it here
                pass
        return read_ber_records(item.path)

    def _refuse(self, path: Path, sha256: str, size: int, reason: str) -> None:
        with transaction.atomic():
            UsageFile.objects.update_or_create(
                sha256=sha256,
                defaults={
                    "market": self.market,
                    "name": path.name,
                    "path": str(path),
                    "size": size,
                    "status": UsageFile.Status.REFUSED,
                    "refusal": reason,
                    "processed_at": timezone.now(),
                },
            )
        self.summary.refused.append(reason)


def _read_csv(path: Path, source: _Source, validator: BulkValidator) -> _Read:
    """Read one CSV file and validate its records (in a reader thread)."""
    table = read_csv_records(path)
    id_hash = record_id_hashes(table.column("record_id"))
    return _Read(table, validator.check(table, source.file_hour), id_hash, np.sort(id_hash))


def _write_parts(
    typed: pa.Table, ok: np.ndarray, sha_by_source: dict[int, str]
) -> dict[int, list[str]]:
    """Write the accepted rows (``ok``) of ``typed`` as one part per file and usage date,
    each in the file's order; returns each file's parts. Parts are cut out and written in
    threads (pyarrow releases the GIL), each atomically."""
    rows = np.flatnonzero(ok)
    if rows.size == 0:
        return {}
    sources = typed.column("file_index").to_numpy()[rows]
    days = typed.column("usage_date").cast(pa.int32()).to_numpy()[rows]
    in_order = np.all(
        (sources[1:] > sources[:-1]) | ((sources[1:] == sources[:-1]) & (days[1:] >= days[:-1]))
    )
    if not in_order:  # a file spanning usage dates back and forth: its rows by date
        order = np.lexsort((rows, days, sources))
        rows, sources, days = rows[order], sources[order], days[order]
    change = np.flatnonzero((sources[1:] != sources[:-1]) | (days[1:] != days[:-1])) + 1
    bounds = [0, *change.tolist(), rows.size]
    body = typed.select([name for name in lake.SCHEMA.names if name != "source_file"])
    jobs: list[tuple[int, str, np.ndarray]] = []
    for begin, end in itertools.pairwise(bounds):
        source = int(sources[begin])
        if source not in sha_by_source:
            continue
        day = date(1970, 1, 1) + timedelta(days=int(days[begin]))
        jobs.append((source, lake.part_name(day, sha_by_source[source]), rows[begin:end]))

    def write(job: tuple[int, str, np.ndarray]) -> None:
        source, name, picked = job
        if int(picked[-1]) - int(picked[0]) + 1 == picked.size:  # a run of rows
            part = body.slice(int(picked[0]), picked.size)
        else:
            part = body.take(pa.array(picked))
        sha = pa.array([sha_by_source[source]], pa.string())
        lake.write_part(
            name, part.append_column("source_file", sha.take(np.zeros(picked.size, np.int32)))
        )

    with ThreadPoolExecutor(_READER_THREADS) as writers:
        list(writers.map(write, jobs))
    parts: dict[int, list[str]] = defaultdict(list)
    for source, name, _ in jobs:
        parts[source].append(name)
    return parts


def ingest_usage_files(
    paths: Iterable[Path],
    *,
    market: Market,
    home_plmn: str | None = None,
    horizon_days: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> IngestSummary:
    """Ingest usage files (files, or directories searched for ``usage-*.csv[.gz]`` and
    ``*.ber``) into the lake, exactly once.

    Promises: a file already ingested (same SHA-256) is skipped; files are checked in
    batches, and each batch is atomic (its parts are written and renamed before its
    manifest rows and quarantined records are committed in one transaction, and parts left
    by an interrupted run are deleted first), so re-running after a crash completes the
    work with the same bytes; a malformed file is recorded as refused, with its name and
    line or byte offset, and contributes nothing, while the rest of its batch goes on;
    every record of an ingested file is in the lake, counted as a duplicate or
    quarantined with its reason. ``progress(records)`` is called as batches are done.
    One writer at a time: a second one raises ``lake.LakeBusyError`` while the first runs.
    """
    files = find_usage_files(paths)
    with lake.exclusive_writer():
        return _Ingest(
            market=market,
            home_plmn=home_plmn or market.host_plmn,
            horizon_days=horizon_days or dedup_horizon_days(),
            progress=progress,
        ).run(files)


# --- The manifest's hours ------------------------------------------------------------------


def missing_hours(market: Market, first: datetime, last: datetime) -> list[datetime]:
    """The UTC hours starting in ``[first, last)`` for which no usage file of ``market`` has
    been ingested (a refused file does not count; files without an hour are ignored).

    The host network delivers a file for every hour, even an hour without traffic, so a
    missing hour means usage not delivered (yet): the rating warns about them.
    """
    if first.tzinfo is None or last.tzinfo is None:
        raise ValueError("first and last must be timezone-aware")
    hour = timedelta(hours=1)
    start = first.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if start < first:
        start += hour
    have = {
        moment.astimezone(UTC)
        for moment in UsageFile.objects.filter(
            market=market,
            status=UsageFile.Status.INGESTED,
            file_hour__gte=start,
            file_hour__lt=last,
        ).values_list("file_hour", flat=True)
        if moment is not None
    }
    missing = []
    while start < last:
        if start not in have:
            missing.append(start)
        start += hour
    return missing


# --- Reprocess -----------------------------------------------------------------------------


@dataclass
class ReprocessSummary:
    examined: int = 0
    accepted: int = 0
    duplicates: int = 0
    still_held: Counter[str] = field(default_factory=Counter)
    parts: list[str] = field(default_factory=list)
    orphans_removed: int = 0
    seconds: float = 0.0


def reprocess_quarantine(
    *,
    market: Market,
    reason: str | None = None,
    file_name: str | None = None,
    home_plmn: str | None = None,
    horizon_days: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReprocessSummary:
    """Check the market's quarantined records again (optionally only one reason or one
    file's), after staff fixed the cause (added the cell, the line, …).

    Promises: the records now valid enter the lake exactly once (de-duplicated like an
    ingest, in parts listed by one new manifest entry) and leave the quarantine in the same
    transaction; the others stay, with their reason and message refreshed. Idempotent (a
    second run finds nothing new), crash-safe like the ingest (parts first, then one
    commit), one writer at a time (``lake.LakeBusyError``). Records of files ingested
    before the manifest recorded a market are included too.
    """
    began = time.perf_counter()
    summary = ReprocessSummary()
    report = progress or (lambda _records: None)
    with lake.exclusive_writer():
        summary.orphans_removed = len(lake.remove_orphans())
        held = QuarantinedRecord.objects.filter(
            Q(file__market=market) | Q(file__market__isnull=True)
        ).select_related("file")
        if reason:
            held = held.filter(reason=reason)
        if file_name:
            held = held.filter(file__name=file_name)
        records = list(held.order_by("file_id", "line", "id"))
        summary.examined = len(records)
        if not records:
            summary.seconds = time.perf_counter() - began
            return summary
        checker = _Checker(
            market=market,
            home_plmn=home_plmn or market.host_plmn,
            horizon_days=horizon_days or dedup_horizon_days(),
        )
        try:
            _recheck(checker, records, summary)
        finally:
            checker.close()
        report(len(records))
        summary.seconds = time.perf_counter() - began
    return summary


def _recheck(
    checker: _Checker, records: list[QuarantinedRecord], summary: ReprocessSummary
) -> None:
    sources: dict[int, _Source] = {}
    by_key: dict[tuple[int, int], QuarantinedRecord] = {}
    complete: list[QuarantinedRecord] = []
    refreshed: list[QuarantinedRecord] = []
    for record in records:
        if set(record.raw) != set(COLUMNS) or not all(
            isinstance(value, str) for value in record.raw.values()
        ):
            problems = record_problems(
                record.raw,
                home_plmn=checker.home_plmn,
                known_cells=checker.cells,
                file_hour=record.file.file_hour,
            )
            record.reason = problems[0].code if problems else QuarantineReason.WRONG_FIELD_COUNT
            record.message = "; ".join(p.message for p in problems) or "not one record"
            refreshed.append(record)
            continue
        source = sources.get(record.file_id)
        if source is None:
            source = _Source(
                len(sources),
                record.file.name,
                record.file.sha256,
                record.file.file_hour,
                record.position_kind,
                whole_file=False,
            )
            sources[record.file_id] = source
        # Several records can share a position only in hand-made data; the id breaks ties.
        by_key[(source.index, record.pk)] = record
        complete.append(record)
    released: list[int] = []
    accepted_table: pa.Table | None = None
    if complete:
        ordered = sorted(sources.values(), key=lambda source: source.index)
        file_of = {record.pk: sources[record.file_id].index for record in complete}
        rows = pa.table(
            {
                **{
                    column: pa.array([record.raw[column] for record in complete], pa.string())
                    for column in COLUMNS
                },
                # The record's id stands in for its position, so each row is one record.
                "position": pa.array([record.pk for record in complete], pa.int64()),
                "file_index": pa.array([file_of[record.pk] for record in complete], pa.int32()),
            }
        )
        checked = checker.check(ordered, rows)
        still = {(entry.source, entry.position): entry for entry in checked.held}
        for key, record in by_key.items():
            entry = still.get(key)
            if entry is not None:
                record.reason, record.message = entry.reason, entry.message
                refreshed.append(record)
            else:
                released.append(record.pk)
        summary.duplicates = sum(checked.duplicates.values())
        accepted_table = checked.typed.filter(pa.array(checked.ok))
        shas = pa.array([source.sha256 for source in ordered], pa.string())
        accepted_table = accepted_table.append_column(
            "source_file", shas.take(accepted_table.column("file_index"))
        )
        summary.accepted = accepted_table.num_rows
    summary.still_held.update(record.reason for record in refreshed)
    sha256 = hashlib.sha256(
        ("reprocess\n" + "\n".join(str(pk) for pk in sorted(released))).encode()
    ).hexdigest()
    parts: list[str] = []
    if accepted_table is not None and accepted_table.num_rows:
        days = accepted_table.column("usage_date")
        for day in sorted(set(days.to_pylist())):
            part = accepted_table.filter(pc.equal(days, day)).sort_by(
                [("file_index", "ascending"), ("position", "ascending")]
            )
            name = lake.part_name(day, sha256)
            lake.write_part(name, part.select(lake.SCHEMA.names))
            parts.append(name)
    with transaction.atomic():
        if parts:
            UsageFile.objects.create(
                sha256=sha256,
                market=checker.market,
                name=f"reprocess of {len(released)} quarantined record(s)",
                path="",
                size=0,
                status=UsageFile.Status.INGESTED,
                records=len(released),
                accepted=summary.accepted,
                duplicates=summary.duplicates,
                parts=parts,
            )
        for start in range(0, len(released), 500):
            QuarantinedRecord.objects.filter(pk__in=released[start : start + 500]).delete()
        QuarantinedRecord.objects.bulk_update(refreshed, ["reason", "message"], batch_size=500)
    summary.parts = parts


# --- Retention -----------------------------------------------------------------------------

RETENTION_VARIABLE = "KINDWAVE_USAGE_RETENTION_DAYS"
# A year in which a bill may be challenged (France: art. L34-2 CPCE; ePrivacy Directive
# art. 6(2)), counted from the bill, plus up to two months between a record and its bill.
DEFAULT_RETENTION_DAYS = 425


def retention_days() -> int:
    """``KINDWAVE_USAGE_RETENTION_DAYS`` (default 425): how long usage records are kept."""
    raw = os.environ.get(RETENTION_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_RETENTION_DAYS
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 1:
        raise ImproperlyConfigured(f"{RETENTION_VARIABLE} must be a whole number of days ≥ 1")
    return value


@dataclass
class PurgeSummary:
    cutoff: date
    dry_run: bool
    usage_dates: list[date] = field(default_factory=list)
    parts: int = 0
    manifest_rows: int = 0
    quarantined: int = 0
    rated_cycles: list[str] = field(default_factory=list)


def purge_usage(
    *, before: date | None = None, today: date | None = None, dry_run: bool = False
) -> PurgeSummary:
    """Remove personal usage records older than the retention window: the lake's usage
    dates before the cut-off (default: today minus :func:`retention_days`), the quarantined
    records of those dates and the rated records of billing cycles wholly before it.

    Promises: manifest rows stay (without those parts), so their files still count as
    ingested and are never ingested again; per-line billing summaries (in the database)
    are kept. The manifest is updated first and the files deleted after, so a crash leaves
    at worst unlisted files that a re-run (or the next ingest) deletes. Idempotent; holds
    the lake's writer lock; ``dry_run`` only reports.
    """
    cutoff = before or (today or timezone.now().date()) - timedelta(days=retention_days())
    summary = PurgeSummary(cutoff=cutoff, dry_run=dry_run)
    root = lake.lake_root()
    with lake.exclusive_writer():
        changed: list[UsageFile] = []
        dates: set[date] = set()
        for manifest in UsageFile.objects.exclude(parts=[]).only("id", "parts"):
            kept = [part for part in manifest.parts if lake.partition_date(part) >= cutoff]
            if len(kept) != len(manifest.parts):
                dates.update(
                    lake.partition_date(part) for part in manifest.parts if part not in kept
                )
                summary.parts += len(manifest.parts) - len(kept)
                manifest.parts = kept
                changed.append(manifest)
        summary.manifest_rows = len(changed)
        old = [
            pk
            for pk, raw, hour, processed in QuarantinedRecord.objects.values_list(
                "pk", "raw", "file__file_hour", "file__processed_at"
            )
            if _quarantine_date(raw, hour, processed) < cutoff
        ]
        summary.quarantined = len(old)
        directories = [
            path
            for path in (sorted(root.glob("usage_date=*")) if root.is_dir() else [])
            if _directory_date(path.name, "usage_date=") < cutoff
        ]
        dates.update(_directory_date(path.name, "usage_date=") for path in directories)
        summary.usage_dates = sorted(day for day in dates if day != date.max)
        rated_root = root.parent / "rated"
        cycles = [
            path
            for path in (sorted(rated_root.glob("cycle=*")) if rated_root.is_dir() else [])
            if _cycle_end(path.name) <= cutoff
        ]
        summary.rated_cycles = [path.name.removeprefix("cycle=") for path in cycles]
        if dry_run:
            return summary
        with transaction.atomic():
            UsageFile.objects.bulk_update(changed, ["parts"], batch_size=500)
            for start in range(0, len(old), 500):
                QuarantinedRecord.objects.filter(pk__in=old[start : start + 500]).delete()
        for path in [*directories, *cycles]:
            shutil.rmtree(path, ignore_errors=True)
    return summary


def _quarantine_date(raw: Any, hour: datetime | None, processed: datetime) -> date:
    """A quarantined record's usage date: its start time when readable, else its file's."""
    start = raw.get("start_time") if isinstance(raw, dict) else None
    if isinstance(start, str):
        with contextlib.suppress(ValueError):
            return datetime.strptime(start, TIME_FORMAT).replace(tzinfo=UTC).date()
    return (hour or processed).astimezone(UTC).date()


def _directory_date(name: str, prefix: str) -> date:
    try:
        return date.fromisoformat(name.removeprefix(prefix))
    except ValueError:
        return date.max  # not ours: never purged


def _cycle_end(name: str) -> date:
    """``cycle=2026-10`` → 2026-11-01, the first day after the cycle (date.max if not one)."""
    try:
        first = datetime.strptime(name.removeprefix("cycle="), "%Y-%m").replace(tzinfo=UTC).date()
    except ValueError:
        return date.max
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)
