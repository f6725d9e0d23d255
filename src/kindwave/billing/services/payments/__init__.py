"""Payments: money received for invoices, by bank transfer (statements) or by card.

:func:`record_payment` books any payment; :mod:`.bank` reconciles bank statements;
:mod:`.card` charges cards through the processor. See docs/billing-payments.md.
"""

from kindwave.billing.services.payments.bank import (
    BankTransfers,
    ImportSummary,
    StatementError,
    import_bank_statement,
    invoice_numbers_in,
)
from kindwave.billing.services.payments.card import (
    CardDeclined,
    CardProcessor,
    CardProviderError,
    pay_invoice_by_card,
)
from kindwave.billing.services.payments.core import (
    InvoiceAlreadyPaid,
    InvoiceNotFound,
    PaymentError,
    PaymentProvider,
    record_payment,
    split_payment,
)

__all__ = [
    "BankTransfers",
    "CardDeclined",
    "CardProcessor",
    "CardProviderError",
    "ImportSummary",
    "InvoiceAlreadyPaid",
    "InvoiceNotFound",
    "PaymentError",
    "PaymentProvider",
    "StatementError",
    "import_bank_statement",
    "invoice_numbers_in",
    "pay_invoice_by_card",
    "record_payment",
    "split_payment",
]
