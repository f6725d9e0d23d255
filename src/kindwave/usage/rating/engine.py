"""Running the rating: resolve the dimensions, run the one Ibis expression on DuckDB or
PySpark, write the rated records, replace the cycle's database outputs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
from django.db import connection, transaction
from django.utils import timezone

from kindwave.lines.models import Line, Market, Plan
from kindwave.usage import lake
from kindwave.usage.ingest import missing_hours as ingest_missing_hours
from kindwave.usage.models import AllowanceUse, RatedUsageSummary, RatingRun
from kindwave.usage.rating import expression, store
from kindwave.usage.rating.cycles import cycle_bounds
from kindwave.usage.rating.dimensions import UNLIMITED, Dimensions, resolve
from kindwave.usage.rating.summary import RatingSummary

ENGINES = ("duckdb", "spark")
ROW_GROUP_SIZE = 122_880
_SPARK: Any = None  # one local Spark session per process: it takes seconds to start


class EngineUnavailableError(Exception):
    """The asked engine cannot start (e.g. PySpark without Java)."""


# --- Backends -------------------------------------------------------------------------------


def duckdb_backend() -> Any:
    con = ibis.duckdb.connect()
    con.raw_sql("SET TimeZone='UTC'")
    # Nothing downstream relies on row order (outputs are split by shard, readers sort):
    # without the promise DuckDB writes and windows with less coordination between threads.
    con.raw_sql("SET preserve_insertion_order = false")
    return con


def spark_session() -> Any:
    """The process's local Spark session (local[2], UTC, Parquet timestamps in micros)."""
    global _SPARK
    if _SPARK is None:
        try:
            from pyspark.sql import SparkSession

            _SPARK = (
                SparkSession.builder.master(os.environ.get("KINDWAVE_SPARK_MASTER", "local[2]"))
                .appName("kindwave-rating")
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
                .config("spark.sql.shuffle.partitions", "4")
                .config("spark.ui.enabled", "false")
                .config("spark.driver.memory", os.environ.get("KINDWAVE_SPARK_MEMORY", "4g"))
                .getOrCreate()
            )
        except Exception as error:  # Java missing, pyspark missing, JVM failed to start
            raise EngineUnavailableError(f"PySpark cannot start: {error}") from error
    return _SPARK


def spark_backend() -> Any:
    return ibis.pyspark.connect(spark_session())


class _Engine:
    """What differs between the backends: connecting, reading files, writing Parquet."""

    def __init__(self, name: str) -> None:
        if name not in ENGINES:
            raise ValueError(f"unknown engine {name!r}: choose {' or '.join(ENGINES)}")
        self.name = name
        self.con = duckdb_backend() if name == "duckdb" else spark_backend()

    def read(self, files: list[str]) -> Any:
        if self.name == "duckdb":
            return self.con.read_parquet(files, hive_partitioning=False)
        frame = self.con._session.read.parquet(*files)
        name = ibis.util.gen_name("lake")
        frame.createOrReplaceTempView(name)
        return self.con.table(name)

    def table(self, data: pa.Table) -> Any:
        return ibis.memtable(data)

    def empty_records(self) -> Any:
        return self.table(lake.SCHEMA.empty_table())

    def write(self, expr: Any, directory: Path) -> None:
        """Write ``expr`` under ``directory`` split by line shard (``store.SHARDS``)."""
        sharded = expr.mutate(**{store.SHARD_COLUMN: expr.line_id % store.SHARDS})
        if self.name == "duckdb":
            directory.mkdir(parents=True, exist_ok=False)
            self.con.to_parquet(
                sharded,
                directory,
                compression="zstd",
                row_group_size=ROW_GROUP_SIZE,
                partition_by=store.SHARD_COLUMN,
            )
        else:
            self.con.to_parquet(
                sharded, directory, compression="zstd", partitionBy=store.SHARD_COLUMN
            )
            # Spark's bookkeeping files are not part of the output.
            for stray in [*directory.rglob("_*"), *directory.rglob(".*.crc")]:
                stray.unlink()

    def arrow(self, expr: Any) -> pa.Table:
        return expr.to_pyarrow()


# --- Missing hours --------------------------------------------------------------------------


