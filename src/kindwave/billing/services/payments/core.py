"""Recording money received for an invoice, whichever way it came.

:func:`record_payment` is the one place a payment enters the books: the ``Payment`` row,
the ledger postings and the invoice's paid state are written together or not at all.
The providers (:mod:`.bank`, :mod:`.card`) only find out *that* money came and call it.
"""

from __future__ import annotations

from abc import ABC
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from django.db import transaction
from django.utils.translation import gettext as _

from kindwave.billing.models import Invoice, Payment
from kindwave.ledger import chart
from kindwave.ledger import services as ledger
from kindwave.ledger.models import Transfer


class PaymentError(Exception):
    """A payment that cannot be recorded or made; the message says why."""


class InvoiceNotFound(PaymentError):  # noqa: N818 - reads as what happened
    """No such invoice (or not the caller's: the two look the same)."""


class InvoiceAlreadyPaid(PaymentError):  # noqa: N818 - reads as what happened
    """The invoice has nothing left to pay."""


class PaymentProvider(ABC):
    """A way money reaches Kindwave for an invoice.

    A provider knows how to find out that money came (a bank statement, a card
    processor's answer); what happens then is the same for all and lives in
    :func:`record_payment`, called through :meth:`record` with the provider's code (a
    ``Payment.Provider`` value). A new provider (a direct-debit bureau, another card
    processor) subclasses this and adds its own way of collecting.
    """

    code: ClassVar[str]

    def record(
        self,
        invoice: Invoice | str,
        *,
        provider_ref: str,
        amount_minor: int,
        currency: str,
        fee_minor: int = 0,
        received_at: datetime,
    ) -> Payment:
        """Record money this provider received (see :func:`record_payment`)."""
        return record_payment(
            invoice,
            provider=self.code,
            provider_ref=provider_ref,
            amount_minor=amount_minor,
            currency=currency,
            fee_minor=fee_minor,
            received_at=received_at,
        )


@dataclass(frozen=True)
class _Split:
    """How a payment is booked: to the receivable, to the wallet, and the provider's fee."""

    applied_minor: int
    excess_minor: int
    fee_minor: int


def split_payment(outstanding_minor: int, amount_minor: int, fee_minor: int) -> _Split:
    """Apply ``amount_minor`` to an invoice with ``outstanding_minor`` left: up to the
    outstanding amount to the invoice, the rest to the subscriber's wallet. The fee is
    the operator's own expense and changes neither part."""
    applied = min(max(outstanding_minor, 0), amount_minor)
    return _Split(applied, amount_minor - applied, fee_minor)


