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
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, ClassVar, cast

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
)

TIMEOUT_SECONDS = 20


class CardProviderError(PaymentError):
    """The card processor could not be reached or answered something unexpected: the
    outcome is unknown, so retry with the same idempotency key."""


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
            message = (body.get("error") or {}).get("message") if isinstance(body, dict) else None
            raise CardProviderError(
                _("The card processor refused the request (HTTP %(status)s): %(message)s")
                % {"status": status, "message": message or _("no explanation")}
            )
        return self._succeeded(body, amount_minor, currency)

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
        url = self.base_url + path
        if not url.startswith(("https://", "http://")):
            raise CardProviderError(_("The card processor's URL must be http(s)."))
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            url,
            data=urllib.parse.urlencode(fields).encode("ascii"),
            method="POST",
            headers={
                "Authorization": f"Bearer {self.api_key}",
                "Idempotency-Key": idempotency_key,
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
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
    card behind ``token`` and record the payment (:func:`record_payment`; the processor's
    fee is the operator's expense, never taken from the invoice or a donation).

    Refused before any charge: an invoice that is not the user's (exactly like a missing
    one, ``InvoiceNotFound``), an invoice with nothing outstanding (``InvoiceAlreadyPaid``).
    A decline raises ``CardDeclined`` and leaves a failed payment for the record; an
    unknown outcome raises ``CardProviderError`` — retrying with the same
    ``idempotency_key`` is then safe: the processor replays its first answer.
    """
    invoice = Invoice.objects.readable_by(user).filter(number=invoice_number.strip()).first()
    if invoice is None:
        raise InvoiceNotFound(_("There is no invoice %(number)s.") % {"number": invoice_number})
    if invoice.status == Invoice.Status.PAID or invoice.outstanding_minor <= 0:
        raise InvoiceAlreadyPaid(
            _("The invoice %(number)s is already paid.") % {"number": invoice.number}
        )
    if not idempotency_key or len(idempotency_key) > 100:
        raise PaymentError(_("A card payment needs an idempotency key of 1 to 100 characters."))
    processor = processor or CardProcessor.from_settings()
    amount = invoice.outstanding_minor
    try:
        charge = processor.charge(
            amount_minor=amount,
            currency=invoice.currency,
            token=token,
            idempotency_key=f"kindwave:{invoice.number}:{idempotency_key}",
            metadata={"invoice": invoice.number},
        )
    except CardDeclined as declined:
        if declined.intent_id:
            with transaction.atomic():
                Payment.objects.get_or_create(
                    provider=Payment.Provider.CARD,
                    provider_ref=declined.intent_id,
                    defaults={
                        "invoice": invoice,
                        "amount_minor": amount,
                        "currency": invoice.currency,
                        "state": Payment.State.FAILED,
                        "failure_reason": declined.decline_code[:200],
                        "received_at": timezone.now(),
                    },
                )
        raise
    return processor.record(
        invoice,
        provider_ref=charge.intent_id,
        amount_minor=charge.amount_minor,
        currency=charge.currency,
        fee_minor=charge.fee_minor,
        received_at=timezone.now(),
    )
