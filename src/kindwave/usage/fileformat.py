"""Usage file format v1: the host network's hourly CSV files of usage records.

The format is specified in ``docs/usage-files.md``; this module is its executable
half: the column list, the record types, a pure validator for one record and a
reader for one hour file. The simulator's tests check every record it writes
with :func:`validate_record`, and the ingest reads files with
:func:`read_usage_file`, so producer and consumer share one definition.
"""

from __future__ import annotations

import csv
import gzip
import re
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple, TextIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

FORMAT_VERSION = 1

COLUMNS: tuple[str, ...] = (
    "record_id",
    "record_type",
    "msisdn",
    "imsi",
    "counterpart",
    "start_time",
    "duration_s",
    "bytes_up",
    "bytes_down",
    "cell_id",
    "visited_plmn",
)
HEADER_LINE = ",".join(COLUMNS)

VOICE_TYPES: tuple[str, ...] = ("voice_mo", "voice_mt")
SMS_TYPES: tuple[str, ...] = ("sms_mo", "sms_mt")
DATA_TYPES: tuple[str, ...] = ("data",)
RECORD_TYPES: tuple[str, ...] = (*VOICE_TYPES, *SMS_TYPES, *DATA_TYPES)

# Upper bounds that no genuine record reaches; a value above them is a corrupt field.
MAX_DURATION_S = 86_400
MAX_BYTES = 10**12
MAX_RECORD_ID_LENGTH = 64

# When a line has more fields than columns, :func:`read_usage_file` keeps the
# surplus under this key so that :func:`validate_record` can report it.
EXTRA_FIELDS_KEY = "_extra_fields"

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
FILE_NAME_PATTERN = re.compile(r"^usage-(\d{8}T\d{2})\.csv(?:\.gz)?$")

_RECORD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_SHORT_CODE = re.compile(r"[0-9]{3,6}")
_IMSI = re.compile(r"[0-9]{15}")
_START_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_COUNT = re.compile(r"0|[1-9][0-9]*")
_PLMN = re.compile(r"[0-9]{3}-[0-9]{2,3}")
_CELL_ID = re.compile(r"([0-9]{3}-[0-9]{2,3})-([0-9]{1,5})-([0-9]{1,9})")
_MAX_LAC = 65_535
_MAX_CI = 268_435_455  # 28 bits: the largest E-UTRAN cell identity


class UsageFileError(Exception):
    """A usage file cannot be read at all (wrong header, not gzip, not UTF-8, bad name)."""


class NumberedRow(NamedTuple):
    """One record of a usage file with its physical line number (the header is line 1)."""

    line: int
    row: dict[str, str]


def hour_file_name(hour: datetime) -> str:
    """The file name of the hour starting at ``hour`` (an aware datetime)."""
    if hour.tzinfo is None:
        raise ValueError("hour must be timezone-aware")
    return f"usage-{hour.astimezone(UTC):%Y%m%dT%H}.csv.gz"


def hour_of_file(path: Path | str) -> datetime:
    """The UTC hour a usage file covers, read from its name ``usage-YYYYMMDDTHH.csv[.gz]``."""
    name = Path(path).name
    match = FILE_NAME_PATTERN.match(name)
    if match is None:
        raise UsageFileError(f"{name}: not a usage file name (expected usage-YYYYMMDDTHH.csv.gz)")
    try:
        return datetime.strptime(match.group(1), "%Y%m%dT%H").replace(tzinfo=UTC)
    except ValueError:
        raise UsageFileError(f"{name}: the date or hour in the name does not exist") from None


def plmn_digits(plmn: str) -> str:
    """``"234-30"`` → ``"23430"``: the prefix an IMSI of that network starts with."""
    return plmn.replace("-", "")


class Problem(NamedTuple):
    """One problem with a record: a stable code (the quarantine reason) and plain words."""

    code: str
    message: str


# Problem codes; the ingest's quarantine reasons use the same strings.
WRONG_FIELD_COUNT = "wrong_field_count"
INVALID_RECORD = "invalid_record"
FOREIGN_IMSI = "foreign_imsi"
UNKNOWN_CELL = "unknown_cell"
OUTSIDE_HOUR = "outside_hour"


def validate_record(
    row: dict[str, str],
    *,
    home_plmn: str,
    known_cells: set[str] | frozenset[str],
    file_hour: datetime | None = None,
) -> list[str]:
    """Every problem with one usage record, in plain words; an empty list means valid.

    The messages of :func:`record_problems`, for callers that only show them.
    """
    return [
        problem.message
        for problem in record_problems(
            row, home_plmn=home_plmn, known_cells=known_cells, file_hour=file_hour
        )
    ]


