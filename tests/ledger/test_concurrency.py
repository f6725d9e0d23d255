"""Concurrent transfers over the same accounts lose nothing (PostgreSQL: real row locks)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

from kindwave.ledger import services
from kindwave.ledger.models import Account, Transfer, balance

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serialises writers (BEGIN IMMEDIATE); row locks need PostgreSQL",
    ),
]

THREADS, EACH = 8, 25


def test_parallel_transfers_both_ways_keep_exact_balances() -> None:
    services.open_account("bank", "Bank", "asset", "GBP")
    services.open_account("revenue", "Revenue", "revenue", "GBP")
    services.open_account("cause", "Cause", "liability", "GBP")

    def work(thread: int) -> None:
        try:
            for number in range(EACH):
                services.transfer(f"{thread}:{number}", "bank", "revenue", 100, "GBP", "bill")
                # The other way round and a third account: lock order must not deadlock.
                services.transfer(f"{thread}:{number}:s", "revenue", "cause", 10, "GBP", "share")
                # Every thread also replays the same shared keys: one transfer each.
                services.transfer(f"shared:{number}", "cause", "bank", 1, "GBP", "refund")
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(work, range(THREADS)))

    bank, revenue, cause = (Account.objects.get(code=code) for code in ("bank", "revenue", "cause"))
    assert balance(revenue) == THREADS * EACH * 90
    assert balance(cause) == THREADS * EACH * 10 - EACH
    assert balance(bank) == THREADS * EACH * 100 - EACH
    assert Transfer.objects.count() == THREADS * EACH * 2 + EACH
    assert services.verify().ok


def test_a_reservation_posted_and_voided_at_once_is_resolved_once() -> None:
    services.open_account("wallet", "Wallet", "liability", "GBP")
    services.open_account("revenue", "Revenue", "revenue", "GBP")
    pending = services.reserve("r", "wallet", "revenue", 500, "GBP", "carrier")

    def resolve(number: int) -> str:
        action = services.post_pending if number % 2 else services.void_pending
        try:
            action(f"r:{number}", pending)
            return "done"
        except services.LedgerError:
            return "refused"
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(resolve, range(12)))
    assert results.count("done") == 1
    assert Transfer.objects.filter(pending_of=pending).count() == 1
    assert services.verify().ok
