"""Card payments against the local double of the card processor."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from kindwave.accounts.models import User
from kindwave.billing.models import Invoice, Payment
from kindwave.billing.services.payments import (
    CardDeclined,
    CardProcessor,
    CardProviderError,
    InvoiceAlreadyPaid,
    InvoiceNotFound,
    PaymentError,
    PaymentInProgress,
    pay_invoice_by_card,
    reconcile_card_payments,
)
from kindwave.billing.services.payments.card import (
    ATTEMPT_METADATA,
    STALE_AFTER_MINUTES,
    CardCharge,
)
from kindwave.config import ConfigError, load_config
from kindwave.ledger import services as ledger
from kindwave.ledger.models import Transfer
from kindwave.lines.models import Line
from tests.billing import card_double
from tests.billing.factories import make_invoice
from tests.billing.test_payments import issue, posted

pytestmark = pytest.mark.django_db


double = card_double.double  # the running double, configured


@pytest.fixture
def invoice(active_line: Line) -> Invoice:
    return issue(make_invoice(active_line))


def card_pay(
    user: User,
    number: str,
    token: str = card_double.SUCCEEDS,
    key: str = "k1",
    processor: CardProcessor | None = None,
) -> Payment:
    return pay_invoice_by_card(user, number, token=token, idempotency_key=key, processor=processor)


class TestPayByCard:
    def test_a_successful_payment_settles_the_invoice_and_the_fee_is_ours(
        self, double: card_double.CardDouble, invoice: Invoice, alice: User
    ) -> None:
        payment = card_pay(alice, invoice.number)

        invoice.refresh_from_db()
        assert invoice.status == "paid"
        fee = card_double.fee_for(1_200)
        assert (payment.provider, payment.amount_minor, payment.fee_minor) == ("card", 1_200, fee)
        assert payment.provider_ref.startswith("pi_double_")
        assert posted("operator:payment-fees:GBP") == fee
        assert posted("operator:bank:GBP") == 1_200 - fee
        (request,) = double.requests
        assert request["form"]["amount"] == ["1200"]
        assert request["form"]["currency"] == ["gbp"]
        assert request["form"]["metadata[invoice]"] == [invoice.number]
        assert request["headers"]["idempotency-key"] == f"kindwave:{invoice.number}:k1"
        assert ledger.verify().ok

    @pytest.mark.parametrize(
        ("token", "message"),
        [
            (card_double.DECLINED, "declined by your bank"),
            (card_double.INSUFFICIENT_FUNDS, "insufficient funds"),
        ],
    )
    def test_a_decline_posts_nothing_and_is_kept_as_a_failed_payment(
        self,
        double: card_double.CardDouble,
        invoice: Invoice,
        alice: User,
        token: str,
        message: str,
    ) -> None:
        before = Transfer.objects.count()

        with pytest.raises(CardDeclined, match=message):
            card_pay(alice, invoice.number, token)

        assert Transfer.objects.count() == before
        failed = Payment.objects.get()
        assert failed.state == Payment.State.FAILED
        invoice.refresh_from_db()
        assert invoice.status == "open"
        assert card_pay(alice, invoice.number, key="k2").state == "succeeded"  # another card

    def test_someone_elses_invoice_is_refused_like_a_missing_one(
        self, double: card_double.CardDouble, invoice: Invoice, charlie: User
    ) -> None:
        with pytest.raises(InvoiceNotFound) as theirs:
            card_pay(charlie, invoice.number)
        with pytest.raises(InvoiceNotFound) as missing:
            card_pay(charlie, "GB-2026-999999")

        assert str(theirs.value) == str(missing.value).replace("GB-2026-999999", invoice.number)
        assert double.requests == []  # the processor was never asked

    def test_a_paid_invoice_is_refused(
        self, double: card_double.CardDouble, invoice: Invoice, alice: User
    ) -> None:
        card_pay(alice, invoice.number)

        with pytest.raises(InvoiceAlreadyPaid):
            card_pay(alice, invoice.number, key="k2")
        assert len(double.requests) == 1

    def test_a_retry_with_the_same_key_charges_once(
        self, double: card_double.CardDouble, invoice: Invoice
    ) -> None:
        processor = CardProcessor.from_settings()
        first = processor.charge(
            amount_minor=1_200, currency="GBP", token=card_double.SUCCEEDS, idempotency_key="same"
        )
        again = processor.charge(
            amount_minor=1_200, currency="GBP", token=card_double.SUCCEEDS, idempotency_key="same"
        )

        assert first == again
        for charge in (first, again):  # a crash between charge and record, then a retry
            processor.record(
                invoice,
                provider_ref=charge.intent_id,
                amount_minor=charge.amount_minor,
                currency=charge.currency,
                fee_minor=charge.fee_minor,
                received_at=invoice.issued_at,
            )
        assert Payment.objects.count() == 1

    def test_a_wrong_key_is_a_provider_error(self, settings, invoice: Invoice, alice: User) -> None:
        with card_double.running_card_double() as running:
            processor = CardProcessor(running.url, "sk_wrong")
            with pytest.raises(CardProviderError, match="HTTP 401"):
                card_pay(alice, invoice.number, processor=processor)
        # A 401 is a refusal: nothing was charged, the attempt is kept as failed.
        assert Payment.objects.get().state == Payment.State.FAILED
        assert Transfer.objects.count() == 2  # the invoice's own postings only

    def test_an_unknown_token_is_a_provider_error(
        self, double: card_double.CardDouble, invoice: Invoice, alice: User
    ) -> None:
        with pytest.raises(CardProviderError, match="No such PaymentMethod"):
            card_pay(alice, invoice.number, "pm_made_up")

    def test_an_unreachable_processor_is_a_provider_error(
        self, invoice: Invoice, alice: User
    ) -> None:
        with card_double.running_card_double() as running:
            url = running.url  # stopped when the block ends: nothing listens there any more
        processor = CardProcessor(url, card_double.API_KEY, timeout=2)

        with pytest.raises(CardProviderError, match="could not be reached"):
            card_pay(alice, invoice.number, processor=processor)

    def test_without_configuration_card_payments_are_refused(
        self, settings, invoice: Invoice, alice: User
    ) -> None:
        settings.BILLING = {**settings.BILLING, "CARD_PROVIDER_URL": "", "CARD_PROVIDER_KEY": ""}

        with pytest.raises(PaymentError, match="not configured"):
            card_pay(alice, invoice.number)


class TestConfiguration:
    def test_the_processor_is_read_from_the_environment(self) -> None:
        config = load_config(
            {
                "KINDWAVE_DEBUG": "true",
                "KINDWAVE_CARD_PROVIDER_URL": "https://cards.example.com/",
                "KINDWAVE_CARD_PROVIDER_KEY": "sk_live_x",
            }
        )

        assert (config.card_provider_url, config.card_provider_key) == (
            "https://cards.example.com",
            "sk_live_x",
        )
        assert load_config({"KINDWAVE_DEBUG": "true"}).card_provider_url == ""

    @pytest.mark.parametrize("url", ["http://cards.example.com", "ftp://127.0.0.1"])
    def test_a_key_is_never_sent_in_clear_to_another_machine(self, url: str) -> None:
        with pytest.raises(ConfigError, match="KINDWAVE_CARD_PROVIDER_URL"):
            load_config({"KINDWAVE_DEBUG": "true", "KINDWAVE_CARD_PROVIDER_URL": url})


class Crash(Exception):  # noqa: N818 - the process dying, as a test sees it
    """The process dies between the processor's answer and Kindwave's record of it."""


class CrashAfterCharging(CardProcessor):
    """The real adapter, but the answer never reaches Kindwave."""

    def charge(self, **request: Any) -> CardCharge:
        super().charge(**request)
        raise Crash


class ClicksAgain(CardProcessor):
    """While the first charge is in flight, the subscriber clicks "Pay" again."""

    def __init__(self, user: User) -> None:
        super().__init__(card_double_url(), card_double.API_KEY)
        self.user = user
        self.second: Exception | None = None

    def charge(self, **request: Any) -> CardCharge:
        try:
            card_pay(self.user, request["metadata"]["invoice"], key="click-2", processor=self)
        except PaymentError as error:
            self.second = error
        return super().charge(**request)


def card_double_url() -> str:
    from django.conf import settings

    return str(settings.BILLING["CARD_PROVIDER_URL"])


class TestInitiatedPayments:
    def test_a_double_click_charges_the_card_once(
        self, double: card_double.CardDouble, invoice: Invoice, alice: User
    ) -> None:
        processor = ClicksAgain(alice)

        payment = card_pay(alice, invoice.number, key="click-1", processor=processor)

        assert isinstance(processor.second, PaymentInProgress)
        assert len([r for r in double.requests if r["path"] == "/v1/payment_intents"]) == 1
        assert payment.state == Payment.State.SUCCEEDED
        assert Payment.objects.count() == 1
        assert posted(f"wallet:{alice.pk}:GBP") == 0
        assert ledger.verify().ok

    def test_the_payment_is_initiated_before_the_processor_is_asked(
        self, double: card_double.CardDouble, invoice: Invoice, alice: User
    ) -> None:
        processor = CrashAfterCharging(double.url, card_double.API_KEY)

        with pytest.raises(Crash):
            card_pay(alice, invoice.number, processor=processor)

        payment = Payment.objects.get()
        assert (payment.state, payment.provider_ref, payment.received_at) == ("initiated", "", None)
        assert payment.attempt_key == f"kindwave:{invoice.number}:k1"
        with pytest.raises(PaymentInProgress):
            card_pay(alice, invoice.number, key="k2")

    def test_a_retry_under_the_same_key_completes_it_without_a_second_charge(
        self, double: card_double.CardDouble, invoice: Invoice, alice: User
    ) -> None:
        with pytest.raises(Crash):
            card_pay(
                alice, invoice.number, processor=CrashAfterCharging(double.url, card_double.API_KEY)
            )

        payment = card_pay(alice, invoice.number)  # the same key: the processor replays

        assert payment.state == Payment.State.SUCCEEDED
        assert double.counter == 1
        assert card_pay(alice, invoice.number).pk == payment.pk  # and again: the same payment
        assert ledger.verify().ok

    def test_an_unreachable_processor_leaves_the_payment_initiated(
        self, invoice: Invoice, alice: User
    ) -> None:
        with card_double.running_card_double() as running:
            url = running.url
        processor = CardProcessor(url, card_double.API_KEY, timeout=2)

        with pytest.raises(CardProviderError):
            card_pay(alice, invoice.number, processor=processor)

        assert Payment.objects.get().state == Payment.State.INITIATED


class TestReconcileCards:
    LATER = timedelta(minutes=STALE_AFTER_MINUTES + 1)

    def crashed(self, double: card_double.CardDouble, alice: User, number: str, token: str) -> None:
        with pytest.raises((Crash, CardDeclined)):
            card_pay(
                alice, number, token, processor=CrashAfterCharging(double.url, card_double.API_KEY)
            )

    def test_a_charge_the_crash_hid_is_completed(
        self, double: card_double.CardDouble, invoice: Invoice, alice: User
    ) -> None:
        self.crashed(double, alice, invoice.number, card_double.SUCCEEDS)

        summary = reconcile_card_payments(now=timezone.now() + self.LATER)

        assert (summary.checked, summary.succeeded) == (1, 1)
        payment = Payment.objects.get()
        assert payment.state == Payment.State.SUCCEEDED
        assert payment.provider_ref.startswith("pi_double_")
        assert payment.fee_minor == card_double.fee_for(1_200)
        invoice.refresh_from_db()
        assert invoice.status == "paid"
        assert double.counter == 1  # found, not charged again
        assert reconcile_card_payments(now=timezone.now() + self.LATER).checked == 0
        assert ledger.verify().ok

    def test_an_attempt_the_processor_never_saw_is_failed(
        self, double: card_double.CardDouble, invoice: Invoice, alice: User
    ) -> None:
        with card_double.running_card_double() as stopped:
            url = stopped.url
        with pytest.raises(CardProviderError):
            card_pay(alice, invoice.number, processor=CardProcessor(url, card_double.API_KEY))

        summary = reconcile_card_payments(now=timezone.now() + self.LATER)

        assert summary.failed == 1
        assert Payment.objects.get().state == Payment.State.FAILED
        assert card_pay(alice, invoice.number, key="k2").state == "succeeded"  # free to pay again

    def test_a_fresh_attempt_is_left_alone(
        self, double: card_double.CardDouble, invoice: Invoice, alice: User
    ) -> None:
        self.crashed(double, alice, invoice.number, card_double.SUCCEEDS)

        assert reconcile_card_payments().checked == 0
        assert Payment.objects.get().state == Payment.State.INITIATED

    def test_a_declined_attempt_is_failed_with_the_reason(
        self, double: card_double.CardDouble, invoice: Invoice, alice: User
    ) -> None:
        payment = Payment.objects.create(
            invoice=invoice,
            provider="card",
            attempt_key=f"kindwave:{invoice.number}:k1",
            amount_minor=1_200,
            currency="GBP",
            state="initiated",
        )
        processor = CardProcessor.from_settings()
        with pytest.raises(CardDeclined):
            processor.charge(
                amount_minor=1_200,
                currency="GBP",
                token=card_double.INSUFFICIENT_FUNDS,
                idempotency_key=payment.attempt_key,
                metadata={ATTEMPT_METADATA: payment.attempt_key},
            )

        assert reconcile_card_payments(now=timezone.now() + self.LATER).failed == 1
        payment.refresh_from_db()
        assert (payment.state, payment.failure_reason) == ("failed", "insufficient_funds")

    def test_the_command(
        self, double: card_double.CardDouble, invoice: Invoice, alice: User
    ) -> None:
        self.crashed(double, alice, invoice.number, card_double.SUCCEEDS)
        Payment.objects.update(created_at=timezone.now() - self.LATER)
        out = StringIO()

        call_command("billing", "payments", "reconcile-cards", stdout=out)

        assert "1 card payments in progress: 1 completed, 0 failed" in out.getvalue()
