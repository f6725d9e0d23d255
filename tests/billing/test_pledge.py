"""The profit pledge: a hand-computed quarter, the largest-remainder split, both allocation
rules, re-runs, refusals (a quarter not fully billed), races with costs and another run,
and the command line."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from hypothesis import given
from hypothesis import strategies as st

from kindwave.billing.models import BillRun, Pledge
from kindwave.billing.services import costs, pledge
from kindwave.causes.models import Cause
from kindwave.ledger import chart
from kindwave.ledger import services as ledger
from kindwave.ledger.models import Account, Transfer, balance
from kindwave.lines import services as lines
from kindwave.lines.models import Market
from tests.billing.factories import make_invoice
from tests.causes.money import bill_share, line_for, subscriber

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
Q2_END = datetime(2026, 7, 1, tzinfo=UTC)
OPTIONS = pledge.PledgeOptions(Decimal(25), "profit", "subscribers")


def balance_of(name: chart.AccountName) -> int:
    return balance(Account.objects.get(code=name.code))


def close_cycles(*cycles: str) -> None:
    """Complete bill runs for ``cycles`` that issued no invoice (nothing to bill)."""
    for cycle in cycles:
        BillRun.objects.get_or_create(cycle=cycle, defaults={"state": BillRun.State.COMPLETE})


@pytest.fixture
def quarter_books(gb_stock: Market, demo_causes: dict[str, Cause]) -> dict[str, Cause]:
    """2026-Q2 in GBP, by hand. At the quarter's end: one subscriber gives to WaterAid, one
    to the Trussell Trust, one to no cause, and one suspended line (still a subscriber) to
    no cause, as its switch to the Trussell Trust takes effect only at the next quarter's
    first instant; a WaterAid line terminated before the end does not count. Revenue
    100,000 (the invoices of the cycles 2026-04 to 2026-06, each bill run complete); costs
    40,000 + 19,997."""
    wateraid, trussell = demo_causes["wateraid"], demo_causes["the-trussell-trust"]
    kept = [
        line_for(subscriber(1), gb_stock, wateraid, START),
        line_for(subscriber(2), gb_stock, trussell, START),
        line_for(subscriber(3), gb_stock, None, START),
    ]
    gone = line_for(subscriber(4), gb_stock, wateraid, START)
    lines.terminate_line(gone, "left", at=datetime(2026, 6, 30, tzinfo=UTC))
    late = line_for(subscriber(5), gb_stock, None, START)
    lines.suspend_line(late, "lost phone", at=datetime(2026, 5, 2, tzinfo=UTC))
    lines.choose_cause(late, trussell, at=Q2_END)  # counts for the next quarter only
    # The invoices of Q2's cycles (2026-04 to 2026-06); one of Q3's (cycle 2026-07).
    for line, cause, cycle, net in [
        (kept[0], wateraid, "2026-04", 30_000),
        (kept[1], trussell, "2026-05", 30_000),
        (kept[2], None, "2026-06", 25_000),
        (gone, wateraid, "2026-06", 15_000),
        (kept[0], wateraid, "2026-07", 99_999),
    ]:
        make_invoice(line, cycle, net_minor=net, vat_minor=net // 5, cause=cause)
    costs.record_cost("2026-Q2", "wholesale", "GBP", 40_000, "EE wholesale, Q2", None)
    costs.record_cost("2026-Q2", "operating", "GBP", 19_997, "Office and staff", None)
    return {"wateraid": wateraid, "trussell": trussell}


class TestLargestRemainder:
    def test_ties_go_to_the_foundation_then_the_smaller_cause_id(self) -> None:
        assert pledge.split_largest_remainder(10_000, {7: 1, None: 1, 3: 1}) == {
            None: 3_334,
            3: 3_333,
            7: 3_333,
        }
        assert pledge.split_largest_remainder(2, {9: 1, 4: 1, 5: 1}) == {4: 1, 5: 1, 9: 0}

    def test_the_largest_remainders_get_the_units_left(self) -> None:
        # 100 over 1:2:4 → 14.28, 28.57, 57.14: the 0.57 remainder wins the unit left.
        assert pledge.split_largest_remainder(100, {1: 1, 2: 2, 3: 4}) == {1: 14, 2: 29, 3: 57}

    def test_no_weight_at_all_goes_to_the_foundation(self) -> None:
        assert pledge.split_largest_remainder(500, {}) == {None: 500}
        assert pledge.split_largest_remainder(500, {3: 0}) == {None: 500}

    @given(
        total=st.integers(min_value=0, max_value=10**12),
        weights=st.dictionaries(
            st.one_of(st.none(), st.integers(min_value=1, max_value=10**6)),
            st.integers(min_value=0, max_value=10**7),
            max_size=40,
        ),
    )
    def test_parts_add_up_and_stay_within_a_unit_of_the_exact_share(
        self, total: int, weights: dict[int | None, int]
    ) -> None:
        parts = pledge.split_largest_remainder(total, weights)

        assert sum(parts.values()) == total
        assert all(part >= 0 for part in parts.values())
        whole = sum(weights.values())
        for key, weight in weights.items():
            if whole:
                exact = Decimal(total) * weight / whole
                assert exact - 1 < parts[key] < exact + 1


@pytest.mark.parametrize(
    ("base", "percent", "expected"),
    [(39_999, 25, 10_000), (2, 25, 1), (6, 25, 2), (1, 25, 0), (1_000, Decimal("12.5"), 125)],
)
def test_the_pledge_is_rounded_half_up(base: int, percent: Decimal, expected: int) -> None:
    assert pledge.pledge_amount(base, Decimal(percent)) == expected


class TestPostPledge:
    def test_golden_quarter_by_subscribers(self, quarter_books: dict[str, Cause]) -> None:
        wateraid, trussell = quarter_books["wateraid"], quarter_books["trussell"]

        (outcome,) = pledge.post_pledge("2026-Q2", OPTIONS)

        # Revenue 30,000 + 30,000 + 25,000 + 15,000 = 100,000 (the 2026-07 invoice is Q3's,
        # though the 2026-06 ones are dated 1 July); profit 100,000 - 59,997 = 40,003;
        # 25 % = 10,000.75 → 10,001. Subscribers 2 (foundation) : 1 : 1 → 5,000.5,
        # 2,500.25, 2,500.25; the unit left goes to the largest remainder, the foundation's.
        saved = outcome.pledge
        assert outcome.created
        assert (saved.revenue_minor, saved.wholesale_minor, saved.operating_minor) == (
            100_000,
            40_000,
            19_997,
        )
        assert (saved.base_minor, saved.pledge_minor) == (40_003, 10_001)
        assert saved.share == Decimal("0.2500")
        allocations = {a.cause_id: (a.subscribers, a.amount_minor) for a in saved.allocations.all()}
        assert allocations == {None: (2, 5_001), wateraid.pk: (1, 2_500), trussell.pk: (1, 2_500)}
        assert balance_of(chart.foundation("GBP")) == 5_001
        assert balance_of(chart.cause(wateraid.pk, "GBP")) == 2_500
        assert balance_of(chart.pledge_expense("GBP")) == 10_001
        assert balance_of(chart.pledge_fund("GBP")) == 0
        legs = Transfer.objects.filter(idempotency_key__startswith="pledge:2026-Q2:GBP/")
        assert legs.count() == 4
        assert {leg.code for leg in legs} == {"pledge"}
        assert ledger.verify().ok

    def test_a_rerun_changes_nothing_and_ignores_new_options(
        self, quarter_books: dict[str, Cause]
    ) -> None:
        pledge.post_pledge("2026-Q2", OPTIONS)
        transfers = Transfer.objects.count()

        (again,) = pledge.post_pledge(
            "2026-Q2", pledge.PledgeOptions(Decimal(50), "revenue", "shares")
        )

        assert not again.created
        assert again.pledge.pledge_minor == 10_001
        assert Transfer.objects.count() == transfers
        assert Pledge.objects.count() == 1

    def test_by_the_bill_shares_of_the_quarters_invoices(
        self, quarter_books: dict[str, Cause]
    ) -> None:
        wateraid, trussell = quarter_books["wateraid"], quarter_books["trussell"]
        # A share posted in Q2 by something else than the quarter's invoices is not counted.
        bill_share("stray", trussell, 9_000, datetime(2026, 5, 3, tzinfo=UTC))

        (outcome,) = pledge.post_pledge(
            "2026-Q2", pledge.PledgeOptions(Decimal(25), "profit", "shares")
        )

        # The invoices' 10 %: WaterAid 3,000 + 1,500, Trussell 3,000, the foundation 2,500
        # (the 2026-07 invoice's 10,000 is Q3's). 10,001 over 4,500 : 3,000 : 2,500 →
        # 4,500.45, 3,000.30, 2,500.25; the unit left goes to WaterAid's .45.
        parts = {a.cause_id: a.amount_minor for a in outcome.pledge.allocations.all()}
        assert parts == {wateraid.pk: 4_501, trussell.pk: 3_000, None: 2_500}

    def test_revenue_base_ignores_costs(self, quarter_books: dict[str, Cause]) -> None:
        (outcome,) = pledge.post_pledge(
            "2026-Q2", pledge.PledgeOptions(Decimal(10), "revenue", "subscribers")
        )

        assert (outcome.pledge.base_minor, outcome.pledge.pledge_minor) == (100_000, 10_000)
        assert outcome.pledge.wholesale_minor == 40_000  # recorded, not deducted

    def test_a_loss_pledges_nothing_and_posts_nothing(
        self, quarter_books: dict[str, Cause]
    ) -> None:
        costs.record_cost("2026-Q2", "operating", "GBP", 50_000, "A bad quarter", None)
        transfers = Transfer.objects.count()

        (outcome,) = pledge.post_pledge("2026-Q2", OPTIONS)

        assert (outcome.pledge.base_minor, outcome.pledge.pledge_minor) == (0, 0)
        assert Transfer.objects.count() == transfers

    @pytest.mark.parametrize("period", ["2026-Q5", "2026Q2", "26-Q1", "", "2026-Q2; drop"])
    def test_a_bad_period_is_refused(self, period: str) -> None:
        with pytest.raises(pledge.PledgeError, match="quarter"):
            pledge.post_pledge(period, OPTIONS)

    def test_a_quarter_not_yet_ended_is_refused(self, quarter_books: dict[str, Cause]) -> None:
        with pytest.raises(pledge.PledgeError, match="not ended"):
            pledge.post_pledge("2026-Q2", OPTIONS, now=datetime(2026, 6, 30, 23, tzinfo=UTC))

        assert not Pledge.objects.exists()

    def test_a_bill_run_still_running_is_refused(self, quarter_books: dict[str, Cause]) -> None:
        BillRun.objects.filter(cycle="2026-05").update(state=BillRun.State.RUNNING)

        with pytest.raises(pledge.PledgeError, match="not complete yet: 2026-05"):
            pledge.post_pledge("2026-Q2", OPTIONS)

        assert not Pledge.objects.exists()

    def test_a_quarter_not_fully_billed_is_refused_then_counted_whole(
        self, gb_stock: Market, demo_causes: dict[str, Cause]
    ) -> None:
        # The reviewer's case: only January is billed when Q1's pledge is asked for.
        line = line_for(subscriber(1), gb_stock, None, START.replace(month=1))
        make_invoice(line, "2026-01", net_minor=10_000, vat_minor=2_000)
        options = pledge.PledgeOptions(Decimal(25), "revenue", "subscribers")
        after = datetime(2026, 4, 1, 0, 5, tzinfo=UTC)

        with pytest.raises(pledge.PledgeError, match="not complete yet: 2026-02, 2026-03"):
            pledge.post_pledge("2026-Q1", options, now=after)

        assert not Pledge.objects.exists()
        assert not Transfer.objects.filter(code="pledge").exists()
        # Costs stay open, and the pledge sees every cycle once they are all billed.
        costs.record_cost("2026-Q1", "wholesale", "GBP", 1_000, "EE Q1", None)
        make_invoice(line, "2026-02", net_minor=50_000, vat_minor=10_000)
        make_invoice(line, "2026-03", net_minor=40_000, vat_minor=8_000)
        (outcome,) = pledge.post_pledge("2026-Q1", options, now=after)
        assert outcome.pledge.revenue_minor == 100_000
        assert outcome.pledge.pledge_minor == 25_000

    def test_a_run_that_missed_the_recorded_pledge_returns_it(
        self, quarter_books: dict[str, Cause]
    ) -> None:
        """Two runs at once: the second gets the first one's pledge, never a raw error."""
        (first,) = pledge.post_pledge("2026-Q2", OPTIONS)
        transfers = Transfer.objects.count()
        real = pledge.recorded_pledge
        # The second run's "already recorded?" misses the first's row (as a run that read
        # before the first committed would); its insert then meets the unique constraint.
        missed = [None, real("2026-Q2", "GBP")]
        with mock.patch.object(pledge, "recorded_pledge", side_effect=missed):
            (second,) = pledge.post_pledge("2026-Q2", OPTIONS)

        assert (second.created, second.pledge.pk) == (False, first.pledge.pk)
        assert Pledge.objects.count() == 1
        assert Transfer.objects.count() == transfers
        assert ledger.verify().ok

    @pytest.mark.parametrize("share", ["0", "101", "abc", "25.001", "NaN"])
    def test_bad_options_are_refused(self, share: str) -> None:
        with pytest.raises(pledge.PledgeError):
            pledge.PledgeOptions.from_settings(share, None, None)

    def test_options_default_to_the_settings(self, settings) -> None:
        settings.BILLING = {
            **settings.BILLING,
            "PLEDGE_SHARE_PERCENT": 30,
            "PLEDGE_BASE": "revenue",
            "PLEDGE_RULE": "shares",
        }

        assert pledge.PledgeOptions.from_settings(None, None, None) == pledge.PledgeOptions(
            Decimal(30), "revenue", "shares"
        )


