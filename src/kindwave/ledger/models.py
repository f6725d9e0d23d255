"""The double-entry ledger: accounts with stored balances, and immutable transfers.

Money is an integer number of minor units (pence, cents) with its ISO 4217 currency,
never a float. Rows are written only by :mod:`kindwave.ledger.services`; a transfer is
never updated or deleted (a correction is a reversing transfer).
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class AccountKind(models.TextChoices):
    ASSET = "asset", _("asset")
    LIABILITY = "liability", _("liability")
    REVENUE = "revenue", _("revenue")
    EXPENSE = "expense", _("expense")
    EQUITY = "equity", _("equity")


#: Kinds whose balance grows with debits; the others grow with credits.
DEBIT_NORMAL = frozenset({AccountKind.ASSET, AccountKind.EXPENSE})


class Account(models.Model):
    """One ledger account in one currency, with its running totals in minor units."""

    code = models.CharField(_("code"), max_length=120, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=AccountKind.choices)
    currency = models.CharField(_("currency"), max_length=3)
    debits_posted = models.BigIntegerField(_("debits posted"), default=0)
    credits_posted = models.BigIntegerField(_("credits posted"), default=0)
    debits_pending = models.BigIntegerField(_("debits pending"), default=0)
    credits_pending = models.BigIntegerField(_("credits pending"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("ledger account")
        verbose_name_plural = _("ledger accounts")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(debits_posted__gte=0)
                & Q(credits_posted__gte=0)
                & Q(debits_pending__gte=0)
                & Q(credits_pending__gte=0),
                name="ledger_account_totals_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=AccountKind.values), name="ledger_account_kind_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.currency})"


def balance(account: Account) -> int:
    """The posted balance in minor units, on the account's normal side (debit for assets
    and expenses, credit for the others): positive is the usual state."""
    if account.kind in DEBIT_NORMAL:
        return account.debits_posted - account.credits_posted
    return account.credits_posted - account.debits_posted


class TransferState(models.TextChoices):
    POSTED = "posted", _("posted")
    PENDING = "pending", _("pending")
    VOIDED = "voided", _("voided")


class Transfer(models.Model):
    """An immutable movement of ``amount`` from ``credit_account`` to ``debit_account``.

    ``posted`` moves posted balances; ``pending`` reserves (moves pending balances); the
    later outcome of a pending transfer is a second transfer with ``pending_of`` set to it,
    ``posted`` (the reservation becomes real) or ``voided`` (it is released). A pending
    transfer has at most one outcome (unique ``pending_of``), a posted one at most one
    reversal (unique ``reverses``).
    """

    idempotency_key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    debit_account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="debits", verbose_name=_("debit account")
    )
    credit_account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="credits",
        verbose_name=_("credit account"),
    )
    amount = models.BigIntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3)
    code = models.CharField(_("code"), max_length=40)
    description = models.CharField(_("description"), max_length=500, blank=True)
    state = models.CharField(_("state"), max_length=8, choices=TransferState.choices)
    pending_of = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="outcome",
        verbose_name=_("outcome of"),
    )
    group = models.UUIDField(_("linked group"), null=True, blank=True, db_index=True)
    reverses = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversal",
        verbose_name=_("reverses"),
    )
    payload_sha256 = models.CharField(_("payload SHA-256"), max_length=64)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="ledger_transfer_amount_positive"
            ),
            models.CheckConstraint(
                condition=~Q(debit_account=F("credit_account")),
                name="ledger_transfer_two_accounts",
            ),
            models.CheckConstraint(
                condition=Q(state__in=TransferState.values), name="ledger_transfer_state_known"
            ),
            models.CheckConstraint(
                condition=Q(state="voided", pending_of__isnull=False) | ~Q(state="voided"),
                name="ledger_transfer_void_has_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.idempotency_key}: {self.amount} {self.currency} ({self.state})"


class Verification(models.Model):
    """The outcome of one ``kindwave ledger verify``: published on the transparency page."""

    checked_at = models.DateTimeField(_("checked at"))
    ok = models.BooleanField(_("verifies"))
    accounts = models.PositiveIntegerField(_("accounts checked"))
    transfers = models.PositiveBigIntegerField(_("transfers checked"))
    mismatches = models.PositiveIntegerField(_("accounts with wrong totals"))
    # Per currency: the four summed totals and whether debits equal credits.
    currencies = models.JSONField(_("totals per currency"))

    class Meta:
        verbose_name = _("ledger verification")
        verbose_name_plural = _("ledger verifications")
        ordering = ["-checked_at", "-id"]

    def __str__(self) -> str:
        return f"{self.checked_at:%Y-%m-%d %H:%M} {'ok' if self.ok else 'FAILED'}"
