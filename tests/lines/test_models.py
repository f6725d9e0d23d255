"""Pure rules on the models: the line lifecycle and "what was in force at instant T"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import product

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kindwave.lines.models import (
    LINE_LIFECYCLE,
    LINE_TRANSITIONS,
    CatalogVersion,
    CauseChoice,
    IllegalTransitionError,
    Line,
    LineEvent,
    LineState,
    LineStateChange,
    PlanSubscription,
    events_from,
    latest_starting_by,
    longest_prefix_match,
    next_line_state,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
# (state, event) → the state it leads to. Everything else is forbidden.
ALLOWED = {
    ("ordered", "activate"): "active",
    ("ordered", "terminate"): "terminated",
    ("active", "suspend"): "suspended",
    ("active", "terminate"): "terminated",
    ("suspended", "resume"): "active",
    ("suspended", "terminate"): "terminated",
}
FORBIDDEN = sorted(set(product(LineState.values, LineEvent.values)) - set(ALLOWED))


class TestLifecycle:
    def test_the_declared_lifecycle_is_exactly_the_intended_one(self) -> None:
        declared = {
            (source, event): to
            for event, (sources, to) in LINE_LIFECYCLE.items()
            for source in sources
        }
        assert declared == ALLOWED

    def test_the_state_view_matches(self) -> None:
        assert {state: set(targets) for state, targets in LINE_TRANSITIONS.items()} == {
            "ordered": {"active", "terminated"},
            "active": {"suspended", "terminated"},
            "suspended": {"active", "terminated"},
            "terminated": set(),
        }

    @pytest.mark.parametrize(("state", "event"), sorted(ALLOWED))
    def test_allowed(self, state: str, event: str) -> None:
        assert next_line_state(state, event) == ALLOWED[state, event]
        assert Line(state=state).accepts(event)

    @pytest.mark.parametrize(("state", "event"), FORBIDDEN)
    def test_forbidden(self, state: str, event: str) -> None:
        assert not Line(state=state).accepts(event)
        with pytest.raises(IllegalTransitionError) as caught:
            next_line_state(state, event)
        assert (caught.value.from_state, caught.value.event) == (state, event)
        assert str(caught.value).startswith(f"A line that is {state} cannot {event}")

    def test_the_error_says_what_is_possible(self) -> None:
        with pytest.raises(IllegalTransitionError, match=r"\(it can: resume, terminate\)"):
            next_line_state("suspended", "activate")
        with pytest.raises(IllegalTransitionError, match="it can: nothing, it is final"):
            next_line_state("terminated", "resume")
        assert events_from("terminated") == []


@dataclass
class Dated:
    start: datetime
    label: int


starts = st.lists(
    st.integers(min_value=0, max_value=10_000), min_size=0, max_size=8, unique=True
).map(lambda minutes: [T0 + timedelta(minutes=m) for m in minutes])
instants = st.integers(min_value=-10, max_value=10_010).map(lambda m: T0 + timedelta(minutes=m))


class TestInForce:
    @given(starts, instants)
    def test_latest_start_at_or_before_wins(self, begins: list[datetime], at: datetime) -> None:
        items = [Dated(start, index) for index, start in enumerate(begins)]
        found = latest_starting_by(items, at, lambda item: item.start)
        started = [item for item in items if item.start <= at]
        if not started:
            assert found is None
        else:
            assert found is not None
            assert found.start == max(item.start for item in started)

    @given(starts.filter(bool))
    def test_exactly_at_a_change_the_new_one_applies(self, begins: list[datetime]) -> None:
        items = [Dated(start, index) for index, start in enumerate(begins)]
        for item in items:
            assert latest_starting_by(items, item.start, lambda i: i.start) is item
        first = min(begins)
        assert (
            latest_starting_by(items, first - timedelta(microseconds=1), lambda i: i.start) is None
        )

    def test_catalog_version_in_force(self) -> None:
        v1 = CatalogVersion(version="v1", effective_from=T0)
        v2 = CatalogVersion(version="v2", effective_from=T0 + timedelta(days=90))
        versions = [v2, v1]  # order does not matter
        assert CatalogVersion.in_force(versions, T0 - timedelta(seconds=1)) is None
        assert CatalogVersion.in_force(versions, T0) is v1
        assert CatalogVersion.in_force(versions, T0 + timedelta(days=90, seconds=-1)) is v1
        assert CatalogVersion.in_force(versions, T0 + timedelta(days=90)) is v2
        assert CatalogVersion.in_force([], T0) is None

    def test_plan_subscription_in_force(self) -> None:
        change, end = T0 + timedelta(days=10), T0 + timedelta(days=20)
        first = PlanSubscription(plan_code="gb-starter", valid_from=T0, valid_to=change)
        second = PlanSubscription(plan_code="gb-everyday", valid_from=change, valid_to=end)
        history = [first, second]
        assert PlanSubscription.in_force(history, T0 - timedelta(microseconds=1)) is None
        assert PlanSubscription.in_force(history, T0) is first
        assert PlanSubscription.in_force(history, change - timedelta(microseconds=1)) is first
        assert PlanSubscription.in_force(history, change) is second
        assert PlanSubscription.in_force(history, end - timedelta(microseconds=1)) is second
        assert PlanSubscription.in_force(history, end) is None  # the line ended

    def test_open_subscription_runs_on(self) -> None:
        current = PlanSubscription(plan_code="gb-starter", valid_from=T0, valid_to=None)
        assert PlanSubscription.in_force([current], T0 + timedelta(days=3650)) is current

    @given(
        st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=6, unique=True),
        instants,
    )
    def test_consecutive_subscriptions_leave_no_gap_nor_overlap(
        self, lengths: list[int], at: datetime
    ) -> None:
        history, start = [], T0
        for index, minutes in enumerate(lengths):
            end = start + timedelta(minutes=minutes)
            history.append(PlanSubscription(plan_code=f"p{index}", valid_from=start, valid_to=end))
            start = end
        covering = [sub for sub in history if sub.covers(at)]
        assert len(covering) <= 1
        assert PlanSubscription.in_force(history, at) is (covering[0] if covering else None)
        assert (PlanSubscription.in_force(history, at) is not None) == (T0 <= at < start)

    def test_cause_choice_in_force(self) -> None:
        foundation = CauseChoice(cause=None, valid_from=T0)
        later = CauseChoice(valid_from=T0 + timedelta(days=5))
        assert CauseChoice.in_force([foundation, later], T0 - timedelta(seconds=1)) is None
        assert CauseChoice.in_force([foundation, later], T0) is foundation
        assert CauseChoice.in_force([foundation, later], T0 + timedelta(days=5)) is later

    def test_line_state_at(self) -> None:
        history = [
            LineStateChange(pk=1, from_state="", to_state="ordered", at=T0),
            LineStateChange(pk=2, from_state="ordered", to_state="active", at=T0),
            LineStateChange(
                pk=3, from_state="active", to_state="suspended", at=T0 + timedelta(days=1)
            ),
        ]
        assert LineStateChange.state_at(history, T0 - timedelta(seconds=1)) is None
        # Ordered and activated at the same instant: the later record applies.
        assert LineStateChange.state_at(history, T0) == "active"
        assert LineStateChange.state_at(reversed(history), T0) == "active"
        assert LineStateChange.state_at(history, T0 + timedelta(days=1)) == "suspended"


class TestLongestPrefix:
    PREFIXES = {"+44": "national", "+447": "mobile", "+4470": "premium", "+": "world", "999": "sos"}

    @pytest.mark.parametrize(
        ("number", "expected"),
        [
            ("+442079460000", "national"),
            ("+447400123456", "mobile"),
            ("+447012345678", "premium"),
            ("+33612345678", "world"),
            ("999", "sos"),
            ("9999", "sos"),
            ("123", None),
        ],
    )
    def test_longest_prefix_wins(self, number: str, expected: str | None) -> None:
        assert longest_prefix_match(number, self.PREFIXES) == expected

    @given(st.text(alphabet="+0123456789", max_size=16))
    def test_the_match_is_the_longest_matching_key(self, number: str) -> None:
        found = longest_prefix_match(number, self.PREFIXES)
        matching = [key for key in self.PREFIXES if number.startswith(key)]
        expected = self.PREFIXES[max(matching, key=len)] if matching else None
        assert found == expected
