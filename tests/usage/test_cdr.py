"""3GPP TS 32.298 CDR files: field encodings, the v1 → BER → v1 round trip, and bad input."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from kindwave.usage.cdr import (
    POSITION_COLUMN,
    CdrOptions,
    decode_cdrs,
    hour_cdr_file_name,
    read_cdr_file,
    to_ber,
)
from kindwave.usage.cdr import fields as f
from kindwave.usage.cdr.schema import cdr_types
from kindwave.usage.fileformat import COLUMNS, UsageFileError, validate_record

LONDON = ZoneInfo("Europe/London")


def record(record_id: str, record_type: str, **changes: str) -> dict[str, str]:
    row = {
        "record_id": record_id,
        "record_type": record_type,
        "msisdn": "+447400106451",
        "imsi": "234307000000042",
        "counterpart": "" if record_type == "data" else "+442071234567",
        "start_time": "2026-10-01T18:00:04Z",
        "duration_s": "0" if record_type.startswith("sms") else "74",
        "bytes_up": "1204" if record_type == "data" else "0",
        "bytes_down": "88012" if record_type == "data" else "0",
        "cell_id": "234-30-1001-12",
        "visited_plmn": "234-30",
    }
    row.update(changes)
    return row


# Every record type, at home and roaming, E.164 and short-code counterparts.
EXAMPLES = [
    record("20261001T18-00000001", "voice_mo"),
    record("20261001T18-00000002", "voice_mt", counterpart="+33612345678"),
    record("20261001T18-00000003", "sms_mo", counterpart="70070"),
    record("20261001T18-00000004", "sms_mt", counterpart="611"),
    record("20261001T18-00000005", "data"),
    record(
        "20261001T18-00000006",
        "voice_mo",
        cell_id="208-10-41694-63392",
        visited_plmn="208-10",
        counterpart="+33145678901",
    ),
    record("20261001T18-00000007", "voice_mt", cell_id="334-020-7-65535", visited_plmn="334-020"),
    record("20261001T18-00000008", "sms_mo", cell_id="310-120-1-0", visited_plmn="310-120"),
    record("20261001T18-00000009", "sms_mt", cell_id="208-10-5-6", visited_plmn="208-10"),
    record(
        "20261001T18-00000010",
        "data",
        cell_id="334-020-65535-268435455",
        visited_plmn="334-020",
        bytes_up="0",
        bytes_down="1000000000000",
        duration_s="86400",
    ),
]


def decoded_rows(data: bytes) -> list[dict[str, str]]:
    rows = decode_cdrs(data).table.to_pylist()
    for row in rows:
        del row[POSITION_COLUMN]
    return rows


def write(tmp_path: Path, data: bytes, name: str = "usage-20261001T18.ber") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


class TestFieldEncodings:
    def test_tbcd_puts_the_first_digit_in_the_low_nibble_and_fills_with_f(self) -> None:
        assert f.encode_tbcd("234307") == bytes.fromhex("323470")
        assert f.encode_tbcd("23430") == bytes.fromhex("3234f0")
        assert f.decode_tbcd(bytes.fromhex("3234f0")) == "23430"

    def test_a_non_digit_in_tbcd_is_refused(self) -> None:
        with pytest.raises(f.FieldError):
            f.decode_tbcd(bytes.fromhex("3a"))

    def test_addresses_are_international_or_bare_digits(self) -> None:
        assert f.encode_address("+447400") == bytes.fromhex("91444700")
        assert f.decode_address(bytes.fromhex("91444700")) == "+447400"
        assert f.decode_address(f.encode_address("70070")) == "70070"
        assert f.encode_address("70070")[0] == 0x81

    def test_tp_address_counts_its_digits(self) -> None:
        assert f.encode_tp_address("+33612") == bytes.fromhex("05913316f2")
        assert f.decode_tp_address(bytes.fromhex("05913316f2")) == "+33612"
        with pytest.raises(f.FieldError, match="announces 4 digits"):
            f.decode_tp_address(bytes.fromhex("04913316f2"))

    def test_timestamp_is_local_time_with_its_offset_and_reads_back_as_utc(self) -> None:
        moment = datetime(2026, 10, 1, 18, 0, 4, tzinfo=UTC)
        octets = f.encode_timestamp(moment, LONDON)  # British Summer Time, +01:00
        assert octets == bytes.fromhex("261001190004") + b"+" + bytes.fromhex("0100")
        assert f.decode_timestamp(octets) == moment

    def test_negative_offsets_and_day_changes(self) -> None:
        moment = datetime(2026, 1, 1, 2, 30, tzinfo=UTC)
        octets = f.encode_timestamp(moment, ZoneInfo("America/New_York"))
        assert octets == bytes.fromhex("251231213000") + b"-" + bytes.fromhex("0500")
        assert f.decode_timestamp(octets) == moment
        half_hour = timezone(timedelta(hours=5, minutes=30))
        assert f.decode_timestamp(f.encode_timestamp(moment, half_hour)) == moment

    @pytest.mark.parametrize(
        ("octets", "problem"),
        [
            (bytes.fromhex("2610011900") + b"+" + bytes.fromhex("0100"), "9 octets"),
            (bytes.fromhex("26100119000a") + b"+" + bytes.fromhex("0100"), "non-digit"),
            (bytes.fromhex("261301190004") + b"+" + bytes.fromhex("0100"), "not a real date"),
            (bytes.fromhex("261001190004") + b"*" + bytes.fromhex("0100"), "sign"),
        ],
    )
    def test_a_malformed_timestamp_is_refused(self, octets: bytes, problem: str) -> None:
        with pytest.raises(f.FieldError, match=problem):
            f.decode_timestamp(octets)

    @pytest.mark.parametrize(
        ("plmn", "octets"),
        [("234-30", "32f403"), ("310-120", "130021"), ("334-020", "330420"), ("208-01", "02f810")],
    )
    def test_plmn_id_keeps_two_and_three_digit_mncs(self, plmn: str, octets: str) -> None:
        assert f.encode_plmn(plmn).hex() == octets
        assert f.decode_plmn(bytes.fromhex(octets)) == plmn

    def test_user_location_information_gives_the_e_utran_cell(self) -> None:
        octets = f.encode_uli("208-10", 41694, 268435455)
        assert octets[0] == 0x18
        assert f.decode_uli(octets) == ("208-10", 41694, 268435455)

    def test_user_location_information_with_a_cgi(self) -> None:
        cgi = bytes([f.ULI_CGI]) + f.encode_plmn("234-30") + bytes.fromhex("03e9000c")
        assert f.decode_uli(cgi) == ("234-30", 1001, 12)
        with pytest.raises(f.FieldError, match="shorter"):
            f.decode_uli(cgi[:-1])


class TestRoundTrip:
    def test_every_record_type_comes_back_as_the_same_eleven_strings(self) -> None:
        data = to_ber(EXAMPLES, CdrOptions(time_zone=LONDON))
        assert decoded_rows(data) == EXAMPLES

    def test_sgw_records_and_other_time_zones_too(self) -> None:
        options = CdrOptions(time_zone=ZoneInfo("America/New_York"), data_record="sGWRecord")
        data = to_ber(EXAMPLES, options)
        assert decoded_rows(data) == EXAMPLES

    def test_the_table_has_the_v1_columns_as_text_and_each_record_s_offset(
        self, tmp_path: Path
    ) -> None:
        data = to_ber(EXAMPLES)
        table = read_cdr_file(write(tmp_path, data))
        assert table.column_names == [*COLUMNS, POSITION_COLUMN]
        assert all(table.schema.field(name).type == pa.string() for name in COLUMNS)
        assert table.schema.field(POSITION_COLUMN).type == pa.int64()
        positions = table.column(POSITION_COLUMN).to_pylist()
        assert positions[0] == 0
        singles = [to_ber([row]) for row in EXAMPLES]
        expected = [sum(len(single) for single in singles[:i]) for i in range(len(singles))]
        assert positions == expected
        assert table.schema.metadata[b"kindwave.cdr.vendor_fields"] == b"0"

    def test_records_are_valid_usage_records(self) -> None:
        for row in decoded_rows(to_ber(EXAMPLES)):
            known = {row["cell_id"]}
            assert validate_record(row, home_plmn="234-30", known_cells=known) == []

    def test_the_generator_is_deterministic(self) -> None:
        assert to_ber(EXAMPLES) == to_ber(EXAMPLES)

    def test_a_cs_cell_beyond_two_octets_cannot_be_written(self) -> None:
        with pytest.raises(ValueError, match="65535"):
            to_ber([record("x-1", "voice_mo", cell_id="234-30-1-70000")])

    def test_the_file_name_is_the_hour(self) -> None:
        hour = datetime(2026, 10, 1, 18, tzinfo=UTC)
        assert hour_cdr_file_name(hour) == "usage-20261001T18.ber"

    def test_importing_the_package_does_not_load_pycrate(self) -> None:
        code = "import sys, kindwave.usage.cdr; print('pycrate_asn1dir.CDR' in sys.modules)"
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == "False"


def content_of(record: bytes) -> bytes:
    """The content octets of a one-octet-tag record with a definite length."""
    if record[1] < 0x80:
        return record[2:]
    size = record[1] & 0x7F
    return record[2 + size :]


def with_content(record: bytes, content: bytes) -> bytes:
    """``record``'s tag with another content (and its definite length)."""
    if len(content) < 0x80:
        return bytes([record[0], len(content)]) + content
    size = (len(content).bit_length() + 7) // 8
    return bytes([record[0], 0x80 | size]) + len(content).to_bytes(size, "big") + content