def record_problems(
    row: dict[str, str],
    *,
    home_plmn: str,
    known_cells: set[str] | frozenset[str],
    file_hour: datetime | None = None,
) -> list[Problem]:
    """Every problem with one usage record, each with its code; empty means valid.

    ``home_plmn`` is the host network (``MCC-MNC``) whose files these are;
    ``known_cells`` are the ``cell_id`` values of its ``cells.csv``, which every
    record made at home must use. When ``file_hour`` (the UTC hour the record's
    file covers) is given, the record must start within that hour.
    Pure: no I/O, no database. :class:`BulkValidator` is its mirror for many records at
    once (a test checks that they agree).
    """
    problems: list[Problem] = []

    def invalid(message: str) -> None:
        problems.append(Problem(INVALID_RECORD, message))

    missing = [column for column in COLUMNS if column not in row]
    if missing:
        problems.append(Problem(WRONG_FIELD_COUNT, f"missing field(s): {', '.join(missing)}"))
    extra = row.get(EXTRA_FIELDS_KEY)
    if extra is not None:
        problems.append(
            Problem(
                WRONG_FIELD_COUNT,
                f"more fields than the {len(COLUMNS)} columns (surplus: {extra!r})",
            )
        )
    unknown = sorted(key for key in row if key not in COLUMNS and key != EXTRA_FIELDS_KEY)
    if unknown:
        problems.append(Problem(WRONG_FIELD_COUNT, f"unknown column(s): {', '.join(unknown)}"))

    def field(name: str) -> str:
        return row.get(name) or ""

    record_id = field("record_id")
    if "record_id" in row:
        if not record_id:
            invalid("record_id is empty")
        elif len(record_id) > MAX_RECORD_ID_LENGTH or not _RECORD_ID.fullmatch(record_id):
            invalid(
                f"record_id {record_id!r} must be 1-{MAX_RECORD_ID_LENGTH} characters "
                "among letters, digits and . _ : -"
            )

    record_type = field("record_type")
    if "record_type" in row and record_type not in RECORD_TYPES:
        invalid(f"record_type {record_type!r} is not one of {', '.join(RECORD_TYPES)}")

    msisdn = field("msisdn")
    if "msisdn" in row and not _E164.fullmatch(msisdn):
        invalid(f"msisdn {msisdn!r} is not an E.164 number (+ then 7-15 digits)")

    imsi = field("imsi")
    if "imsi" in row:
        if not _IMSI.fullmatch(imsi):
            invalid(f"imsi {imsi!r} is not 15 digits")
        elif not imsi.startswith(plmn_digits(home_plmn)):
            problems.append(
                Problem(
                    FOREIGN_IMSI, f"imsi {imsi!r} does not belong to the host network {home_plmn}"
                )
            )

    counterpart = field("counterpart")
    if "counterpart" in row and record_type in RECORD_TYPES:
        if record_type in DATA_TYPES:
            if counterpart:
                invalid(f"counterpart must be empty for data, got {counterpart!r}")
        elif not (_E164.fullmatch(counterpart) or _SHORT_CODE.fullmatch(counterpart)):
            invalid(
                f"counterpart {counterpart!r} is neither an E.164 number nor a 3-6 digit short code"
            )

    if "start_time" in row:
        problems.extend(_start_time_problems(field("start_time"), file_hour))

    messages: list[str] = []
    duration = _count(row, "duration_s", MAX_DURATION_S, messages)
    if duration is not None and record_type in SMS_TYPES and duration != 0:
        messages.append(f"duration_s must be 0 for {record_type}, got {duration}")
    for name in ("bytes_up", "bytes_down"):
        volume = _count(row, name, MAX_BYTES, messages)
        if volume and record_type in (*VOICE_TYPES, *SMS_TYPES):
            messages.append(f"{name} must be 0 for {record_type}, got {volume}")
    for message in messages:
        invalid(message)

    problems.extend(_network_problems(row, home_plmn, known_cells))
    return problems


