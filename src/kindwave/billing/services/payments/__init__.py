"""Payments: money received for invoices, by bank transfer (statements) or by card.

:func:`record_payment` books any payment; :mod:`.bank` reconciles bank statements;
:mod:`.card` charges cards through the processor. See docs/billing-payments.md.
"""

from kindwave.billing.services.payments.bank import (
    BankTransfers,
    ImportSummary,
    StatementError,
    apply_bank_entry,
    bank_ref,
    find_bank_entry,
    import_bank_statement,
    invoice_numbers_in,
)
from kindwave.billing.services.payments.card import (
    CardDeclined,
    CardProcessor,
    CardProviderError,
    PaymentInProgress,
    ReconcileSummary,
    pay_invoice_by_card,
    reconcile_card_payments,
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
    "PaymentInProgress",
    "PaymentProvider",
    "ReconcileSummary",
    "StatementError",
    "apply_bank_entry",
    "bank_ref",
    "find_bank_entry",
    "import_bank_statement",
    "invoice_numbers_in",
    "pay_invoice_by_card",
    "reconcile_card_payments",
    "record_payment",
    "split_payment",
]
