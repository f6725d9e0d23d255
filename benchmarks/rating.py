"""Benchmark the usage ingest and the rating, against the I/O floor and a naive rater.

    .venv/bin/python benchmarks/rating.py [--subscribers 20000] [--days 31] [--country GB]
                                          [--engine duckdb|spark] [--work DIR] [--sample 0.01]

One run, in a throw-away data directory and SQLite database (under --work, kept so a
second run reuses the simulation):

1. ``kindwave simulate`` a month (or --days) of usage for --subscribers (reused if present);
2. the real ingest (``usage.services.ingest_usage_files``): records/s;
3. the rating (``usage.services.rate_cycle``): records/s;
4. (a) the bare pass: DuckDB reads the same lake Parquet and writes every record back out
   unchanged (zstd) — the limit for any engine that must read and write each record once;
5. (b) a straightforward per-record Python rater (the selectors of ``lines``, one record at
   a time) on a --sample of the lines: records/s.

Prints the figures and the ratios against the targets of issue 3: rating ≥ 2M records/s,
≤ 3x the bare pass, ≥ 100x the naive rater.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path


def setup_django(work: Path) -> None:
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    os.environ["KINDWAVE_DATA_DIR"] = str(data)
    os.environ.setdefault("KINDWAVE_DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kindwave.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def simulate(args: argparse.Namespace, out: Path) -> None:
    if (out / "simulation.json").exists():
        print(f"simulation: reusing {out}")
        return
    from kindwave.simulator.run import make_options
    from kindwave.simulator.run import simulate as run

    began = time.perf_counter()
    summary = run(
        make_options(
            country=args.country,
            subscribers=args.subscribers,
            days=args.days,
            seed=args.seed,
            start=args.start,
            out_dir=out,
        )
    )
    print(f"simulation: {summary.records:,} records in {time.perf_counter() - began:.1f} s")


def fill_lake_directly(usage: Path, market: object) -> None:
    """Write every hour file's records as lake parts with manifest rows, unchecked — only
    so the rating can be timed while the real ingest cannot run."""
    import hashlib

    import duckdb

    from kindwave.usage import lake
    from kindwave.usage.fileformat import hour_of_file
    from kindwave.usage.models import UsageFile

    has_market = any(f.name == "market" for f in UsageFile._meta.get_fields())
    connection = duckdb.connect()
    connection.execute("SET TimeZone='UTC'")
    for path in sorted(usage.rglob("usage-*.csv.gz")):
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        if UsageFile.objects.filter(sha256=sha).exists():
            continue
        table = connection.execute(
            "SELECT record_id, record_type, msisdn, imsi, nullif(counterpart, '') AS counterpart, "
            "start_time::TIMESTAMPTZ AS start_time, duration_s::BIGINT AS duration_s, "
            "bytes_up::BIGINT AS bytes_up, bytes_down::BIGINT AS bytes_down, cell_id, "
            "visited_plmn, ? AS source_file FROM read_csv(?, all_varchar = true, header = true)",
            [sha, str(path)],
        ).to_arrow_table()
        hour = hour_of_file(path)
        relative = lake.part_name(hour.date(), sha)
        lake.write_part(relative, table)
        UsageFile.objects.create(
            sha256=sha, name=path.name, path=str(path), size=path.stat().st_size,
            status=UsageFile.Status.INGESTED, file_hour=hour, records=table.num_rows,
            accepted=table.num_rows, parts=[relative], **({"market": market} if has_market else {}),
        )  # fmt: skip


def naive_rate(sample_lines: list, cycle: str) -> tuple[int, float]:
    """Rate the sample lines' records one by one with the lines selectors (the baseline)."""
    import duckdb

    from kindwave.lines.selectors import (
        catalog_in_force,
        destination_class_for,
        line_state_at,
        plan_in_force,
        roaming_zone_for,
    )
    from kindwave.usage import lake
    from kindwave.usage.rating.cycles import cycle_bounds

    start, end = cycle_bounds(cycle)
    files = [str(p) for p in lake.ingested_parts(start.date(), end.date())]
    by_msisdn = {line.msisdn: line for line in sample_lines}
    connection = duckdb.connect()
    connection.register("wanted", __import__("pyarrow").table({"msisdn": list(by_msisdn)}))
    records = connection.execute(
        """SELECT record_id, record_type, msisdn, counterpart, epoch_us(start_time),
                  duration_s, bytes_up, bytes_down, visited_plmn
           FROM read_parquet(?) JOIN wanted USING (msisdn)
           ORDER BY msisdn, start_time, record_id""",
        [files],
    ).fetchall()
    from datetime import UTC, datetime

    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    used: dict[tuple, int] = defaultdict(int)
    total_units = 0
    began = time.perf_counter()
    for rid, rtype, msisdn, counterpart, micros, duration, up, down, plmn in records:
        del rid
        at = epoch + timedelta(microseconds=micros)
        line = by_msisdn[msisdn]
        if line_state_at(line, at) not in ("active", "suspended"):
            continue
        plan = plan_in_force(line, at)
        if plan is None:
            continue
        catalog = plan.catalog
        zone = roaming_zone_for(catalog, plmn[:3])
        home = zone is not None and zone.rated_as_home
        service = (
            "voice" if rtype.startswith("voice") else "sms" if rtype.startswith("sms") else "data"
        )
        out = not rtype.endswith("_mt")
        klass = destination_class_for(catalog, counterpart) if counterpart and out else None
        if service == "data":
            quantity = math.ceil((up + down) / 1000)
        elif service == "sms":
            quantity = 1
        elif duration == 0:
            quantity = 0
        else:
            m, inc = plan.call_minimum_seconds, plan.call_increment_seconds
            quantity = m + math.ceil(max(duration - m, 0) / inc) * inc
        included = 0
        if home and out:
            covers = {c.pk for c in plan.allowance_covers.all()}
            allowance = {
                "voice": plan.included_minutes and plan.included_minutes * 60,
                "sms": plan.included_sms,
                "data": plan.included_data_mb and plan.included_data_mb * 1000,
            }[service]
            if service == "data" or (klass is not None and klass.pk in covers):
                key = (line.pk, plan.code, service)
                left = max((allowance or 0) - used[key], 0)
                included = quantity if allowance is None else min(left, quantity)
                used[key] += quantity
        charged = quantity - included
        if home and out and service != "data" and klass is not None:
            rate = plan.rates.get(destination_class=klass)
            price = rate.voice_per_minute if service == "voice" else rate.sms_per_message
        elif home and service == "data":
            price = plan.data_per_mb
        elif home:
            price = 0
        else:
            price = {
                ("voice", True): zone.voice_out_per_minute,
                ("voice", False): zone.voice_in_per_minute,
                ("sms", True): zone.sms_out,
                ("sms", False): zone.sms_in,
                ("data", True): zone.data_per_mb,
            }[(service, out)]
        total_units += int(charged * (price or 0) * 1_000_000)
    del catalog_in_force
    return len(records), time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--country", default="GB")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--start", default=None, help="first day (default 2026-10-01)")
    parser.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb")
    parser.add_argument("--sample", type=float, default=0.01, help="share of lines, naive rater")
    parser.add_argument("--work", type=Path, default=Path("var/bench-rating"))
    args = parser.parse_args()
    if not 1 <= args.days <= 31:
        parser.error("--days must be 1..31 (one cycle)")
    work = args.work.resolve() / f"{args.country}-{args.subscribers}-{args.days}-{args.seed}"
    simulation = work / "simulation"
    setup_django(work)
    simulate(args, simulation)

    from kindwave.lines import services as lines
    from kindwave.lines.models import Line, Market
    from kindwave.usage import lake, services

    results: dict[str, object] = {}
    lines.load_demo_catalogs()
    if not Line.objects.exists():
        from kindwave.causes import services as causes

        causes.load_demo_causes()
        lines.import_simulated_operator(simulation)
        services.load_cells(simulation / "cells.csv")
    market = Market.objects.get(code=args.country)

    began = time.perf_counter()
    try:
        ingest = services.ingest_usage_files([simulation / "usage"], market=market)
    except Exception as error:  # the ingest is being rewritten: still measure the rating
        print(
            f"ingest FAILED ({type(error).__name__}: {str(error)[:200]}); filling the lake directly"
        )
        fill_lake_directly(simulation / "usage", market)
        ingest = None
    seconds = time.perf_counter() - began
    if ingest is not None and ingest.records:
        results["ingest"] = {
            "records": ingest.records,
            "seconds": round(seconds, 2),
            "records_per_s": round(ingest.records / seconds),
        }
        print(
            f"ingest: {ingest.records:,} records, {seconds:.1f} s, "
            f"{ingest.records / seconds:,.0f}/s"
        )
    else:
        print("ingest: already ingested (delete --work to time it again)")

    first_day = date.fromisoformat(args.start) if args.start else date(2026, 10, 1)
    cycle = f"{first_day:%Y-%m}"
    summary = services.rate_cycle(cycle, engine=args.engine)
    results["rating"] = {
        "engine": args.engine,
        "records": summary.records,
        "rated": summary.rated,
        "unrated": dict(summary.unrated),
        "seconds": round(summary.seconds, 2),
        "records_per_s": round(summary.records_per_second),
    }
    print(
        f"rating ({args.engine}): {summary.records:,} records, {summary.seconds:.1f} s, "
        f"{summary.records_per_second:,.0f}/s; unrated {dict(summary.unrated)}"
    )

    import duckdb

    files = [str(p) for p in lake.ingested_parts()]
    bare_out = work / "bare.parquet"
    connection = duckdb.connect()
    began = time.perf_counter()
    connection.read_parquet(files, hive_partitioning=False).write_parquet(
        str(bare_out), compression="zstd"
    )
    bare = time.perf_counter() - began
    bare_out.unlink()
    results["bare_pass"] = {
        "seconds": round(bare, 2),
        "records_per_s": round(summary.records / bare),
    }
    print(f"bare DuckDB read+write: {bare:.1f} s, {summary.records / bare:,.0f}/s")

    every = Line.objects.filter(market=market).order_by("pk")
    step = max(1, round(1 / args.sample))
    sample = list(
        every.filter(pk__in=list(every.values_list("pk", flat=True))[::step])
        .select_related("market")
        .prefetch_related("state_changes", "plan_subscriptions")
    )
    naive_records, naive_seconds = naive_rate(sample, cycle)
    naive_rps = naive_records / naive_seconds if naive_seconds else 0.0
    results["naive"] = {
        "lines": len(sample),
        "records": naive_records,
        "seconds": round(naive_seconds, 2),
        "records_per_s": round(naive_rps),
    }
    print(
        f"naive per-record Python ({len(sample)} lines): {naive_records:,} records, "
        f"{naive_rps:,.0f}/s"
    )

    ratio_bare = summary.seconds / bare
    ratio_naive = summary.records_per_second / naive_rps if naive_rps else math.inf
    results["ratios"] = {
        "rating_over_bare_time": round(ratio_bare, 2),
        "rating_over_naive_speed": round(ratio_naive, 1),
    }
    print(
        f"\nrating {summary.records_per_second:,.0f} records/s (target ≥ 2,000,000); "
        f"{ratio_bare:.2f}x the bare pass's time (target ≤ 3); "
        f"{ratio_naive:,.0f}x the naive rater (target ≥ 100)"
    )
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
