"""Reservations racing for the same subscriber cannot together pass the monthly limit
(PostgreSQL: real row locks; SQLite serialises every writer)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

from kindwave.billing.models import CarrierCharge
from kindwave.billing.services import carrier
from kindwave.ledger import services as ledger
from kindwave.lines.models import Line
from tests.billing.test_carrier import AT, buy

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serialises writers (BEGIN IMMEDIATE); row locks need PostgreSQL",
    ),
]

THREADS, EACH, AMOUNT, LIMIT = 8, 5, 100, 1_750


def test_racing_reservations_stay_within_the_limit(active_line: Line) -> None:
    user = active_line.owner
    carrier.set_limit(user, enabled=True, monthly_limit_minor=LIMIT)

    def work(thread: int) -> int:
        made = 0
        try:
            for number in range(EACH):
                try:
                    buy(user, f"{thread}:{number}", AMOUNT)
                    made += 1
                except carrier.CarrierBillingError:
                    pass
        finally:
            connections.close_all()
        return made

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        made = sum(pool.map(work, range(THREADS)))

    assert made == LIMIT // AMOUNT
    assert carrier.spent_in_month(user, "2026-03", at=AT) == (LIMIT // AMOUNT) * AMOUNT
    assert CarrierCharge.objects.count() == made
    assert ledger.verify().ok


def test_the_same_client_key_raced_is_one_charge(active_line: Line) -> None:
    user = active_line.owner

    def work(_thread: int) -> str:
        try:
            return str(buy(user, "same", AMOUNT).reference)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        references = set(pool.map(work, range(THREADS)))

    assert len(references) == 1
    assert CarrierCharge.objects.count() == 1
    assert ledger.verify().ok
