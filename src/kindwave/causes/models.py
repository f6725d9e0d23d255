"""Causes: the charities subscribers give to, verified by operator staff."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kindwave.accounts.models import Organisation


class CauseQuerySet(models.QuerySet["Cause"]):
    def verified(self) -> CauseQuerySet:
        return self.filter(verified_at__isnull=False)


class Cause(models.Model):
    """A registered charity. Only verified causes are shown publicly and can be chosen."""

    class Country(models.TextChoices):
        GB = "GB", _("United Kingdom")
        FR = "FR", _("France")
        US = "US", _("United States")

    organisation = models.OneToOneField(
        Organisation, on_delete=models.PROTECT, related_name="cause"
    )
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    name = models.CharField(_("name"), max_length=200)
    country = models.CharField(_("country"), max_length=2, choices=Country.choices)
    registration_number = models.CharField(
        _("registration number"),
        max_length=40,
        help_text=_(
            "Charity Commission number (England and Wales), RNA or SIREN (France), EIN (US)."
        ),
    )
    summary = models.CharField(_("summary"), max_length=280)
    description = models.TextField(_("description"), blank=True)
    website = models.URLField(_("website"), blank=True)
    logo = models.ImageField(_("logo"), upload_to="causes/logos/", blank=True)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("verified by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    objects = CauseQuerySet.as_manager()

    class Meta:
        verbose_name = _("cause")
        verbose_name_plural = _("causes")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["country", "registration_number"], name="causes_cause_registration_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None


class PayoutBatch(models.Model):
    """One ``kindwave causes payouts`` run: every cause whose balance reached the threshold
    is paid in the batch; the same run key again is the same batch."""

    key = models.CharField(_("run key"), max_length=80, unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    threshold_minor = models.PositiveBigIntegerField(_("threshold (minor units)"))

    class Meta:
        verbose_name = _("payout batch")
        verbose_name_plural = _("payout batches")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.key


class Payout(models.Model):
    """Money paid to one cause in one currency; its remittance statement lists what made
    up the amount (bill shares, pledge, donations, by month)."""

    batch = models.ForeignKey(
        PayoutBatch, on_delete=models.PROTECT, related_name="payouts", verbose_name=_("batch")
    )
    cause = models.ForeignKey(
        Cause, on_delete=models.PROTECT, related_name="payouts", verbose_name=_("cause")
    )
    currency = models.CharField(_("currency"), max_length=3)
    amount_minor = models.PositiveBigIntegerField(_("amount"))
    reference = models.CharField(_("payment reference"), max_length=40, unique=True)
    # The ledger transfer that paid it (ledger.Transfer idempotency key).
    transfer_key = models.CharField(_("ledger transfer"), max_length=200, unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("payout")
        verbose_name_plural = _("payouts")
        ordering = ["-created_at", "cause"]
        constraints = [
            models.UniqueConstraint(
                fields=["batch", "cause", "currency"], name="causes_payout_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(amount_minor__gt=0), name="causes_payout_gt_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.amount_minor} {self.currency}"