def _compact(hours: list[datetime]) -> str:
    """Consecutive hours as ranges: ``2026-10-03T04 to 06, 2026-10-05T00``."""
    ranges: list[tuple[datetime, datetime]] = []
    for hour in hours:
        if ranges and hour - ranges[-1][1] == timedelta(hours=1):
            ranges[-1] = (ranges[-1][0], hour)
        else:
            ranges.append((hour, hour))
    shown = []
    for first, last in ranges:
        if first == last:
            shown.append(f"{first:%Y-%m-%dT%H}")
        elif first.date() == last.date():
            shown.append(f"{first:%Y-%m-%dT%H} to {last:%H}")
        else:
            shown.append(f"{first:%Y-%m-%dT%H} to {last:%Y-%m-%dT%H}")
    return ", ".join(shown)


def missing_hours(cycle: str, market_ids: list[int], now: datetime | None = None) -> list[str]:
    """Warnings naming the UTC hours of the cycle (up to now) with no ingested usage
    file, per market that has lines (the ingest's ``missing_hours`` decides which)."""
    start, end = cycle_bounds(cycle)
    now = now or datetime.now(tz=UTC)
    stop = min(end, now.replace(minute=0, second=0, microsecond=0))
    warnings = []
    for market in Market.objects.filter(pk__in=market_ids).order_by("code"):
        missing = ingest_missing_hours(market, start, stop) if start < stop else []
        if missing:
            warnings.append(
                f"{market.code}: {len(missing):,} hour(s) of {cycle} have no ingested usage "
                f"file: {_compact(missing)}"
            )
    return warnings


# --- The run --------------------------------------------------------------------------------


@contextmanager
def _timed() -> Iterator[Callable[[], float]]:
    began = time.perf_counter()
    yield lambda: time.perf_counter() - began


def _cycle_files(cycle: str) -> list[str]:
    start, end = cycle_bounds(cycle)
    # A day either side: a part is named by usage date, which is UTC like the cycle, but
    # reading one more day costs little and keeps the filter on start_time the only rule.
    parts = lake.ingested_parts(start.date() - timedelta(days=1), end.date())
    return [str(path) for path in parts]


def rate_cycle(
    cycle: str, *, engine: str = "duckdb", progress: Callable[[int], None] | None = None
) -> RatingSummary:
    """See ``kindwave.usage.services.rate_cycle``."""
    start, end = cycle_bounds(cycle)
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: choose {' or '.join(ENGINES)}")
    began = time.perf_counter()
    started_at = timezone.now()
    with lake.exclusive_writer():
        store.remove_unpublished(cycle)
        dims = resolve(cycle)
        summary = RatingSummary(cycle=cycle, engine=engine)
        summary.warnings = missing_hours(cycle, dims.markets_with_lines)
        runner = _Engine(engine)
        files = _cycle_files(cycle)
        records = runner.read(files) if files else runner.empty_records()
        records_again = runner.read(files) if files else runner.empty_records()
        rated = expression.rate(
            records,
            counterparts_from=records_again,
            terms=runner.table(dims.terms),
            zones=runner.table(dims.zones),
            world=runner.table(dims.world),
            prefixes=runner.table(dims.prefixes),
            rates=runner.table(dims.rates),
            lengths=dims.lengths,
            start=start,
            end=end,
        )
        run_dir = store.new_run_dir(cycle)
        try:
            runner.write(rated, run_dir)
            parts = [str(path) for path in sorted(run_dir.glob("*/*.parquet"))]
            # An empty cycle writes no part at all.
            output = (
                runner.read(parts)
                if parts
                else runner.table(rated.schema().to_pyarrow().empty_table())
            )
            totals = runner.arrow(expression.totals(output)).to_pylist()
            summaries = runner.arrow(expression.summaries(output))
            bucket_rows = runner.arrow(expression.buckets(output)).to_pylist()
            firsts = runner.arrow(expression.first_versions(output)).to_pylist()
        except BaseException:
            store.remove_unpublished(cycle)
            raise
        for row in totals:
            summary.records += row["records"]
            if row["status"] == "rated":
                summary.rated += row["records"]
                units = int(row["charge_units"] or 0)
                currency = row["currency"]
                summary.charge_units[currency] = summary.charge_units.get(currency, 0) + units
            else:
                summary.unrated[row["reason"]] += row["records"]
        summary.charge_units = dict(sorted(summary.charge_units.items()))
        if progress is not None:
            progress(summary.records)
        line_ids = set(summaries.column("line_id").to_pylist())
        summary.lines = len(line_ids)
        allowances = _allowance_uses(cycle, bucket_rows, firsts, dims)
        with transaction.atomic():
            RatedUsageSummary.objects.filter(cycle=cycle).delete()
            AllowanceUse.objects.filter(cycle=cycle).delete()
            _insert_summaries(cycle, summaries)
            _insert_allowances(allowances)
            summary.seconds = time.perf_counter() - began
            RatingRun.objects.create(
                cycle=cycle,
                engine=engine,
                started_at=started_at,
                finished_at=timezone.now(),
                records=summary.records,
                rated=summary.rated,
                unrated=summary.unrated_total,
                unrated_by_reason=dict(sorted(summary.unrated.items())),
                charge_units_by_currency={k: str(v) for k, v in summary.charge_units.items()},
                warnings=summary.warnings,
                catalog_fingerprint=dims.fingerprint,
                seconds=summary.seconds,
            )
        # The rated records become visible right after the rows that describe them; a
        # crash in between leaves the old records with the new rows until a re-run.
        store.publish(cycle, run_dir)
    return summary


