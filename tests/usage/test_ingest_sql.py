"""The SQL mirror of the record validator (``record_valid_sql``) agrees with
``record_problems`` on generated valid and invalid records: the ingest checks millions
of records in SQL and asks the Python definition only about those SQL rejects."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kindwave.usage.fileformat import COLUMNS, record_problems, record_valid_sql

HOME = "234-30"
CELLS = frozenset({"234-30-1001-11", "234-30-1001-12", "234-30-7-0"})
HOUR = datetime(2026, 10, 1, 18, tzinfo=UTC)


@pytest.fixture(scope="module")
def database() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("CREATE TABLE known_cells (cell_id VARCHAR)")
    connection.executemany("INSERT INTO known_cells VALUES (?)", [[cell] for cell in CELLS])
    return connection


def sql_says_valid(
    database: duckdb.DuckDBPyConnection, row: dict[str, str], hour: datetime | None
) -> bool:
    table = pa.table(
        {
            **{column: pa.array([row[column]], pa.string()) for column in COLUMNS},
            "file_hour": pa.array(
                [hour.replace(tzinfo=None) if hour else None], pa.timestamp("us")
            ),
        }
    )
    database.register("candidate", table)
    query = f"SELECT {record_valid_sql(HOME)} FROM candidate"  # noqa: S608 — constants
    (valid,) = database.sql(query).fetchall()[0]
    return bool(valid)


def texts(*good: str) -> st.SearchStrategy[str]:
    """Mostly plausible values, sometimes arbitrary text (including line breaks)."""
    return st.one_of(
        st.sampled_from(good),
        st.text(alphabet="0123456789+-:._TZaz \n", max_size=24),
        st.text(max_size=8),
    )


records = st.fixed_dictionaries(
    {
        "record_id": texts("20261001T18-00000001", "a", "x" * 64, "x" * 65, "-a", "a b"),
        "record_type": texts("voice_mo", "voice_mt", "sms_mo", "sms_mt", "data", "mms"),
        "msisdn": texts("+447400100001", "+4474001000011234", "07400100001", "+0123456"),
        "imsi": texts("234307000000001", "208011234567890", "23430700000000"),
        "counterpart": texts("", "+442071234567", "70070", "12", "1234567"),
        "start_time": texts(
            "2026-10-01T18:05:09Z",
            "2026-10-01T18:59:59Z",
            "2026-10-01T19:00:00Z",
            "2026-10-01T17:59:59Z",
            "2026-02-30T18:05:09Z",
            "2026-10-01T18:05:60Z",
            "0000-10-01T18:05:09Z",
            "2026-10-01T24:00:00Z",
        ),
        "duration_s": texts("0", "74", "86400", "86401", "007", "99999999999999999999"),
        "bytes_up": texts("0", "1200", "1000000000000", "1000000000001", "-1"),
        "bytes_down": texts("0", "88000", "1000000000000", "1000000000001", "1.5"),
        "cell_id": texts(
            "234-30-1001-11",
            "234-30-1001-99",
            "208-10-4120-33017",
            "234-30-0-11",
            "234-30-7-0",
            "234-30-1-268435456",
            "234-30-65536-1",
        ),
        "visited_plmn": texts("234-30", "208-10", "23430", "234-300"),
    }
)


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
    row = draw(valid_records)
    other = draw(records)
    for column in draw(st.lists(st.sampled_from(COLUMNS), max_size=2)):
        row[column] = other[column]
    return row


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(row=st.one_of(records, one_field_changed()), with_hour=st.booleans())
def test_sql_and_python_agree(
    database: duckdb.DuckDBPyConnection, row: dict[str, str], with_hour: bool
) -> None:
    hour = HOUR if with_hour else None
    problems = record_problems(row, home_plmn=HOME, known_cells=CELLS, file_hour=hour)

    assert sql_says_valid(database, row, hour) == (not problems), problems


def test_a_valid_record_is_valid_in_both(database: duckdb.DuckDBPyConnection) -> None:
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
    assert sql_says_valid(database, row, HOUR)
