"""The bulk mirror of the record validator (``BulkValidator``) agrees with
``record_problems`` on generated valid and invalid records: the ingest checks millions
of records in bulk and asks the Python definition only about those the bulk check
rejects, so a record the bulk check passed must have no problem, and the other way."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kindwave.usage.fileformat import (
    COLUMNS,
    NO_HOUR,
    TIME_FORMAT,
    BulkValidator,
    record_problems,
)

HOME = "234-30"
CELLS = frozenset({"234-30-1001-11", "234-30-1001-12", "234-30-7-0"})
HOUR = datetime(2026, 10, 1, 18, tzinfo=UTC)
VALIDATOR = BulkValidator(home_plmn=HOME, known_cells=CELLS)


# Values on either side of every rule, per column.
DOUBTFUL: dict[str, tuple[str, ...]] = {
    "record_id": ("20261001T18-00000001", "a", "x" * 64, "x" * 65, "-a", "a b", "é", "a\n", ""),
    "record_type": ("voice_mo", "voice_mt", "sms_mo", "sms_mt", "data", "mms", "DATA", ""),
    "msisdn": (
        "+447400100001",
        "+4474001000011234",
        "+447400100001123",
        "+1234567",
        "+123456",
        "07400100001",
        "+0123456",
        "+\u066447400100001",  # an Arabic-Indic digit four
        "++447400100001",
        "44+7400100001",
        "",
    ),
    "imsi": ("234307000000001", "208011234567890", "23430700000000", "23430700000000\u0661", ""),
    "counterpart": ("", "+442071234567", "70070", "123", "123456", "12", "1234567", "+44 207"),
    "start_time": (
        "2026-10-01T18:05:09Z",
        "2026-10-01T18:00:00Z",
        "2026-10-01T18:59:59Z",
        "2026-10-01T19:00:00Z",
        "2026-10-01T17:59:59Z",
        "2026-02-30T18:05:09Z",
        "2024-02-29T18:05:09Z",
        "2100-02-29T18:05:09Z",
        "2000-02-29T18:05:09Z",
        "2026-04-31T18:05:09Z",
        "2026-10-01T18:05:60Z",
        "2026-10-01T18:60:00Z",
        "0000-10-01T18:05:09Z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "2026-10-01T24:00:00Z",
        "2026-13-01T18:05:09Z",
        "2026-10-00T18:05:09Z",
        "2026-10-01T18:05:09z",
        "2026-10-01 18:05:09Z",
        "2026-10-01T18:05:09",
        "2026-10-1T18:05:09Z",
        "2026-10-01T18:05:09Z ",
    ),
    "duration_s": (
        "0",
        "74",
        "86400",
        "86401",
        "007",
        "00",
        "99999999999999999999",
        "\u0663",
        "-0",
    ),
    "bytes_up": ("0", "1200", "1000000000000", "1000000000001", "-1", "+5", "01"),
    "bytes_down": ("0", "88000", "1000000000000", "10000000000000", "1.5", " 1", "1e3"),
    "cell_id": (
        "234-30-1001-11",
        "234-30-1001-99",
        "208-10-4120-33017",
        "234-30-0-11",
        "234-30-7-0",
        "234-30-1-268435455",
        "234-30-1-268435456",
        "234-30-65535-1",
        "234-30-65536-1",
        "234-300-1-1",
        "234-30-1001",
    ),
    "visited_plmn": ("234-30", "208-10", "23430", "234-300", "234-3", ""),
}

# One valid record of each kind, at home and roaming.
BASES: tuple[dict[str, str], ...] = tuple(
    {
        "record_id": "20261001T18-00000001",
        "record_type": kind,
        "msisdn": "+447400100001",
        "imsi": "234307000000001",
        "counterpart": counterpart,
        "start_time": "2026-10-01T18:05:09Z",
        "duration_s": duration,
        "bytes_up": up,
        "bytes_down": down,
        "cell_id": cell,
        "visited_plmn": cell[:6],
    }
    for kind, counterpart, duration, up, down in (
        ("voice_mo", "+442071234567", "74", "0", "0"),
        ("voice_mt", "70070", "0", "0", "0"),
        ("sms_mo", "70070", "0", "0", "0"),
        ("sms_mt", "+33612345678", "0", "0", "0"),
        ("data", "", "310", "1200", "88000"),
    )
    for cell in ("234-30-1001-11", "208-10-4120-33017")
)


def texts(column: str) -> st.SearchStrategy[str]:
    """Mostly values on either side of a rule, sometimes arbitrary text."""
    return st.one_of(
        st.sampled_from(DOUBTFUL[column]),
        st.sampled_from(DOUBTFUL[column]),
        st.text(alphabet="0123456789+-:._TZaz \n", max_size=24),
        st.text(max_size=8),
    )


records = st.fixed_dictionaries({column: texts(column) for column in COLUMNS})


valid_records = st.fixed_dictionaries(
    {
        "record_id": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,20}", fullmatch=True),
        "record_type": st.just("data"),
        "msisdn": st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True),
        "imsi": st.from_regex(r"23430[0-9]{10}", fullmatch=True),
        "counterpart": st.just(""),
        "start_time": st.integers(0, 3599).map(
            lambda second: f"2026-10-01T18:{second // 60:02d}:{second % 60:02d}Z"
        ),
        "duration_s": st.integers(0, 86_400).map(str),
        "bytes_up": st.integers(0, 10**12).map(str),
        "bytes_down": st.integers(0, 10**12).map(str),
        "cell_id": st.sampled_from(sorted(CELLS)),
        "visited_plmn": st.just(HOME),
    }
)


@st.composite
def one_field_changed(draw: st.DrawFn) -> dict[str, str]:
    """A valid record with (usually) one field replaced by a doubtful value."""
    row = dict(draw(st.one_of(valid_records, st.sampled_from(BASES))))
    other = draw(records)
    for column in draw(st.lists(st.sampled_from(COLUMNS), max_size=2)):
        row[column] = other[column]
    return row


def table_of(rows: list[dict[str, str]]) -> pa.Table:
    return pa.table(
        {column: pa.array([row[column] for row in rows], pa.string()) for column in COLUMNS}
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(st.one_of(records, one_field_changed(), valid_records), st.booleans()),
        min_size=1,
        max_size=12,
    )
)
def test_bulk_and_python_agree(rows: list[tuple[dict[str, str], bool]]) -> None:
    hours = np.array(
        [int(HOUR.timestamp()) if with_hour else NO_HOUR for _, with_hour in rows], np.int64
    )
    checked = VALIDATOR.check(table_of([row for row, _ in rows]), hours)

    for index, (row, with_hour) in enumerate(rows):
        problems = record_problems(
            row, home_plmn=HOME, known_cells=CELLS, file_hour=HOUR if with_hour else None
        )
        assert bool(checked.valid[index]) == (not problems), (row, problems)
        if not problems:
            start = datetime.strptime(row["start_time"], TIME_FORMAT).replace(tzinfo=UTC)
            assert checked.start_us[index] == round(start.timestamp()) * 1_000_000
            assert checked.duration_s[index] == int(row["duration_s"])
            assert checked.bytes_up[index] == int(row["bytes_up"])
            assert checked.bytes_down[index] == int(row["bytes_down"])


def test_a_valid_record_is_valid_in_both() -> None:
    row = {
        "record_id": "20261001T18-00000001",
        "record_type": "data",
        "msisdn": "+447400100001",
        "imsi": "234307000000001",
        "counterpart": "",
        "start_time": "2026-10-01T18:05:09Z",
        "duration_s": "310",
        "bytes_up": "1200",
        "bytes_down": "88000",
        "cell_id": "234-30-1001-11",
        "visited_plmn": "234-30",
    }
    assert record_problems(row, home_plmn=HOME, known_cells=CELLS, file_hour=HOUR) == []
    checked = VALIDATOR.check(table_of([row]), HOUR)
    assert checked.valid.tolist() == [True]
    assert checked.start_us.tolist() == [int(HOUR.timestamp() + 309) * 1_000_000]


def test_sliced_and_chunked_columns_are_read_at_their_offsets() -> None:
    good = {
        "record_id": "a1",
        "record_type": "sms_mo",
        "msisdn": "+447400100001",
        "imsi": "234307000000001",
        "counterpart": "70070",
        "start_time": "2026-10-01T18:00:00Z",
        "duration_s": "0",
        "bytes_up": "0",
        "bytes_down": "0",
        "cell_id": "234-30-1001-11",
        "visited_plmn": "234-30",
    }
    bad = {**good, "record_id": "-bad", "duration_s": "5"}
    whole = pa.concat_tables([table_of([bad, good]), table_of([good, bad, good])])

    checked = VALIDATOR.check(whole.slice(1, 3), HOUR)

    assert checked.valid.tolist() == [True, True, False]


def test_every_doubtful_value_in_every_kind_of_record() -> None:
    rows = [
        ({**base, column: value}, with_hour)
        for base in BASES
        for column, values in DOUBTFUL.items()
        for value in values
        for with_hour in (True, False)
    ]
    hours = np.array(
        [int(HOUR.timestamp()) if with_hour else NO_HOUR for _, with_hour in rows], np.int64
    )

    checked = VALIDATOR.check(table_of([row for row, _ in rows]), hours)

    expected = [
        not record_problems(
            row, home_plmn=HOME, known_cells=CELLS, file_hour=HOUR if with_hour else None
        )
        for row, with_hour in rows
    ]
    disagree = [rows[i] for i in range(len(rows)) if bool(checked.valid[i]) != expected[i]]
    assert not disagree
    assert 0 < sum(expected) < len(rows)
