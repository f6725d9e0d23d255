"""Benchmark ``kindwave usage ingest``: records/s from CSV.gz, against a bare DuckDB pass.

    .venv/bin/python benchmarks/ingest.py [--subscribers 20000] [--days 3] [--country GB]
        [--work DIR] [--repeat N]

In a throw-away data directory (its own SQLite database and lake):

1. simulate N subscribers for D days (``kindwave.simulator``), import the simulated lines
   and cells, as an operator would;
2. ingest every hour file (the measurement: validation, line check, de-duplication,
   quarantine, Parquet parts, manifest);
3. the floor: a bare DuckDB pass reading the same csv.gz files and writing every record
   to Parquet, with no check at all.

The ratio says how close the ingest is to that limit (1.0 would be free). The machine
may be shared: ``--repeat N`` runs the ingest (on a fresh lake and database each time)
and the bare pass N times, alternately, and reports the median of each and of their
ratios. The rating benchmark calls :func:`ingest_directory` to ingest a delivery and get
the rate.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def setup_django(data_dir: Path) -> None:
    """Point Kindwave at ``data_dir`` (database and lake) and start Django."""
    os.environ["KINDWAVE_DEBUG"] = "true"
    os.environ["KINDWAVE_DATA_DIR"] = str(data_dir)
    os.environ["DATABASE_URL"] = f"sqlite:///{data_dir / 'kindwave.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kindwave.settings")
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()


def prepare_operator(delivery: Path) -> None:
    """Migrate, load the catalogues and causes, import the simulated lines and cells."""
    from django.core.management import call_command

    from kindwave.causes import services as causes
    from kindwave.lines import services as lines
    from kindwave.usage import services as usage

    call_command("migrate", verbosity=0)
    lines.load_demo_catalogs()
    causes.load_demo_causes()
    lines.import_simulated_operator(delivery)
    usage.load_cells(delivery / "cells.csv")


def ingest_directory(delivery: Path, market_code: str = "GB") -> dict[str, Any]:
    """Ingest every usage file under ``delivery`` (Django set up, lines imported) and
    return the run's figures: records, accepted, seconds, records_per_second."""
    from kindwave.lines.models import Market
    from kindwave.usage import services as usage

    summary = usage.ingest_usage_files([delivery], market=Market.objects.get(code=market_code))
    return {
        "files": len(summary.ingested),
        "refused": len(summary.refused),
        "records": summary.records,
        "accepted": summary.accepted,
        "duplicates": summary.duplicates,
        "quarantined": summary.quarantined.total(),
        "seconds": summary.seconds,
        "records_per_second": summary.records_per_second,
    }


def fresh_lake(data: Path, pristine: Path) -> None:
    """Back to the prepared operator: its database as prepared, an empty lake."""
    from django.db import connections

    connections.close_all()
    shutil.copyfile(pristine, data / "kindwave.sqlite3")
    shutil.rmtree(data / "lake", ignore_errors=True)


def _median(runs: list[dict[str, Any]]) -> float:
    return statistics.median(run["seconds"] for run in runs)


def bare_duckdb_pass(delivery: Path, out: Path) -> dict[str, Any]:
    """Read the same csv.gz files with DuckDB and write every record to Parquet."""
    import duckdb

    files = sorted(str(path) for path in delivery.rglob("usage-*.csv.gz"))
    began = time.perf_counter()
    with duckdb.connect() as connection:
        connection.execute(
            "COPY (SELECT * FROM read_csv(?, header = true, all_varchar = true)) "
            "TO ? (FORMAT parquet, COMPRESSION zstd)",
            [files, str(out)],
        )
        records = connection.execute("SELECT count(*) FROM read_parquet(?)", [str(out)]).fetchone()
    seconds = time.perf_counter() - began
    count = int(records[0]) if records else 0
    return {"records": count, "seconds": seconds, "records_per_second": count / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--country", default="GB")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--repeat", type=int, default=1, help="ingest and bare pass this many times each"
    )
    parser.add_argument(
        "--work",
        type=Path,
        help="keep the simulation and the prepared operator in this directory and reuse "
        "them on the next run with the same options (setting up 20k lines takes minutes)",
    )
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="kindwave-bench-ingest-"))
    data, delivery = work / "data", work / "delivery"
    pristine = work / "prepared.sqlite3"
    key = f"{args.country} {args.subscribers} {args.days} {args.seed}"
    try:
        reuse = args.work is not None and (work / "prepared.key").is_file()
        reuse = reuse and (work / "prepared.key").read_text() == key
        if not reuse:
            shutil.rmtree(work, ignore_errors=True)
        data.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(data / "lake", ignore_errors=True)
        if reuse:
            shutil.copyfile(pristine, data / "kindwave.sqlite3")
        setup_django(data)
        from kindwave.simulator.run import make_options, simulate

        began = time.perf_counter()
        if not reuse:
            simulate(
                make_options(
                    country=args.country,
                    subscribers=args.subscribers,
                    days=args.days,
                    seed=args.seed,
                    start=None,
                    out_dir=delivery,
                )
            )
            prepare_operator(delivery)
            from django.db import connection

            connection.close()
            shutil.copyfile(data / "kindwave.sqlite3", pristine)
            (work / "prepared.key").write_text(key)
        simulated = time.perf_counter() - began
        ingests: list[dict[str, Any]] = []
        floors: list[dict[str, Any]] = []
        for attempt in range(max(1, args.repeat)):
            if attempt:
                fresh_lake(data, pristine)
            ingests.append(ingest_directory(delivery, args.country))
            floors.append(bare_duckdb_pass(delivery, work / "bare.parquet"))
        ratios = [i["seconds"] / f["seconds"] for i, f in zip(ingests, floors, strict=True)]
        ingest = min(ingests, key=lambda run: abs(run["seconds"] - _median(ingests)))
        floor = min(floors, key=lambda run: abs(run["seconds"] - _median(floors)))
        report = {
            "subscribers": args.subscribers,
            "days": args.days,
            "simulate_and_prepare_seconds": round(simulated, 2),
            "ingest": ingest,
            "bare_duckdb_csv_to_parquet": floor,
            "ingest_time_over_bare_time": statistics.median(ratios),
            "runs": {
                "ingest_records_per_second": [round(i["records_per_second"]) for i in ingests],
                "bare_records_per_second": [round(f["records_per_second"]) for f in floors],
                "ingest_time_over_bare_time": [round(ratio, 3) for ratio in ratios],
            },
            "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        }
        print(json.dumps(report, indent=2))
        print(
            f"ingest: {ingest['records']:,} records in {ingest['seconds']:.2f} s = "
            f"{ingest['records_per_second']:,.0f} records/s; bare DuckDB csv.gz → Parquet: "
            f"{floor['records_per_second']:,.0f} records/s; ratio (time) "
            f"{report['ingest_time_over_bare_time']:.2f}"
            + (f" (medians of {len(ingests)} runs)" if len(ingests) > 1 else "")
        )
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
