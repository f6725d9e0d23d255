"""``kindwave simulate --format ber``: the same records as the CSV files, as 32.298 CDRs."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from kindwave.simulator.run import (
    SimulationArgumentError,
    SimulationSummary,
    make_options,
    simulate,
)
from kindwave.usage.cdr import POSITION_COLUMN, read_cdr_file
from kindwave.usage.fileformat import read_usage_file

SUBSCRIBERS = 40
DAYS = 1


def run(
    out_dir: Path,
    country: str,
    file_format: str,
    subscribers: int = SUBSCRIBERS,
    **extra: bool,
) -> SimulationSummary:
    options = make_options(
        country=country,
        subscribers=subscribers,
        days=DAYS,
        seed=7,
        start=None,
        out_dir=out_dir,
        file_format=file_format,
        **extra,
    )
    return simulate(options)


def files(out_dir: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(out_dir)): path.read_bytes()
        for path in sorted(out_dir.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module", params=["GB", "FR", "US"])
def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """The same simulation written as CSV and as BER."""
    root = tmp_path_factory.mktemp(request.param.lower())
    run(root / "csv", request.param, "csv")
    run(root / "ber", request.param, "ber")
    return root / "csv", root / "ber"


class TestBerSimulation:
    def test_every_hour_has_its_ber_file_and_the_same_records_as_the_csv_one(
        self, pair: tuple[Path, Path]
    ) -> None:
        csv_dir, ber_dir = pair
        csv_files = sorted((csv_dir / "usage").glob("*/usage-*.csv.gz"))
        ber_files = sorted((ber_dir / "usage").glob("*/usage-*.ber"))
        assert [p.name.removesuffix(".csv.gz") for p in csv_files] == [
            p.name.removesuffix(".ber") for p in ber_files
        ]
        assert len(ber_files) == 24 * DAYS
        total = 0
        for csv_file, ber_file in zip(csv_files, ber_files, strict=True):
            expected = [row for _, row in read_usage_file(csv_file)]
            table = read_cdr_file(ber_file)
            assert table.drop_columns([POSITION_COLUMN]).to_pylist() == expected, ber_file.name
            total += len(expected)
        assert total > 500

    def test_the_other_files_are_those_of_the_csv_simulation(self, pair: tuple[Path, Path]) -> None:
        csv_dir, ber_dir = pair
        for name in ("cells.csv", "subscribers.csv"):
            assert (csv_dir / name).read_bytes() == (ber_dir / name).read_bytes()
        csv_manifest = json.loads((csv_dir / "simulation.json").read_text())
        ber_manifest = json.loads((ber_dir / "simulation.json").read_text())
        assert "format" not in csv_manifest["arguments"]
        assert ber_manifest["arguments"].pop("format") == "ber"
        assert ber_manifest == csv_manifest

    def test_same_arguments_give_byte_identical_files(
        self, pair: tuple[Path, Path], tmp_path: Path
    ) -> None:
        _, ber_dir = pair
        manifest = json.loads((ber_dir / "simulation.json").read_text())
        run(tmp_path / "again", manifest["arguments"]["country"], "ber")
        assert files(tmp_path / "again") == files(ber_dir)


class TestResumeAndArguments:
    def test_resume_finishes_a_ber_run_with_the_same_bytes(self, tmp_path: Path) -> None:
        whole = tmp_path / "whole"
        run(whole, "GB", "ber", subscribers=10)
        partial = tmp_path / "partial"
        run(partial, "GB", "ber", subscribers=10)
        (partial / "simulation.json").unlink()
        hour_files = sorted((partial / "usage").glob("*/*.ber"))
        for path in hour_files[10:]:
            path.unlink()
        summary = run(partial, "GB", "ber", subscribers=10, resume=True)
        assert files(partial) == files(whole)
        assert summary.records == sum(
            read_cdr_file(path).num_rows for path in (whole / "usage").glob("*/*.ber")
        )

    def test_resume_does_not_mix_formats(self, tmp_path: Path) -> None:
        run(tmp_path / "out", "GB", "csv")
        (tmp_path / "out" / "simulation.json").unlink()
        with pytest.raises(SimulationArgumentError, match="CSV usage files"):
            run(tmp_path / "out", "GB", "ber", resume=True)

    def test_an_unknown_format_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(SimulationArgumentError, match="--format must be one of csv, ber"):
            run(tmp_path / "out", "GB", "xml")

    def test_the_command_takes_format(self, tmp_path: Path) -> None:
        out = tmp_path / "out"
        call_command(
            "simulate",
            str(out),
            "--country=GB",
            "--subscribers=5",
            "--days=1",
            "--seed=1",
            "--format=ber",
            stdout=open(tmp_path / "stdout", "w"),  # noqa: SIM115
        )
        assert len(list((out / "usage").glob("*/usage-*.ber"))) == 24
        with pytest.raises(CommandError):
            call_command(
                "simulate",
                str(tmp_path / "other"),
                "--country=GB",
                "--subscribers=5",
                "--days=1",
                "--seed=1",
                "--format=xml",
            )


class TestToBerCommand:
    def test_converting_the_csv_delivery_gives_the_ber_simulation_s_files(
        self, pair: tuple[Path, Path], tmp_path: Path
    ) -> None:
        csv_dir, ber_dir = pair
        out = StringIO()
        call_command("usagefiles", "to-ber", str(csv_dir), str(tmp_path), "--quiet", stdout=out)
        converted = files(tmp_path)
        expected = {name: data for name, data in files(ber_dir).items() if name.endswith(".ber")}
        assert converted == expected
        assert f"Wrote {24 * DAYS} CDR files" in out.getvalue()
        call_command("usagefiles", "to-ber", str(csv_dir), str(tmp_path), "--quiet", stdout=out)
        assert files(tmp_path) == converted  # a re-run rewrites the same bytes

    def test_bad_arguments_are_refused(self, tmp_path: Path) -> None:
        with pytest.raises(CommandError, match="not a directory"):
            call_command("usagefiles", "to-ber", str(tmp_path / "nothing"), str(tmp_path / "o"))
        (tmp_path / "usage").mkdir()
        with pytest.raises(CommandError, match=r"simulation\.json"):
            call_command("usagefiles", "to-ber", str(tmp_path), str(tmp_path / "o"))
        with pytest.raises(CommandError, match="no usage-YYYYMMDDTHH"):
            call_command("usagefiles", "to-ber", str(tmp_path), str(tmp_path / "o"), "--country=GB")

    def test_a_broken_source_file_is_named(self, tmp_path: Path) -> None:
        day = tmp_path / "src" / "usage" / "2026-10-01"
        day.mkdir(parents=True)
        (day / "usage-20261001T00.csv").write_text("not,the,header\n", encoding="utf-8")
        with pytest.raises(CommandError, match=r"usage-20261001T00\.csv: cannot be written"):
            call_command(
                "usagefiles", "to-ber", str(tmp_path / "src"), str(tmp_path / "o"), "--country=GB"
            )
