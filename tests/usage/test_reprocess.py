"""``kindwave usage reprocess``: after staff fix the cause, quarantined records enter the
lake exactly once; the others stay with a refreshed reason; running it again does nothing."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import call_command

from kindwave.lines.models import Market
from kindwave.usage import lake, services
from kindwave.usage.fileformat import COLUMNS
from kindwave.usage.models import Cell, QuarantinedRecord, UsageFile
from tests.usage.test_ingest import delivery, gb, hour_files, ingest, lake_ids, rewrite

__all__ = ["delivery", "gb"]  # fixtures shared with test_ingest


@pytest.fixture
def held(gb: Market, delivery: Path, tmp_path: Path) -> tuple[str, int]:
    """Ingest with one cell missing from cells.csv and one record for an unknown number;
    returns the missing cell and how many records were held for it."""
    copy = tmp_path / "gb"
    shutil.copytree(delivery, copy)

    def unknown_msisdn(lines_: list[str]) -> list[str]:
        fields = lines_[1].split(",")
        fields[2] = "+447999999999"
        return [lines_[0], ",".join(fields), *lines_[2:]]

    rewrite(hour_files(copy)[12], unknown_msisdn)
    busiest = Cell.objects.order_by("cell_id").first()
    assert busiest is not None
    missing = busiest.cell_id
    Cell.objects.filter(cell_id=missing).delete()
    summary = ingest(copy, market=gb)
    assert summary.quarantined["unknown_line"] == 1
    return missing, summary.quarantined["unknown_cell"]


def test_records_whose_cause_was_fixed_enter_the_lake_once(
    gb: Market, delivery: Path, held: tuple[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    missing, count = held
    assert count > 0
    Cell.objects.create(cell_id=missing, lat=0, lon=0, site_id="s", zone_id="z")

    call_command("usage", "reprocess", "--market", "GB", "--quiet")

    out = capsys.readouterr().out
    assert f"{count + 1:,} quarantined record(s): {count:,} now in the lake" in out
    assert "1 still held (unknown_line 1)" in out
    ids = lake_ids()
    assert len(ids) == len(set(ids))
    assert QuarantinedRecord.objects.get().reason == "unknown_line"
    reprocess = UsageFile.objects.get(name__startswith="reprocess")
    assert reprocess.accepted == count
    assert all(str(path).endswith(".parquet") for path in lake.ingested_parts())

    again = services.reprocess_quarantine(market=gb)

    assert (again.examined, again.accepted, again.parts) == (1, 0, [])
    assert sorted(lake_ids()) == sorted(ids)


def test_a_reason_filter_and_a_record_still_invalid_keeps_its_refreshed_reason(
    gb: Market, held: tuple[str, int]
) -> None:
    _, count = held

    summary = services.reprocess_quarantine(market=gb, reason="unknown_cell")

    assert (summary.examined, summary.accepted) == (count, 0)
    assert summary.still_held == {"unknown_cell": count}
    assert QuarantinedRecord.objects.filter(reason="unknown_cell").count() == count
    assert not UsageFile.objects.filter(name__startswith="reprocess").exists()


def test_a_record_already_in_the_lake_is_dropped_as_a_duplicate(
    gb: Market, held: tuple[str, int]
) -> None:
    missing, _ = held
    Cell.objects.create(cell_id=missing, lat=0, lon=0, site_id="s", zone_id="z")
    services.reprocess_quarantine(market=gb)
    # The same records held again (as if a second delivery had been quarantined).
    stored = lake.records_as_text(lake.ingested_parts(), lake_ids()[:2])
    for number, fields in enumerate(stored.values()):
        hour = datetime.strptime(fields[5][:13], "%Y-%m-%dT%H").replace(tzinfo=UTC)
        QuarantinedRecord.objects.create(
            file=UsageFile.objects.get(file_hour=hour),
            line=90_000 + number,
            raw=dict(zip(COLUMNS, fields, strict=True)),
            reason="unknown_cell",
            message="held by hand",
        )

    summary = services.reprocess_quarantine(market=gb, reason="unknown_cell")

    assert (summary.accepted, summary.duplicates) == (0, 2)
    assert not QuarantinedRecord.objects.filter(reason="unknown_cell").exists()
