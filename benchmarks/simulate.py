"""Benchmark ``kindwave simulate``: records/s and peak memory, against the I/O floor.

    .venv/bin/python benchmarks/simulate.py [--subscribers 100000] [--days 7] [--country GB]

Two measurements, each in its own child process pinned to one CPU, so that its
peak resident memory (``getrusage`` high-water mark) and its speed are its own:

1. the simulation itself, end to end (geography, subscribers, every hour file);
2. the baseline: writing the same number of pre-formatted CSV lines (real lines
   taken from the simulation's output) into the same number of hour files,
   through the same gzip writer at the same level. That is the I/O floor: what
   it costs just to compress and write the bytes, with no generation at all.

The ratio says how close generation is to that limit (1.0 would be free).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def pin_to_one_cpu() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def child_simulate(args: argparse.Namespace) -> dict[str, object]:
    from kindwave.simulator.run import make_options, simulate

    options = make_options(
        country=args.country,
        subscribers=args.subscribers,
        days=args.days,
        seed=args.seed,
        start=None,
        out_dir=args.out_dir,
    )
    began = time.perf_counter()
    summary = simulate(options)
    return {
        "records": summary.records,
        "records_by_type": summary.records_by_type,
        "hour_files": summary.hour_files,
        "seconds": time.perf_counter() - began,
        "peak_rss_mib": peak_rss_mib(),
    }


def child_baseline(args: argparse.Namespace) -> dict[str, object]:
    from kindwave.simulator.writer import write_hour_file

    # Pre-format: real lines from the busiest hour file of the simulation.
    files = sorted(Path(args.out_dir, "usage").glob("*/*.csv.gz"))
    sample_file = max(files, key=lambda path: path.stat().st_size)
    with gzip.open(sample_file, "rb") as handle:
        lines = handle.read().split(b"\n")[1:-1]
    sample = b"\n".join(lines) + b"\n"
    per_hour, extra = divmod(args.records, args.hours)
    target = Path(args.out_dir, "baseline")

    began = time.perf_counter()
    written = 0
    for hour in range(args.hours):
        wanted = per_hour + (1 if hour < extra else 0)
        whole, rest = divmod(wanted, len(lines))
        body = [sample] * whole + [b"\n".join(lines[:rest]) + b"\n" if rest else b""]
        write_hour_file(target / f"{hour // 24:03d}" / f"usage-{hour:05d}.csv.gz", body)
        written += wanted
    return {
        "records": written,
        "seconds": time.perf_counter() - began,
        "peak_rss_mib": peak_rss_mib(),
        "sample_lines": len(lines),
    }


def run_child(mode: str, args: argparse.Namespace, **extra: object) -> dict[str, object]:
    command = [
        sys.executable,
        __file__,
        "--child",
        mode,
        "--subscribers",
        str(args.subscribers),
        "--days",
        str(args.days),
        "--country",
        args.country,
        "--seed",
        str(args.seed),
        "--out-dir",
        str(args.out_dir),
    ]
    for name, value in extra.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--country", default="GB")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out-dir", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--keep", action="store_true", help="keep the simulation's files")
    parser.add_argument("--child", choices=["simulate", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--records", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--hours", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        pin_to_one_cpu()
        child = child_simulate if args.child == "simulate" else child_baseline
        print(json.dumps(child(args)))
        return

    scratch = args.out_dir is None
    if scratch:
        args.out_dir = Path(tempfile.mkdtemp(prefix="kindwave-bench-")) / "sim"
    try:
        print(
            f"kindwave simulate --country {args.country} --subscribers {args.subscribers:,} "
            f"--days {args.days} --seed {args.seed} (one CPU per run)",
            flush=True,
        )
        sim = run_child("simulate", args)
        records, seconds = int(sim["records"]), float(sim["seconds"])
        size = sum(p.stat().st_size for p in Path(args.out_dir, "usage").rglob("*.gz"))
        print(
            f"  simulate: {records:,} records in {seconds:.1f} s = "
            f"{records / seconds:,.0f} rows/s; peak RSS {sim['peak_rss_mib']:,.0f} MiB; "
            f"{size / 2**20:,.0f} MiB of gzip",
            flush=True,
        )
        base = run_child("baseline", args, records=records, hours=sim["hour_files"])
        floor = float(base["seconds"])
        print(
            f"  baseline (gzip of {records:,} pre-formatted lines into the same files): "
            f"{floor:.1f} s = {records / floor:,.0f} rows/s; "
            f"peak RSS {base['peak_rss_mib']:,.0f} MiB"
        )
        print(
            f"  ratio: the simulation takes {seconds / floor:.2f}x the I/O floor "
            f"(generation and formatting add {seconds - floor:.1f} s)"
        )
    finally:
        shutil.rmtree(Path(args.out_dir, "baseline"), ignore_errors=True)
        if scratch and not args.keep:
            shutil.rmtree(args.out_dir.parent, ignore_errors=True)
        else:
            print(f"  simulation kept in {args.out_dir}")


if __name__ == "__main__":
    main()
