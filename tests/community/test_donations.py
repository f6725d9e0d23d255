"""Donations with no commission: by phone bill (reserve → one confirmation) and by card
(the local processor double), every refusal with nothing written, the receipt, and the
invariant that a project's ``raised`` is the sum of its completed donations."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kindwave.accounts.models import User
from kindwave.billing.models import CarrierCharge
from kindwave.billing.services import carrier
from kindwave.billing.services.payments.card import CardCharge, CardProcessor, CardProviderError
from kindwave.causes.models import Cause
from kindwave.community.giftaid import GiftAidDeclaration
from kindwave.community.models import Account, Donation, Project
from kindwave.community.services import donations, projects
from kindwave.community.services.donations import (
    DonationError,
    DonationKeyReused,
    DonationNotFound,
    PhoneBillUnavailable,
)
from kindwave.ledger import services as ledger
from kindwave.ledger.models import Account as LedgerAccount
from kindwave.ledger.models import Transfer, TransferState
from kindwave.lines.models import Line
from tests.billing import card_double
from tests.community.test_projects import create as make_project
from tests.lines.conftest import active_line, gb, gb_stock, ordered_line

__all__ = ["active_line", "gb", "gb_stock", "ordered_line"]

pytestmark = pytest.mark.django_db

DECLARATION = GiftAidDeclaration(
    title="Ms",
    first_name="Alice",
    last_name="Martin-Smith",
    house="12",
    address="Acacia Avenue, London",
    postcode="sw1a1aa",
    accepted=True,
)


def person(user: User, username: str) -> Account:
    return Account.objects.create(username=username, kind=Account.Kind.PERSON, user=user)


def balance(code: str) -> tuple[int, int]:
    """(posted credits - debits, pending credits) of a ledger account; zeros if unopened."""
    found = LedgerAccount.objects.filter(code=code).first()
    if found is None:
        return 0, 0
    return found.credits_posted - found.debits_posted, found.credits_pending


def refused(call: Callable[..., object], *args: object, **kwargs: object) -> str:
    """The refusal's message; asserts that nothing was written (no transfer, no donation,
    no carrier charge)."""
    before = (Transfer.objects.count(), Donation.objects.count(), CarrierCharge.objects.count())
    with pytest.raises(DonationError) as error:
        call(*args, **kwargs)
    after = (Transfer.objects.count(), Donation.objects.count(), CarrierCharge.objects.count())
    assert after == before
    return str(error.value)


@pytest.fixture
def wateraid(demo_causes: dict[str, Cause]) -> Cause:
    return demo_causes["wateraid"]


@pytest.fixture
def project(wateraid: Cause, alice: User) -> Project:
    return make_project(person(alice, "alice"), wateraid)


double = card_double.double  # the running double, configured


def by_phone(user: User, cause: Cause, key: str = "k1", **overrides: object) -> Donation:
    request: dict[str, object] = {
        "cause": cause,
        "amount_minor": 500,
        "currency": "GBP",
        "client_key": key,
    }
    request.update(overrides)
    return donations.donate_by_phone_bill(user, **request)  # type: ignore[arg-type]


def by_card(user: User, cause: Cause, key: str = "c1", **overrides: object) -> Donation:
    request: dict[str, object] = {
        "cause": cause,
        "amount_minor": 1_000,
        "currency": "GBP",
        "token": card_double.SUCCEEDS,
        "idempotency_key": key,
    }
    request.update(overrides)
    return donations.donate_by_card(user, **request)  # type: ignore[arg-type]


class TestRefusals:
    """Each refusal, by phone bill and by card: a clear message and nothing written."""

    @pytest.mark.parametrize("method", ["phone", "card"])
    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            ({"amount_minor": 0}, "positive whole number"),
            ({"amount_minor": -100}, "positive whole number"),
            ({"amount_minor": 2.5}, "positive whole number"),
            ({"amount_minor": 1_000_001}, "at most £10,000.00"),
            ({"currency": "JPY"}, "not a currency"),
        ],
    )
    def test_bad_amounts_and_currencies(
        self,
        method: str,
        overrides: dict[str, object],
        message: str,
        active_line: Line,
        wateraid: Cause,
        double: card_double.CardDouble,
    ) -> None:
        call = by_phone if method == "phone" else by_card

        assert message in refused(call, active_line.owner, wateraid, **overrides)
        assert double.requests == []  # the card was never charged

    def test_the_maximum_itself_is_accepted_and_can_be_set(
        self, alice: User, wateraid: Cause, double: card_double.CardDouble, settings
    ) -> None:
        settings.COMMUNITY = {"DONATION_MAX_MINOR": 5_000}

        assert "at most £50.00" in refused(by_card, alice, wateraid, amount_minor=5_001)
        assert by_card(alice, wateraid, amount_minor=5_000).state == Donation.State.COMPLETED

    @pytest.mark.parametrize("method", ["phone", "card"])
    def test_an_unverified_cause(
        self, method: str, active_line: Line, wateraid: Cause, double: card_double.CardDouble
    ) -> None:
        Cause.objects.filter(pk=wateraid.pk).update(verified_at=None)
        wateraid.refresh_from_db()
        call = by_phone if method == "phone" else by_card

        assert "not verified" in refused(call, active_line.owner, wateraid)

    @pytest.mark.parametrize("method", ["phone", "card"])
    def test_a_project_of_another_cause(
        self,
        method: str,
        active_line: Line,
        demo_causes: dict[str, Cause],
        project: Project,
        double: card_double.CardDouble,
    ) -> None:
        call = by_phone if method == "phone" else by_card
        trussell = demo_causes["the-trussell-trust"]

        assert "another cause" in refused(call, active_line.owner, trussell, project=project)

    @pytest.mark.parametrize("method", ["phone", "card"])
    def test_a_project_past_its_deadline(
        self,
        method: str,
        active_line: Line,
        wateraid: Cause,
        project: Project,
        double: card_double.CardDouble,
    ) -> None:
        Project.objects.filter(pk=project.pk).update(deadline=projects.today() - timedelta(days=1))
        project.refresh_from_db()
        call = by_phone if method == "phone" else by_card

        assert "ended on" in refused(call, active_line.owner, wateraid, project=project)

    def test_a_project_in_another_currency(
        self, alice: User, wateraid: Cause, project: Project, double: card_double.CardDouble
    ) -> None:
        message = refused(by_card, alice, wateraid, project=project, currency="EUR")

        assert "raises money in GBP" in message

    def test_a_phone_bill_in_another_currency_than_the_line(
        self, active_line: Line, wateraid: Cause
    ) -> None:
        message = refused(by_phone, active_line.owner, wateraid, currency="EUR")

        assert "bills in GBP" in message

    def test_a_phone_bill_gift_to_a_project_in_another_currency_than_the_line(
        self, active_line: Line, alice: User, demo_causes: dict[str, Cause]
    ) -> None:
        america = demo_causes["feeding-america"]
        pantry = make_project(person(alice, "alice"), america, currency="USD")

        message = refused(by_phone, active_line.owner, america, project=pantry, currency="USD")

        assert message == (
            "This project raises money in USD and your phone bill is in GBP, so a gift to it "
            "cannot go on your phone bill."
        )

    def test_no_active_line(self, charlie: User, wateraid: Cause) -> None:
        assert "needs an active Kindwave line" in refused(by_phone, charlie, wateraid)

    def test_over_the_monthly_carrier_limit(self, active_line: Line, wateraid: Cause) -> None:
        message = refused(by_phone, active_line.owner, wateraid, amount_minor=30_000)

        assert "monthly limit" in message

    @pytest.mark.parametrize("method", ["phone", "card"])
    def test_gift_aid_for_a_french_cause(
        self,
        method: str,
        active_line: Line,
        demo_causes: dict[str, Cause],
        double: card_double.CardDouble,
    ) -> None:
        call = by_phone if method == "phone" else by_card
        restos = demo_causes["restos-du-coeur"]

        message = refused(call, active_line.owner, restos, gift_aid=DECLARATION)

        assert "UK charities" in message

    def test_gift_aid_in_euros(
        self, alice: User, wateraid: Cause, double: card_double.CardDouble
    ) -> None:
        message = refused(by_card, alice, wateraid, currency="EUR", gift_aid=DECLARATION)

        assert "pounds sterling" in message

    def test_gift_aid_without_the_declaration_accepted(
        self, alice: User, wateraid: Cause, double: card_double.CardDouble
    ) -> None:
        declaration = GiftAidDeclaration(**{**DECLARATION.__dict__, "accepted": False})

        assert "confirm the declaration" in refused(by_card, alice, wateraid, gift_aid=declaration)

    def test_a_card_donation_without_a_key_or_token(
        self, alice: User, wateraid: Cause, double: card_double.CardDouble
    ) -> None:
        assert "key" in refused(by_card, alice, wateraid, key="")
        assert "token" in refused(by_card, alice, wateraid, token=" ")


class TestPhoneBill:
    def test_reserve_then_confirm_gives_the_whole_amount_to_the_cause_and_the_project(
        self,
        active_line: Line,
        wateraid: Cause,
        project: Project,
        django_capture_on_commit_callbacks,
    ) -> None:
        alice = active_line.owner
        account = f"cause:{wateraid.pk}:GBP"
        before = balance(account)

        donation = by_phone(alice, wateraid, project=project, amount_minor=750)

        assert donation.state == Donation.State.PENDING
        assert donation.method == Donation.Method.PHONE_BILL
        assert donation.carrier_charge is not None
        assert donation.carrier_charge.state == CarrierCharge.State.RESERVED
        assert balance(account) == (before[0], before[1] + 750)  # pending only
        project.refresh_from_db()
        assert project.raised_minor == 0

        with django_capture_on_commit_callbacks(execute=True):
            confirmed = donations.confirm_phone_bill_donation(alice, donation.reference)

        assert confirmed.state == Donation.State.COMPLETED
        assert confirmed.completed_at is not None
        assert balance(account) == (before[0] + 750, before[1])  # 100 %, posted
        project.refresh_from_db()
        assert projects.progress(project).raised_minor == 750
        assert projects.progress(project).display_percent == 0  # 0.75 % rounds down
        transfers = Transfer.objects.filter(
            idempotency_key__startswith=f"carrier:{donation.carrier_charge.reference}:"
        )
        assert sorted(transfers.values_list("state", flat=True)) == [
            TransferState.PENDING,
            TransferState.POSTED,
        ]
        assert set(transfers.values_list("code", flat=True)) == {"donation"}
        assert ledger.verify().ok
        assert len(mail.outbox) == 1
        assert mail.outbox[0].to == ["alice@example.org"]

    def test_confirming_twice_is_refused(self, active_line: Line, wateraid: Cause) -> None:
        alice = active_line.owner
        donation = by_phone(alice, wateraid)
        donations.confirm_phone_bill_donation(alice, donation.reference)

        message = refused(donations.confirm_phone_bill_donation, alice, donation.reference)

        assert "already confirmed" in message

    def test_someone_elses_donation_looks_missing(
        self, active_line: Line, wateraid: Cause, charlie: User
    ) -> None:
        donation = by_phone(active_line.owner, wateraid)

        with pytest.raises(DonationNotFound) as theirs:
            donations.confirm_phone_bill_donation(charlie, donation.reference)
        missing = uuid.uuid4()
        with pytest.raises(DonationNotFound) as absent:
            donations.confirm_phone_bill_donation(charlie, missing)

        assert str(theirs.value) == f"There is no donation {donation.reference}."
        assert str(absent.value) == f"There is no donation {missing}."
        donation.refresh_from_db()
        assert donation.state == Donation.State.PENDING
        with pytest.raises(DonationNotFound, match="There is no donation not-a-uuid"):
            donations.confirm_phone_bill_donation(charlie, "not-a-uuid")

    def test_the_same_key_is_the_same_donation(self, active_line: Line, wateraid: Cause) -> None:
        alice = active_line.owner
        first = by_phone(alice, wateraid)

        again = by_phone(alice, wateraid)

        assert again.pk == first.pk
        assert CarrierCharge.objects.count() == 1
        assert "different" in refused(by_phone, alice, wateraid, amount_minor=501)

    @pytest.mark.parametrize("method", ["phone", "card"])
    def test_a_reused_key_is_refused_without_showing_the_key(
        self, method: str, active_line: Line, wateraid: Cause, double: card_double.CardDouble
    ) -> None:
        call = by_phone if method == "phone" else by_card
        call(active_line.owner, wateraid, "secret-key-1")

        with pytest.raises(DonationKeyReused) as error:
            call(active_line.owner, wateraid, "secret-key-1", amount_minor=501)

        assert "already sent for a different gift" in str(error.value)
        assert "secret-key-1" not in str(error.value)
        assert error.value.key == "secret-key-1"

    def test_an_expired_reservation_cancels_the_donation(
        self, active_line: Line, wateraid: Cause, project: Project
    ) -> None:
        alice = active_line.owner
        donation = by_phone(alice, wateraid, project=project)
        CarrierCharge.objects.filter(pk=donation.carrier_charge_id).update(
            reserved_at=donation.created_at - timedelta(hours=1)
        )

        with pytest.raises(DonationError, match="not confirmed within 30 minutes, so it lapsed"):
            donations.confirm_phone_bill_donation(alice, donation.reference)

        donation.refresh_from_db()
        assert donation.state == Donation.State.CANCELLED
        assert balance(f"cause:{wateraid.pk}:GBP") == (0, 0)
        project.refresh_from_db()
        assert project.raised_minor == 0
        assert ledger.verify().ok


class TestCard:
    def test_the_cause_gets_everything_and_the_fee_is_the_operators(
        self,
        alice: User,
        wateraid: Cause,
        project: Project,
        double: card_double.CardDouble,
        django_capture_on_commit_callbacks,
    ) -> None:
        fee = card_double.fee_for(2_000)

        with django_capture_on_commit_callbacks(execute=True):
            donation = by_card(alice, wateraid, project=project, amount_minor=2_000)

        assert donation.state == Donation.State.COMPLETED
        assert donation.card_payment_ref.startswith("pi_double_")
        assert balance(f"cause:{wateraid.pk}:GBP") == (2_000, 0)
        fees = LedgerAccount.objects.get(code="operator:payment-fees:GBP")
        assert fees.debits_posted - fees.credits_posted == fee
        bank = LedgerAccount.objects.get(code="operator:bank:GBP")
        assert bank.debits_posted - bank.credits_posted == 2_000 - fee
        gift = Transfer.objects.get(idempotency_key=f"donation:{donation.reference}")
        assert (gift.code, gift.amount) == ("donation", 2_000)
        assert "Alice" not in gift.description
        charge_fee = Transfer.objects.get(idempotency_key=f"donation:{donation.reference}:fee")
        assert (charge_fee.code, charge_fee.amount) == ("payment-fee", fee)
        project.refresh_from_db()
        assert project.raised_minor == 2_000
        assert ledger.verify().ok
        assert len(mail.outbox) == 1
        assert "100 % reaches the cause" in mail.outbox[0].body

    @pytest.mark.parametrize(
        ("token", "reason"),
        [
            (card_double.DECLINED, "declined by your bank"),
            (card_double.INSUFFICIENT_FUNDS, "insufficient funds"),
        ],
    )
    def test_a_decline_posts_nothing(
        self,
        alice: User,
        wateraid: Cause,
        project: Project,
        double: card_double.CardDouble,
        token: str,
        reason: str,
    ) -> None:
        transfers = Transfer.objects.count()

        with pytest.raises(DonationError, match=reason):
            by_card(alice, wateraid, project=project, token=token)

        assert Transfer.objects.count() == transfers
        donation = Donation.objects.get(donor=alice)
        assert donation.state == Donation.State.FAILED
        project.refresh_from_db()
        assert project.raised_minor == 0
        assert len(mail.outbox) == 0

    def test_a_retry_with_the_same_key_charges_once(
        self, alice: User, wateraid: Cause, double: card_double.CardDouble
    ) -> None:
        first = by_card(alice, wateraid)

        again = by_card(alice, wateraid)

        assert again.pk == first.pk
        assert len([r for r in double.requests if r["path"] == "/v1/payment_intents"]) == 1
        assert balance(f"cause:{wateraid.pk}:GBP") == (1_000, 0)
        assert "different" in refused(by_card, alice, wateraid, amount_minor=999)

    def test_an_unreachable_processor_leaves_it_pending_and_a_retry_completes_it(
        self, alice: User, wateraid: Cause, double: card_double.CardDouble
    ) -> None:
        down = CardProcessor("http://127.0.0.1:9", card_double.API_KEY, timeout=1)

        with pytest.raises(DonationError, match="could not be reached"):
            by_card(alice, wateraid, processor=down)

        pending = Donation.objects.get(donor=alice)
        assert pending.state == Donation.State.PENDING
        assert Transfer.objects.count() == 0
        assert by_card(alice, wateraid).pk == pending.pk
        assert balance(f"cause:{wateraid.pk}:GBP") == (1_000, 0)

    def test_a_wrong_key_at_the_processor_fails_it(
        self, alice: User, wateraid: Cause, double: card_double.CardDouble
    ) -> None:
        wrong = CardProcessor(double.url, "sk_wrong")

        with pytest.raises(DonationError, match="refused the request"):
            by_card(alice, wateraid, processor=wrong)

        assert Donation.objects.get(donor=alice).state == Donation.State.FAILED
        assert Transfer.objects.count() == 0


class TestReceipt:
    def test_in_the_donors_language_with_the_gift_aid_line(
        self,
        alice: User,
        wateraid: Cause,
        double: card_double.CardDouble,
        django_capture_on_commit_callbacks,
    ) -> None:
        alice.language = "fr"
        alice.save(update_fields=["language"])

        with django_capture_on_commit_callbacks(execute=True):
            donation = by_card(alice, wateraid, amount_minor=1_250, gift_aid=DECLARATION)

        (receipt,) = mail.outbox
        assert "12,50" in receipt.body  # French money format
        assert str(donation.reference) in receipt.body
        assert "WaterAid" in receipt.body
        assert "Gift Aid" in receipt.body
        assert "SW1A 1AA" in receipt.body

    def test_without_gift_aid_no_gift_aid_line(
        self, alice: User, wateraid: Cause, double: card_double.CardDouble
    ) -> None:
        donation = by_card(alice, wateraid)

        _subject, body = donations.receipt_text(donation)

        assert "Gift Aid" not in body
        assert "£10.00" in body

    def test_a_pending_donation_gets_no_receipt(self, active_line: Line, wateraid: Cause) -> None:
        donation = by_phone(active_line.owner, wateraid)

        donations.send_receipt(donation)

        assert mail.outbox == []


operation = st.tuples(
    st.sampled_from(["phone-confirm", "phone-pending", "card", "card-declined", "refused"]),
    st.integers(min_value=1, max_value=2_000),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(operation, max_size=8))
def test_raised_is_the_sum_of_completed_donations_and_the_books_balance(
    active_line: Line,
    wateraid: Cause,
    project: Project,
    double: card_double.CardDouble,
    operations: list[tuple[str, int]],
) -> None:
    alice = active_line.owner
    with transaction.atomic():
        for number, (action, amount) in enumerate(operations):
            key = f"h{number}"
            common = {"project": project, "amount_minor": amount}
            if action.startswith("phone"):
                donation = by_phone(alice, wateraid, key, **common)
                if action == "phone-confirm":
                    donations.confirm_phone_bill_donation(alice, donation.reference)
            elif action == "card":
                by_card(alice, wateraid, key, **common)
            elif action == "card-declined":
                with pytest.raises(DonationError):
                    by_card(alice, wateraid, key, token=card_double.DECLINED, **common)
            else:
                with pytest.raises(DonationError):
                    by_card(alice, wateraid, key, project=project, amount_minor=-amount)

        project.refresh_from_db()
        completed = Donation.objects.filter(project=project, state=Donation.State.COMPLETED)
        assert project.raised_minor == sum(d.amount_minor for d in completed)
        assert balance(f"cause:{wateraid.pk}:GBP")[0] == project.raised_minor
        assert ledger.verify().ok
        transaction.set_rollback(True)


class LostAnswer(CardProcessor):
    """Charges the card, then loses the answer (the process 'crashes' before Kindwave
    learns of it)."""

    def charge(self, **kwargs: Any) -> CardCharge:
        super().charge(**kwargs)
        raise CardProviderError("The card processor could not be reached: timed out")


class TestReconcile:
    def test_a_charge_whose_answer_was_lost_is_completed_once(
        self, alice: User, wateraid: Cause, project: Project, double: card_double.CardDouble
    ) -> None:
        with pytest.raises(DonationError, match="could not be reached"):
            by_card(
                alice,
                wateraid,
                project=project,
                processor=LostAnswer(double.url, card_double.API_KEY),
            )
        pending = Donation.objects.get(donor=alice)
        assert pending.state == Donation.State.PENDING
        assert Transfer.objects.count() == 0
        later = pending.created_at + timedelta(minutes=16)

        too_early = donations.reconcile_card_donations(
            now=pending.created_at + timedelta(minutes=5)
        )
        summary = donations.reconcile_card_donations(now=later)
        again = donations.reconcile_card_donations(now=later)

        assert too_early.checked == 0
        assert (summary.checked, summary.completed, summary.failed) == (1, 1, 0)
        assert again.checked == 0
        pending.refresh_from_db()
        assert pending.state == Donation.State.COMPLETED
        assert len([r for r in double.requests if r["path"] == "/v1/payment_intents"]) == 1
        assert balance(f"cause:{wateraid.pk}:GBP") == (1_000, 0)
        project.refresh_from_db()
        assert project.raised_minor == 1_000
        assert ledger.verify().ok

    def test_a_request_that_never_arrived_is_failed(
        self, alice: User, wateraid: Cause, double: card_double.CardDouble
    ) -> None:
        down = CardProcessor("http://127.0.0.1:9", card_double.API_KEY, timeout=1)
        with pytest.raises(DonationError):
            by_card(alice, wateraid, processor=down)
        pending = Donation.objects.get(donor=alice)

        summary = donations.reconcile_card_donations(now=pending.created_at + timedelta(minutes=16))

        assert (summary.completed, summary.failed) == (0, 1)
        pending.refresh_from_db()
        assert pending.state == Donation.State.FAILED
        assert Transfer.objects.count() == 0

    def test_the_command(
        self, alice: User, wateraid: Cause, double: card_double.CardDouble
    ) -> None:
        stdout = io.StringIO()

        call_command("community", "reconcile-cards", stdout=stdout)

        assert "0 card donations pending" in stdout.getvalue()


def test_card_payments_not_configured_is_refused(alice: User, wateraid: Cause, settings) -> None:
    settings.BILLING = {**settings.BILLING, "CARD_PROVIDER_URL": "", "CARD_PROVIDER_KEY": ""}

    assert "not configured" in refused(by_card, alice, wateraid)


class TestPhoneBillTerms:
    def test_a_gift_to_a_cause_is_in_the_currency_of_the_donors_line(
        self, active_line: Line, demo_causes: dict[str, Cause]
    ) -> None:
        terms = donations.phone_bill_terms(active_line.owner, cause=demo_causes["restos-du-coeur"])

        assert terms == donations.PhoneBillTerms(
            currency="GBP", left_minor=24_000, max_minor=1_000_000
        )

    def test_what_the_bill_can_still_take_this_month(
        self, active_line: Line, wateraid: Cause, project: Project
    ) -> None:
        by_phone(active_line.owner, wateraid, amount_minor=4_000)

        terms = donations.phone_bill_terms(active_line.owner, cause=wateraid, project=project)

        assert (terms.currency, terms.left_minor) == ("GBP", 20_000)

    @pytest.mark.parametrize(
        ("case", "reason"),
        [("no line", "no_line"), ("switched off", "switched_off"), ("ended", "ended")],
    )
    def test_why_no_gift_can_be_made(
        self,
        case: str,
        reason: str,
        active_line: Line,
        charlie: User,
        wateraid: Cause,
        project: Project,
    ) -> None:
        donor = charlie if case == "no line" else active_line.owner
        if case == "switched off":
            carrier.set_limit(donor, enabled=False, monthly_limit_minor=None)
        if case == "ended":
            Project.objects.filter(pk=project.pk).update(
                deadline=projects.today() - timedelta(days=1)
            )
            project.refresh_from_db()

        with pytest.raises(PhoneBillUnavailable) as error:
            donations.phone_bill_terms(donor, cause=wateraid, project=project)

        assert error.value.reason == reason
        assert str(error.value) == refused(by_phone, donor, wateraid, project=project)
