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
    Pure: no I/O, no database. :func:`record_valid_sql` is its mirror in SQL (a test
    checks that they agree).
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

    visited_plmn = field("visited_plmn")
    plmn_ok = _PLMN.fullmatch(visited_plmn) is not None
    if "visited_plmn" in row and not plmn_ok:
        invalid(f"visited_plmn {visited_plmn!r} is not MCC-MNC (e.g. 234-30)")

    cell_id = field("cell_id")
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


def record_valid_sql(home_plmn: str, *, known_cells: str = "known_cells") -> str:
    """A DuckDB boolean expression, true exactly when :func:`record_problems` finds nothing.

    It reads the 11 columns as strings (never NULL), ``file_hour`` (a UTC ``TIMESTAMP``
    or NULL when the file covers no particular hour) and a table ``known_cells(cell_id)``.
    The ingest checks millions of records with it in bulk and asks
    :func:`record_problems` only about those it rejects, so the messages and reason
    codes have one definition.
    """
    if not _PLMN.fullmatch(home_plmn):
        raise ValueError(f"home_plmn {home_plmn!r} is not MCC-MNC")
    e164 = r"\+[1-9][0-9]{6,14}"
    count = "0|[1-9][0-9]*"
    start = "try_strptime(start_time, '%Y-%m-%dT%H:%M:%SZ')"
    timestamp = _START_TIME.pattern
    types = ", ".join(f"'{kind}'" for kind in RECORD_TYPES)
    sms = ", ".join(f"'{kind}'" for kind in SMS_TYPES)
    # Only module constants and a checked PLMN are interpolated.
    return f"""coalesce(
        length(record_id) BETWEEN 1 AND {MAX_RECORD_ID_LENGTH}
        AND regexp_full_match(record_id, '[A-Za-z0-9][A-Za-z0-9._:-]*')
        AND record_type IN ({types})
        AND regexp_full_match(msisdn, '{e164}')
        AND regexp_full_match(imsi, '[0-9]{{15}}')
        AND starts_with(imsi, '{plmn_digits(home_plmn)}')
        AND CASE WHEN record_type = 'data' THEN counterpart = ''
                 ELSE regexp_full_match(counterpart, '{e164}|[0-9]{{3,6}}') END
        AND regexp_full_match(start_time, '{timestamp}')
        AND start_time >= '0001'
        AND {start} IS NOT NULL
        AND (file_hour IS NULL
             OR ({start} >= file_hour AND {start} < file_hour + INTERVAL 1 HOUR))
        AND regexp_full_match(duration_s, '{count}')
        AND TRY_CAST(duration_s AS BIGINT) <= {MAX_DURATION_S}
        AND (record_type NOT IN ({sms}) OR duration_s = '0')
        AND regexp_full_match(bytes_up, '{count}')
        AND TRY_CAST(bytes_up AS BIGINT) <= {MAX_BYTES}
        AND regexp_full_match(bytes_down, '{count}')
        AND TRY_CAST(bytes_down AS BIGINT) <= {MAX_BYTES}
        AND (record_type = 'data' OR (bytes_up = '0' AND bytes_down = '0'))
        AND regexp_full_match(visited_plmn, '[0-9]{{3}}-[0-9]{{2,3}}')
        AND regexp_full_match(cell_id, '[0-9]{{3}}-[0-9]{{2,3}}-[0-9]{{1,5}}-[0-9]{{1,9}}')
        AND TRY_CAST(split_part(cell_id, '-', 3) AS INTEGER) BETWEEN 1 AND {_MAX_LAC}
        AND TRY_CAST(split_part(cell_id, '-', 4) AS BIGINT) <= {_MAX_CI}
        AND split_part(cell_id, '-', 1) || '-' || split_part(cell_id, '-', 2) = visited_plmn
        AND (visited_plmn <> '{home_plmn}'
             OR cell_id IN (SELECT cell_id FROM {known_cells})),
        false)"""  # noqa: S608


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
