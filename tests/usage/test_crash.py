"""Crash injection: SIGKILL the ingest mid-run, run it again — the lake is the same as after
an uninterrupted run. Runs the real command in child processes, each operator in a data
directory (and SQLite database) of its own."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

KINDWAVE = [sys.executable, "-m", "kindwave.cli"]


# The crashed run checks files in small batches (a few files each), so that the kill lands
# between batches; the calm run takes them all in one. Their lakes must still be identical.
SMALL_BATCHES = {"KINDWAVE_INGEST_BATCH_MB": "0.05"}


def run(data_dir: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KINDWAVE, *args], env=env(data_dir, **extra), check=True, capture_output=True, text=True
    )


def env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        **extra,
        "KINDWAVE_DEBUG": "true",
        "KINDWAVE_DATA_DIR": str(data_dir),
        # Never the suite's own database (CI sets DATABASE_URL for its PostgreSQL pass).
        "DATABASE_URL": f"sqlite:///{data_dir / 'kindwave.sqlite3'}",
    }


def operator(data_dir: Path, delivery: Path) -> None:
    run(data_dir, "migrate", "-v0")
    run(
        data_dir,
        "catalog",
        "load",
        str(Path(__file__).parents[2] / "src/kindwave/lines/catalogs/gb.toml"),
    )
    run(data_dir, "demo", "--no-simulation")  # the causes the simulated subscribers chose
    run(data_dir, "lines", "import", str(delivery), "--quiet")
    run(data_dir, "usage", "cells", "load", str(delivery / "cells.csv"))


def lake(data_dir: Path) -> dict[str, str]:
    root = data_dir / "lake"
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*.parquet"))
    }


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("crash") / "gb"
    subprocess.run(
        [
            *KINDWAVE,
            "simulate",
            "--country",
            "GB",
            "--subscribers",
            "600",
            "--days",
            "2",
            "--seed",
            "11",
            "--start",
            "2026-10-05",
            str(out),
        ],
        env=env(out.parent / "sim"),
        check=True,
        capture_output=True,
    )
    return out


def test_sigkill_mid_ingest_then_rerun_gives_the_uninterrupted_lake(
    tmp_path: Path, delivery: Path
) -> None:
    # Given two identical operators
    calm, crashed = tmp_path / "calm", tmp_path / "crashed"
    for data_dir in (calm, crashed):
        operator(data_dir, delivery)
    run(calm, "usage", "ingest", str(delivery), "--market", "GB", "--quiet")

    # When the ingest is killed once a few files are in
    child = subprocess.Popen(
        [*KINDWAVE, "usage", "ingest", str(delivery), "--market", "GB", "--quiet"],
        env=env(crashed, **SMALL_BATCHES),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while len(list((crashed / "lake").rglob("*.parquet*"))) < 6 and child.poll() is None:
        assert time.monotonic() < deadline, "the ingest wrote nothing in two minutes"
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait()
    interrupted = lake(crashed)

    # Then it had stopped part-way, and running it again completes the same lake
    assert child.returncode == -signal.SIGKILL, "the ingest finished before it could be killed"
    assert 0 < len(interrupted) < len(lake(calm))
    run(crashed, "usage", "ingest", str(delivery), "--market", "GB", "--quiet", **SMALL_BATCHES)
    assert lake(crashed) == lake(calm)
    again = run(crashed, "usage", "ingest", str(delivery), "--market", "GB", "--quiet")
    assert "0 ingested" in again.stdout
