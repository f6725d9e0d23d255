"""The demo personas' usage feed: valid usage files v1, repeatable byte for byte."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from kindwave.usage.fileformat import read_usage_file, validate_record
from kindwave.web import demo_usage

HOME_CELLS = ("234-30-1001-11", "234-30-1001-12", "234-30-1002-21")
LINE = demo_usage.PersonaLine(
    key="alice",
    msisdn="+447400900001",
    imsi="234309000000001",
    home_plmn="234-30",
    home_cells=HOME_CELLS,
    contacts=("+447400900002", "+442079460018", "+448001111000"),
    trips=((2, 3, "208-01"),),
)
FIRST_DAY = datetime(2026, 10, 1, tzinfo=UTC)


def _write(out_dir: Path) -> dict[str, str]:
    records = demo_usage.persona_records(
        LINE, FIRST_DAY, 7, datetime(2026, 10, 7, 18, tzinfo=UTC), 3
    )
    demo_usage.write_hour_files(records, out_dir)
    return {
        str(path.relative_to(out_dir)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(out_dir.rglob("*.csv.gz"))
    }


def test_every_record_is_valid_and_inside_its_hour(tmp_path: Path) -> None:
    _write(tmp_path)
    files = sorted(tmp_path.rglob("usage-*.csv.gz"))
    assert files
    seen = 0
    types = set()
    for path in files:
        hour = datetime.strptime(path.name[6:17], "%Y%m%dT%H").replace(tzinfo=UTC)
        for _, row in read_usage_file(path):
            assert (
                validate_record(
                    row, home_plmn="234-30", known_cells=frozenset(HOME_CELLS), file_hour=hour
                )
                == []
            )
            types.add((row["record_type"], row["visited_plmn"]))
            seen += 1
    assert seen > 100
    assert ("data", "208-01") in types  # the trip abroad
    assert {kind for kind, _ in types} == {"voice_mo", "voice_mt", "sms_mo", "sms_mt", "data"}


def test_the_same_arguments_give_the_same_bytes(tmp_path: Path) -> None:
    assert _write(tmp_path / "a") == _write(tmp_path / "b")


def test_nothing_starts_after_until(tmp_path: Path) -> None:
    until = datetime(2026, 10, 3, 12, tzinfo=UTC)
    records = demo_usage.persona_records(LINE, FIRST_DAY, 7, until, 3)
    assert records
    assert max(record["start_time"] for record in records) < "2026-10-03T12:00:00Z"
