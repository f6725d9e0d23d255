"""Concurrent orders never get the same number or SIM (PostgreSQL: real row locks)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

from kindwave.accounts import services as accounts
from kindwave.lines import services
from kindwave.lines.models import Line

from .conftest import AT, FIRST_ICCID, FIRST_IMSI, FIRST_NUMBER, LAST_NUMBER

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serialises writers (BEGIN IMMEDIATE); row locks need PostgreSQL",
    ),
]


def test_parallel_orders_each_get_their_own_number_and_sim() -> None:
    services.load_catalog_file(services.demo_catalog_path("gb"))
    services.add_number_block("GB", FIRST_NUMBER, LAST_NUMBER)
    services.add_sims("GB", FIRST_ICCID, FIRST_IMSI, 10)
    people = [
        accounts.create_subscriber(email=f"p{i}@example.org", full_name=f"P {i}") for i in range(12)
    ]

    def order(index: int) -> str:
        try:
            return services.order_line(people[index], "GB", "gb-starter", at=AT).msisdn
        except services.OutOfStockError:
            return "out of stock"
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(order, range(12)))

    numbers = [result for result in results if result != "out of stock"]
    assert len(numbers) == 10
    assert len(set(numbers)) == 10
    assert results.count("out of stock") == 2
    assert Line.objects.values("sim").distinct().count() == 10