def _network_problems(
    row: dict[str, str], home_plmn: str, known_cells: set[str] | frozenset[str]
) -> list[Problem]:
    """The problems of ``visited_plmn`` and ``cell_id``, which depend on nothing else (so
    :class:`BulkValidator` asks only once per distinct pair)."""
    problems: list[Problem] = []

    def invalid(message: str) -> None:
        problems.append(Problem(INVALID_RECORD, message))

    visited_plmn = row.get("visited_plmn") or ""
    plmn_ok = _PLMN.fullmatch(visited_plmn) is not None
    if "visited_plmn" in row and not plmn_ok:
        invalid(f"visited_plmn {visited_plmn!r} is not MCC-MNC (e.g. 234-30)")

    cell_id = row.get("cell_id") or ""
    if "cell_id" in row:
        cell = _CELL_ID.fullmatch(cell_id)
        if cell is None:
            invalid(f"cell_id {cell_id!r} is not MCC-MNC-LAC-CI (e.g. 234-30-1001-11)")
        else:
            lac, ci = int(cell.group(2)), int(cell.group(3))
            if not 1 <= lac <= _MAX_LAC:
                invalid(f"cell_id {cell_id!r}: LAC must be between 1 and {_MAX_LAC}")
            if ci > _MAX_CI:
                invalid(f"cell_id {cell_id!r}: CI must be at most {_MAX_CI}")
            if plmn_ok and cell.group(1) != visited_plmn:
                invalid(f"cell_id {cell_id!r} is not a cell of the visited network {visited_plmn}")
            elif visited_plmn == home_plmn and cell_id not in known_cells:
                problems.append(
                    Problem(
                        UNKNOWN_CELL, f"cell_id {cell_id!r} is not in the host network's cells.csv"
                    )
                )
    return problems


