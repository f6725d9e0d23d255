"""Card payments through a card processor's HTTP API, in the style of Stripe's
PaymentIntents (docs/billing-payments.md, "Card").

One request creates and confirms a payment intent: ``POST {URL}/v1/payment_intents``,
form-encoded ``amount`` (minor units), ``currency`` (lower case), ``payment_method`` (the
token the card form produced), ``confirm=true``, ``metadata[invoice]`` and
``expand[]=latest_charge.balance_transaction`` (to learn the fee), with
``Authorization: Bearer <key>`` and an ``Idempotency-Key`` header: the processor answers
a replayed key with the first answer, so a retry after a lost response cannot charge
twice. A decline is HTTP 402 with ``{"error": {"type": "card_error", "code",
"decline_code", "message", "payment_intent"}}``. Configured by
``KINDWAVE_CARD_PROVIDER_URL`` and ``KINDWAVE_CARD_PROVIDER_KEY``; only the standard
library's HTTP client is used.

A payment is written *initiated* (under the invoice's row lock) before the processor is
asked, so a second attempt on the same invoice — a double click — is refused while the
first is in flight, and a crash after the processor charged leaves a trace:
:func:`reconcile_card_payments` finds the intent again (``GET
/v1/payment_intents/search`` on the attempt's key, kept in the intent's metadata) and
completes or fails the payment.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal, cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kindwave.accounts.models import User
from kindwave.billing.models import Invoice, Payment
from kindwave.billing.services.payments.core import (
    InvoiceAlreadyPaid,
    InvoiceNotFound,
    PaymentError,
    PaymentProvider,
    apply_to_invoice,
    locked_invoice,
)

TIMEOUT_SECONDS = 20
#: A card payment still initiated this long after it started is asked about again: far
#: longer than a request's timeout, and than the processor's search takes to see an intent.
STALE_AFTER_MINUTES = 15
#: The metadata key under which each intent carries the attempt's key, to be found again.
ATTEMPT_METADATA = "kindwave_attempt"


class CardProviderError(PaymentError):
    """The card processor could not be reached or answered something unexpected: the
    outcome is unknown, so retry with the same idempotency key. ``refused`` is true when
    the processor answered with a 4xx refusal: then nothing was charged."""

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


class PaymentInProgress(PaymentError):  # noqa: N818 - reads as what happened
    """Another card payment of the invoice is in flight (a double click, or one a crash
    interrupted, which ``reconcile-cards`` settles)."""


class CardDeclined(PaymentError):  # noqa: N818 - reads as what happened
    """The card was declined; nothing was charged."""

    def __init__(self, message: str, code: str, decline_code: str, intent_id: str) -> None:
        super().__init__(message)
        self.code, self.decline_code, self.intent_id = code, decline_code, intent_id


@dataclass(frozen=True)
class CardCharge:
    """A payment intent the processor reports as succeeded."""

    intent_id: str
    amount_minor: int
    currency: str
    fee_minor: int


@dataclass(frozen=True)
class IntentLookup:
    """What the processor knows of an attempt: ``succeeded`` (with the charge),
    ``failed`` (with the reason), ``pending`` (still being processed) or ``missing``
    (the request never reached it)."""

    outcome: Literal["succeeded", "failed", "pending", "missing"]
    charge: CardCharge | None = None
    reason: str = ""
    intent_id: str = ""


def _decline_message(decline_code: str) -> str:
    messages = {
        "insufficient_funds": _("Your card was declined: insufficient funds."),
        "expired_card": _("Your card was declined: it has expired."),
        "incorrect_cvc": _("Your card was declined: the security code is wrong."),
    }
    return messages.get(decline_code, _("Your card was declined by your bank."))


class CardProcessor(PaymentProvider):
    """The adapter to the card processor (one instance per base URL and key)."""

    code: ClassVar[str] = Payment.Provider.CARD

    def __init__(self, base_url: str, api_key: str, timeout: float = TIMEOUT_SECONDS) -> None:
        if not base_url or not api_key:
            raise PaymentError(
                _(
                    "Card payments are not configured (KINDWAVE_CARD_PROVIDER_URL and "
                    "KINDWAVE_CARD_PROVIDER_KEY)."
                )
            )
        self.base_url, self.api_key, self.timeout = base_url.rstrip("/"), api_key, timeout

    @classmethod
    def from_settings(cls) -> CardProcessor:
        return cls(
            cast(str, settings.BILLING["CARD_PROVIDER_URL"]),
            cast(str, settings.BILLING["CARD_PROVIDER_KEY"]),
        )

    def charge(
        self,
        *,
        amount_minor: int,
        currency: str,
        token: str,
        idempotency_key: str,
        metadata: dict[str, str] | None = None,
    ) -> CardCharge:
        """Create and confirm a payment intent. Returns the charge when it succeeded;
        raises ``CardDeclined`` (nothing charged) or ``CardProviderError`` (unknown)."""
        fields: list[tuple[str, str]] = [
            ("amount", str(amount_minor)),
            ("currency", currency.lower()),
            ("payment_method", token),
            ("confirm", "true"),
            ("expand[]", "latest_charge.balance_transaction"),
        ]
        fields += [(f"metadata[{name}]", value) for name, value in (metadata or {}).items()]
        status, body = self._post("/v1/payment_intents", fields, idempotency_key)
        if status == 402 and isinstance(body.get("error"), dict):
            error = body["error"]
            intent = error.get("payment_intent") or {}
            decline_code = str(error.get("decline_code") or error.get("code") or "")
            raise CardDeclined(
                _decline_message(decline_code),
                str(error.get("code") or ""),
                decline_code,
                str(intent.get("id") or ""),
            )
        if status != 200:
            self._refused(status, body)
        return self._succeeded(body, amount_minor, currency)

    def find(self, attempt_key: str, *, amount_minor: int, currency: str) -> IntentLookup:
        """Ask the processor about the attempt ``attempt_key`` (the intent whose metadata
        carries it): ``GET /v1/payment_intents/search``. Raises ``CardProviderError`` when
        the processor cannot answer."""
        escaped = attempt_key.replace("\\", "\\\\").replace("'", "\\'")
        query = urllib.parse.urlencode(
            {
                "query": f"metadata['{ATTEMPT_METADATA}']:'{escaped}'",
                "expand[]": "data.latest_charge.balance_transaction",
            }
        )
        status, body = self._request("GET", f"/v1/payment_intents/search?{query}")
        if status != 200:
            self._refused(status, body)
        found = body.get("data")
        if not isinstance(found, list):
            raise CardProviderError(_("The card processor's answer could not be read."))
        if not found or not isinstance(found[0], dict):
            return IntentLookup("missing")
        intent = found[0]
        intent_id, state = str(intent.get("id") or ""), str(intent.get("status") or "")
        if state == "succeeded":
            charge = self._succeeded(intent, amount_minor, currency)
            return IntentLookup("succeeded", charge, intent_id=intent_id)
        if state in ("requires_payment_method", "canceled"):
            error = intent.get("last_payment_error") or {}
            reason = str(error.get("decline_code") or error.get("code") or state)
            return IntentLookup("failed", reason=reason, intent_id=intent_id)
        return IntentLookup("pending", intent_id=intent_id)

    def _refused(self, status: int, body: dict[str, Any]) -> None:
        message = (body.get("error") or {}).get("message")
        raise CardProviderError(
            _("The card processor refused the request (HTTP %(status)s): %(message)s")
            % {"status": status, "message": message or _("no explanation")},
            # A 4xx answer is a refusal (nothing charged); 5xx, 409 and 429 may be retried.
            refused=400 <= status < 500 and status not in (409, 429),
        )

    def _succeeded(self, body: dict[str, Any], amount_minor: int, currency: str) -> CardCharge:
        try:
            intent_id = str(body["id"])
            status = body["status"]
            amount, charged_in = int(body["amount"]), str(body["currency"]).upper()
            balance = (body.get("latest_charge") or {}).get("balance_transaction") or {}
            fee = int(balance.get("fee", 0))
            fee_currency = str(balance.get("currency", currency)).upper()
        except (KeyError, TypeError, ValueError):
            raise CardProviderError(_("The card processor's answer could not be read.")) from None
        if status != "succeeded":
            raise CardProviderError(
                _("The card payment %(id)s is %(status)s, not succeeded.")
                % {"id": intent_id, "status": status}
            )
        if amount != amount_minor or charged_in != currency or fee_currency != currency or fee < 0:
            raise CardProviderError(
                _(
                    "The card processor charged %(amount)s %(currency)s "
                    "(fee %(fee)s %(fee_currency)s) for a request of %(asked)s %(asked_currency)s."
                )
                % {
                    "amount": amount,
                    "currency": charged_in,
                    "fee": fee,
                    "fee_currency": fee_currency,
                    "asked": amount_minor,
                    "asked_currency": currency,
                }
            )
        return CardCharge(intent_id, amount, charged_in, fee)

    def _post(
        self, path: str, fields: list[tuple[str, str]], idempotency_key: str
    ) -> tuple[int, dict[str, Any]]:
        return self._request(
            "POST",
            path,
            data=urllib.parse.urlencode(fields).encode("ascii"),
            headers={
                "Idempotency-Key": idempotency_key,
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )

    def _request(
        self,
        method: str,
        path: str,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        url = self.base_url + path
        if not url.startswith(("https://", "http://")):
            raise CardProviderError(_("The card processor's URL must be http(s)."))
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            url,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.api_key}",
                "Accept": "application/json",
                **(headers or {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise CardProviderError(
                _("The card processor could not be reached: %(error)s") % {"error": error}
            ) from None
        try:
            body = json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = {}
        return status, body if isinstance(body, dict) else {}


def pay_invoice_by_card(
    user: User,
    invoice_number: str,
    *,
    token: str,
    idempotency_key: str,
    processor: CardProcessor | None = None,
) -> Payment:
    """Charge what is outstanding on the subscriber's invoice ``invoice_number`` to the
    card behind ``token`` and record the payment (the processor's fee is the operator's
    expense, never taken from the invoice or a donation).

    First, under the invoice's row lock, a ``Payment`` is written *initiated* for the
    amount outstanding; then the processor is asked; then the payment is marked
    *succeeded* (and posted, as :func:`record_payment` does) or *failed*.

    Refused before any charge: an invoice that is not the user's (exactly like a missing
    one, ``InvoiceNotFound``), an invoice with nothing outstanding (``InvoiceAlreadyPaid``),
    another card payment of the invoice still in flight (``PaymentInProgress``: a double
    click). A decline raises ``CardDeclined`` and leaves a failed payment; an unknown
    outcome raises ``CardProviderError`` and leaves the payment initiated — retrying with
    the same ``idempotency_key`` is safe (the processor replays its first answer), and
    ``reconcile-cards`` settles it otherwise. The same key after success returns the
    payment already recorded.
    """
    if not idempotency_key or len(idempotency_key) > 100:
        raise PaymentError(_("A card payment needs an idempotency key of 1 to 100 characters."))
    processor = processor or CardProcessor.from_settings()
    payment = _initiate(user, invoice_number.strip(), idempotency_key)
    if payment.state == Payment.State.SUCCEEDED:
        return payment
    number = payment.invoice.number
    try:
        charge = processor.charge(
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            token=token,
            idempotency_key=payment.attempt_key,
            metadata={"invoice": number, ATTEMPT_METADATA: payment.attempt_key},
        )
    except CardDeclined as declined:
        _fail(payment, declined.decline_code or declined.code, declined.intent_id)
        raise
    except CardProviderError as error:
        if error.refused:  # the processor said no: nothing was charged
            _fail(payment, str(error), "")
        raise
    return _complete(payment, charge)


def _initiate(user: User, invoice_number: str, idempotency_key: str) -> Payment:
    """The attempt's ``Payment``: the one already written for this key, or a new
    initiated one — refused when nothing is outstanding or another is in flight."""
    with transaction.atomic():
        invoice = (
            Invoice.objects.readable_by(user)
            .select_for_update()
            .filter(number=invoice_number)
            .first()
        )
        if invoice is None:
            raise InvoiceNotFound(_("There is no invoice %(number)s.") % {"number": invoice_number})
        attempt_key = f"kindwave:{invoice.number}:{idempotency_key}"
        existing = Payment.objects.filter(attempt_key=attempt_key).first()
        if existing is not None:
            return existing
        if invoice.status == Invoice.Status.PAID or invoice.outstanding_minor <= 0:
            raise InvoiceAlreadyPaid(
                _("The invoice %(number)s is already paid.") % {"number": invoice.number}
            )
        in_flight = Payment.objects.filter(
            invoice=invoice, provider=Payment.Provider.CARD, state=Payment.State.INITIATED
        )
        if in_flight.exists():
            raise PaymentInProgress(
                _(
                    "A card payment of the invoice %(number)s is already in progress; wait "
                    "for its outcome before paying again."
                )
                % {"number": invoice.number}
            )
        return Payment.objects.create(
            invoice=invoice,
            provider=Payment.Provider.CARD,
            attempt_key=attempt_key,
            amount_minor=invoice.outstanding_minor,
            currency=invoice.currency,
            state=Payment.State.INITIATED,
        )


def _complete(payment: Payment, charge: CardCharge) -> Payment:
    """Mark ``payment`` succeeded with the processor's charge and post it; once (a
    payment already succeeded is returned as it is). Then reactivate the line if dunning
    suspended it and nothing is overdue any more."""
    from kindwave.billing.services import dunning

    with transaction.atomic():
        invoice = locked_invoice(payment.invoice.number)
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.state == Payment.State.SUCCEEDED:
            return locked
        # A failed payment may still succeed: reconcile may have failed an attempt the
        # processor had not yet indexed, and a retry under its key then charged the card.
        locked.provider_ref, locked.fee_minor = charge.intent_id, charge.fee_minor
        locked.state, locked.received_at = Payment.State.SUCCEEDED, timezone.now()
        locked.failure_reason = ""
        locked.save(
            update_fields=["provider_ref", "fee_minor", "state", "received_at", "failure_reason"]
        )
        apply_to_invoice(locked, invoice)
    dunning.reactivate_if_settled(invoice.line)
    return locked


def _fail(payment: Payment, reason: str, intent_id: str) -> Payment:
    """Mark the initiated ``payment`` failed (nothing posted); a payment already settled
    is left as it is."""
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.state == Payment.State.INITIATED:
            locked.state, locked.failure_reason = Payment.State.FAILED, reason[:200]
            locked.provider_ref = intent_id[:200]
            locked.save(update_fields=["state", "failure_reason", "provider_ref"])
    return locked


@dataclass
class ReconcileSummary:
    """What one reconciliation did with the card payments left initiated."""

    checked: int = 0
    succeeded: int = 0
    failed: int = 0
    waiting: int = 0


def reconcile_card_payments(
    *,
    older_than_minutes: int = STALE_AFTER_MINUTES,
    now: datetime | None = None,
    processor: CardProcessor | None = None,
) -> ReconcileSummary:
    """Settle card payments still *initiated* ``older_than_minutes`` after they started
    (a crash or a lost answer between the processor and Kindwave): ask the processor
    about each attempt and complete it (posted, as a normal success), fail it (declined,
    or the processor never received it) or leave it (still processing). Idempotent: a
    payment is completed or failed once. For the staff job."""
    cutoff = (now or timezone.now()) - timedelta(minutes=older_than_minutes)
    stale = list(
        Payment.objects.filter(
            provider=Payment.Provider.CARD,
            state=Payment.State.INITIATED,
            created_at__lte=cutoff,
        )
        .select_related("invoice")
        .order_by("created_at", "pk")
    )
    summary = ReconcileSummary(checked=len(stale))
    if not stale:
        return summary
    processor = processor or CardProcessor.from_settings()
    for payment in stale:
        found = processor.find(
            payment.attempt_key, amount_minor=payment.amount_minor, currency=payment.currency
        )
        if found.outcome == "succeeded" and found.charge is not None:
            _complete(payment, found.charge)
            summary.succeeded += 1
        elif found.outcome == "failed":
            _fail(payment, found.reason, found.intent_id)
            summary.failed += 1
        elif found.outcome == "missing":
            _fail(payment, "never reached the card processor", "")
            summary.failed += 1
        else:
            summary.waiting += 1
    return summary
