"""Fixtures for the causes' money tests: the lines app's GB market with stock."""

from __future__ import annotations

from tests.lines.conftest import gb, gb_stock

__all__ = ["gb", "gb_stock"]
