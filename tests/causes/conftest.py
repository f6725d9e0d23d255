"""Fixtures for the causes' money tests: the lines app's GB market with stock, and an empty
cache for each test (the rate limits' counters and the computed feed live there; a test
database reuses ids, so a feed cached by an earlier test could match a later one's ledger)."""

from __future__ import annotations

from collections.abc import Iterator
from unittest import mock

import pytest
from django.core.cache import cache

from tests.lines.conftest import gb, gb_stock

__all__ = ["gb", "gb_stock"]


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.clear()


@pytest.fixture
def frozen_clock() -> Iterator[None]:
    """The rate limiter's clock stopped 5 s into a minute, so that a test's requests all
    fall in one counting window however long they take."""
    with mock.patch("kindwave.lib.ratelimit.time.time", return_value=1_800_000_005.0):
        yield
