"""Operator staff's read-only view of the ledger: money moves only through ``services``,
and a transfer is never changed or deleted (a correction is a reversing transfer)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from kindwave.ledger.models import Account, Transfer, balance
from kindwave.lib.admin import ReadOnlyAdmin


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = (
        "code",
        "name",
        "kind",
        "currency",
        "posted_balance",
        "debits_pending",
        "credits_pending",
    )
    list_filter = ("kind", "currency")
    search_fields = ("code", "name")

    @admin.display(description=_("posted balance (minor units)"))
    def posted_balance(self, account: Account) -> int:
        return balance(account)


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = (
        "idempotency_key",
        "debit_account",
        "credit_account",
        "amount",
        "currency",
        "code",
        "state",
        "created_at",
    )
    list_filter = ("state", "currency", "code")
    search_fields = ("idempotency_key",)
    list_select_related = ("debit_account", "credit_account")
    raw_id_fields = ("debit_account", "credit_account", "pending_of", "reverses")
