"""Writing off an invoice that will never be paid: the operator's bad debt.

Who bears an unpaid bill is a choice, and Kindwave's is fixed here: the 10 % given to
the subscriber's cause and any confirmed carrier-billing donation are the operator's
commitment to the cause, posted when the invoice is issued and paid out whether or not
the subscriber ever pays. An unpaid bill is therefore the operator's loss, Dr bad-debt
Cr receivables — never taken back from a cause (docs/billing-payments.md, "Write-offs").
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from kindwave.accounts.models import User
from kindwave.billing.models import Invoice
from kindwave.billing.services.payments.core import PaymentError, locked_invoice, writeoff_key
from kindwave.ledger import chart
from kindwave.ledger import services as ledger
from kindwave.ledger.models import Transfer


class WriteOffError(PaymentError):
    """A write-off that cannot be made; the message says why."""


def write_off(invoice: Invoice | str, *, by: User, reason: str) -> Transfer:
    """Write off what is still outstanding on ``invoice`` (an invoice or its number) as
    bad debt: one posted transfer Dr ``operator:bad-debt:C`` Cr ``operator:receivables:C``
    keyed ``writeoff:<number>`` (code ``writeoff``). Nothing else changes: the invoice
    stays open (the subscriber still owes it), dunning steps already taken stand, and the
    cause's share and donations stay with the cause. A payment that arrives later is a
    recovery: it credits bad-debt instead of receivables (see :mod:`.payments.core`).

    Refused (``WriteOffError``, nothing posted): an invoice with nothing outstanding, an
    invoice already written off, a reason that is empty or longer than 200 characters, an
    actor who is not staff. Atomic, under the invoice's row lock. ``reason`` is kept in
    the transfer's description — write no personal data in it.
    """
    if not getattr(by, "is_staff", False):
        raise WriteOffError(_("Only staff can write off an invoice."))
    reason = reason.strip()
    if not reason or len(reason) > 200:
        raise WriteOffError(_("A write-off needs a reason of 1 to 200 characters."))
    with transaction.atomic():
        locked = locked_invoice(invoice)
        key = writeoff_key(locked.number)
        if Transfer.objects.filter(idempotency_key=key).exists():
            raise WriteOffError(
                _("The invoice %(number)s is already written off.") % {"number": locked.number}
            )
        outstanding = locked.outstanding_minor
        if locked.status == Invoice.Status.PAID or outstanding <= 0:
            raise WriteOffError(
                _("The invoice %(number)s has nothing outstanding to write off.")
                % {"number": locked.number}
            )
        bad_debt, receivables = chart.ensure(
            chart.bad_debt(locked.currency), chart.receivables(locked.currency)
        )
        return ledger.transfer(
            key,
            bad_debt,
            receivables,
            outstanding,
            locked.currency,
            "writeoff",
            f"invoice written off by staff {by.pk}: {reason}",
        )
