"""Crash injection: SIGKILL ``kindwave billing run`` at random points, several times, then
run it to the end — the invoices, their lines, the transfers and every balance are those of
an uninterrupted run, and the numbers never have a gap. On SQLite (a file database) and,
when ``DATABASE_URL`` points at PostgreSQL (CI), on PostgreSQL too.

One operator (simulated subscribers, ingested and rated through the real commands) is
built once per database kind; each run gets a copy of it."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import pytest

KINDWAVE = [sys.executable, "-m", "kindwave.cli"]
CYCLE = "2026-10"
ROOT = Path(__file__).parents[2]
SERVER = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = SERVER.startswith(("postgres:", "postgresql:"))


class Databases(Protocol):
    def url(self, name: str) -> str: ...
    def copy(self, source: str, target: str) -> None: ...
    def rows(self, name: str, sql: str) -> list[tuple[Any, ...]]: ...


class SqliteFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def url(self, name: str) -> str:
        return f"sqlite:///{self.root / name}.sqlite3"

    def copy(self, source: str, target: str) -> None:
        shutil.copyfile(self.root / f"{source}.sqlite3", self.root / f"{target}.sqlite3")

    def rows(self, name: str, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.root / f"{name}.sqlite3") as connection:
            return connection.execute(sql).fetchall()


class PostgresDatabases:
    """Databases on the server of ``DATABASE_URL``, named ``crash_<name>``."""

    def __init__(self, server: str) -> None:
        self.server = urlsplit(server)

    def url(self, name: str) -> str:
        return urlunsplit(self.server._replace(path=f"/crash_{name}"))

    def _connect(self, url: str) -> Any:
        import psycopg

        return psycopg.connect(url, autocommit=True)

    def create(self, name: str, template: str | None = None) -> None:
        with self._connect(urlunsplit(self.server)) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "crash_{name}"')
            suffix = f' TEMPLATE "crash_{template}"' if template else ""
            connection.execute(f'CREATE DATABASE "crash_{name}"{suffix}')

    def copy(self, source: str, target: str) -> None:
        self.create(target, template=source)

    def rows(self, name: str, sql: str) -> list[tuple[Any, ...]]:
        with self._connect(self.url(name)) as connection:
            return connection.execute(sql).fetchall()


def env(data_dir: Path, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "KINDWAVE_DEBUG": "true",
        "KINDWAVE_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
    }


def kindwave(data_dir: Path, database_url: str, *args: str) -> str:
    done = subprocess.run(
        [*KINDWAVE, *args],
        env=env(data_dir, database_url),
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def operator(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Databases, Path]:
    """A rated cycle of 200 simulated GB subscribers (and the demo's own lines)."""
    if request.param == "postgresql" and not ON_POSTGRES:
        pytest.skip("DATABASE_URL does not point at PostgreSQL (CI runs this)")
    root = tmp_path_factory.mktemp(f"billcrash-{request.param}")
    databases: Databases
    if request.param == "postgresql":
        postgres = PostgresDatabases(SERVER)
        postgres.create("base")
        databases = postgres
    else:
        databases = SqliteFiles(root)
    data_dir, delivery = root / "data", root / "delivery"
    base = databases.url("base")
    kindwave(
        root / "sim", base, "simulate", "--country", "GB", "--subscribers", "200",
        "--days", "1", "--seed", "11", "--start", "2026-10-05", str(delivery),
    )  # fmt: skip
    kindwave(data_dir, base, "migrate", "-v0")
    kindwave(data_dir, base, "catalog", "load", str(ROOT / "src/kindwave/lines/catalogs/gb.toml"))
    kindwave(data_dir, base, "demo", "--no-simulation")
    kindwave(data_dir, base, "lines", "import", str(delivery), "--quiet")
    kindwave(data_dir, base, "usage", "cells", "load", str(delivery / "cells.csv"))
    kindwave(data_dir, base, "usage", "ingest", str(delivery), "--market", "GB", "--quiet")
    kindwave(data_dir, base, "usage", "rate", "--cycle", CYCLE, "--quiet")
    return databases, data_dir


BOOKS = {
    "invoices": """
        SELECT i.number, i.line_id, i.cycle, i.net_minor, i.vat_minor, i.extras_minor,
               i.credits_minor, i.total_minor, i.cause_id, i.cause_share_minor, i.status
        FROM billing_invoice i ORDER BY i.number""",
    "lines": """
        SELECT i.number, l.position, l.kind, l.description, l.amount_minor, l.quantity
        FROM billing_invoiceline l JOIN billing_invoice i ON i.id = l.invoice_id
        ORDER BY i.number, l.position""",
    "transfers": """
        SELECT t.idempotency_key, d.code, c.code, t.amount, t.code, t.payload_sha256
        FROM ledger_transfer t
        JOIN ledger_account d ON d.id = t.debit_account_id
        JOIN ledger_account c ON c.id = t.credit_account_id
        ORDER BY t.idempotency_key""",
    "balances": """
        SELECT code, debits_posted, credits_posted, debits_pending, credits_pending
        FROM ledger_account ORDER BY code""",
    "sequences": "SELECT market_id, year, last_number FROM billing_invoicesequence ORDER BY 1, 2",
}


def books(databases: Databases, name: str) -> dict[str, list[tuple[Any, ...]]]:
    return {part: databases.rows(name, sql) for part, sql in BOOKS.items()}


def assert_no_gap(databases: Databases, name: str) -> int:
    """Each market's numbers of the year run 1, 2, 3… with no gap; returns the count."""
    numbers: dict[tuple[Any, Any], list[int]] = {}
    for market, year, sequence in databases.rows(
        name, "SELECT market_id, year, sequence FROM billing_invoice"
    ):
        numbers.setdefault((market, year), []).append(sequence)
    for used in numbers.values():
        assert sorted(used) == list(range(1, len(used) + 1))
    return sum(len(used) for used in numbers.values())


def test_sigkill_mid_bill_run_then_rerun_gives_the_uninterrupted_books(
    operator: tuple[Databases, Path],
) -> None:
    databases, data_dir = operator
    seed = random.randrange(10**6)
    rng = random.Random(seed)
    # Given two copies of the same operator, one billed without interruption
    databases.copy("base", "calm")
    databases.copy("base", "crashed")
    kindwave(data_dir, databases.url("calm"), "billing", "run", "--cycle", CYCLE, "--quiet")
    calm = books(databases, "calm")
    total = len(calm["invoices"])
    assert total > 150

    # When the other is killed three times at random points of its run (small batches, so
    # most kills land inside a batch's transaction)
    killed_at = 0
    for round_number in range(1, 4):
        child = subprocess.Popen(
            [*KINDWAVE, "billing", "run", "--cycle", CYCLE, "--batch-size", "3", "--quiet"],
            env=env(data_dir, databases.url("crashed")),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        target = rng.randint(killed_at + 1, total * round_number // 4)
        deadline = time.monotonic() + 120
        while child.poll() is None and time.monotonic() < deadline:
            if databases.rows("crashed", "SELECT count(*) FROM billing_invoice")[0][0] >= target:
                break
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.01))
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert child.returncode == -signal.SIGKILL, (
            f"the run finished before the kill (seed {seed})"
        )
        killed_at = assert_no_gap(databases, "crashed")
        assert killed_at < total, f"seed {seed}"

    # Then running it again completes the very same books
    out = kindwave(
        data_dir, databases.url("crashed"), "billing", "run", "--cycle", CYCLE, "--quiet"
    )
    assert f"{total} invoices" in out
    assert books(databases, "crashed") == calm, f"seed {seed}"
    assert "verifies" in kindwave(data_dir, databases.url("crashed"), "ledger", "verify", "--quiet")
    again = kindwave(data_dir, databases.url("crashed"), "billing", "run", "--cycle", CYCLE)
    assert "already complete" in again
