"""Usage file format v1: the validator and the reader (kindwave.usage.fileformat)."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kindwave.usage.fileformat import (
    COLUMNS,
    EXTRA_FIELDS_KEY,
    HEADER_LINE,
    UsageFileError,
    hour_file_name,
    hour_of_file,
    read_usage_file,
    validate_record,
)

HOME = "234-30"
CELLS = frozenset({"234-30-1001-11", "234-30-1001-12"})
HOUR = datetime(2026, 10, 1, 18, tzinfo=UTC)


def voice_call(**changes: str) -> dict[str, str]:
    row = {
        "record_id": "20261001T18-00000001",
        "record_type": "voice_mo",
        "msisdn": "+447400100001",
        "imsi": "234307000000001",
        "counterpart": "+442071234567",
        "start_time": "2026-10-01T18:05:09Z",
        "duration_s": "74",
        "bytes_up": "0",
        "bytes_down": "0",
        "cell_id": "234-30-1001-11",
        "visited_plmn": "234-30",
    }
    return row | changes


def problems(row: dict[str, str]) -> list[str]:
    return validate_record(row, home_plmn=HOME, known_cells=CELLS, file_hour=HOUR)


class TestValidateRecord:
    def test_a_good_record_has_no_problem(self) -> None:
        assert problems(voice_call()) == []

    def test_a_data_session_and_a_short_code_sms(self) -> None:
        data = voice_call(
            record_type="data",
            counterpart="",
            duration_s="310",
            bytes_up="1200",
            bytes_down="88000",
        )
        sms = voice_call(record_type="sms_mo", counterpart="70070", duration_s="0")
        assert problems(data) == []
        assert problems(sms) == []

    def test_roaming_on_a_foreign_cell(self) -> None:
        abroad = voice_call(cell_id="208-10-4120-33017", visited_plmn="208-10")
        assert problems(abroad) == []

    @pytest.mark.parametrize(
        ("changes", "expected"),
        [
            ({"record_type": "mms"}, "record_type 'mms' is not one of"),
            ({"record_id": ""}, "record_id is empty"),
            ({"record_id": "a b"}, "record_id 'a b' must be"),
            ({"msisdn": "07400100001"}, "msisdn '07400100001' is not an E.164 number"),
            ({"imsi": "20801123456789"}, "imsi '20801123456789' is not 15 digits"),
            ({"imsi": "208011234567890"}, "does not belong to the host network 234-30"),
            ({"counterpart": ""}, "counterpart '' is neither an E.164 number nor"),
            ({"counterpart": "12"}, "counterpart '12' is neither"),
            ({"start_time": "2026-10-01 18:05:09"}, "is not YYYY-MM-DDTHH:MM:SSZ"),
            ({"start_time": "2026-02-30T18:05:09Z"}, "is not a real date and time"),
            ({"start_time": "2026-10-01T19:00:00Z"}, "outside the file's hour 2026-10-01T18:00Z"),
            ({"duration_s": "-3"}, "duration_s '-3' is not a non-negative whole number"),
            ({"duration_s": "1.5"}, "duration_s '1.5' is not"),
            ({"duration_s": "999999"}, "implausibly large"),
            ({"bytes_up": "10"}, "bytes_up must be 0 for voice_mo, got 10"),
            ({"visited_plmn": "23430"}, "visited_plmn '23430' is not MCC-MNC"),
            ({"cell_id": "234-30-1001"}, "is not MCC-MNC-LAC-CI"),
            ({"cell_id": "234-30-1001-99"}, "is not in the host network's cells.csv"),
            ({"cell_id": "208-10-1-1"}, "is not a cell of the visited network 234-30"),
            ({"cell_id": "234-30-0-11"}, "LAC must be between 1 and 65535"),
        ],
    )
    def test_each_problem_is_named(self, changes: dict[str, str], expected: str) -> None:
        found = problems(voice_call(**changes))
        assert any(expected in problem for problem in found), found

    def test_sms_has_no_duration_and_data_no_counterpart(self) -> None:
        assert "duration_s must be 0 for sms_mt, got 4" in problems(
            voice_call(record_type="sms_mt", duration_s="4")
        )
        assert any(
            "counterpart must be empty for data" in p
            for p in problems(voice_call(record_type="data"))
        )

    def test_missing_extra_and_unknown_fields(self) -> None:
        row = voice_call()
        del row["imsi"]
        row[EXTRA_FIELDS_KEY] = "x,y"
        row["tariff"] = "peak"
        found = problems(row)
        assert "missing field(s): imsi" in found
        assert any("more fields than the 11 columns" in p for p in found)
        assert "unknown column(s): tariff" in found

    def test_without_a_file_hour_any_time_is_accepted(self) -> None:
        row = voice_call(start_time="2030-01-01T00:00:00Z")
        assert validate_record(row, home_plmn=HOME, known_cells=CELLS) == []


class TestReadUsageFile:
    def write(self, path: Path, text: str) -> Path:
        path.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
        return path

    def test_rows_with_line_numbers(self, tmp_path: Path) -> None:
        good = ",".join(voice_call()[column] for column in COLUMNS)
        path = self.write(tmp_path / "usage-20261001T18.csv.gz", f"{HEADER_LINE}\n{good}\n{good}\n")
        rows = list(read_usage_file(path))
        assert [line for line, _ in rows] == [2, 3]
        assert rows[0].row == voice_call()

    def test_plain_csv_too(self, tmp_path: Path) -> None:
        path = tmp_path / "usage-20261001T18.csv"
        path.write_text(HEADER_LINE + "\n", encoding="utf-8")
        assert list(read_usage_file(path)) == []

    def test_wrong_header_is_refused(self, tmp_path: Path) -> None:
        path = self.write(tmp_path / "usage-20261001T18.csv.gz", "id,type\n1,data\n")
        with pytest.raises(UsageFileError, match="wrong header: 'id,type'"):
            list(read_usage_file(path))

    def test_byte_order_mark_is_named(self, tmp_path: Path) -> None:
        path = self.write(tmp_path / "usage-20261001T18.csv.gz", "\ufeff" + HEADER_LINE + "\n")
        with pytest.raises(UsageFileError, match="byte-order mark"):
            list(read_usage_file(path))

    def test_empty_file_and_not_gzip(self, tmp_path: Path) -> None:
        with pytest.raises(UsageFileError, match="empty file"):
            list(read_usage_file(self.write(tmp_path / "usage-20261001T18.csv.gz", "")))
        broken = tmp_path / "usage-20261001T19.csv.gz"
        broken.write_bytes(b"not gzip at all")
        with pytest.raises(UsageFileError, match="not a complete gzip file"):
            list(read_usage_file(broken))

    def test_short_and_long_lines_reach_the_validator(self, tmp_path: Path) -> None:
        path = self.write(
            tmp_path / "usage-20261001T18.csv.gz", f"{HEADER_LINE}\na,b\n{'x,' * 12}x\n"
        )
        short, long = (row for _, row in read_usage_file(path))
        assert "missing field(s)" in problems(short)[0]
        assert long[EXTRA_FIELDS_KEY] == "x,x"


def test_the_example_in_the_documentation_is_valid() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "usage-files.md").read_text(encoding="utf-8")
    example = doc.split("Example (")[1].split("```")[1].strip().splitlines()
    assert example[0] == HEADER_LINE
    rows = [dict(zip(COLUMNS, line.split(","), strict=True)) for line in example[1:]]
    home_cells = frozenset(row["cell_id"] for row in rows if row["visited_plmn"] == HOME)
    for row in rows:
        assert validate_record(row, home_plmn=HOME, known_cells=home_cells, file_hour=HOUR) == []


class TestFileNames:
    def test_round_trip(self) -> None:
        assert hour_file_name(HOUR) == "usage-20261001T18.csv.gz"
        assert hour_of_file(Path("usage/2026-10-01/usage-20261001T18.csv.gz")) == HOUR

    @pytest.mark.parametrize(
        "name", ["usage-2026100118.csv.gz", "usage-20261301T18.csv.gz", "x.csv"]
    )
    def test_bad_names(self, name: str) -> None:
        with pytest.raises(UsageFileError):
            hour_of_file(name)
