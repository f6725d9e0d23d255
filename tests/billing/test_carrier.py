"""Carrier billing: reserve, confirm, cancel, the monthly limit and every refusal."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kindwave.accounts.models import User
from kindwave.billing.models import BillRun, CarrierCharge
from kindwave.billing.services import carrier
from kindwave.billing.services.carrier import CarrierBillingError, ChargeNotFound
from kindwave.causes.models import Cause
from kindwave.ledger import services as ledger
from kindwave.ledger.models import Account, Transfer, TransferState
from kindwave.lines import services as lines
from kindwave.lines.models import Line

pytestmark = pytest.mark.django_db

AT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def buy(user: User, key: str = "k1", amount: int = 499, **overrides: object) -> CarrierCharge:
    request: dict[str, object] = {
        "client_key": key,
        "amount_minor": amount,
        "currency": "GBP",
        "kind": "purchase",
        "description": "Museum ticket",
        "merchant": "Science Museum",
        "at": AT,
    }
    request.update(overrides)
    return carrier.reserve_charge(user, **request)  # type: ignore[arg-type]


def refused(call: object, *args: object, **kwargs: object) -> str:
    """The refusal's message; asserts that nothing reached the ledger."""
    before = Transfer.objects.count()
    with pytest.raises(CarrierBillingError) as error:
        call(*args, **kwargs)  # type: ignore[operator]
    assert Transfer.objects.count() == before
    return str(error.value)


def pending_of(account: str) -> tuple[int, int]:
    found = Account.objects.get(code=account)
    return found.credits_pending, found.credits_posted


class TestReserve:
    def test_a_purchase_is_a_pending_transfer_to_the_merchants(self, active_line: Line) -> None:
        charge = buy(active_line.owner)

        assert charge.state == CarrierCharge.State.RESERVED
        assert charge.line == active_line
        transfer = Transfer.objects.get(idempotency_key=f"carrier:{charge.reference}:reserve")
        assert transfer.state == TransferState.PENDING
        assert (transfer.debit_account.code, transfer.credit_account.code) == (
            "operator:unbilled:GBP",
            "operator:merchants:GBP",
        )
        assert (transfer.amount, transfer.code) == (499, "carrier-charge")
        assert "Science" not in transfer.description  # no personal data in the public feed
        assert carrier.spent_in_month(active_line.owner, "2026-03", at=AT) == 499
        assert ledger.verify().ok

    def test_a_donation_is_reserved_for_the_cause(
        self, active_line: Line, demo_causes: dict[str, Cause]
    ) -> None:
        wateraid = demo_causes["wateraid"]

        charge = carrier.reserve_charge(
            active_line.owner,
            client_key="d1",
            amount_minor=1_000,
            currency="GBP",
            kind="donation",
            description="For the well appeal",
            cause=wateraid,
            at=AT,
        )

        transfer = Transfer.objects.get(idempotency_key=f"carrier:{charge.reference}:reserve")
        assert transfer.credit_account.code == f"cause:{wateraid.pk}:GBP"
        assert transfer.code == "donation"
        assert pending_of(f"cause:{wateraid.pk}:GBP") == (1_000, 0)

    def test_the_same_client_key_and_request_is_the_same_charge(self, active_line: Line) -> None:
        first = buy(active_line.owner)
        again = buy(active_line.owner)

        assert again.pk == first.pk
        assert Transfer.objects.count() == 1

    def test_the_same_client_key_for_another_request_is_refused(self, active_line: Line) -> None:
        buy(active_line.owner)

        message = refused(buy, active_line.owner, amount=500)

        assert "already used for a different charge" in message

    @pytest.mark.parametrize("amount", [0, -100, 1.5, True])
    def test_zero_negative_or_fractional_amounts_are_refused(
        self, active_line: Line, amount: object
    ) -> None:
        assert "positive whole number" in refused(buy, active_line.owner, amount=amount)

    def test_a_currency_the_line_does_not_bill_in_is_refused(self, active_line: Line) -> None:
        message = refused(buy, active_line.owner, currency="EUR")

        assert "bills in GBP" in message
        assert "EUR" in message

    def test_no_active_line_is_refused(self, ordered_line: Line) -> None:
        assert "active line" in refused(buy, ordered_line.owner)

    def test_switched_off_is_refused(self, active_line: Line) -> None:
        carrier.set_limit(active_line.owner, enabled=False, monthly_limit_minor=None)

        assert "switched off" in refused(buy, active_line.owner)

    def test_over_my_own_limit_is_refused(self, active_line: Line) -> None:
        carrier.set_limit(active_line.owner, enabled=True, monthly_limit_minor=1_000)
        buy(active_line.owner, "a", 600)

        message = refused(buy, active_line.owner, "b", 401)

        assert "over your monthly limit of 1000" in message
        assert buy(active_line.owner, "c", 400).amount_minor == 400  # exactly the limit

    def test_over_the_operators_cap_is_refused(self, active_line: Line, settings) -> None:
        settings.BILLING = {**settings.BILLING, "CARRIER_BILLING_CAP_MINOR": 2_000}

        assert "limit of 2000" in refused(buy, active_line.owner, amount=2_001)

    def test_cancelled_charges_free_the_limit_and_a_new_month_starts_afresh(
        self, active_line: Line
    ) -> None:
        carrier.set_limit(active_line.owner, enabled=True, monthly_limit_minor=1_000)
        charge = buy(active_line.owner, "a", 1_000)
        refused(buy, active_line.owner, "b", 1)
        carrier.cancel_charge(active_line.owner, charge.reference, at=AT)

        assert buy(active_line.owner, "b", 1_000).state == CarrierCharge.State.RESERVED
        april = datetime(2026, 4, 1, tzinfo=UTC)
        assert buy(active_line.owner, "c", 1_000, at=april).amount_minor == 1_000
        assert carrier.spent_in_month(active_line.owner, "2026-03", at=AT) == 1_000
        assert carrier.spent_in_month(active_line.owner, "2026-04", at=april) == 1_000

    def test_a_purchase_needs_a_merchant_and_a_donation_a_verified_cause(
        self, active_line: Line, demo_causes: dict[str, Cause]
    ) -> None:
        user = active_line.owner
        assert "merchant" in refused(buy, user, merchant="")
        assert "verified cause" in refused(buy, user, kind="donation", merchant="")
        unverified = demo_causes["wateraid"]
        Cause.objects.filter(pk=unverified.pk).update(verified_at=None)
        unverified.refresh_from_db()
        assert "verified cause" in refused(buy, user, kind="donation", cause=unverified)