_SUMMARY_COLUMNS = (
    "line_id", "plan_code", "service", "direction", "zone_code", "zone_kind", "class_code",
    "currency", "records", "quantity", "included", "charged", "charge_units",
)  # fmt: skip


def _insert_rows(model: Any, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Insert ``rows`` with one ``executemany`` per 10,000: model instances cost ~0.3 ms a
    row, which at a national operator's hundreds of thousands of rows would dominate a run."""
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(name) for name in columns)
    marks = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 — names are ours
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 10_000):
            cursor.executemany(sql, rows[start : start + 10_000])


def _insert_summaries(cycle: str, summaries: pa.Table) -> None:
    values = [summaries.column(name).to_pylist() for name in _SUMMARY_COLUMNS]
    rows = [(cycle, *row) for row in zip(*values, strict=True)]
    _insert_rows(RatedUsageSummary, ("cycle", *_SUMMARY_COLUMNS), rows)


_ALLOWANCE_COLUMNS = ("line_id", "cycle", "plan_code", "service", "allowed", "used", "records")


def _insert_allowances(uses: list[AllowanceUse]) -> None:
    rows = [tuple(getattr(use, name) for name in _ALLOWANCE_COLUMNS) for use in uses]
    _insert_rows(AllowanceUse, _ALLOWANCE_COLUMNS, rows)


def _allowance_uses(
    cycle: str, bucket_rows: list[dict[str, Any]], firsts: list[dict[str, Any]], dims: Dimensions
) -> list[AllowanceUse]:
    """One row per plan used by a line in the cycle x service with an allowance.

    A bucket with records has the size the engine found (the terms at its first
    record); a service with an allowance but no record counting against it shows the
    terms of the plan's first record in the cycle, with nothing used.
    """
    uses: dict[tuple[int, str, str], AllowanceUse] = {}
    for row in bucket_rows:
        allowed = row["allowed"]
        uses[(row["line_id"], row["plan_code"], row["service"])] = AllowanceUse(
            line_id=row["line_id"],
            cycle=cycle,
            plan_code=row["plan_code"],
            service=row["service"],
            allowed=None if allowed == UNLIMITED else allowed,
            used=row["used"],
            records=row["records"],
        )
    if firsts:
        markets = dict(
            Line.objects.filter(pk__in={row["line_id"] for row in firsts}).values_list(
                "pk", "market_id"
            )
        )
        plans: dict[tuple[int | None, str, str], Plan] = {
            (plan.catalog.market_id, plan.catalog.version, plan.code): plan
            for plan in Plan.objects.select_related("catalog").filter(
                code__in={row["plan_code"] for row in firsts}
            )
        }
        for row in firsts:
            plan = plans.get(
                (markets.get(row["line_id"]), row["catalog_version"], row["plan_code"])
            )
            if plan is None:
                continue
            for service, size in (
                ("voice", None if plan.included_minutes is None else plan.included_minutes * 60),
                ("sms", plan.included_sms),
                ("data", None if plan.included_data_mb is None else plan.included_data_mb * 1000),
            ):
                key = (row["line_id"], row["plan_code"], service)
                if key in uses or size == 0:
                    continue
                uses[key] = AllowanceUse(
                    line_id=row["line_id"],
                    cycle=cycle,
                    plan_code=row["plan_code"],
                    service=service,
                    allowed=size,
                    used=0,
                    records=0,
                )
    return [uses[key] for key in sorted(uses)]
