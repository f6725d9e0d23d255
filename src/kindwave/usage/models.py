"""The usage ingest's bookkeeping: the host network's cells, the manifest of files
ingested into the lake (or refused), and the records held in quarantine.

The usage records themselves live in the Parquet lake (``lake.py``), not here.
Labels are not marked for translation: these models are seen by operator staff only
(admin, CLI), and the French catalogue is owned elsewhere.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Cell(models.Model):
    """A cell of the host network, from its ``cells.csv`` (docs/usage-files.md §5)."""

    cell_id = models.CharField("cell", max_length=40, unique=True)
    lat = models.DecimalField("latitude", max_digits=8, decimal_places=5)
    lon = models.DecimalField("longitude", max_digits=8, decimal_places=5)
    site_id = models.CharField("site", max_length=40)
    zone_id = models.CharField("zone (geohash-5)", max_length=12)

    class Meta:
        verbose_name = "cell"
        verbose_name_plural = "cells"
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
        INGESTED = "ingested", "ingested"
        REFUSED = "refused", "refused"

    sha256 = models.CharField("SHA-256", max_length=64, unique=True)
    name = models.CharField("file name", max_length=255)
    path = models.CharField("path when seen", max_length=1024)
    size = models.PositiveBigIntegerField("size (bytes)")
    status = models.CharField("status", max_length=16, choices=Status.choices)
    file_hour = models.DateTimeField("hour covered", null=True, blank=True)
    refusal = models.TextField("why it was refused", blank=True)
    records = models.PositiveIntegerField("records", default=0)
    accepted = models.PositiveIntegerField("accepted", default=0)
    duplicates = models.PositiveIntegerField("duplicates dropped", default=0)
    quarantined = models.PositiveIntegerField("quarantined", default=0)
    quarantined_by_reason = models.JSONField("quarantined by reason", default=dict)
    parts = models.JSONField("lake parts", default=list)
    processed_at = models.DateTimeField("processed at", default=timezone.now)

    class Meta:
        verbose_name = "usage file"
        verbose_name_plural = "usage files"
        ordering = ["name", "processed_at"]
        indexes = [models.Index(fields=["status", "file_hour"], name="usage_file_status_hour_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class QuarantineReason(models.TextChoices):
    INVALID_RECORD = "invalid_record", "breaks the file format"
    WRONG_FIELD_COUNT = "wrong_field_count", "missing or extra fields"
    FOREIGN_IMSI = "foreign_imsi", "IMSI of another network"
    UNKNOWN_CELL = "unknown_cell", "cell not in cells.csv"
    OUTSIDE_HOUR = "outside_hour", "start time outside the file's hour"
    UNKNOWN_LINE = "unknown_line", "no line with that MSISDN and IMSI"
    LINE_NOT_ACTIVE = "line_not_active", "line not active or suspended at the time"
    CONFLICTING_DUPLICATE = "conflicting_duplicate", "record id seen with other content"


class QuarantinedRecord(models.Model):
    """A record kept out of the lake, with why; never dropped silently."""

    file = models.ForeignKey(
        UsageFile, on_delete=models.CASCADE, related_name="quarantined_records"
    )
    line = models.PositiveIntegerField("line in the file")
    raw = models.JSONField("record as delivered")
    reason = models.CharField("reason", max_length=32, choices=QuarantineReason.choices)
    message = models.TextField("message")
    created_at = models.DateTimeField("created at", default=timezone.now)

    class Meta:
        verbose_name = "quarantined record"
        verbose_name_plural = "quarantined records"
        ordering = ["file__name", "line"]
        indexes = [models.Index(fields=["reason"], name="usage_quarantine_reason_idx")]

    def __str__(self) -> str:
        return f"{self.file.name}:{self.line} {self.reason}"
