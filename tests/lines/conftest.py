"""Fixtures for the lines app: the demo catalogues, a stocked GB market, a line of alice's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kindwave.accounts.models import User
from kindwave.lines import services
from kindwave.lines.models import Line, Market
from kindwave.lines.validators import luhn_check_digit

# The demo catalogues take effect on 1 January 2026; the tests live in spring 2026.
AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
FIRST_NUMBER = "+447400100000"
LAST_NUMBER = "+447400100009"
FIRST_IMSI = "234307000000000"


def iccid(serial: int, prefix: str = "894430") -> str:
    """A valid ICCID: prefix + 12-digit serial + Luhn check digit (19 digits)."""
    body = f"{prefix}{serial:012d}"
    return body + luhn_check_digit(body)


FIRST_ICCID = iccid(202_600_000_000)


@pytest.fixture
def gb(db: None) -> Market:
    services.load_catalog_file(services.demo_catalog_path("gb"))
    return Market.objects.get(code="GB")


@pytest.fixture
def fr(db: None) -> Market:
    services.load_catalog_file(services.demo_catalog_path("fr"))
    return Market.objects.get(code="FR")


@pytest.fixture
def gb_stock(gb: Market) -> Market:
    """Ten numbers and ten SIMs in the GB pool."""
    services.add_number_block(gb, FIRST_NUMBER, LAST_NUMBER)
    services.add_sims(gb, FIRST_ICCID, FIRST_IMSI, 10)
    return gb


@pytest.fixture
def ordered_line(gb_stock: Market, alice: User) -> Line:
    return services.order_line(alice, gb_stock, "gb-starter", at=AT)


@pytest.fixture
def active_line(ordered_line: Line) -> Line:
    return services.activate_line(ordered_line, at=AT)