def cs_value(alternative: str, value: dict) -> bytes:
    choice = cdr_types().cs_record
    choice.set_val((alternative, value))
    return choice.to_ber()


def bare_mo_call(**changes: object) -> dict:
    """A moCallRecord as a host network writes it: no Kindwave extension."""
    value = {
        "recordType": 0,
        "servedIMSI": f.encode_tbcd("234307000000042"),
        "servedMSISDN": f.encode_address("+447400106451"),
        "calledNumber": f.encode_address("+442071234567"),
        "recordingEntity": f.encode_address("+447953000001"),
        "location": {
            "locationAreaCode": f.encode_uint(1001, 2),
            "cellId": f.encode_uint(12, 2),
            "mCC-MNC": f.encode_plmn("234-30"),
        },
        "answerTime": f.encode_timestamp(datetime(2026, 10, 1, 18, 0, 4, tzinfo=UTC), LONDON),
        "callDuration": 74,
        "causeForTerm": 0,
        "callReference": bytes.fromhex("0102030405"),
    }
    value.update(changes)
    return value


class TestHostNetworkRecords:
    def test_without_the_record_id_extension_the_id_is_derived_and_stable(self) -> None:
        first = cs_value("moCallRecord", bare_mo_call())
        other = cs_value("moCallRecord", bare_mo_call(callReference=bytes.fromhex("0102030406")))
        rows = decoded_rows(first + other + first)
        ids = [row["record_id"] for row in rows]
        assert ids[0] == ids[2] != ids[1]
        assert ids[0].startswith("moc-")
        assert len(ids[0]) <= 64
        assert rows[0] | {"record_id": "x"} == record("x", "voice_mo")

    def test_an_unanswered_call_starts_at_seizure(self) -> None:
        seizure = f.encode_timestamp(datetime(2026, 10, 1, 18, 5, tzinfo=UTC))
        value = bare_mo_call(callDuration=0, seizureTime=seizure)
        del value["answerTime"]
        [row] = decoded_rows(cs_value("moCallRecord", value))
        assert (row["start_time"], row["duration_s"]) == ("2026-10-01T18:05:00Z", "0")

    def test_an_absent_optional_field_is_empty_so_that_validation_quarantines_it(self) -> None:
        value = bare_mo_call()
        del value["servedMSISDN"]
        del value["location"]
        [row] = decoded_rows(cs_value("moCallRecord", value))
        assert (row["msisdn"], row["cell_id"], row["visited_plmn"]) == ("", "", "")
        problems = validate_record(row, home_plmn="234-30", known_cells=set())
        assert any("msisdn" in problem for problem in problems)

    def test_an_unrated_record_type_is_skipped_and_counted(self, tmp_path: Path) -> None:
        location_request = cs_value(
            "niLCSRecord",
            {
                "recordType": 25,
                "recordingEntity": f.encode_address("+447953000001"),
                "eventTimeStamp": f.encode_timestamp(datetime(2026, 10, 1, 18, tzinfo=UTC)),
                "causeForTerm": 0,
            },
        )
        call = to_ber(EXAMPLES[:1])
        path = write(tmp_path, location_request + call)
        table = read_cdr_file(path)
        assert table.num_rows == 1
        assert table.column(POSITION_COLUMN).to_pylist() == [len(location_request)]
        assert table.schema.metadata[b"kindwave.cdr.skipped_records"] == b"niLCSRecord=1"

    def test_a_vendor_field_inside_a_record_is_dropped_and_counted(self, tmp_path: Path) -> None:
        call = to_ber(EXAMPLES[:1])
        vendor = bytes([0x9F, 0x81, 0x00, 0x02, 0xCA, 0xFE])  # context tag [128], 2 octets
        private = bytes([0xDF, 0x05, 0x01, 0x00])  # private tag 5, 1 octet
        patched = with_content(call, content_of(call) + vendor + private)
        result = decode_cdrs(patched + call)
        assert result.vendor_fields == 2
        rows = result.table.to_pylist()
        assert [row["record_id"] for row in rows] == [EXAMPLES[0]["record_id"]] * 2
        path = write(tmp_path, patched)
        assert read_cdr_file(path).schema.metadata[b"kindwave.cdr.vendor_fields"] == b"2"

    def test_indefinite_length_records_are_read(self) -> None:
        codec = cdr_types().codec
        codec.ENC_LUNDEF = True
        try:
            data = to_ber(EXAMPLES)
        finally:
            codec.ENC_LUNDEF = False
        assert data != to_ber(EXAMPLES)
        assert decoded_rows(data + to_ber(EXAMPLES[:1])) == [*EXAMPLES, EXAMPLES[0]]