class TestConfirmAndCancel:
    def test_confirming_posts_the_reservation_for_this_months_bill(self, active_line: Line) -> None:
        charge = buy(active_line.owner)

        confirmed = carrier.confirm_charge(active_line.owner, charge.reference, at=AT)

        assert confirmed.state == CarrierCharge.State.CONFIRMED
        assert confirmed.cycle == "2026-03"
        assert pending_of("operator:merchants:GBP") == (0, 499)
        assert Account.objects.get(code="operator:unbilled:GBP").debits_posted == 499
        assert carrier.spent_in_month(active_line.owner, "2026-03") == 499
        assert ledger.verify().ok

    def test_a_month_already_billed_sends_the_charge_to_the_next_bill(
        self, active_line: Line
    ) -> None:
        BillRun.objects.create(cycle="2026-03", state=BillRun.State.RUNNING)
        BillRun.objects.create(cycle="2026-04", state=BillRun.State.COMPLETE)
        charge = buy(active_line.owner)

        assert carrier.confirm_charge(active_line.owner, str(charge.reference), at=AT).cycle == (
            "2026-05"
        )

    def test_confirming_twice_is_refused(self, active_line: Line) -> None:
        charge = buy(active_line.owner)
        carrier.confirm_charge(active_line.owner, charge.reference, at=AT)

        message = refused(carrier.confirm_charge, active_line.owner, charge.reference, at=AT)

        assert "already confirmed" in message
        assert "already confirmed" in refused(
            carrier.cancel_charge, active_line.owner, charge.reference
        )

    def test_cancelling_voids_the_reservation(self, active_line: Line) -> None:
        charge = buy(active_line.owner)

        cancelled = carrier.cancel_charge(active_line.owner, charge.reference, at=AT)

        assert cancelled.state == CarrierCharge.State.CANCELLED
        assert pending_of("operator:merchants:GBP") == (0, 0)
        assert "was cancelled" in refused(
            carrier.confirm_charge, active_line.owner, charge.reference
        )
        assert carrier.spent_in_month(active_line.owner, "2026-03") == 0
        assert ledger.verify().ok

    @pytest.mark.parametrize("action", [carrier.confirm_charge, carrier.cancel_charge])
    def test_someone_elses_charge_is_refused_like_a_missing_one(
        self, active_line: Line, charlie: User, action: object
    ) -> None:
        charge = buy(active_line.owner)
        missing = uuid.uuid4()

        with pytest.raises(ChargeNotFound) as theirs:
            action(charlie, charge.reference)  # type: ignore[operator]
        with pytest.raises(ChargeNotFound) as nowhere:
            action(charlie, missing)  # type: ignore[operator]
        with pytest.raises(ChargeNotFound):
            action(charlie, "not-a-reference")  # type: ignore[operator]

        assert str(theirs.value) == str(nowhere.value).replace(str(missing), str(charge.reference))
        assert CarrierCharge.objects.get(pk=charge.pk).state == CarrierCharge.State.RESERVED
        assert Transfer.objects.count() == 1


