"""``kindwave usage purge``: usage records past retention leave the lake (and the
quarantine, and the rated records of whole cycles before the cut-off); the manifest keeps
its rows, so the files are never ingested again."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from kindwave.lines.models import Market
from kindwave.usage import lake, services
from kindwave.usage.fileformat import hour_of_file
from kindwave.usage.models import QuarantinedRecord, UsageFile
from tests.usage.test_ingest import delivery, gb, hour_files, ingest, lake_ids, lake_snapshot

__all__ = ["delivery", "gb"]  # fixtures shared with test_ingest


def usage_date(delivery: Path) -> date:
    return hour_of_file(hour_files(delivery)[0]).date()


def test_purge_removes_the_days_before_the_cut_off_and_keeps_the_manifest(
    gb: Market, delivery: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest(delivery, market=gb)
    day = usage_date(delivery)
    manifest = UsageFile.objects.first()
    assert manifest is not None
    QuarantinedRecord.objects.create(
        file=manifest,
        line=2,
        raw={"start_time": f"{day}T00:00:01Z"},
        reason="unknown_line",
        message="m",
    )
    rated = lake.lake_root().parent / "rated"
    for cycle in (f"{day:%Y-%m}", "2999-01"):
        (rated / f"cycle={cycle}").mkdir(parents=True)
        (rated / f"cycle={cycle}" / "part-0.parquet").write_bytes(b"rated")
    assert lake_ids()
    cutoff = day.replace(day=1) + timedelta(days=40)

    call_command("usage", "purge", "--before", cutoff.replace(day=1).isoformat())

    out = capsys.readouterr().out
    assert "Removed usage before" in out
    assert f"cycles: {day:%Y-%m}" in out
    assert lake.ingested_parts() == []
    assert not any(lake.lake_root().glob("usage_date=*"))
    assert UsageFile.objects.filter(status="ingested").count() == 24
    assert all(parts == [] for parts in UsageFile.objects.values_list("parts", flat=True))
    assert not QuarantinedRecord.objects.exists()
    assert not (rated / f"cycle={day:%Y-%m}").exists()
    assert (rated / "cycle=2999-01").exists()
    # The purged files still count as ingested: nothing comes back.
    again = ingest(delivery, market=gb)
    assert (len(again.skipped), again.accepted) == (24, 0)
    assert lake.ingested_parts() == []


def test_a_dry_run_changes_nothing_and_a_later_cut_off_keeps_the_days(
    gb: Market, delivery: Path
) -> None:
    ingest(delivery, market=gb)
    before = lake_snapshot()
    day = usage_date(delivery)

    would = services.purge_usage(before=day + timedelta(days=1), dry_run=True)
    kept = services.purge_usage(before=day)

    assert (would.usage_dates, would.parts) == ([day], 24)
    assert (kept.usage_dates, kept.parts, kept.quarantined) == ([], 0, 0)
    assert lake_snapshot() == before


def test_purge_is_safe_to_run_again(gb: Market, delivery: Path) -> None:
    ingest(delivery, market=gb)
    cutoff = usage_date(delivery) + timedelta(days=1)

    first = services.purge_usage(before=cutoff)
    second = services.purge_usage(before=cutoff)

    assert first.parts == 24
    assert (second.parts, second.usage_dates, second.manifest_rows) == (0, [], 0)


def test_the_default_cut_off_is_the_retention_window(
    monkeypatch: pytest.MonkeyPatch, gb: Market
) -> None:
    monkeypatch.delenv("KINDWAVE_USAGE_RETENTION_DAYS", raising=False)
    today = date(2027, 12, 1)
    assert services.purge_usage(today=today, dry_run=True).cutoff == today - timedelta(days=425)
    monkeypatch.setenv("KINDWAVE_USAGE_RETENTION_DAYS", "30")
    assert services.retention_days() == 30
    monkeypatch.setenv("KINDWAVE_USAGE_RETENTION_DAYS", "a year")
    with pytest.raises(ImproperlyConfigured, match="KINDWAVE_USAGE_RETENTION_DAYS"):
        services.retention_days()


def test_a_bad_date_is_a_clear_error(gb: Market) -> None:
    with pytest.raises(CommandError, match="not a date"):
        call_command("usage", "purge", "--before", "last year")
