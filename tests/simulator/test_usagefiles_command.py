"""``kindwave usagefiles check``: a delivery is checked record by record against format v1."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from kindwave.simulator.run import make_options, simulate


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("delivery") / "gb"
    simulate(make_options(country="GB", subscribers=30, days=1, seed=5, start=None, out_dir=out))
    return out


def test_a_simulated_delivery_is_valid(delivery: Path, capsys: pytest.CaptureFixture[str]) -> None:
    call_command("usagefiles", "check", str(delivery), "--quiet")

    assert "0 problem(s)" in capsys.readouterr().out


def test_a_bad_record_is_reported_with_file_and_line(tmp_path: Path, delivery: Path) -> None:
    import shutil

    copy = tmp_path / "gb"
    shutil.copytree(delivery, copy)
    hour_file = sorted((copy / "usage").rglob("usage-*.csv.gz"))[10]
    lines = gzip.decompress(hour_file.read_bytes()).decode().splitlines()
    fields = lines[1].split(",")
    fields[6] = "-5"  # duration_s
    lines[1] = ",".join(fields)
    hour_file.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))

    with pytest.raises(CommandError, match="1 invalid"):
        call_command("usagefiles", "check", str(copy), "--quiet")


def test_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="not a directory"):
        call_command("usagefiles", "check", str(tmp_path / "nowhere"))