class TestLimit:
    def test_without_a_setting_the_cap_applies(self, alice: User, settings) -> None:
        terms = carrier.limit_for(alice)

        assert terms.enabled
        assert terms.monthly_limit_minor == settings.BILLING["CARRIER_BILLING_CAP_MINOR"]
        assert terms.own_limit_minor is None

    def test_my_limit_above_a_lowered_cap_is_cut_to_the_cap(self, alice: User, settings) -> None:
        carrier.set_limit(alice, enabled=True, monthly_limit_minor=20_000)
        settings.BILLING = {**settings.BILLING, "CARRIER_BILLING_CAP_MINOR": 5_000}

        assert carrier.limit_for(alice).monthly_limit_minor == 5_000

    @pytest.mark.parametrize("limit", [-1, 24_001, 10.5])
    def test_a_limit_outside_zero_to_the_cap_is_refused(self, alice: User, limit: object) -> None:
        with pytest.raises(CarrierBillingError, match="from 0 to 24000"):
            carrier.set_limit(alice, enabled=True, monthly_limit_minor=limit)  # type: ignore[arg-type]

    def test_a_bad_month_is_refused(self, alice: User) -> None:
        with pytest.raises(CarrierBillingError, match="YYYY-MM"):
            carrier.spent_in_month(alice, "2026-13")


operation = st.one_of(
    st.tuples(st.just("reserve"), st.integers(-5, 900)),
    st.tuples(st.just("confirm"), st.integers(0, 20)),
    st.tuples(st.just("cancel"), st.integers(0, 20)),
    st.tuples(st.just("limit"), st.integers(0, 3_000)),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(operation, max_size=25))
def test_any_sequence_keeps_spend_within_the_limit_and_the_books_balanced(
    active_line: Line, operations: list[tuple[str, int]]
) -> None:
    user = active_line.owner
    with transaction.atomic():
        charges: list[CarrierCharge] = []
        limit = carrier.limit_for(user).monthly_limit_minor
        for number, (action, value) in enumerate(operations):
            try:
                if action == "reserve":
                    charges.append(buy(user, f"p{number}", value))
                elif action == "limit":
                    carrier.set_limit(user, enabled=True, monthly_limit_minor=value)
                    limit = value
                elif charges:
                    step = carrier.confirm_charge if action == "confirm" else carrier.cancel_charge
                    step(user, charges[value % len(charges)].reference, at=AT)
            except CarrierBillingError:
                pass
            else:
                if action == "reserve":
                    # A reservation that went through fits under the limit in force.
                    assert carrier.spent_in_month(user, "2026-03", at=AT) <= limit
        live = CarrierCharge.objects.filter(owner=user).exclude(state="cancelled")
        assert carrier.spent_in_month(user, "2026-03", at=AT) == sum(c.amount_minor for c in live)
        assert ledger.verify().ok
        transaction.set_rollback(True)


