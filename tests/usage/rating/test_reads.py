"""The rating's read API (kindwave.usage.services): cycles, money, and each line's own
data only."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from tests.usage.rating.conftest import Rec, at, deliver

from kindwave.usage import services
from kindwave.usage.rating.cycles import UNITS_PER_MAJOR, units_to_decimal, units_to_minor

CYCLE = "2026-10"
NATIONAL = "+442071234567"


class TestCycles:
    def test_bounds_are_the_utc_month(self) -> None:
        assert services.cycle_bounds("2026-12") == (
            datetime(2026, 12, 1, tzinfo=UTC),
            datetime(2027, 1, 1, tzinfo=UTC),
        )

    @pytest.mark.parametrize("bad", ["2026-00", "2026-13", "26-10", "2026/10", "", "2026-1"])
    def test_a_bad_cycle_is_a_value_error(self, bad: str) -> None:
        with pytest.raises(ValueError, match="cycle"):
            services.cycle_bounds(bad)

    def test_current_cycle_is_in_utc(self) -> None:
        from zoneinfo import ZoneInfo

        paris = datetime(2026, 11, 1, 0, 30, tzinfo=ZoneInfo("Europe/Paris"))
        assert services.current_cycle(paris) == "2026-10"


class TestMoney:
    @pytest.mark.parametrize(
        ("amount", "minor"),
        [("0.125", 12), ("0.135", 14), ("0.1250001", 13), ("2.5", 250), ("0.005", 0)],
    )
    def test_to_minor_units_is_half_even(self, amount: str, minor: int) -> None:
        assert services.to_minor_units(Decimal(amount), "GBP") == minor

    def test_units_round_the_same_through_decimal_and_integers(self) -> None:
        for units in [0, 1, 299_999_999, 300_000_000, 900_000_000, 20_000_000_000, 10**15 + 7]:
            assert services.to_minor_units(units_to_decimal(units), "EUR") == units_to_minor(
                units, "EUR"
            )
        assert units_to_decimal(UNITS_PER_MAJOR) == 1


@pytest.fixture
def two_lines(make_line, bob):
    alice_line = make_line("g-small")
    bob_line = make_line("g-payg", owner=bob)
    deliver(
        [
            *(
                Rec(f"a{n:02d}", "voice_mo", alice_line, at(2 + n % 3, 9, n), NATIONAL, 60)
                for n in range(12)
            ),
            Rec("a99", "data", alice_line, at(4, 10), down=2_500),
            Rec("b01", "voice_mo", bob_line, at(2), NATIONAL, duration=30),
        ]
    )
    services.rate_cycle(CYCLE)
    return alice_line, bob_line


class TestReads:
    def test_rated_records_are_the_lines_own_newest_first(self, two_lines) -> None:
        alice_line, bob_line = two_lines

        page = services.rated_records(alice_line, CYCLE, page=1, per_page=5)

        assert page.total == 13
        assert page.pages == 3
        assert [r.record_id for r in page.records] == ["a99", "a11", "a08", "a05", "a02"]
        assert page.records[1].start_time == at(4, 9, 11)
        assert all(not r.record_id.startswith("b") for r in page.records)
        assert [r.record_id for r in services.rated_records(bob_line, CYCLE).records] == ["b01"]
        assert services.rated_records(bob_line, CYCLE).records[0].charge == Decimal("0.2")

    def test_a_page_beyond_the_end_is_empty(self, two_lines) -> None:
        page = services.rated_records(two_lines[0], CYCLE, page=9, per_page=5)
        assert page.records == []
        assert page.total == 13

    @pytest.mark.parametrize(("page", "per_page"), [(0, 50), (1, 0), (1, 501)])
    def test_bad_paging_is_a_value_error(self, two_lines, page: int, per_page: int) -> None:
        with pytest.raises(ValueError, match="page"):
            services.rated_records(two_lines[0], CYCLE, page=page, per_page=per_page)

    def test_daily_usage_and_charges_are_per_line(self, two_lines) -> None:
        alice_line, bob_line = two_lines

        days = services.daily_usage(alice_line, CYCLE)

        assert [(d.day, d.service, d.quantity) for d in days] == [
            (date(2026, 10, 2), "voice", 240),
            (date(2026, 10, 3), "voice", 240),
            (date(2026, 10, 4), "voice", 240),
            (date(2026, 10, 4), "data", 3),
        ]
        # 720 s against 600 s: 120 s at 0.20/min = 0.40.
        assert sum(d.charge for d in days) == Decimal("0.4")
        assert [c.charge for c in services.cycle_charges(bob_line, CYCLE)] == [Decimal("0.2")]
        assert services.rated_cycles(alice_line) == [CYCLE]

    def test_a_line_with_no_usage_sees_nothing(self, two_lines, make_line, charlie) -> None:
        outsider = make_line("g-small", owner=charlie)

        assert services.rated_records(outsider, CYCLE).records == []
        assert services.daily_usage(outsider, CYCLE) == []
        assert services.cycle_charges(outsider, CYCLE) == []
        assert services.allowance_status(outsider, CYCLE) == []
        assert services.rated_cycles(outsider) == []

    def test_a_cycle_never_rated_is_empty(self, two_lines) -> None:
        assert services.rated_records(two_lines[0], "2026-09").records == []
        assert services.daily_usage(two_lines[0], "2026-09") == []
