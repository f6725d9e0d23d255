"""Bills and the money subscribers owe: bill runs, invoices, carrier-billing charges,
payments, dunning, and the profit pledge.

Amounts are integers in minor units (pence, cents) with the ISO currency beside them.
Rows are written only by :mod:`kindwave.billing.services`; an issued invoice is never
changed (a correction is a credit on the next invoice). Every movement of money is a
ledger transfer whose idempotency key is derived from the row that caused it, so that a
re-run posts nothing twice (docs/billing-rules.md).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# --- Bill runs and invoices ----------------------------------------------------------------


class BillRun(models.Model):
    """One bill run of a cycle (a calendar month, ``YYYY-MM``). There is one per cycle: a
    re-run resumes it (lines already invoiced are skipped) and a complete run is closed."""

    class State(models.TextChoices):
        RUNNING = "running", _("Running")
        COMPLETE = "complete", _("Complete")

    cycle = models.CharField(_("cycle"), max_length=7, unique=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # The rating run whose outputs were billed (usage.models.RatingRun id).
    rating_run_id = models.BigIntegerField(_("rating run"), null=True, blank=True)
    lines_seen = models.PositiveIntegerField(_("lines considered"), default=0)
    invoices_issued = models.PositiveIntegerField(_("invoices issued"), default=0)

    class Meta:
        verbose_name = _("bill run")
        verbose_name_plural = _("bill runs")
        ordering = ["-cycle"]

    def __str__(self) -> str:
        return f"{self.cycle} ({self.state})"


class InvoiceSequence(models.Model):
    """The last invoice number used in a market and calendar year: numbers are consecutive
    with no gap (French law), allocated in the same transaction as the invoices."""

    market = models.ForeignKey(
        "lines.Market", on_delete=models.PROTECT, related_name="+", verbose_name=_("market")
    )
    year = models.PositiveSmallIntegerField(_("year"))
    last_number = models.PositiveIntegerField(_("last number used"), default=0)

    class Meta:
        verbose_name = _("invoice sequence")
        verbose_name_plural = _("invoice sequences")
        constraints = [
            models.UniqueConstraint(fields=["market", "year"], name="billing_sequence_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.market_id} {self.year}: {self.last_number}"


class InvoiceQuerySet(models.QuerySet["Invoice"]):
    def readable_by(self, user: AbstractBaseUser | AnonymousUser) -> InvoiceQuerySet:
        """The invoices ``user`` may see: their own lines' invoices (none when anonymous)."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(owner_id=user.pk)


class Invoice(models.Model):
    """One line's bill for one cycle, as issued: numbers, totals and the cause's share.

    ``net_minor`` is the telecom charges before VAT; ``vat_minor`` the VAT on them;
    ``extras_minor`` the one-offs outside VAT (donations, third-party purchases);
    ``credits_minor`` (≤ 0) credits applied; ``total_minor`` what is due:
    net + VAT + extras + credits. ``cause_share_minor`` is 10 % of ``net_minor`` given to
    ``cause`` (the foundation when ``cause`` is empty).
    """

    class Status(models.TextChoices):
        OPEN = "open", _("Unpaid")
        PAID = "paid", _("Paid")

    number = models.CharField(_("number"), max_length=32, unique=True)
    market = models.ForeignKey(
        "lines.Market", on_delete=models.PROTECT, related_name="+", verbose_name=_("market")
    )
    year = models.PositiveSmallIntegerField(_("numbering year"))
    sequence = models.PositiveIntegerField(_("number in the year"))
    bill_run = models.ForeignKey(
        BillRun, on_delete=models.PROTECT, related_name="invoices", verbose_name=_("bill run")
    )
    cycle = models.CharField(_("cycle"), max_length=7)
    line = models.ForeignKey(
        "lines.Line", on_delete=models.PROTECT, related_name="invoices", verbose_name=_("line")
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="invoices",
        verbose_name=_("subscriber"),
    )
    # What the document shows, as it was at issue.
    customer_name = models.CharField(_("customer name"), max_length=150)
    msisdn = models.CharField(_("number"), max_length=16)
    language = models.CharField(_("language"), max_length=8)
    issued_at = models.DateTimeField(_("issued at"))
    issued_on = models.DateField(_("invoice date"))
    due_on = models.DateField(_("due date"))
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    currency = models.CharField(_("currency"), max_length=3)
    tax_mode = models.CharField(_("tax mode"), max_length=16)
    vat_rate = models.DecimalField(_("VAT rate"), max_digits=5, decimal_places=4)
    net_minor = models.BigIntegerField(_("telecom charges before VAT"))
    vat_minor = models.BigIntegerField(_("VAT"))
    extras_minor = models.BigIntegerField(_("one-offs outside VAT"), default=0)
    credits_minor = models.BigIntegerField(_("credits"), default=0)
    total_minor = models.BigIntegerField(_("total due"))
    cause = models.ForeignKey(
        "causes.Cause",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoices",
        verbose_name=_("cause"),
    )
    cause_share_minor = models.BigIntegerField(_("share given to the cause"))
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.OPEN
    )
    paid_minor = models.BigIntegerField(_("paid so far"), default=0)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-issued_on", "number"]
        constraints = [
            models.UniqueConstraint(fields=["line", "cycle"], name="billing_invoice_line_cycle"),
            models.UniqueConstraint(
                fields=["market", "year", "sequence"], name="billing_invoice_sequence_unique"
            ),
            models.CheckConstraint(
                condition=Q(
                    total_minor=models.F("net_minor")
                    + models.F("vat_minor")
                    + models.F("extras_minor")
                    + models.F("credits_minor")
                ),
                name="billing_invoice_total_adds_up",
            ),
            models.CheckConstraint(condition=Q(credits_minor__lte=0), name="billing_credits_le_0"),
        ]
        indexes = [models.Index(fields=["owner", "-issued_on"], name="billing_invoice_owner_idx")]

    def __str__(self) -> str:
        return self.number

    @property
    def outstanding_minor(self) -> int:
        return max(self.total_minor - self.paid_minor, 0)


