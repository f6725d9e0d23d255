"""``kindwave usage ingest``: every record of a delivery enters the lake exactly once,
atomically per file; bad files are refused and bad records quarantined."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from kindwave.lines import services as lines
from kindwave.lines.models import Line, LineState, LineStateChange, Market
from kindwave.simulator.run import make_options, simulate
from kindwave.usage import ingest as ingest_module
from kindwave.usage import lake, services
from kindwave.usage.cdr import fields as cdr_fields
from kindwave.usage.cdr import hour_cdr_file_name, to_ber, write_cdr_file
from kindwave.usage.fileformat import HEADER_LINE, hour_of_file, read_usage_file
from kindwave.usage.models import Cell, QuarantinedRecord, UsageFile
from tests.usage.test_cdr import content_of, cs_value, with_content


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("delivery") / "gb"
    simulate(make_options(country="GB", subscribers=20, days=1, seed=11, start=None, out_dir=out))
    return out


@pytest.fixture
def gb(settings, tmp_path: Path, delivery: Path, demo_causes: object) -> Market:
    settings.DATA_DIR = tmp_path / "data"
    lines.load_demo_catalogs()
    lines.import_simulated_operator(delivery)
    services.load_cells(delivery / "cells.csv")
    return Market.objects.get(code="GB")


def hour_files(directory: Path) -> list[Path]:
    return sorted(directory.rglob("usage-*.csv.gz"))


def delivered_ids(directory: Path) -> list[str]:
    return [row["record_id"] for path in hour_files(directory) for _, row in read_usage_file(path)]


def lake_ids() -> list[str]:
    files = [str(path) for path in lake.ingested_parts()]
    rows = duckdb.execute("SELECT record_id FROM read_parquet(?)", [files]).fetchall()
    return [record_id for (record_id,) in rows]


def lake_snapshot() -> dict[str, str]:
    root = lake.lake_root()
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def rewrite(path: Path, edit) -> None:
    lines_ = gzip.decompress(path.read_bytes()).decode().splitlines()
    path.write_bytes(gzip.compress(("\n".join(edit(lines_)) + "\n").encode(), mtime=0))


def ingest(*paths: Path, market: Market) -> services.IngestSummary:
    return services.ingest_usage_files(paths, market=market)


class TestIngest:
    def test_every_record_of_a_clean_delivery_lands_once(self, gb: Market, delivery: Path) -> None:
        summary = ingest(delivery, market=gb)

        expected = delivered_ids(delivery)
        assert len(summary.ingested) == 24
        assert summary.records == summary.accepted == len(expected) > 0
        assert sorted(lake_ids()) == sorted(expected)
        assert UsageFile.objects.filter(status=UsageFile.Status.INGESTED).count() == 24

    def test_lake_columns_are_typed(self, gb: Market, delivery: Path) -> None:
        ingest(delivery, market=gb)

        files = [str(path) for path in lake.ingested_parts()]
        types = dict(
            duckdb.execute(
                "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(?))",
                [files],
            ).fetchall()
        )
        assert types["start_time"] == "TIMESTAMP WITH TIME ZONE"
        assert types["duration_s"] == types["bytes_down"] == "BIGINT"
        nulls = duckdb.execute(
            "SELECT count(*) FROM read_parquet(?) WHERE record_type = 'data' "
            "AND counterpart IS NOT NULL",
            [files],
        ).fetchone()
        assert nulls == (0,)

    def test_running_again_ingests_nothing_and_leaves_the_lake_unchanged(
        self, gb: Market, delivery: Path
    ) -> None:
        ingest(delivery, market=gb)
        before = lake_snapshot()

        again = ingest(delivery, market=gb)

        assert len(again.skipped) == 24
        assert again.ingested == []
        assert again.records == 0
        assert lake_snapshot() == before

    def test_a_file_redelivered_under_another_name_is_skipped_by_checksum(
        self, gb: Market, delivery: Path, tmp_path: Path
    ) -> None:
        ingest(delivery, market=gb)
        copy = tmp_path / "again" / "usage-20300101T00.csv.gz"
        copy.parent.mkdir()
        shutil.copyfile(hour_files(delivery)[5], copy)

        summary = ingest(copy, market=gb)

        assert summary.skipped == [str(copy)]
        assert sorted(lake_ids()) == sorted(delivered_ids(delivery))

    def test_a_record_for_an_unknown_number_is_quarantined(
        self, gb: Market, delivery: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        copy = tmp_path / "gb"
        shutil.copytree(delivery, copy)
        target = hour_files(copy)[12]

        def unknown_msisdn(lines_: list[str]) -> list[str]:
            fields = lines_[1].split(",")
            fields[2] = "+447999999999"
            return [lines_[0], ",".join(fields), *lines_[2:]]

        rewrite(target, unknown_msisdn)

        summary = ingest(copy, market=gb)

        assert summary.quarantined == {"unknown_line": 1}
        assert summary.accepted == summary.records - 1
        record = QuarantinedRecord.objects.get()
        assert (record.file.name, record.line, record.raw["msisdn"]) == (
            target.name,
            2,
            "+447999999999",
        )
        call_command("usage", "quarantine", "--reason", "unknown_line")
        assert f"{target.name}:2\tunknown_line" in capsys.readouterr().out

    def test_a_corrupt_gzip_is_refused_and_nothing_of_it_enters_the_lake(
        self, gb: Market, delivery: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        copy = tmp_path / "gb"
        shutil.copytree(delivery, copy)
        target = hour_files(copy)[3]
        target.write_bytes(target.read_bytes()[:-20])
        lost = {row["record_id"] for _, row in read_usage_file(hour_files(delivery)[3])}

        with pytest.raises(CommandError, match="1 file"):
            call_command("usage", "ingest", str(copy), "--market", "GB", "--quiet")

        err = capsys.readouterr().err
        assert target.name in err
        assert "gzip" in err
        refused = UsageFile.objects.get(status=UsageFile.Status.REFUSED)
        assert refused.name == target.name
        assert "gzip" in refused.refusal
        assert UsageFile.objects.filter(status=UsageFile.Status.INGESTED).count() == 23
        assert lost
        assert not lost & set(lake_ids())

    def test_an_interrupted_run_is_completed_with_the_same_lake(
        self, gb: Market, delivery: Path
    ) -> None:
        ingest(delivery, market=gb)
        uninterrupted = lake_snapshot()
        # A crash after the part of one file was renamed, before its manifest row:
        UsageFile.objects.filter(name=hour_files(delivery)[7].name).delete()
        stray = lake.lake_root() / "usage_date=2026-10-01" / "part-0000000000000000.parquet.tmp"
        stray.write_bytes(b"half a part")

        summary = ingest(delivery, market=gb)

        assert summary.orphans_removed == 2
        assert (len(summary.ingested), len(summary.skipped)) == (1, 23)
        assert summary.duplicates == 0
        assert lake_snapshot() == uninterrupted
        assert sorted(lake_ids()) == sorted(delivered_ids(delivery))

    def test_a_record_id_seen_before_is_dropped_or_quarantined(
        self, gb: Market, delivery: Path, tmp_path: Path
    ) -> None:
        ingest(delivery, market=gb)
        source = hour_files(delivery)[15]
        header, first, second, *_ = gzip.decompress(source.read_bytes()).decode().splitlines()
        changed = first.split(",")
        changed[0] = "NEW-1"
        conflicting = second.split(",")
        conflicting[6] = str(int(conflicting[6]) + 1)
        later = tmp_path / "later" / source.name
        later.parent.mkdir()
        later.write_bytes(
            gzip.compress(
                f"{header}\n{first}\n{','.join(conflicting)}\n{','.join(changed)}\n".encode()
            )
        )

        summary = ingest(later, market=gb)

        assert (summary.records, summary.accepted, summary.duplicates) == (3, 1, 1)
        assert summary.quarantined == {"conflicting_duplicate": 1}
        ids = lake_ids()
        assert ids.count(first.split(",")[0]) == 1
        assert "NEW-1" in ids

    @pytest.mark.parametrize(
        ("batch_mb", "where"),
        [("64", "appears in usage-"), ("0.000001", "is already in the lake")],
        ids=["one-batch", "a-batch-per-file"],
    )
    def test_a_record_id_repeated_within_a_run_is_dropped_or_quarantined(
        self,
        gb: Market,
        delivery: Path,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        batch_mb: str,
        where: str,
    ) -> None:
        monkeypatch.setenv("KINDWAVE_INGEST_BATCH_MB", batch_mb)
        source = hour_files(delivery)[16]
        header, first, second, third, *_ = (
            gzip.decompress(source.read_bytes()).decode().splitlines()
        )
        conflicting = third.split(",")
        conflicting[6] = str(int(conflicting[6]) + 1)
        run = tmp_path / "run"
        run.mkdir()
        # Read first (names sort before their .gz), then the gzip file.
        (run / source.name.removesuffix(".gz")).write_text(
            f"{header}\n{second}\n{','.join(conflicting)}\n"
        )
        (run / source.name).write_bytes(
            gzip.compress(f"{header}\n{first}\n{second}\n{first}\n{third}\n".encode())
        )

        summary = ingest(run, market=gb)

        assert (summary.records, summary.accepted, summary.duplicates) == (6, 3, 2)
        assert summary.quarantined == {"conflicting_duplicate": 1}
        held = QuarantinedRecord.objects.get()
        assert (held.file.name, held.line, held.raw["record_id"]) == (
            source.name,
            5,
            third.split(",")[0],
        )
        assert where in held.message
        ids = lake_ids()
        assert sorted(ids) == sorted({line.split(",")[0] for line in (first, second, third)})

    def test_a_record_after_the_line_was_terminated_is_quarantined(
        self, gb: Market, delivery: Path
    ) -> None:
        target = hour_files(delivery)[12]
        first = next(iter(read_usage_file(target))).row
        line = Line.objects.get(msisdn=first["msisdn"])
        LineStateChange.objects.create(
            line=line,
            from_state=LineState.ACTIVE,
            to_state=LineState.TERMINATED,
            at=hour_of_file(target),
            reason="test: terminated before this hour",
        )

        summary = ingest(delivery, market=gb)

        assert summary.quarantined["line_not_active"] > 0
        held = QuarantinedRecord.objects.filter(reason="line_not_active")
        assert {record.raw["msisdn"] for record in held} == {first["msisdn"]}
        assert all(record.file.file_hour >= hour_of_file(target) for record in held)
        assert summary.accepted + summary.quarantined.total() == summary.records


def test_loading_cells_twice_changes_nothing(gb: Market, delivery: Path) -> None:
    count = Cell.objects.count()

    summary = services.load_cells(delivery / "cells.csv")

    assert (summary.created, summary.updated, summary.unchanged) == (0, 0, count)


def test_the_dedup_horizon_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KINDWAVE_DEDUP_HORIZON_DAYS", raising=False)
    assert services.dedup_horizon_days() == 35
    monkeypatch.setenv("KINDWAVE_DEDUP_HORIZON_DAYS", "7")
    assert services.dedup_horizon_days() == 7
    monkeypatch.setenv("KINDWAVE_DEDUP_HORIZON_DAYS", "soon")
    with pytest.raises(ImproperlyConfigured, match="KINDWAVE_DEDUP_HORIZON_DAYS"):
        services.dedup_horizon_days()


def test_a_second_ingest_while_one_runs_is_refused_and_writes_nothing(
    gb: Market, delivery: Path
) -> None:
    # As if another process were ingesting.
    with lake.exclusive_writer(), pytest.raises(lake.LakeBusyError, match="another ingest"):
        ingest(delivery, market=gb)

    assert lake.ingested_parts() == []
    summary = ingest(delivery, market=gb)  # once the lock is free, the ingest proceeds
    assert summary.accepted > 0


class TestMalformedFiles:
    """A malformed file is refused with its name and line, nothing of it enters the lake,
    and the other files of its batch are ingested."""

    @pytest.mark.parametrize(
        ("edit", "expected"),
        [
            (lambda ls: ["record_id,type", *ls[1:]], "wrong header"),
            (lambda ls: ["\ufeff" + ls[0], *ls[1:]], "byte-order mark"),
            (lambda ls: [*ls[:2], ls[2].rsplit(",", 1)[0], *ls[3:]], "line 3: 10 field(s)"),
            (lambda ls: [*ls[:3], ls[3] + ",extra", *ls[4:]], "line 4: 12 field(s)"),
            (lambda ls: [*ls[:2], "", *ls[2:]], "line 3: an empty line"),
            (lambda ls: [*ls[:2], '"a\nb"' + ls[2][1:], *ls[3:]], "line 3: a quoted field"),
        ],
        ids=["header", "bom", "truncated-line", "extra-column", "blank-line", "line-break"],
    )
    def test_is_refused_with_name_and_line(
        self, gb: Market, delivery: Path, tmp_path: Path, edit, expected: str
    ) -> None:
        copy = tmp_path / "gb"
        shutil.copytree(delivery, copy)
        target = hour_files(copy)[9]
        lost = {row["record_id"] for _, row in read_usage_file(target)}
        rewrite(target, edit)

        summary = ingest(copy, market=gb)

        assert len(summary.refused) == 1
        assert target.name in summary.refused[0]
        assert expected in summary.refused[0]
        assert len(summary.ingested) == 23
        assert not lost & set(lake_ids())
        assert UsageFile.objects.get(status=UsageFile.Status.REFUSED).name == target.name

    def test_a_file_that_is_not_utf8_is_refused(
        self, gb: Market, delivery: Path, tmp_path: Path
    ) -> None:
        target = tmp_path / "usage-20261001T05.csv.gz"
        source = gzip.decompress(hour_files(delivery)[5].read_bytes())
        header, first, *rest = source.split(b"\n")
        target.write_bytes(gzip.compress(b"\n".join([header, first, b"caf\xe9" + first, *rest])))

        summary = ingest(target, market=gb)

        assert len(summary.refused) == 1
        assert "not UTF-8" in summary.refused[0]
        assert target.name in summary.refused[0]
        assert lake.ingested_parts() == []

    def test_a_gzip_file_of_several_members_is_read_whole(
        self, gb: Market, delivery: Path, tmp_path: Path
    ) -> None:
        source = hour_files(delivery)[7]
        text = gzip.decompress(source.read_bytes())
        middle = text.index(b"\n", len(text) // 2) + 1
        target = tmp_path / source.name
        target.write_bytes(gzip.compress(text[:middle]) + gzip.compress(text[middle:]))

        summary = ingest(target, market=gb)

        expected = [row["record_id"] for _, row in read_usage_file(source)]
        assert summary.accepted == len(expected) > 0
        assert sorted(lake_ids()) == sorted(expected)

    def test_an_hour_without_traffic_is_ingested_with_no_record(
        self, gb: Market, delivery: Path, tmp_path: Path
    ) -> None:
        target = tmp_path / "usage-20261001T04.csv.gz"
        target.write_bytes(gzip.compress(f"{HEADER_LINE}\n".encode()))

        summary = ingest(target, market=gb)

        assert (summary.ingested, summary.records, summary.refused) == ([str(target)], 0, [])
        assert UsageFile.objects.get().parts == []

    def test_a_refused_file_once_fixed_is_ingested(
        self, gb: Market, delivery: Path, tmp_path: Path
    ) -> None:
        copy = tmp_path / "gb"
        shutil.copytree(delivery, copy)
        target = hour_files(copy)[2]
        good = target.read_bytes()
        target.write_bytes(good[:-20])
        assert len(ingest(copy, market=gb).refused) == 1

        target.write_bytes(good)
        summary = ingest(copy, market=gb)

        assert (len(summary.ingested), len(summary.skipped), summary.refused) == (1, 23, [])
        assert sorted(lake_ids()) == sorted(delivered_ids(delivery))


class TestManifest:
    def test_files_are_recorded_with_their_market(self, gb: Market, delivery: Path) -> None:
        ingest(delivery, market=gb)

        assert set(UsageFile.objects.values_list("market__code", flat=True)) == {"GB"}

    def test_missing_hours_are_the_hours_without_an_ingested_file(
        self, gb: Market, delivery: Path, tmp_path: Path
    ) -> None:
        files = hour_files(delivery)
        first = hour_of_file(files[0])
        partial = tmp_path / "partial"
        partial.mkdir()
        for path in files[:5] + files[6:]:
            shutil.copyfile(path, partial / path.name)
        ingest(partial, market=gb)

        missing = services.missing_hours(gb, first, first + timedelta(days=1, hours=2))

        assert missing == [
            first + timedelta(hours=5),
            first + timedelta(days=1),
            first + timedelta(days=1, hours=1),
        ]
        assert services.missing_hours(gb, first, first + timedelta(hours=5)) == []


class TestBerFiles:
    """3GPP TS 32.298 CDR files go through the same checks and the same lake."""

    def test_a_ber_hour_enters_the_lake_like_its_csv(
        self, gb: Market, delivery: Path, tmp_path: Path
    ) -> None:
        source = hour_files(delivery)[10]
        rows = [row for _, row in read_usage_file(source)]
        ber = tmp_path / "ber" / hour_cdr_file_name(hour_of_file(source))
        write_cdr_file(ber, rows)

        summary = ingest(tmp_path / "ber", market=gb)

        assert summary.ingested == [str(ber)]
        assert summary.accepted == len(rows) > 0
        assert sorted(lake_ids()) == sorted(row["record_id"] for row in rows)
        again = ingest(source, market=gb)  # the same records as CSV: all duplicates
        assert (again.accepted, again.duplicates) == (0, len(rows))

    def test_a_ber_record_for_an_unknown_line_is_held_at_its_offset(
        self, gb: Market, delivery: Path, tmp_path: Path
    ) -> None:
        rows = [row for _, row in read_usage_file(hour_files(delivery)[11])][:3]
        rows[1] = rows[1] | {"msisdn": "+447999999999"}
        ber = tmp_path / "cdrs-from-the-switch.ber"
        write_cdr_file(ber, rows)

        summary = ingest(ber, market=gb)

        assert summary.quarantined == {"unknown_line": 1}
        record = QuarantinedRecord.objects.get()
        assert record.position_kind == QuarantinedRecord.PositionKind.OFFSET
        assert record.line > 0
        assert record.where == f"@{record.line}"
        assert UsageFile.objects.get(status="ingested").file_hour is None

    def test_invalid_ber_is_refused_with_the_offset(
        self, gb: Market, delivery: Path, tmp_path: Path
    ) -> None:
        rows = [row for _, row in read_usage_file(hour_files(delivery)[11])][:3]
        ber = tmp_path / "usage-20261001T11.ber"
        write_cdr_file(ber, rows)
        ber.write_bytes(ber.read_bytes()[:-7])

        summary = ingest(ber, market=gb)

        assert len(summary.refused) == 1
        assert ber.name in summary.refused[0]
        assert "offset" in summary.refused[0]
        assert lake.ingested_parts() == []

    def test_unrated_cdrs_and_vendor_fields_are_counted_in_the_summary(
        self, gb: Market, delivery: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        source = hour_files(delivery)[12]
        calls = [row for _, row in read_usage_file(source) if row["record_type"] != "data"][:2]
        location_request = cs_value(
            "niLCSRecord",
            {
                "recordType": 25,
                "recordingEntity": cdr_fields.encode_address("+447953000001"),
                "eventTimeStamp": cdr_fields.encode_timestamp(hour_of_file(source)),
                "causeForTerm": 0,
            },
        )
        first, second = to_ber(calls[:1]), to_ber(calls[1:])
        vendor = bytes([0x9F, 0x81, 0x00, 0x02, 0xCA, 0xFE])  # context tag [128], 2 octets
        with_vendor = with_content(first, content_of(first) + vendor)
        one = tmp_path / "one" / hour_cdr_file_name(hour_of_file(source))
        other = tmp_path / "other" / "switch-2.ber"
        for path, content in (
            (one, location_request + with_vendor + second),
            (other, location_request + location_request + second),
        ):
            path.parent.mkdir()
            path.write_bytes(content)

        summary = ingest(one, market=gb)
        call_command("usage", "ingest", str(other), "--market", "GB", "--quiet")

        assert (summary.accepted, summary.cdr_skipped, summary.cdr_vendor_fields) == (
            2,
            {"niLCSRecord": 1},
            1,
        )
        out = capsys.readouterr().out
        assert "CDRs: 2 of unrated types skipped (niLCSRecord 2), 0 vendor field(s) dropped" in out

    def test_several_ber_files_are_decoded_in_worker_processes_like_in_this_one(
        self, gb: Market, delivery: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        sources = hour_files(delivery)[13:17]
        for source in sources:
            rows = [row for _, row in read_usage_file(source)]
            write_cdr_file(tmp_path / "ber" / hour_cdr_file_name(hour_of_file(source)), rows)
        broken = tmp_path / "ber" / "usage-20261001T20.ber"
        write_cdr_file(broken, [row for _, row in read_usage_file(hour_files(delivery)[20])][:2])
        broken.write_bytes(broken.read_bytes()[:-7])
        monkeypatch.setattr(ingest_module, "_BER_PROCESSES_FROM", 2)

        summary = ingest(tmp_path / "ber", market=gb)

        assert len(summary.ingested) == len(sources)
        assert len(summary.refused) == 1
        assert broken.name in summary.refused[0]
        assert "offset" in summary.refused[0]
        expected = [row["record_id"] for source in sources for _, row in read_usage_file(source)]
        assert summary.accepted == len(expected) > 0
        assert sorted(lake_ids()) == sorted(expected)
