"""Benchmark the ledger: transfers/s in linked batches and one by one, against a bulk
insert of the same rows, and ``verify``.

    .venv/bin/python benchmarks/ledger.py [--batches 200] [--batch-size 100] [--single 2000]
                                          [--bulk-batches 50] [--bulk-size 1000]
                                          [--accounts 50] [--database-url URL]

In a throw-away SQLite database (or an empty PostgreSQL database given by
``--database-url``; its ledger tables are emptied first):

1. ``transfer_linked`` batches of --batch-size legs over --accounts accounts: transfers/s
   (every leg validated, idempotency-checked, accounts locked, totals updated);
2. ``transfer_batch`` (the bulk path the bill run uses): --bulk-batches calls of
   --bulk-size transfers each, in linked groups of four legs (an invoice's postings);
3. ``transfer`` one at a time (one transaction each): transfers/s;
4. the limit: ``bulk_create`` of the same number of transfer rows, no check and no
   balance update;
5. ``verify`` over everything written: transfers/s.

Target of issue 4: ≥ 20,000 transfers/s in batches.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def setup_django(database_url: str | None, work: Path) -> None:
    os.environ["KINDWAVE_DEBUG"] = "true"
    os.environ["KINDWAVE_DATA_DIR"] = str(work)
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{work / 'kindwave.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kindwave.settings")
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.conf import settings

    settings.DEBUG = False  # as in production: Django's query log would format every param


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--single", type=int, default=2000)
    parser.add_argument("--bulk-batches", type=int, default=50)
    parser.add_argument("--bulk-size", type=int, default=1000)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kindwave-ledger-bench-") as work:
        setup_django(args.database_url, Path(work))
        run(args)


def run(args: argparse.Namespace) -> None:
    from django.db import connection

    from kindwave.ledger import services
    from kindwave.ledger.models import Account, Transfer
    from kindwave.ledger.services import Leg

    Transfer.objects.all().delete()  # a throw-away database: the benchmark's own rows
    Account.objects.all().delete()
    codes = [f"bench:{n}" for n in range(args.accounts)]
    for n, code in enumerate(codes):
        services.open_account(code, code, "asset" if n % 2 else "liability", "GBP")
    rng = random.Random(4)

    def legs(count: int) -> list[Leg]:
        out = []
        for _ in range(count):
            debit, credit = rng.sample(codes, 2)
            out.append(Leg(debit, credit, rng.randint(1, 10_000), "GBP", "bench"))
        return out

    print(f"database: {connection.vendor}")
    plan = [legs(args.batch_size) for _ in range(args.batches)]
    began = time.perf_counter()
    for number, batch in enumerate(plan):
        services.transfer_linked(f"batch:{number}", batch)
    linked = args.batches * args.batch_size
    linked_rate = linked / (time.perf_counter() - began)
    print(
        f"transfer_linked: {linked:,} transfers in batches of {args.batch_size}: "
        f"{linked_rate:,.0f} transfers/s"
    )

    legs_per_group = 4
    groups_per_call = max(args.bulk_size // legs_per_group, 1)
    bulk_plan = [
        [(f"bulk-group:{call}:{n}", legs(legs_per_group)) for n in range(groups_per_call)]
        for call in range(args.bulk_batches)
    ]
    began = time.perf_counter()
    batched = sum(services.transfer_batch(groups) for groups in bulk_plan)
    batch_rate = batched / (time.perf_counter() - began)
    print(
        f"transfer_batch: {batched:,} transfers, {groups_per_call * legs_per_group:,} a call "
        f"(groups of {legs_per_group}): {batch_rate:,.0f} transfers/s"
    )

    began = time.perf_counter()
    for number, leg in enumerate(legs(args.single)):
        services.transfer(
            f"single:{number}", leg.debit, leg.credit, leg.amount, leg.currency, leg.code
        )
    single_rate = args.single / (time.perf_counter() - began)
    print(f"transfer: {args.single:,} transfers one by one: {single_rate:,.0f} transfers/s")

    accounts = {account.code: account for account in Account.objects.all()}
    rows = [
        Transfer(
            idempotency_key=f"bulk:{number}:{index}",
            debit_account=accounts[str(leg.debit)],
            credit_account=accounts[str(leg.credit)],
            amount=leg.amount,
            currency="GBP",
            code="bench",
            state="posted",
            payload_sha256="0" * 64,
        )
        for number, batch in enumerate(plan)
        for index, leg in enumerate(batch)
    ]
    began = time.perf_counter()
    for start in range(0, len(rows), args.batch_size):
        Transfer.objects.bulk_create(rows[start : start + args.batch_size])
    bulk_rate = len(rows) / (time.perf_counter() - began)
    print(
        f"limit: bulk_create of {len(rows):,} rows in batches of {args.batch_size}: "
        f"{bulk_rate:,.0f} rows/s (linked reaches {linked_rate / bulk_rate:.0%} of it)"
    )
    # The bulk rows moved no balance: put the ledger back in order before verifying.
    Transfer.objects.filter(idempotency_key__startswith="bulk:").delete()

    began = time.perf_counter()
    result = services.verify()
    verify_rate = result.transfers / (time.perf_counter() - began)
    print(
        f"verify: {result.transfers:,} transfers, {'ok' if result.ok else 'MISMATCH'}: "
        f"{verify_rate:,.0f} transfers/s"
    )
    target = 20_000
    verdict = "met" if batch_rate >= target else "NOT met"
    print(f"target ≥ {target:,} transfers/s in batches (transfer_batch): {verdict}")


if __name__ == "__main__":
    main()