class TestBadInput:
    def test_an_empty_file_holds_no_records(self, tmp_path: Path) -> None:
        table = read_cdr_file(write(tmp_path, b""))
        assert table.num_rows == 0
        assert table.column_names == [*COLUMNS, POSITION_COLUMN]

    def test_a_truncated_file_is_refused_at_the_offset_of_the_cut_record(
        self, tmp_path: Path
    ) -> None:
        data = to_ber(EXAMPLES)
        last = len(to_ber(EXAMPLES[:-1]))
        path = write(tmp_path, data[:-3])
        with pytest.raises(UsageFileError, match=rf"^{path}: offset {last}: truncated pGWRecord"):
            read_cdr_file(path)

    def test_a_cut_in_a_record_header_is_truncation_too(self, tmp_path: Path) -> None:
        one = to_ber(EXAMPLES[:1])
        path = write(tmp_path, one + bytes([one[0]]))
        with pytest.raises(UsageFileError, match=rf"offset {len(one)}: truncated record header"):
            read_cdr_file(path)

    def test_garbage_is_refused_at_offset_zero(self, tmp_path: Path) -> None:
        path = write(tmp_path, bytes(range(7, 200)))
        with pytest.raises(UsageFileError, match=rf"^{path}: offset 0: not a CDR"):
            read_cdr_file(path)

    def test_a_valid_record_followed_by_garbage_names_the_garbage_s_offset(
        self, tmp_path: Path
    ) -> None:
        one = to_ber(EXAMPLES[:2])
        path = write(tmp_path, one + b"PK\x03\x04 not a CDR at all")
        with pytest.raises(UsageFileError, match=rf"offset {len(one)}: not a CDR"):
            read_cdr_file(path)

    def test_an_unknown_record_tag_is_refused(self, tmp_path: Path) -> None:
        path = write(tmp_path, bytes([0xBF, 0x63, 0x03, 0x80, 0x01, 0x00]))  # [99] {…}
        with pytest.raises(UsageFileError, match=r"offset 0: unknown record type: tag \[99\]"):
            read_cdr_file(path)

    def test_a_record_missing_a_mandatory_field_is_refused(self, tmp_path: Path) -> None:
        one = to_ber(EXAMPLES[:1])
        # pycrate will not encode such a record, so cut the field out of the BER by hand.
        good = cs_value("moCallRecord", bare_mo_call())
        reference = bytes.fromhex("9f2005") + bytes.fromhex("0102030405")
        assert reference in good
        cut = with_content(good, content_of(good).replace(reference, b""))
        path = write(tmp_path, one + cut)
        with pytest.raises(UsageFileError, match=rf"offset {len(one)}: invalid moCallRecord"):
            read_cdr_file(path)

    def test_the_reason_names_the_field_but_never_quotes_its_value(self, tmp_path: Path) -> None:
        good = cs_value("moCallRecord", bare_mo_call())
        imsi = f.encode_tbcd("234307000000042")
        field = bytes([0x81, len(imsi)]) + imsi
        too_long = bytes([0x81, len(imsi) + 1]) + imsi + b"\x99"
        path = write(tmp_path, with_content(good, content_of(good).replace(field, too_long)))
        with pytest.raises(UsageFileError) as caught:
            read_cdr_file(path)
        assert str(caught.value).endswith(
            "offset 0: invalid moCallRecord: MOCallRecord.servedIMSI: value out of size constraint"
        )

    def test_a_malformed_field_is_refused_with_its_name(self, tmp_path: Path) -> None:
        bad_time = bytes.fromhex("26100119000a") + b"+" + bytes.fromhex("0100")
        path = write(tmp_path, cs_value("moCallRecord", bare_mo_call(answerTime=bad_time)))
        with pytest.raises(UsageFileError, match=r"offset 0: answerTime: .*non-digit"):
            read_cdr_file(path)

    def test_a_missing_file_is_a_usage_file_error(self, tmp_path: Path) -> None:
        with pytest.raises(UsageFileError, match="cannot be read"):
            read_cdr_file(tmp_path / "usage-20261001T18.ber")