def _start_time_problems(start_time: str, file_hour: datetime | None) -> list[Problem]:
    if not _START_TIME.fullmatch(start_time):
        return [
            Problem(INVALID_RECORD, f"start_time {start_time!r} is not YYYY-MM-DDTHH:MM:SSZ (UTC)")
        ]
    try:
        start = datetime.strptime(start_time, TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return [Problem(INVALID_RECORD, f"start_time {start_time!r} is not a real date and time")]
    if file_hour is not None and not file_hour <= start < file_hour + timedelta(hours=1):
        return [
            Problem(
                OUTSIDE_HOUR,
                f"start_time {start_time} is outside the file's hour "
                f"{file_hour.astimezone(UTC):%Y-%m-%dT%H}:00Z",
            )
        ]
    return []


def _count(row: dict[str, str], name: str, maximum: int, problems: list[str]) -> int | None:
    """The non-negative integer in ``row[name]``, or None after noting the problem."""
    if name not in row:
        return None
    raw = row[name]
    if not _COUNT.fullmatch(raw):
        problems.append(f"{name} {raw!r} is not a non-negative whole number")
        return None
    value = int(raw)
    if value > maximum:
        problems.append(f"{name} {value} is implausibly large (more than {maximum})")
        return None
    return value


# --- Checking records in bulk --------------------------------------------------------------
#
# The ingest checks millions of records a minute. ``BulkValidator`` answers, for a whole
# table of records at once, exactly the question "does ``record_problems`` find nothing?",
# without a regular expression per row: the text columns are looked at as Arrow buffers
# through NumPy (lengths, a lookup table per byte, digits at fixed places), and the pair
# (cell_id, visited_plmn), which takes few distinct values, is asked of the Python rule
# itself once per distinct pair. A test checks the two agree on generated records.

NO_HOUR = np.iinfo(np.int64).min  # in ``file_hours``: the record's file covers no hour


def _byte_class(characters: str) -> np.ndarray:
    table = np.zeros(256, dtype=bool)
    table[np.frombuffer(characters.encode("ascii"), dtype=np.uint8)] = True
    return table


_DIGITS = "0123456789"
_IS_DIGIT = _byte_class(_DIGITS)
_IS_ALNUM = _byte_class(_DIGITS + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_IS_ID_CHAR = _byte_class(_DIGITS + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._:-")
_START_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
_START_MARKS = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":", 19: "Z"}
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


class TextColumn:
    """One string column as NumPy views of its Arrow buffers: ``offsets`` (n + 1, int32,
    into ``data``) and ``data`` (uint8). Nulls count as empty strings."""

    def __init__(self, column: pa.Array | pa.ChunkedArray) -> None:
        array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        if array.type != pa.string():
            array = array.cast(pa.string())
        if array.null_count:
            array = pc.fill_null(array, "")
        count = len(array)
        buffers = array.buffers()
        offsets = np.frombuffer(buffers[1], dtype=np.int32, count=array.offset + count + 1)
        self.offsets = offsets[array.offset :]
        data = buffers[2]
        self.data = (
            np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(1, np.uint8)
        )
        self.lengths = np.diff(self.offsets)
        self._verdicts: dict[tuple[int, bool], np.ndarray] = {}

    def all_in(self, allowed: np.ndarray, *, but_first: bool = False) -> np.ndarray:
        """Whether every byte of each value (``but_first``: after its first) is
        ``allowed`` (a 256-entry lookup table)."""
        key = (id(allowed), but_first)
        if key not in self._verdicts:
            first, last = int(self.offsets[0]), int(self.offsets[-1])
            outside = ~allowed[self.data[first:last]]
            if but_first:
                outside[self.offsets[:-1][self.lengths > 0] - first] = False
            if not outside.any():  # the usual case: one pass, no count per value
                verdict = np.ones(len(self.lengths), dtype=bool)
            else:
                running = np.zeros(last - first + 1, dtype=np.int64)
                np.cumsum(outside, out=running[1:])
                verdict = running[self.offsets[1:] - first] == running[self.offsets[:-1] - first]
            self._verdicts[key] = verdict
        return self._verdicts[key]

    def byte(self, position: int) -> np.ndarray:
        """The byte at ``position`` of each value (0 where the value is shorter)."""
        has = self.lengths > position
        result = np.zeros(len(self.lengths), dtype=np.uint8)
        result[has] = self.data[self.offsets[:-1][has] + position]
        return result

    def fixed(self, width: int) -> tuple[np.ndarray, np.ndarray]:
        """(which values are ``width`` bytes long, an n-by-width matrix of their bytes)."""
        fits = self.lengths == width
        count = len(self.lengths)
        first, last = int(self.offsets[0]), int(self.offsets[-1])
        if fits.all():
            return fits, self.data[first:last].reshape(count, width)
        matrix = np.zeros((count, width), dtype=np.uint8)
        starts = self.offsets[:-1][fits]
        matrix[fits] = self.data[starts[:, None] + np.arange(width)]
        return fits, matrix


class BulkChecked(NamedTuple):
    """What :meth:`BulkValidator.check` found: ``valid`` per record, and for the valid
    ones the typed values (µs since the epoch, UTC; whole numbers); 0 elsewhere."""

    valid: np.ndarray
    start_us: np.ndarray
    duration_s: np.ndarray
    bytes_up: np.ndarray
    bytes_down: np.ndarray


class BulkValidator:
    """:func:`record_problems` for many records at once: ``check(table)`` says which rows
    it would find nothing wrong with. Thread-safe; one instance per host network and set
    of cells (it remembers the verdict on each (cell_id, visited_plmn) pair)."""

    def __init__(self, *, home_plmn: str, known_cells: set[str] | frozenset[str]) -> None:
        if not _PLMN.fullmatch(home_plmn):
            raise ValueError(f"home_plmn {home_plmn!r} is not MCC-MNC")
        self.home_plmn = home_plmn
        self.known_cells = known_cells
        self._imsi_prefix = plmn_digits(home_plmn)
        self._networks: dict[tuple[str, str], bool] = {}

    def check(
        self, table: pa.Table, file_hours: datetime | np.ndarray | None = None
    ) -> BulkChecked:
        """``table`` holds the 11 columns as text (other columns are ignored);
        ``file_hours`` is the hour every record's file covers (an aware datetime, or None
        for none), or one per record as seconds since the epoch (:data:`NO_HOUR`: none).
        """
        count = table.num_rows
        kinds = pc.index_in(table.column("record_type"), value_set=pa.array(RECORD_TYPES))
        kind = kinds.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int8)
        valid = kind >= 0
        sms = (kind == RECORD_TYPES.index("sms_mo")) | (kind == RECORD_TYPES.index("sms_mt"))
        data = kind == RECORD_TYPES.index("data")

        record_id = TextColumn(table.column("record_id"))
        valid &= (record_id.lengths >= 1) & (record_id.lengths <= MAX_RECORD_ID_LENGTH)
        valid &= record_id.all_in(_IS_ID_CHAR) & _IS_ALNUM[record_id.byte(0)]

        valid &= _e164(TextColumn(table.column("msisdn")))

        imsi = TextColumn(table.column("imsi"))
        valid &= (imsi.lengths == 15) & imsi.all_in(_IS_DIGIT)
        valid &= pc.starts_with(table.column("imsi"), self._imsi_prefix).to_numpy(
            zero_copy_only=False
        )

        counterpart = TextColumn(table.column("counterpart"))
        short_code = (
            (counterpart.lengths >= 3)
            & (counterpart.lengths <= 6)
            & counterpart.all_in(_IS_DIGIT, but_first=True)
            & _IS_DIGIT[counterpart.byte(0)]
        )
        valid &= np.where(data, counterpart.lengths == 0, _e164(counterpart) | short_code)

        start_ok, start_us = _start_times(TextColumn(table.column("start_time")), file_hours, count)
        valid &= start_ok

        numbers = []
        for name, maximum in (
            ("duration_s", MAX_DURATION_S),
            ("bytes_up", MAX_BYTES),
            ("bytes_down", MAX_BYTES),
        ):
            ok, value = _counts(table.column(name), maximum)
            valid &= ok
            numbers.append(value)
        duration, up, down = numbers
        valid &= ~sms | (duration == 0)
        valid &= data | ((up == 0) & (down == 0))

        valid &= self._networks_ok(table.column("cell_id"), table.column("visited_plmn"))

        def zero_unless_valid(values: np.ndarray) -> np.ndarray:
            return np.where(valid, values, 0)

        return BulkChecked(
            valid,
            zero_unless_valid(start_us),
            zero_unless_valid(duration),
            zero_unless_valid(up),
            zero_unless_valid(down),
        )

    def _networks_ok(self, cells: pa.ChunkedArray, plmns: pa.ChunkedArray) -> np.ndarray:
        """Per record: the rule on (cell_id, visited_plmn), asked once per distinct pair."""
        if len(cells) == 0:
            return np.ones(0, dtype=bool)
        cell_codes = pc.dictionary_encode(cells).combine_chunks()
        plmn_codes = pc.dictionary_encode(plmns).combine_chunks()
        plmn_values = plmn_codes.dictionary.to_pylist()
        key = cell_codes.indices.to_numpy().astype(np.int64) * len(plmn_values)
        key += plmn_codes.indices.to_numpy()
        size = len(cell_codes.dictionary) * len(plmn_values)
        by_table = size <= 4 * len(key) + 1024  # a table by key then beats sorting
        if by_table:
            present = np.zeros(size, dtype=bool)
            present[key] = True
            pairs = np.flatnonzero(present)
            slots = key  # each record's place in the table by key
        else:
            found = np.unique(key, return_inverse=True)
            pairs, slots = found[0], found[1]  # each record's place in pairs
        cell_values = cell_codes.dictionary.to_pylist()
        verdicts = np.empty(len(pairs), dtype=bool)
        for index, pair in enumerate(pairs.tolist()):
            cell, plmn = divmod(pair, len(plmn_values))
            cell_plmn = (cell_values[cell], plmn_values[plmn])
            verdict = self._networks.get(cell_plmn)
            if verdict is None:
                row = {"cell_id": cell_plmn[0], "visited_plmn": cell_plmn[1]}
                verdict = not _network_problems(row, self.home_plmn, self.known_cells)
                self._networks[cell_plmn] = verdict
            verdicts[index] = verdict
        if verdicts.all():
            return np.ones(len(key), dtype=bool)
        if by_table:
            by_key = np.zeros(size, dtype=bool)
            by_key[pairs] = verdicts
            return by_key[slots]
        return verdicts[slots]


def _e164(text: TextColumn) -> np.ndarray:
    """``+[1-9][0-9]{6,14}``: a plus, then 7 to 15 digits, the first not 0."""
    second = text.byte(1)
    return (
        (text.lengths >= 8)
        & (text.lengths <= 16)
        & (text.byte(0) == ord("+"))
        & text.all_in(_IS_DIGIT, but_first=True)
        & (second >= ord("1"))
        & (second <= ord("9"))
    )


def _counts(column: pa.ChunkedArray, maximum: int) -> tuple[np.ndarray, np.ndarray]:
    """Which values are ``0|[1-9][0-9]*`` and at most ``maximum``, and their values."""
    text = TextColumn(column)
    first = text.byte(0)
    ok = (text.lengths >= 1) & (text.lengths <= len(str(maximum)))
    ok &= text.all_in(_IS_DIGIT) & ((first != ord("0")) | (text.lengths == 1))
    readable = column if ok.all() else pc.if_else(pa.array(ok), column, "0")
    values = pc.cast(readable, pa.int64())
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    numbers = values.to_numpy()
    ok &= numbers <= maximum
    return ok, numbers


def _start_times(
    text: TextColumn, file_hours: datetime | np.ndarray | None, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """Which values are ``YYYY-MM-DDTHH:MM:SSZ``, a real UTC instant (in the file's hour
    when there is one), and those instants in µs since the epoch."""
    fits, matrix = text.fixed(20)
    ok = fits
    for position, mark in _START_MARKS.items():
        ok &= matrix[:, position] == ord(mark)
    if isinstance(file_hours, datetime):
        # One hour for all: its text is the only possible start, then minutes and seconds.
        hour_start = file_hours.astimezone(UTC)
        prefix = (
            f"{hour_start.year:04d}-{hour_start.month:02d}-{hour_start.day:02d}"
            f"T{hour_start.hour:02d}"
        )
        ok &= (matrix[:, :13] == np.frombuffer(prefix.encode(), dtype=np.uint8)).all(axis=1)
        ok &= _IS_DIGIT[matrix[:, [14, 15, 17, 18]]].all(axis=1)
        tail = matrix[:, [14, 15, 17, 18]].astype(np.int64) - ord("0")
        minute, second = tail[:, 0] * 10 + tail[:, 1], tail[:, 2] * 10 + tail[:, 3]
        ok &= (minute <= 59) & (second <= 59)
        seconds = int(hour_start.timestamp()) + minute * 60 + second
        return ok, seconds * 1_000_000
    ok &= _IS_DIGIT[matrix[:, _START_DIGITS]].all(axis=1)

    def number(*positions: int) -> np.ndarray:
        value = np.zeros(count, dtype=np.int64)
        for position in positions:
            value = value * 10 + (matrix[:, position].astype(np.int64) - ord("0"))
        return value

    year, month, day = number(0, 1, 2, 3), number(5, 6), number(8, 9)
    hour, minute, second = number(11, 12), number(14, 15), number(17, 18)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = _DAYS_IN_MONTH[np.clip(month, 0, 12)] + (leap & (month == 2))
    ok &= (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days)
    ok &= (hour <= 23) & (minute <= 59) & (second <= 59)
    # Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    shifted = year - (month <= 2)
    era = shifted // 400
    year_of_era = shifted - era * 400
    day_of_year = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    days = era * 146_097 + day_of_era - 719_468
    seconds = days * 86_400 + hour * 3600 + minute * 60 + second
    begins = np.full(count, NO_HOUR, dtype=np.int64) if file_hours is None else file_hours
    ok &= (begins == NO_HOUR) | ((seconds >= begins) & (seconds < begins + 3600))
    return ok, seconds * 1_000_000


def read_usage_file(path: Path | str) -> Iterator[NumberedRow]:
    """Yield every record of one hour file (``.csv`` or ``.csv.gz``) with its line number.

    Raises :class:`UsageFileError` when the file as a whole is unusable: not gzip,
    not UTF-8, empty, or a header other than exactly :data:`COLUMNS`. A line with
    too few fields yields a row without the missing keys, one with too many keeps
    the surplus under :data:`EXTRA_FIELDS_KEY`; :func:`validate_record` reports both.
    Rows are yielded lazily, so a file of any size streams in constant memory.
    """
    path = Path(path)
    line = 0
    try:
        with _open_text(path) as text:
            reader = csv.reader(text)
            header = next(reader, None)
            if header is None:
                raise UsageFileError(f"{path}: empty file; expected the header line {HEADER_LINE}")
            if tuple(header) != COLUMNS:
                hint = (
                    " (it starts with a byte-order mark)"
                    if header[:1] and header[0].startswith("\ufeff")
                    else ""
                )
                raise UsageFileError(
                    f"{path}: wrong header{hint}: {','.join(header)!r}; "
                    f"usage file format v{FORMAT_VERSION} needs exactly {HEADER_LINE!r}"
                )
            for fields in reader:
                line = reader.line_num
                row = dict(zip(COLUMNS, fields, strict=False))
                if len(fields) > len(COLUMNS):
                    row[EXTRA_FIELDS_KEY] = ",".join(fields[len(COLUMNS) :])
                yield NumberedRow(line, row)
    except UnicodeDecodeError:
        raise UsageFileError(f"{path}: not UTF-8 text (after line {line})") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise UsageFileError(f"{path}: not a complete gzip file ({error})") from None
    except csv.Error as error:
        raise UsageFileError(f"{path}: line {line + 1}: malformed CSV ({error})") from None


def _open_text(path: Path) -> TextIO:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return path.open("r", encoding="utf-8", newline="")