class TestConfirmationRechecks:
    LIFETIME = timedelta(minutes=30)

    def test_a_charge_on_a_line_suspended_since_is_refused_and_voided(
        self, active_line: Line
    ) -> None:
        charge = buy(active_line.owner)
        lines.suspend_line(active_line, "unpaid invoice X", at=AT + timedelta(minutes=1))

        message = refused_but_voided(charge, AT + timedelta(minutes=2))

        assert "no longer active" in message
        charge.refresh_from_db()
        assert (charge.state, charge.void_reason) == ("cancelled", "line no longer active")

    def test_a_charge_after_carrier_billing_was_switched_off_is_refused_and_voided(
        self, active_line: Line
    ) -> None:
        charge = buy(active_line.owner)
        carrier.set_limit(active_line.owner, enabled=False, monthly_limit_minor=None)

        message = refused_but_voided(charge, AT + timedelta(minutes=2))

        assert "switched off" in message
        assert CarrierCharge.objects.get(pk=charge.pk).state == CarrierCharge.State.CANCELLED

    def test_a_reservation_expires_after_the_setting(self, active_line: Line) -> None:
        charge = buy(active_line.owner)

        message = refused_but_voided(charge, AT + self.LIFETIME)

        assert "not confirmed within 30 minutes" in message
        assert CarrierCharge.objects.get(pk=charge.pk).state == CarrierCharge.State.EXPIRED
        assert "expired before it was confirmed" in refused(
            carrier.confirm_charge, active_line.owner, charge.reference, at=AT
        )

    def test_just_before_expiry_it_confirms(self, active_line: Line) -> None:
        charge = buy(active_line.owner)

        confirmed = carrier.confirm_charge(
            active_line.owner, charge.reference, at=AT + self.LIFETIME - timedelta(seconds=1)
        )

        assert confirmed.state == CarrierCharge.State.CONFIRMED

    def test_the_lifetime_is_a_setting(self, active_line: Line, settings) -> None:
        settings.BILLING = {**settings.BILLING, "CARRIER_RESERVATION_MINUTES": 5}
        charge = buy(active_line.owner)

        assert "within 5 minutes" in refused_but_voided(charge, AT + timedelta(minutes=5))

    def test_an_expired_reservation_stops_counting_against_the_limit(
        self, active_line: Line
    ) -> None:
        carrier.set_limit(active_line.owner, enabled=True, monthly_limit_minor=1_000)
        buy(active_line.owner, "a", 1_000)
        later = AT + self.LIFETIME

        assert carrier.spent_in_month(active_line.owner, "2026-03", at=later) == 0
        assert buy(active_line.owner, "b", 1_000, at=later).state == CarrierCharge.State.RESERVED

    def test_cancelling_an_expired_reservation_marks_it_expired(self, active_line: Line) -> None:
        charge = buy(active_line.owner)

        cancelled = carrier.cancel_charge(
            active_line.owner, charge.reference, at=AT + self.LIFETIME
        )

        assert cancelled.state == CarrierCharge.State.EXPIRED
        assert ledger.verify().ok


def refused_but_voided(charge: CarrierCharge, at: datetime) -> str:
    """Confirming ``charge`` at ``at`` is refused, and its reservation voided (committed)."""
    with pytest.raises(CarrierBillingError) as error:
        carrier.confirm_charge(charge.owner, charge.reference, at=at)
    reserve = Transfer.objects.get(idempotency_key=f"carrier:{charge.reference}:reserve")
    assert Transfer.objects.filter(pending_of=reserve, state=TransferState.VOIDED).exists()
    assert pending_of("operator:merchants:GBP") == (0, 0)
    assert ledger.verify().ok
    return str(error.value)


class TestExpire:
    def test_stale_reservations_are_voided_once(self, active_line: Line) -> None:
        stale = buy(active_line.owner, "a")
        fresh = buy(active_line.owner, "b", at=AT + timedelta(minutes=20))
        at = AT + timedelta(minutes=30)

        assert carrier.expire_reservations(at) == 1
        assert carrier.expire_reservations(at) == 0

        assert CarrierCharge.objects.get(pk=stale.pk).state == CarrierCharge.State.EXPIRED
        assert CarrierCharge.objects.get(pk=fresh.pk).state == CarrierCharge.State.RESERVED
        assert pending_of("operator:merchants:GBP") == (499, 0)
        assert ledger.verify().ok

    def test_the_command(self, active_line: Line) -> None:
        buy(active_line.owner)
        out = StringIO()

        call_command("billing", "carrier", "expire", "--at", "2026-03-11", "--quiet", stdout=out)

        assert "1 reservations expired (unconfirmed after 30 minutes)" in out.getvalue()


def test_the_reservation_lifetime_is_read_from_the_environment() -> None:
    from kindwave.config import ConfigError, load_config

    assert load_config({"KINDWAVE_DEBUG": "true"}).carrier_reservation_minutes == 30
    env = {"KINDWAVE_DEBUG": "true", "KINDWAVE_CARRIER_RESERVATION_MINUTES": "10"}
    assert load_config(env).carrier_reservation_minutes == 10
    with pytest.raises(ConfigError, match="KINDWAVE_CARRIER_RESERVATION_MINUTES"):
        load_config({"KINDWAVE_DEBUG": "true", "KINDWAVE_CARRIER_RESERVATION_MINUTES": "0"})
