"""Fixtures of the rating tests: the golden catalogue, lines on it, usage records written
straight into the lake (parts + manifest rows, as the ingest leaves them), and the two
engines. Spark tests are marked ``spark`` and run only with ``KINDWAVE_SPARK_TESTS=1``;
then a missing Java or PySpark fails them instead of skipping."""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from kindwave.accounts.models import User
from kindwave.lines import services as lines
from kindwave.lines.models import Line, Market
from kindwave.lines.validators import luhn_check_digit
from kindwave.usage import lake
from kindwave.usage.models import UsageFile

HERE = Path(__file__).parent
SPARK_VARIABLE = "KINDWAVE_SPARK_TESTS"
ORDERED = datetime(2026, 9, 1, tzinfo=UTC)
FIRST_NUMBER, LAST_NUMBER = "+447400200000", "+447400200099"
FIRST_IMSI = "234307100000000"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"spark: runs the rating on PySpark (only with {SPARK_VARIABLE}=1)"
    )


def spark_wanted() -> bool:
    return os.environ.get(SPARK_VARIABLE, "") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if spark_wanted():
        return
    skip = pytest.mark.skip(reason=f"PySpark tests run with {SPARK_VARIABLE}=1")
    for item in items:
        if "spark" in item.keywords:
            item.add_marker(skip)


ENGINES = ["duckdb", pytest.param("spark", marks=pytest.mark.spark)]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    if request.param == "spark":
        # With KINDWAVE_SPARK_TESTS=1 a missing engine is a failure, not a skip.
        from kindwave.usage.rating.engine import spark_session

        spark_session()
    return str(request.param)


def iccid(serial: int) -> str:
    body = f"894430{serial:012d}"
    return body + luhn_check_digit(body)


@pytest.fixture
def data_dir(settings, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path / "data"
    return settings.DATA_DIR


@pytest.fixture
def golden(data_dir: Path, db: None) -> Market:
    """The golden catalogue (two versions), 100 numbers and SIMs."""
    lines.load_catalog_file(HERE / "golden-v1.toml")
    lines.load_catalog_file(HERE / "golden-v2.toml")
    market = Market.objects.get(code="GB")
    lines.add_number_block(market, FIRST_NUMBER, LAST_NUMBER)
    lines.add_sims(market, iccid(300_000_000_000), FIRST_IMSI, 100)
    return market


LineMaker = Callable[..., Line]


@pytest.fixture
def make_line(golden: Market, alice: User) -> LineMaker:
    def make(plan: str, *, owner: User | None = None, at: datetime = ORDERED) -> Line:
        line = lines.order_line(owner or alice, golden, plan, at=at)
        return lines.activate_line(line, at=at)

    return make


@dataclass(frozen=True)
class Rec:
    record_id: str
    record_type: str
    line: Line
    start: datetime
    counterpart: str | None = None
    duration: int = 0
    up: int = 0
    down: int = 0
    plmn: str = "234-30"


def table_of(records: Iterable[Rec], source: str) -> pa.Table:
    rows = list(records)
    return pa.table(
        {
            "record_id": [r.record_id for r in rows],
            "record_type": [r.record_type for r in rows],
            "msisdn": [r.line.msisdn for r in rows],
            "imsi": [r.line.sim.imsi for r in rows],
            "counterpart": [r.counterpart for r in rows],
            "start_time": [r.start for r in rows],
            "duration_s": [r.duration for r in rows],
            "bytes_up": [r.up for r in rows],
            "bytes_down": [r.down for r in rows],
            "cell_id": ["234-30-1-1" if r.plmn == "234-30" else f"{r.plmn}-1-1" for r in rows],
            "visited_plmn": [r.plmn for r in rows],
            "source_file": [source] * len(rows),
        },
        schema=lake.SCHEMA,
    )


def deliver(records: Iterable[Rec], name: str = "delivery") -> None:
    """Write records into the lake as one 'file' per hour, like the ingest does."""
    by_hour: dict[datetime, list[Rec]] = defaultdict(list)
    for record in records:
        by_hour[record.start.replace(minute=0, second=0, microsecond=0)].append(record)
    for hour, rows in sorted(by_hour.items()):
        stem = f"usage-{hour:%Y%m%dT%H}.csv.gz"
        _deliver(rows, f"{name}/{hour.isoformat()}", stem, f"/{name}/{stem}", hour)


def _market_of(rows: list[Rec]) -> dict[str, object]:
    """The manifest's market, when the manifest records one."""
    if any(field.name == "market" for field in UsageFile._meta.get_fields()):
        markets = [row.line.market for row in rows if isinstance(row.line, Line)]
        return {"market": markets[0] if markets else None}
    return {}


def at(day: int, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    """An instant in October 2026, the golden cycle."""
    return datetime(2026, 10, day, hour, minute, second, tzinfo=UTC)


def deliver_files(files: Iterable[list[Rec]], name: str = "split") -> None:
    """Write each list of records as one delivered 'file' (any hours, any order)."""
    for index, rows in enumerate(files):
        if not rows:
            continue
        _deliver(rows, f"{name}/{index}", f"{name}-{index}.csv.gz", f"/{name}/{index}", None)


def clear_lake() -> None:
    """Forget every delivery (manifest rows and parts), keeping lines and catalogue."""
    import shutil

    UsageFile.objects.all().delete()
    shutil.rmtree(lake.lake_root(), ignore_errors=True)


def _deliver(
    rows: list[Rec], key: str, file_name: str, path: str, file_hour: datetime | None
) -> None:
    """Put ``rows`` in the lake as one ingested file would: parts by usage date, then the
    manifest row that vouches for them."""
    sha = hashlib.sha256(key.encode()).hexdigest()
    by_day: dict[date, list[Rec]] = defaultdict(list)
    for row in rows:
        by_day[row.start.date()].append(row)
    parts = []
    for day, day_rows in sorted(by_day.items()):
        relative = lake.part_name(day, sha)
        lake.write_part(relative, table_of(day_rows, sha))
        parts.append(relative)
    UsageFile.objects.create(
        sha256=sha,
        name=file_name,
        path=path,
        size=1,
        status=UsageFile.Status.INGESTED,
        file_hour=file_hour,
        records=len(rows),
        accepted=len(rows),
        parts=parts,
        **_market_of(rows),
    )
