"""The usage ingest's bookkeeping: the host network's cells, the manifest of files
ingested into the lake (or refused), and the records held in quarantine.

The usage records themselves live in the Parquet lake (``lake.py``), not here.
Labels are translated like every other string: staff in France use the admin in French.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Cell(models.Model):
    """A cell of the host network, from its ``cells.csv`` (docs/usage-files.md §5)."""

    cell_id = models.CharField(_("cell"), max_length=40, unique=True)
    lat = models.DecimalField(_("latitude"), max_digits=8, decimal_places=5)
    lon = models.DecimalField(_("longitude"), max_digits=8, decimal_places=5)
    site_id = models.CharField(_("site"), max_length=40)
    zone_id = models.CharField(_("zone (geohash-5)"), max_length=12)

    class Meta:
        verbose_name = _("cell")
        verbose_name_plural = _("cells")
        ordering = ["cell_id"]

    def __str__(self) -> str:
        return self.cell_id


class UsageFile(models.Model):
    """The manifest: one row per usage file seen, by the SHA-256 of its bytes.

    An ``ingested`` row exists only once all of its lake parts are on disk, so the
    parts listed in ``parts`` are exactly the file's records in the lake; a part on
    disk without a row is an orphan of an interrupted run.
    """

    class Status(models.TextChoices):
        INGESTED = "ingested", _("ingested")
        REFUSED = "refused", _("refused")

    sha256 = models.CharField(_("SHA-256"), max_length=64, unique=True)
    # Null only for rows written before the market was recorded.
    market = models.ForeignKey(
        "lines.Market",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="usage_files",
        verbose_name=_("market"),
    )
    name = models.CharField(_("file name"), max_length=255)
    path = models.CharField(_("path when seen"), max_length=1024)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    file_hour = models.DateTimeField(_("hour covered"), null=True, blank=True)
    refusal = models.TextField(_("why it was refused"), blank=True)
    records = models.PositiveIntegerField(_("records"), default=0)
    accepted = models.PositiveIntegerField(_("accepted"), default=0)
    duplicates = models.PositiveIntegerField(_("duplicates dropped"), default=0)
    quarantined = models.PositiveIntegerField(_("quarantined"), default=0)
    quarantined_by_reason = models.JSONField(_("quarantined by reason"), default=dict)
    parts = models.JSONField(_("lake parts"), default=list)
    processed_at = models.DateTimeField(_("processed at"), default=timezone.now)

    class Meta:
        verbose_name = _("usage file")
        verbose_name_plural = _("usage files")
        ordering = ["name", "processed_at"]
        indexes = [
            models.Index(fields=["status", "file_hour"], name="usage_file_status_hour_idx"),
            models.Index(fields=["market", "file_hour"], name="usage_file_market_hour_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class QuarantineReason(models.TextChoices):
    INVALID_RECORD = "invalid_record", _("breaks the file format")
    WRONG_FIELD_COUNT = "wrong_field_count", _("missing or extra fields")
    FOREIGN_IMSI = "foreign_imsi", _("IMSI of another network")
    UNKNOWN_CELL = "unknown_cell", _("cell not in cells.csv")
    OUTSIDE_HOUR = "outside_hour", _("start time outside the file's hour")
    UNKNOWN_LINE = "unknown_line", _("no line with that MSISDN and IMSI")
    LINE_NOT_ACTIVE = "line_not_active", _("line not active or suspended at the time")
    CONFLICTING_DUPLICATE = "conflicting_duplicate", _("record id seen with other content")


class QuarantinedRecord(models.Model):
    """A record kept out of the lake, with why; never dropped silently."""

    file = models.ForeignKey(
        UsageFile, on_delete=models.CASCADE, related_name="quarantined_records"
    )

    class PositionKind(models.TextChoices):
        LINE = "line", _("line")
        OFFSET = "offset", _("byte offset")

    # Where the record is in its file: the line of a CSV file (the header is line 1),
    # the byte offset of a BER record.
    line = models.PositiveBigIntegerField(_("line or byte offset"))
    position_kind = models.CharField(
        _("position is a"), max_length=8, choices=PositionKind.choices, default=PositionKind.LINE
    )
    raw = models.JSONField(_("record as delivered"))
    reason = models.CharField(_("reason"), max_length=32, choices=QuarantineReason.choices)
    message = models.TextField(_("message"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("quarantined record")
        verbose_name_plural = _("quarantined records")
        ordering = ["file__name", "line"]
        indexes = [models.Index(fields=["reason"], name="usage_quarantine_reason_idx")]

    def __str__(self) -> str:
        return f"{self.file.name}:{self.where} {self.reason}"

    @property
    def where(self) -> str:
        """``12`` for line 12 of a CSV file, ``@4096`` for the BER record at byte 4096."""
        return f"@{self.line}" if self.position_kind == self.PositionKind.OFFSET else str(self.line)