def _check_amounts(amount_minor: int, fee_minor: int) -> None:
    for name, value, least in (("amount", amount_minor, 1), ("fee", fee_minor, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise PaymentError(
                _(
                    "The payment's %(what)s must be a whole number of minor units of at least "
                    "%(least)s, not %(value)r."
                )
                % {"what": name, "least": least, "value": value}
            )


def locked_invoice(invoice: Invoice | str) -> Invoice:
    """The invoice (or the invoice numbered so), locked until the transaction ends."""
    number = invoice if isinstance(invoice, str) else invoice.number
    found = Invoice.objects.select_for_update().filter(number=number).first()
    if found is None:
        raise InvoiceNotFound(_("There is no invoice %(number)s.") % {"number": number})
    return found


def _same_payment(
    payment: Payment, invoice: Invoice, amount_minor: int, currency: str, fee_minor: int
) -> bool:
    return (
        payment.invoice_id == invoice.pk
        and payment.amount_minor == amount_minor
        and payment.currency == currency
        and payment.fee_minor == fee_minor
        and payment.state == Payment.State.SUCCEEDED
    )


def record_payment(
    invoice: Invoice | str,
    *,
    provider: str,
    provider_ref: str,
    amount_minor: int,
    currency: str,
    fee_minor: int = 0,
    received_at: datetime,
) -> Payment:
    """Record ``amount_minor`` of ``currency`` received for ``invoice`` (an invoice or its
    number) through ``provider`` under the provider's own reference.

    Books, in one linked ledger transfer keyed ``payment:<provider>:<ref>``: Dr bank
    Cr receivables up to what is outstanding (code ``payment``); any excess Dr bank
    Cr the owner's wallet (``overpayment``); the provider's fee Dr payment-fees Cr bank
    (``payment-fee``, the operator's expense). Partial payments accumulate; the invoice
    is marked paid once nothing is outstanding. Then, after the commit, the line is
    reactivated (now) if dunning suspended it and nothing is overdue any more.

    Refused (``PaymentError``, nothing written): an unknown invoice, a zero or negative
    amount, a negative fee, a currency other than the invoice's. Idempotent on
    ``(provider, provider_ref)``: the same payment again returns the one recorded; other
    details under the same reference are refused. Atomic. For staff jobs and providers:
    it does not check who asks (card payments check the payer first).
    """
    from kindwave.billing.services import dunning

    payment = _record(
        invoice,
        provider=provider,
        provider_ref=provider_ref,
        amount_minor=amount_minor,
        currency=currency,
        fee_minor=fee_minor,
        received_at=received_at,
    )
    dunning.reactivate_if_settled(payment.invoice.line)
    return payment


def _record(
    invoice: Invoice | str,
    *,
    provider: str,
    provider_ref: str,
    amount_minor: int,
    currency: str,
    fee_minor: int,
    received_at: datetime,
    source: chart.AccountName | None = None,
) -> Payment:
    """:func:`record_payment` without the reactivation: the caller's transaction may be
    wider (a whole statement), and reactivation comes after its commit. ``source`` is the
    account the money is taken from: the bank (default), or the suspense account when
    staff apply a bank receipt held there."""
    if provider not in Payment.Provider.values:
        raise PaymentError(_("Unknown payment provider %(provider)r.") % {"provider": provider})
    if not provider_ref or len(provider_ref) > 200:
        raise PaymentError(_("A payment needs the provider's reference (1 to 200 characters)."))
    _check_amounts(amount_minor, fee_minor)
    with transaction.atomic():
        locked = locked_invoice(invoice)
        existing = Payment.objects.filter(provider=provider, provider_ref=provider_ref).first()
        if existing is not None:
            if _same_payment(existing, locked, amount_minor, currency, fee_minor):
                return existing
            raise PaymentError(
                _("The %(provider)s reference %(ref)s is already recorded for another payment.")
                % {"provider": provider, "ref": provider_ref}
            )
        check_currency(locked, currency)
        payment = Payment.objects.create(
            invoice=locked,
            provider=provider,
            provider_ref=provider_ref,
            amount_minor=amount_minor,
            fee_minor=fee_minor,
            currency=currency,
            state=Payment.State.SUCCEEDED,
            received_at=received_at,
        )
        apply_to_invoice(payment, locked, source)
    return payment


def check_currency(invoice: Invoice, currency: str) -> None:
    """Refuse money in another currency than ``invoice``'s."""
    if currency != invoice.currency:
        raise PaymentError(
            _(
                "The invoice %(number)s is in %(invoice)s; a payment in %(currency)s cannot "
                "settle it."
            )
            % {"number": invoice.number, "invoice": invoice.currency, "currency": currency}
        )


def writeoff_key(number: str) -> str:
    """The ledger key of the write-off of invoice ``number`` (see :mod:`..writeoff`)."""
    return f"writeoff:{number}"


def apply_to_invoice(
    payment: Payment, locked: Invoice, source: chart.AccountName | None = None
) -> None:
    """Post the succeeded ``payment`` and apply it to the ``locked`` invoice (the caller
    holds its row lock, inside a transaction): the ledger transfer, ``paid_minor``, and
    the paid state once nothing is outstanding."""
    split = split_payment(locked.outstanding_minor, payment.amount_minor, payment.fee_minor)
    _post(payment, locked, split, source)
    if split.applied_minor:
        locked.paid_minor += split.applied_minor
        fields = ["paid_minor"]
        if locked.paid_minor >= locked.total_minor and locked.status != Invoice.Status.PAID:
            locked.status, locked.paid_at = Invoice.Status.PAID, payment.received_at
            fields += ["status", "paid_at"]
        locked.save(update_fields=fields)


def _post(
    payment: Payment, invoice: Invoice, split: _Split, source: chart.AccountName | None
) -> None:
    currency = payment.currency
    bank, paid_from = chart.ensure(chart.bank(currency), source or chart.bank(currency))
    # Money for an invoice written off is a recovery: it reduces the bad debt, since the
    # receivable was already taken off the books by the write-off.
    written_off = Transfer.objects.filter(idempotency_key=writeoff_key(invoice.number)).exists()
    (settles,) = chart.ensure(
        chart.bad_debt(currency) if written_off else chart.receivables(currency)
    )
    via = f"{payment.provider}, from suspense" if source is not None else payment.provider
    legs = []
    if split.applied_minor:
        legs.append(
            ledger.Leg(
                paid_from,
                settles,
                split.applied_minor,
                currency,
                "payment",
                f"invoice payment ({via})",
            )
        )
    if split.excess_minor:
        (wallet,) = chart.ensure(chart.wallet(invoice.owner_id, currency))
        legs.append(
            ledger.Leg(
                paid_from,
                wallet,
                split.excess_minor,
                currency,
                "overpayment",
                f"overpayment credited to a wallet ({via})",
            )
        )
    if split.fee_minor:
        (fees,) = chart.ensure(chart.payment_fees(currency))
        legs.append(
            ledger.Leg(
                fees, bank, split.fee_minor, currency, "payment-fee", f"{payment.provider} fee"
            )
        )
    ledger.transfer_linked(f"payment:{payment.provider}:{payment.provider_ref}", legs)
