"""Services for lines: stock, ordering, the lifecycle, plan and cause changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from kindwave.accounts.models import User
from kindwave.causes.models import Cause
from kindwave.lines import selectors, services
from kindwave.lines.models import (
    CauseChoice,
    IllegalTransitionError,
    Line,
    LineState,
    LineStateChange,
    Market,
    NumberBlock,
    PhoneNumber,
    PlanSubscription,
    PortInRequest,
    SimCard,
)
from kindwave.lines.validators import PortIn, rio_check_key

from .conftest import AT, FIRST_ICCID, FIRST_IMSI, FIRST_NUMBER, LAST_NUMBER, iccid

pytestmark = pytest.mark.django_db


class TestAddNumberBlock:
    def test_adds_every_number_of_the_block(self, gb: Market) -> None:
        block, created = services.add_number_block(gb, "07400 100000", "+447400100099")
        assert created
        assert (block.first, block.last, block.size) == ("+447400100000", "+447400100099", 100)
        numbers = PhoneNumber.objects.filter(block=block)
        assert numbers.count() == 100
        assert set(numbers.values_list("status", flat=True)) == {"available"}
        assert numbers.order_by("msisdn").last().msisdn == "+447400100099"  # type: ignore[union-attr]

    def test_the_same_block_again_is_a_no_op(self, gb: Market) -> None:
        first, _created = services.add_number_block(gb, FIRST_NUMBER, LAST_NUMBER)
        again, created = services.add_number_block(gb, FIRST_NUMBER, LAST_NUMBER)
        assert (again, created) == (first, False)
        assert PhoneNumber.objects.count() == 10

    def test_an_overlapping_block_is_refused(self, gb: Market) -> None:
        services.add_number_block(gb, FIRST_NUMBER, LAST_NUMBER)
        with pytest.raises(ValidationError, match="overlaps the block"):
            services.add_number_block(gb, "+447400100005", "+447400100019")
        assert NumberBlock.objects.count() == 1

    @pytest.mark.parametrize(
        ("first", "last", "field"),
        [
            ("+33612345678", "+33612345679", "first"),  # not a GB number
            ("+447400100000", "+4474001", "last"),
            ("+442079460000", "+442079460009", "first"),  # a landline
        ],
    )
    def test_bad_ends_are_refused(self, gb: Market, first: str, last: str, field: str) -> None:
        with pytest.raises(ValidationError) as caught:
            services.add_number_block(gb, first, last)
        assert field in caught.value.message_dict

    def test_first_must_come_before_last(self, gb: Market) -> None:
        with pytest.raises(ValidationError, match="is not a range"):
            services.add_number_block(gb, LAST_NUMBER, FIRST_NUMBER)

    def test_market_without_a_catalogue(self, db: None) -> None:
        with pytest.raises(services.LinesError, match="No catalogue has been loaded"):
            services.add_number_block("GB", FIRST_NUMBER, LAST_NUMBER)


class TestAddSims:
    def test_consecutive_iccids_and_imsis(self, gb: Market) -> None:
        assert services.add_sims(gb, FIRST_ICCID, FIRST_IMSI, 3) == 3
        sims = list(SimCard.objects.order_by("iccid").values_list("iccid", "imsi", "status"))
        assert sims == [
            (iccid(202_600_000_000), "234307000000000", "available"),
            (iccid(202_600_000_001), "234307000000001", "available"),
            (iccid(202_600_000_002), "234307000000002", "available"),
        ]

    def test_again_adds_only_the_missing_ones(self, gb: Market) -> None:
        services.add_sims(gb, FIRST_ICCID, FIRST_IMSI, 3)
        assert services.add_sims(gb, FIRST_ICCID, FIRST_IMSI, 5) == 2
        assert SimCard.objects.count() == 5

    def test_an_iccid_paired_with_another_imsi_is_refused(self, gb: Market) -> None:
        services.add_sims(gb, FIRST_ICCID, FIRST_IMSI, 3)
        with pytest.raises(ValidationError):
            services.add_sims(gb, FIRST_ICCID, "234307000000100", 3)
        assert SimCard.objects.count() == 3

    def test_imsi_of_another_network_is_refused(self, gb: Market) -> None:
        with pytest.raises(ValidationError, match="does not belong to the host network 234-30"):
            services.add_sims(gb, FIRST_ICCID, "208017000000000", 3)

    def test_bad_iccid_is_refused(self, gb: Market) -> None:
        with pytest.raises(ValidationError, match="check digit is wrong"):
            services.add_sims(
                gb, FIRST_ICCID[:-1] + str((int(FIRST_ICCID[-1]) + 1) % 10), FIRST_IMSI, 1
            )


class TestOrderLine:
    def test_takes_the_next_free_number_and_sim(self, gb_stock: Market, alice: User) -> None:
        line = services.order_line(alice, gb_stock, "gb-starter", at=AT)
        assert (line.msisdn, line.sim.iccid, line.state) == (FIRST_NUMBER, FIRST_ICCID, "ordered")
        assert line.number is not None
        assert line.number.status == "assigned"
        assert SimCard.objects.get(iccid=FIRST_ICCID).status == "assigned"
        assert list(line.state_changes.values_list("from_state", "to_state", "at", "reason")) == [
            ("", "ordered", AT, "ordered")
        ]
        assert list(line.plan_subscriptions.values_list("plan_code", "valid_from", "valid_to")) == [
            ("gb-starter", AT, None)
        ]
        assert list(line.cause_choices.values_list("cause", "valid_from")) == [(None, AT)]

    def test_with_a_cause(
        self, gb_stock: Market, alice: User, demo_causes: dict[str, Cause]
    ) -> None:
        line = services.order_line(alice, "GB", "gb-everyday", cause=demo_causes["wateraid"], at=AT)
        assert selectors.cause_in_force(line, AT) == demo_causes["wateraid"]

    def test_an_unverified_cause_is_refused(
        self, gb_stock: Market, alice: User, demo_causes: dict[str, Cause]
    ) -> None:
        cause = demo_causes["wateraid"]
        Cause.objects.filter(pk=cause.pk).update(verified_at=None)
        cause.refresh_from_db()
        with pytest.raises(services.LinesError, match="is not a verified cause"):
            services.order_line(alice, gb_stock, "gb-starter", cause=cause, at=AT)
        assert Line.objects.count() == 0

    def test_a_plan_not_on_offer_is_refused_and_takes_nothing(
        self, gb_stock: Market, alice: User
    ) -> None:
        with pytest.raises(services.PlanNotOnOfferError, match="gb-payg, gb-starter"):
            services.order_line(alice, gb_stock, "fr-confort", at=AT)
        with pytest.raises(services.PlanNotOnOfferError, match="No catalogue of GB is in force"):
            services.order_line(alice, gb_stock, "gb-starter", at=AT.replace(year=2025))
        assert PhoneNumber.objects.filter(status="available").count() == 10
        assert SimCard.objects.filter(status="available").count() == 10

    def test_a_number_or_a_sim_is_never_given_twice(
        self, gb_stock: Market, alice: User, bob: User
    ) -> None:
        lines = [
            services.order_line(alice if i % 2 else bob, gb_stock, "gb-starter", at=AT)
            for i in range(10)
        ]
        assert len({line.msisdn for line in lines}) == 10
        assert len({line.sim_id for line in lines}) == 10
        assert [line.msisdn for line in lines] == sorted(line.msisdn for line in lines)
        with pytest.raises(services.OutOfStockError, match="No free number"):
            services.order_line(alice, gb_stock, "gb-starter", at=AT)

    def test_out_of_sims_gives_the_number_back(self, gb: Market, alice: User) -> None:
        services.add_number_block(gb, FIRST_NUMBER, LAST_NUMBER)
        with pytest.raises(services.OutOfStockError, match="No SIM is left"):
            services.order_line(alice, gb, "gb-starter", at=AT)
        assert PhoneNumber.objects.filter(status="available").count() == 10

    def test_a_disabled_account_cannot_order(self, gb_stock: Market, alice: User) -> None:
        alice.is_active = False
        with pytest.raises(services.LinesError, match="disabled"):
            services.order_line(alice, gb_stock, "gb-starter", at=AT)


class TestPortIn:
    def test_gb_port_in_keeps_the_number_and_takes_only_a_sim(
        self, gb_stock: Market, alice: User
    ) -> None:
        port_in = PortIn(msisdn="07400 999888", donor_operator="Vodafone", code="xyz987654")
        line = services.order_line(alice, gb_stock, "gb-payg", at=AT, port_in=port_in)
        assert (line.msisdn, line.number) == ("+447400999888", None)
        assert PhoneNumber.objects.filter(status="available").count() == 10
        request = PortInRequest.objects.get(line=line)
        assert (request.code, request.donor_operator, request.completed_at) == (
            "XYZ987654",
            "Vodafone",
            None,
        )
        services.activate_line(line, at=AT + timedelta(days=1))
        request.refresh_from_db()
        assert request.completed_at == AT + timedelta(days=1)

    def test_fr_port_in_checks_the_rio_against_the_number(self, fr: Market, alice: User) -> None:
        services.add_sims(fr, iccid(1, "893301"), "208017000000000", 1)
        rio = "01P123456" + rio_check_key("01", "P", "123456", "0612345678")
        line = services.order_line(
            alice, fr, "fr-confort", at=AT, port_in=PortIn("+33612345678", "Orange", code=rio)
        )
        assert line.port_in.code == rio
        with pytest.raises(ValidationError) as caught:
            services.order_line(
                alice, fr, "fr-confort", at=AT, port_in=PortIn("+33612345679", "Orange", code=rio)
            )
        assert "code" in caught.value.message_dict

    def test_bad_port_in_is_refused_with_the_reason(self, gb_stock: Market, alice: User) -> None:
        with pytest.raises(ValidationError) as caught:
            services.order_line(
                alice, gb_stock, "gb-payg", at=AT, port_in=PortIn("+447400999888", "EE", code="12")
            )
        assert caught.value.message_dict["code"] == [
            "PAC 12: must be three letters followed by six digits, e.g. ABC123456."
        ]
        assert SimCard.objects.filter(status="available").count() == 10

    def test_a_number_already_in_use_cannot_be_ported_in(
        self, active_line: Line, bob: User
    ) -> None:
        with pytest.raises(services.LinesError, match="already a Kindwave line"):
            services.order_line(
                bob,
                "GB",
                "gb-payg",
                at=AT,
                port_in=PortIn(active_line.msisdn, "EE", code="ABC123456"),
            )


# How to bring a fresh line into each state, and which service applies each event.
def line_in(state: str, line: Line) -> Line:
    steps = {
        "ordered": [],
        "active": [services.activate_line],
        "suspended": [services.activate_line, lambda ln, at: services.suspend_line(ln, "lost", at)],
        "terminated": [lambda ln, at: services.terminate_line(ln, "cancelled", at)],
    }[state]
    for minute, step in enumerate(steps, start=1):
        step(line, at=AT + timedelta(minutes=minute))
    return line


APPLY = {
    "activate": lambda line, at: services.activate_line(line, at=at),
    "suspend": lambda line, at: services.suspend_line(line, "unpaid bill", at=at),
    "resume": lambda line, at: services.resume_line(line, "paid", at=at),
    "terminate": lambda line, at: services.terminate_line(line, "moving abroad", at=at),
}
ALLOWED = {
    ("ordered", "activate"): "active",
    ("ordered", "terminate"): "terminated",
    ("active", "suspend"): "suspended",
    ("active", "terminate"): "terminated",
    ("suspended", "resume"): "active",
    ("suspended", "terminate"): "terminated",
}
EVERY = [(state, event) for state in LineState.values for event in APPLY]


class TestLifecycleThroughServices:
    @pytest.mark.parametrize(("state", "event"), sorted(ALLOWED))
    def test_every_allowed_step_is_applied_and_recorded(
        self, ordered_line: Line, state: str, event: str
    ) -> None:
        line = line_in(state, ordered_line)
        at = AT + timedelta(hours=1)
        APPLY[event](line, at)
        line.refresh_from_db()
        assert (line.state, line.state_changed_at) == (ALLOWED[state, event], at)
        last = line.state_changes.order_by("-at", "-id").first()
        assert last is not None
        assert (last.from_state, last.to_state, last.at) == (state, ALLOWED[state, event], at)

    @pytest.mark.parametrize(("state", "event"), sorted(set(EVERY) - set(ALLOWED)))
    def test_every_forbidden_step_is_refused_and_changes_nothing(
        self, ordered_line: Line, state: str, event: str
    ) -> None:
        line = line_in(state, ordered_line)
        history = line.state_changes.count()
        with pytest.raises(IllegalTransitionError, match=f"A line that is {state} cannot {event}"):
            APPLY[event](line, AT + timedelta(hours=1))
        line.refresh_from_db()
        assert line.state == state
        assert line.state_changes.count() == history

    def test_a_step_cannot_be_dated_before_the_previous_one(self, active_line: Line) -> None:
        with pytest.raises(services.LinesError, match="cannot be dated before"):
            services.suspend_line(active_line, "lost", at=AT - timedelta(seconds=1))

    def test_history_says_who_and_why(self, active_line: Line, staff: User) -> None:
        services.suspend_line(active_line, "phone stolen", at=AT + timedelta(days=1), by=staff)
        change = LineStateChange.objects.filter(line=active_line).latest("at")
        assert (change.reason, change.actor) == ("phone stolen", staff)
        assert selectors.line_state_at(active_line, AT + timedelta(hours=1)) == "active"
        assert selectors.line_state_at(active_line, AT + timedelta(days=1)) == "suspended"
        assert selectors.line_state_at(active_line, AT - timedelta(seconds=1)) is None


class TestActivateLine:
    def test_the_subscriber_confirms_the_iccid_on_the_sim(self, ordered_line: Line) -> None:
        spaced = " ".join(FIRST_ICCID[i : i + 4] for i in range(0, 19, 4))
        services.activate_line(ordered_line, iccid_confirmation=spaced, at=AT)
        assert (ordered_line.state, ordered_line.activated_at) == ("active", AT)

    def test_another_sims_iccid_is_refused(self, ordered_line: Line) -> None:
        with pytest.raises(ValidationError, match="is not the SIM sent for this line"):
            services.activate_line(ordered_line, iccid_confirmation=iccid(202_600_000_001))
        ordered_line.refresh_from_db()
        assert ordered_line.state == "ordered"

    def test_a_mistyped_iccid_is_refused(self, ordered_line: Line) -> None:
        mistyped = FIRST_ICCID[:-1] + str((int(FIRST_ICCID[-1]) + 1) % 10)
        with pytest.raises(ValidationError, match="check digit is wrong"):
            services.activate_line(ordered_line, iccid_confirmation=mistyped)

    def test_resuming_keeps_the_first_activation_date(self, active_line: Line) -> None:
        services.suspend_line(active_line, "lost", at=AT + timedelta(days=1))
        services.resume_line(active_line, "found", at=AT + timedelta(days=2))
        active_line.refresh_from_db()
        assert active_line.activated_at == AT


class TestTerminateLine:
    def test_ends_the_plan_retires_the_sim_and_rests_the_number(self, active_line: Line) -> None:
        end = AT + timedelta(days=30)
        services.terminate_line(active_line, "moving abroad", at=end)
        active_line.refresh_from_db()
        assert (active_line.state, active_line.terminated_at) == ("terminated", end)
        assert active_line.sim.status == "retired"
        assert active_line.number is not None
        assert active_line.number.status == "quarantined"
        assert selectors.plan_in_force(active_line, end - timedelta(seconds=1)) is not None
        assert selectors.plan_in_force(active_line, end) is None

    def test_a_cancelled_order_gives_the_number_back(self, ordered_line: Line, bob: User) -> None:
        services.terminate_line(ordered_line, "changed my mind", at=AT)
        assert PhoneNumber.objects.get(msisdn=FIRST_NUMBER).status == "available"
        again = services.order_line(bob, "GB", "gb-starter", at=AT + timedelta(minutes=1))
        assert again.msisdn == FIRST_NUMBER
        assert again.sim.iccid != FIRST_ICCID  # SIMs are never reused

    def test_drops_a_plan_change_scheduled_after_the_end(self, active_line: Line) -> None:
        services.change_plan(active_line, "gb-everyday", at=AT + timedelta(days=60))
        services.terminate_line(active_line, "leaving", at=AT + timedelta(days=30))
        assert list(active_line.plan_subscriptions.values_list("plan_code", "valid_to")) == [
            ("gb-starter", AT + timedelta(days=30))
        ]


class TestChangePlan:
    def test_the_new_plan_applies_from_the_change_instant(self, active_line: Line) -> None:
        change = AT + timedelta(days=10)
        services.change_plan(active_line, "gb-everyday", at=change)
        rows = list(
            PlanSubscription.objects.filter(line=active_line)
            .order_by("valid_from")
            .values_list("plan_code", "valid_from", "valid_to")
        )
        assert rows == [("gb-starter", AT, change), ("gb-everyday", change, None)]
        before = selectors.plan_in_force(active_line, change - timedelta(microseconds=1))
        at_change = selectors.plan_in_force(active_line, change)
        assert before is not None
        assert before.code == "gb-starter"
        assert at_change is not None
        assert at_change.code == "gb-everyday"

    def test_same_plan_is_refused(self, active_line: Line) -> None:
        with pytest.raises(services.LinesError, match="already on plan gb-starter"):
            services.change_plan(active_line, "gb-starter", at=AT + timedelta(days=1))

    def test_not_before_the_current_plan_started(self, active_line: Line) -> None:
        with pytest.raises(services.LinesError, match="after the current plan started"):
            services.change_plan(active_line, "gb-everyday", at=AT)

    def test_only_plans_on_offer(self, active_line: Line) -> None:
        with pytest.raises(services.PlanNotOnOfferError):
            services.change_plan(active_line, "us-basic", at=AT + timedelta(days=1))

    def test_not_on_a_terminated_line(self, active_line: Line) -> None:
        services.terminate_line(active_line, "leaving", at=AT + timedelta(days=1))
        with pytest.raises(services.LinesError, match="terminated line cannot change plan"):
            services.change_plan(active_line, "gb-everyday", at=AT + timedelta(days=2))


class TestChooseCause:
    def test_takes_effect_from_the_given_instant(
        self, active_line: Line, demo_causes: dict[str, Cause]
    ) -> None:
        change = AT + timedelta(days=3)
        services.choose_cause(active_line, demo_causes["wateraid"], at=change)
        assert selectors.cause_in_force(active_line, change - timedelta(microseconds=1)) is None
        assert selectors.cause_in_force(active_line, change) == demo_causes["wateraid"]
        services.choose_cause(active_line, None, at=change + timedelta(days=1))
        assert selectors.cause_in_force(active_line, change + timedelta(days=1)) is None
        assert CauseChoice.objects.filter(line=active_line).count() == 3

    def test_choosing_the_cause_in_force_again_changes_nothing(
        self, active_line: Line, demo_causes: dict[str, Cause]
    ) -> None:
        first = services.choose_cause(active_line, demo_causes["wwf-uk"], at=AT + timedelta(days=1))
        again = services.choose_cause(active_line, demo_causes["wwf-uk"], at=AT + timedelta(days=2))
        assert again == first
        assert CauseChoice.objects.filter(line=active_line).count() == 2

    def test_default_is_now(self, active_line: Line, demo_causes: dict[str, Cause]) -> None:
        choice = services.choose_cause(active_line, demo_causes["wwf-uk"])
        assert choice.valid_from > AT

    def test_not_before_the_latest_choice(
        self, active_line: Line, demo_causes: dict[str, Cause]
    ) -> None:
        with pytest.raises(services.LinesError, match="after the latest one"):
            services.choose_cause(active_line, demo_causes["wwf-uk"], at=AT)

    def test_only_verified_causes(self, active_line: Line, demo_causes: dict[str, Cause]) -> None:
        cause = demo_causes["wwf-uk"]
        cause.verified_at = None
        with pytest.raises(services.LinesError, match="not a verified cause"):
            services.choose_cause(active_line, cause, at=AT + timedelta(days=1))
