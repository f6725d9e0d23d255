"""The pledge against concurrent writers on PostgreSQL (real row locks): two pledge runs at
once record one pledge, and a cost saved while the pledge posts is counted or refused,
never saved and left out. SQLite serialises every writer (BEGIN IMMEDIATE), so these
races cannot happen there."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.db import connection, connections

from kindwave.billing.models import OperatingCost, Pledge
from kindwave.billing.services import costs, pledge
from kindwave.ledger import services as ledger
from kindwave.ledger.models import Transfer
from kindwave.lines.models import Market
from tests.billing.factories import make_invoice
from tests.causes.money import line_for, subscriber

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serialises writers (BEGIN IMMEDIATE); row locks need PostgreSQL",
    ),
]

OPTIONS = pledge.PledgeOptions(Decimal(25), "profit", "subscribers")
WAIT = 10  # seconds: a bound on every wait, so a broken lock fails instead of hanging


@pytest.fixture
def billed_quarter(gb_stock: Market) -> None:
    """2026-Q2 billed in GBP: 100,000 of revenue over its three cycles."""
    line = line_for(subscriber(1), gb_stock, None, datetime(2026, 3, 1, tzinfo=UTC))
    for cycle, net in (("2026-04", 30_000), ("2026-05", 30_000), ("2026-06", 40_000)):
        make_invoice(line, cycle, net_minor=net, vat_minor=net // 5)


def in_thread(work: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        try:
            return work()
        finally:
            connections.close_all()

    return run


def test_two_pledge_runs_at_once_record_one_pledge(billed_quarter: None) -> None:
    start = threading.Barrier(2)

    def run() -> tuple[bool, int]:
        start.wait(WAIT)
        (outcome,) = pledge.post_pledge("2026-Q2", OPTIONS)
        return outcome.created, outcome.pledge.pk

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = [pool.submit(in_thread(run)) for _ in range(2)]
        outcomes = sorted(future.result(timeout=WAIT * 3) for future in results)

    assert [created for created, _pk in outcomes] == [False, True]
    assert len({pk for _created, pk in outcomes}) == 1
    assert Pledge.objects.count() == 1
    assert Transfer.objects.filter(idempotency_key__startswith="pledge:2026-Q2:GBP/").count() == 2
    assert ledger.verify().ok


def test_a_cost_saved_while_the_pledge_posts_is_refused(billed_quarter: None) -> None:
    computing, saving = threading.Event(), threading.Event()
    real_compute = pledge.compute_pledge

    def slow_compute(*args: Any, **kwargs: Any) -> pledge.PledgeComputation:
        computing.set()  # the pledge holds the cost lock now; let the cost try
        saving.wait(0.5)  # …and give it time to reach the lock
        return real_compute(*args, **kwargs)

    def save_cost() -> str:
        computing.wait(WAIT)
        saving.set()
        try:
            costs.record_cost("2026-Q2", "operating", "GBP", 5_000, "late rent", None)
        except costs.CostError as error:
            return str(error)
        return "saved"

    with (
        mock.patch.object(pledge, "compute_pledge", slow_compute),
        ThreadPoolExecutor(max_workers=2) as pool,
    ):
        posting = pool.submit(in_thread(lambda: pledge.post_pledge("2026-Q2", OPTIONS)))
        saved = pool.submit(in_thread(save_cost))
        posting.result(timeout=WAIT * 3)
        outcome = saved.result(timeout=WAIT * 3)

    assert "already posted" in outcome
    assert not OperatingCost.objects.exists()
    assert Pledge.objects.get().operating_minor == 0


def test_a_pledge_asked_while_a_cost_is_saved_counts_it(billed_quarter: None) -> None:
    locked, asked = threading.Event(), threading.Event()
    real_transfer = ledger.transfer

    def slow_transfer(*args: Any, **kwargs: Any) -> Transfer:
        locked.set()  # the cost holds the lock, its row written, not yet committed
        asked.wait(0.5)
        return real_transfer(*args, **kwargs)

    def ask_pledge() -> int:
        locked.wait(WAIT)
        asked.set()
        (outcome,) = pledge.post_pledge("2026-Q2", OPTIONS)
        return outcome.pledge.operating_minor

    with (
        mock.patch("kindwave.billing.services.costs.ledger.transfer", slow_transfer),
        ThreadPoolExecutor(max_workers=2) as pool,
    ):
        saving = pool.submit(
            in_thread(lambda: costs.record_cost("2026-Q2", "operating", "GBP", 5_000, "rent", None))
        )
        counted = pool.submit(in_thread(ask_pledge))
        saving.result(timeout=WAIT * 3)

        assert counted.result(timeout=WAIT * 3) == 5_000
    assert ledger.verify().ok
