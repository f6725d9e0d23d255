"""The rating's outputs in the database (docs/rating-rules.md).

Every rated record lives in the lake (``DATA_DIR/lake/rated/cycle=YYYY-MM/``); the
database keeps what billing and the subscriber's pages read often: per-line-per-cycle
summaries, the allowance used per bucket, and one row per rating run. Money is an
integer number of *charge units* (1 major unit = ``UNITS_PER_MAJOR`` units), turned
into an exact ``Decimal`` only by ``usage.services``.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kindwave.lines.models import Line


class RatingRun(models.Model):
    """One run of ``rate_cycle``: what it read, what it produced, what it warned about.

    Runs are kept as history; the outputs of a cycle are those of its latest finished run.
    """

    class Engine(models.TextChoices):
        DUCKDB = "duckdb", _("DuckDB")
        SPARK = "spark", _("Apache Spark")

    cycle = models.CharField(_("cycle"), max_length=7)
    engine = models.CharField(_("engine"), max_length=16, choices=Engine.choices)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    records = models.PositiveBigIntegerField(_("records"), default=0)
    rated = models.PositiveBigIntegerField(_("rated"), default=0)
    unrated = models.PositiveBigIntegerField(_("unrated"), default=0)
    unrated_by_reason = models.JSONField(_("unrated by reason"), default=dict)
    # Per currency, the total charge in charge units, as a string (it can exceed 2^63).
    charge_units_by_currency = models.JSONField(_("charges by currency (units)"), default=dict)
    warnings = models.JSONField(_("warnings"), default=list)
    catalog_fingerprint = models.CharField(_("catalogue fingerprint"), max_length=64)
    seconds = models.FloatField(_("seconds"), default=0.0)

    class Meta:
        verbose_name = _("rating run")
        verbose_name_plural = _("rating runs")
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["cycle", "started_at"], name="usage_rating_run_cycle_idx")]

    def __str__(self) -> str:
        return f"{self.cycle} ({self.engine}, {self.started_at:%Y-%m-%d %H:%M})"


class RatedUsageSummary(models.Model):
    """A line's rated usage in one cycle, per plan, service, direction, zone and
    destination class: one future invoice line."""

    line = models.ForeignKey(
        Line, on_delete=models.PROTECT, related_name="+", verbose_name=_("line")
    )
    cycle = models.CharField(_("cycle"), max_length=7)
    plan_code = models.CharField(_("plan"), max_length=40)
    service = models.CharField(_("service"), max_length=8)
    direction = models.CharField(_("direction"), max_length=3)
    zone_code = models.CharField(_("zone"), max_length=40)
    zone_kind = models.CharField(_("zone kind"), max_length=24)
    # Empty for data and incoming usage (no destination class).
    class_code = models.CharField(_("destination class"), max_length=40, blank=True)
    records = models.PositiveBigIntegerField(_("records"))
    quantity = models.PositiveBigIntegerField(_("quantity"))
    included = models.PositiveBigIntegerField(_("included"))
    charged = models.PositiveBigIntegerField(_("charged"))
    charge_units = models.PositiveBigIntegerField(_("charge (units)"))
    currency = models.CharField(_("currency"), max_length=3)

    class Meta:
        verbose_name = _("rated usage summary")
        verbose_name_plural = _("rated usage summaries")
        ordering = ["line", "cycle", "plan_code", "service", "direction", "zone_code"]
        indexes = [models.Index(fields=["line", "cycle"], name="usage_summary_line_cycle_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "line",
                    "cycle",
                    "plan_code",
                    "service",
                    "direction",
                    "zone_code",
                    "class_code",
                    "currency",
                ],
                name="usage_summary_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.line_id} {self.cycle} {self.plan_code} {self.service}/{self.direction}"


class AllowanceUse(models.Model):
    """How much of one allowance bucket (line, cycle, plan, service) was used."""

    line = models.ForeignKey(
        Line, on_delete=models.PROTECT, related_name="+", verbose_name=_("line")
    )
    cycle = models.CharField(_("cycle"), max_length=7)
    plan_code = models.CharField(_("plan"), max_length=40)
    service = models.CharField(_("service"), max_length=8)
    # NULL = unlimited. Seconds, messages or kB.
    allowed = models.PositiveBigIntegerField(_("allowed"), null=True, blank=True)
    used = models.PositiveBigIntegerField(_("used"))
    records = models.PositiveBigIntegerField(_("records"))

    class Meta:
        verbose_name = _("allowance use")
        verbose_name_plural = _("allowance uses")
        ordering = ["line", "cycle", "plan_code", "service"]
        constraints = [
            models.UniqueConstraint(
                fields=["line", "cycle", "plan_code", "service"], name="usage_allowance_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.line_id} {self.cycle} {self.plan_code} {self.service}"