class InvoiceLine(models.Model):
    """One line of an invoice. ``amount_minor`` is as the catalogue prices it: VAT included
    when the invoice's tax mode is ``inclusive``, excluded otherwise; lines outside VAT
    (donations, purchases, credits) have ``vat_applies`` false."""

    class Kind(models.TextChoices):
        PLAN_FEE = "plan_fee", _("Plan fee")
        USAGE = "usage", _("Usage")
        PURCHASE = "purchase", _("Purchase charged to the bill")
        DONATION = "donation", _("Donation charged to the bill")
        CREDIT = "credit", _("Credit")

    invoice = models.ForeignKey(
        Invoice, on_delete=models.CASCADE, related_name="lines", verbose_name=_("invoice")
    )
    position = models.PositiveSmallIntegerField(_("position"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    description = models.CharField(_("description"), max_length=255)
    quantity = models.BigIntegerField(_("quantity"), default=1)
    unit = models.CharField(_("unit"), max_length=16, blank=True)
    period_start = models.DateField(_("from"), null=True, blank=True)
    period_end = models.DateField(_("to"), null=True, blank=True)
    amount_minor = models.BigIntegerField(_("amount"))
    vat_applies = models.BooleanField(_("VAT applies"))

    class Meta:
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
        ordering = ["invoice", "position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="billing_line_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id}/{self.position} {self.description}"


# --- Carrier billing -----------------------------------------------------------------------


class CarrierBillingSetting(models.Model):
    """A subscriber's own carrier-billing setting: on or off, and a monthly limit at or
    below the operator's cap (NULL: the cap)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="carrier_billing",
        verbose_name=_("subscriber"),
    )
    enabled = models.BooleanField(_("charges to my bill allowed"), default=True)
    monthly_limit_minor = models.PositiveIntegerField(
        _("my monthly limit (minor units)"), null=True, blank=True
    )
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("carrier-billing setting")
        verbose_name_plural = _("carrier-billing settings")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.monthly_limit_minor}"


class CarrierCharge(models.Model):
    """A purchase or a donation charged to a line's bill: reserved (a pending ledger
    transfer), then confirmed (posted), cancelled (voided) or, left unconfirmed past
    ``CARRIER_RESERVATION_MINUTES``, expired (voided); confirmed charges appear on the
    invoice of the cycle they were confirmed in."""

    class Kind(models.TextChoices):
        PURCHASE = "purchase", _("Purchase")
        DONATION = "donation", _("Donation")

    class State(models.TextChoices):
        RESERVED = "reserved", _("Awaiting confirmation")
        CONFIRMED = "confirmed", _("Confirmed")
        CANCELLED = "cancelled", _("Cancelled")
        EXPIRED = "expired", _("Expired unconfirmed")

    reference = models.UUIDField(_("reference"), unique=True)
    # The caller's idempotency key: the same key from the same subscriber is the same charge.
    client_key = models.CharField(_("client key"), max_length=120)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="carrier_charges",
        verbose_name=_("subscriber"),
    )
    line = models.ForeignKey(
        "lines.Line",
        on_delete=models.PROTECT,
        related_name="carrier_charges",
        verbose_name=_("line"),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    merchant = models.CharField(_("merchant"), max_length=200, blank=True)
    cause = models.ForeignKey(
        "causes.Cause",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="carrier_donations",
        verbose_name=_("cause"),
    )
    description = models.CharField(_("description"), max_length=200)
    amount_minor = models.PositiveBigIntegerField(_("amount"))
    currency = models.CharField(_("currency"), max_length=3)
    state = models.CharField(_("state"), max_length=10, choices=State.choices)
    reserved_at = models.DateTimeField(_("reserved at"))
    settled_at = models.DateTimeField(_("confirmed or cancelled at"), null=True, blank=True)
    # Why a reservation was voided without the subscriber cancelling it (English, for staff).
    void_reason = models.CharField(_("why it was voided"), max_length=200, blank=True)
    # The cycle (YYYY-MM, UTC) whose invoice carries a confirmed charge.
    cycle = models.CharField(_("billed in cycle"), max_length=7, blank=True)
    invoice = models.ForeignKey(
        Invoice,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="carrier_charges",
        verbose_name=_("invoice"),
    )

    class Meta:
        verbose_name = _("carrier-billing charge")
        verbose_name_plural = _("carrier-billing charges")
        ordering = ["-reserved_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "client_key"], name="billing_charge_client_key_unique"
            ),
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="billing_charge_gt_0"),
            models.CheckConstraint(
                condition=Q(kind="donation", cause__isnull=False)
                | Q(kind="purchase", cause__isnull=True),
                name="billing_charge_donation_has_cause",
            ),
        ]
        indexes = [
            models.Index(fields=["line", "state", "cycle"], name="billing_charge_cycle_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.amount_minor} {self.currency} ({self.state})"


# --- Payments and dunning ------------------------------------------------------------------


class Payment(models.Model):
    """Money received for an invoice through a payment provider (bank or card).

    A card payment is written *initiated* before the processor is asked (the attempt's
    key, the amount asked), then marked *succeeded* (posted to the ledger) or *failed*;
    one left initiated by a crash is settled by ``kindwave billing payments
    reconcile-cards``. Bank payments are written succeeded at once."""

    class Provider(models.TextChoices):
        BANK = "bank", _("Bank transfer or direct debit")
        CARD = "card", _("Card")

    class State(models.TextChoices):
        INITIATED = "initiated", _("In progress")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="payments", verbose_name=_("invoice")
    )
    provider = models.CharField(_("provider"), max_length=8, choices=Provider.choices)
    # The provider's own id of the payment (statement entry, card charge): unique per provider;
    # empty while a card payment is initiated and the processor's id not yet known.
    provider_ref = models.CharField(_("provider reference"), max_length=200, blank=True)
    # A card attempt's idempotency key as sent to the processor (kindwave:<number>:<key>).
    attempt_key = models.CharField(_("attempt key"), max_length=160, blank=True)
    amount_minor = models.BigIntegerField(_("amount"))
    fee_minor = models.BigIntegerField(_("provider fee"), default=0)
    currency = models.CharField(_("currency"), max_length=3)
    state = models.CharField(_("state"), max_length=10, choices=State.choices)
    failure_reason = models.CharField(_("failure reason"), max_length=200, blank=True)
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_ref"],
                condition=~Q(provider_ref=""),
                name="billing_payment_ref_unique",
            ),
            models.UniqueConstraint(
                fields=["attempt_key"],
                condition=~Q(attempt_key=""),
                name="billing_payment_attempt_unique",
            ),
            models.CheckConstraint(
                condition=Q(state="initiated") | ~Q(provider_ref="") | Q(state="failed"),
                name="billing_payment_ref_when_done",
            ),
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="billing_payment_gt_0"),
            models.CheckConstraint(condition=Q(fee_minor__gte=0), name="billing_payment_fee_ge_0"),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.provider_ref} {self.amount_minor} {self.currency}"


class BankStatement(models.Model):
    """One imported bank statement file (CSV or camt.053); the same file twice is refused
    as already imported (by its SHA-256)."""

    source_name = models.CharField(_("file"), max_length=255)
    source_sha256 = models.CharField(_("SHA-256"), max_length=64, unique=True)
    format = models.CharField(_("format"), max_length=16)
    imported_at = models.DateTimeField(_("imported at"), default=timezone.now)
    entries = models.PositiveIntegerField(_("entries"), default=0)
    matched = models.PositiveIntegerField(_("matched to invoices"), default=0)

    class Meta:
        verbose_name = _("bank statement")
        verbose_name_plural = _("bank statements")
        ordering = ["-imported_at"]

    def __str__(self) -> str:
        return self.source_name


class BankEntry(models.Model):
    """One credit entry of a bank statement (one transaction of a batched camt.053 entry),
    matched to an invoice or held in suspense for staff. An entry is known by the account
    (the statement's IBAN; empty for CSV), the bank's reference and the booking date: banks
    reuse per-statement references such as ``NtryRef`` 1 every day."""

    statement = models.ForeignKey(
        BankStatement, on_delete=models.CASCADE, related_name="lines", verbose_name=_("statement")
    )
    account = models.CharField(_("account (IBAN)"), max_length=34, blank=True)
    entry_ref = models.CharField(_("bank's entry reference"), max_length=120)
    booked_on = models.DateField(_("booked on"))
    amount_minor = models.BigIntegerField(_("amount"))
    currency = models.CharField(_("currency"), max_length=3)
    remittance = models.CharField(_("remittance information"), max_length=300, blank=True)
    payment = models.OneToOneField(
        Payment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bank_entry",
        verbose_name=_("payment"),
    )
    problem = models.CharField(_("why it is not matched"), max_length=200, blank=True)
    # Set when staff applied an unmatched entry to an invoice (apply_bank_entry).
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("applied by"),
    )
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)

    class Meta:
        verbose_name = _("bank statement entry")
        verbose_name_plural = _("bank statement entries")
        ordering = ["statement", "booked_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "entry_ref", "booked_on"], name="billing_bank_entry_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.entry_ref


class DunningStep(models.Model):
    """A step taken on an overdue invoice; each step happens at most once per invoice."""

    class Step(models.TextChoices):
        REMINDER = "reminder", _("Reminder sent")
        SUSPENSION = "suspension", _("Line suspended")
        REACTIVATION = "reactivation", _("Line reactivated")

    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="dunning", verbose_name=_("invoice")
    )
    step = models.CharField(_("step"), max_length=12, choices=Step.choices)
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("dunning step")
        verbose_name_plural = _("dunning steps")
        ordering = ["invoice", "at"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "step"], name="billing_dunning_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.step}"


# --- The profit pledge ---------------------------------------------------------------------


class OperatingCost(models.Model):
    """A cost entered by staff for a quarter (``YYYY-Qn``), in one currency: the host
    network's wholesale bill or another operating cost; posted to the ledger when saved."""

    class Kind(models.TextChoices):
        WHOLESALE = "wholesale", _("Host network wholesale cost")
        OPERATING = "operating", _("Other operating cost")

    period = models.CharField(_("quarter"), max_length=7)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    currency = models.CharField(_("currency"), max_length=3)
    amount_minor = models.PositiveBigIntegerField(_("amount"))
    description = models.CharField(_("description"), max_length=200)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("entered by"),
    )
    entered_at = models.DateTimeField(_("entered at"), default=timezone.now)

    class Meta:
        verbose_name = _("operating cost")
        verbose_name_plural = _("operating costs")
        ordering = ["-period", "currency"]

    def __str__(self) -> str:
        return f"{self.period} {self.amount_minor} {self.currency}"


class Pledge(models.Model):
    """The profit pledge of a quarter in one currency, as computed and posted."""

    period = models.CharField(_("quarter"), max_length=7)
    currency = models.CharField(_("currency"), max_length=3)
    base = models.CharField(_("base"), max_length=10)  # "profit" or "revenue"
    share = models.DecimalField(_("share"), max_digits=5, decimal_places=4)
    rule = models.CharField(_("allocation rule"), max_length=20)
    revenue_minor = models.BigIntegerField(_("revenue"))
    wholesale_minor = models.BigIntegerField(_("wholesale cost"))
    operating_minor = models.BigIntegerField(_("operating costs"))
    base_minor = models.BigIntegerField(_("base amount"))
    pledge_minor = models.BigIntegerField(_("pledge"))
    computed_at = models.DateTimeField(_("computed at"), default=timezone.now)

    class Meta:
        verbose_name = _("profit pledge")
        verbose_name_plural = _("profit pledges")
        ordering = ["-period", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["period", "currency"], name="billing_pledge_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.period} {self.pledge_minor} {self.currency}"


class PledgeAllocation(models.Model):
    """The part of a pledge allocated to one cause (NULL: the foundation)."""

    pledge = models.ForeignKey(
        Pledge, on_delete=models.CASCADE, related_name="allocations", verbose_name=_("pledge")
    )
    cause = models.ForeignKey(
        "causes.Cause",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="pledge_allocations",
        verbose_name=_("cause"),
    )
    subscribers = models.PositiveIntegerField(_("subscribers who chose it"))
    amount_minor = models.BigIntegerField(_("amount"))

    class Meta:
        verbose_name = _("pledge allocation")
        verbose_name_plural = _("pledge allocations")
        constraints = [
            models.UniqueConstraint(fields=["pledge", "cause"], name="billing_allocation_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.pledge_id} → {self.cause_id}: {self.amount_minor}"