class TestCommand:
    def test_posts_then_shows_the_posted_pledge(
        self, quarter_books: dict[str, Cause], capsys: pytest.CaptureFixture[str]
    ) -> None:
        call_command("billing", "pledge", "--period", "2026-Q2", "--quiet")
        first = capsys.readouterr().out
        call_command("billing", "pledge", "--period", "2026-Q2", "--share", "50", "--quiet")
        second = capsys.readouterr().out

        assert "recorded now" in first
        assert "pledge 10001" in first
        assert "WaterAid: 2500 (1 subscribers)" in first
        assert "already recorded, unchanged" in second
        assert "pledge 10001" in second

    def test_bad_input_is_a_clear_error(self) -> None:
        with pytest.raises(CommandError, match="not a quarter"):
            call_command("billing", "pledge", "--period", "2026-13", "--quiet")
        with pytest.raises(CommandError, match="percentage"):
            call_command("billing", "pledge", "--period", "2026-Q2", "--share", "0", "--quiet")

    def test_an_empty_quarter_says_so(self, db: None, capsys: pytest.CaptureFixture[str]) -> None:
        close_cycles("2026-01", "2026-02", "2026-03")

        call_command("billing", "pledge", "--period", "2026-Q1", "--quiet")

        assert "no pledge to compute" in capsys.readouterr().out

    def test_a_quarter_not_billed_is_a_clear_error(self, db: None) -> None:
        close_cycles("2026-01")

        with pytest.raises(CommandError, match="not complete yet: 2026-02, 2026-03"):
            call_command("billing", "pledge", "--period", "2026-Q1", "--quiet")

        assert not Pledge.objects.exists()
