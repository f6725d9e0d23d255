"""DuckDB and Spark agree record for record on a simulated operator's days: the same
simulator, importer, ingest and catalogue as production, rated once on each engine."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command

from kindwave.causes import services as causes
from kindwave.lines import services as lines
from kindwave.lines.models import Market
from kindwave.usage import services
from kindwave.usage.rating import store

CYCLE = "2026-10"


def rated_table() -> pa.Table:
    """Every rated record of the cycle, in record id order (engines write in any order)."""
    parts = store.cycle_parts(CYCLE)
    assert parts
    table = pa.concat_tables(pq.read_table(part) for part in parts)
    return table.sort_by([("record_id", "ascending")])


@pytest.fixture
def simulated_operator(data_dir: Path, db: None, tmp_path: Path) -> int:
    """Two days of a 40-subscriber UK operator, ingested; returns the records ingested."""
    lines.load_demo_catalogs()
    causes.load_demo_causes()
    out = tmp_path / "sim"
    call_command(
        "simulate",
        str(out),
        country="GB",
        subscribers=40,
        days=2,
        seed=5,
        start="2026-10-30",
        verbosity=0,
    )
    lines.import_simulated_operator(out)
    services.load_cells(out / "cells.csv")
    summary = services.ingest_usage_files([out / "usage"], market=Market.objects.get(code="GB"))
    assert not summary.refused
    return summary.accepted


@pytest.mark.spark
def test_duckdb_and_spark_agree_record_for_record(simulated_operator: int) -> None:
    duck = services.rate_cycle(CYCLE, engine="duckdb")
    from_duckdb = rated_table()
    spark = services.rate_cycle(CYCLE, engine="spark")
    from_spark = rated_table()

    assert duck.records == spark.records > 1_000
    assert duck.charge_units == spark.charge_units
    assert from_duckdb.num_rows == from_spark.num_rows == duck.records
    assert from_duckdb.column_names == from_spark.column_names
    for name in from_duckdb.column_names:
        # Spark hands timestamps back without their zone: compare the instants.
        left, right = from_duckdb.column(name), from_spark.column(name)
        if pa.types.is_timestamp(left.type):
            left, right = left.cast(pa.int64()), right.cast(pa.int64())
        assert left.to_pylist() == right.to_pylist(), name
