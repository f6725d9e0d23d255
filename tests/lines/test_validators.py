"""MSISDN, ICCID, IMSI and port-in codes: accepted in canonical form, refused with a reason."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from kindwave.lines.validators import (
    PortIn,
    is_luhn_valid,
    luhn_check_digit,
    next_iccid,
    normalise_iccid,
    normalise_imsi,
    normalise_msisdn,
    normalise_pac,
    normalise_port_in,
    normalise_rio,
    normalise_us_account_number,
    normalise_us_pin,
    rio_check_key,
)


def codes(error: ValidationError) -> set[str | None]:
    return {item.code for item in error.error_list}


class TestMsisdn:
    @pytest.mark.parametrize(
        ("raw", "country", "expected"),
        [
            ("+447400123456", "GB", "+447400123456"),
            ("07400 123456", "GB", "+447400123456"),
            ("06 12 34 56 78", "FR", "+33612345678"),
            ("+33 7 81 23 45 67", "FR", "+33781234567"),
            ("(201) 555-0123", "US", "+12015550123"),
        ],
    )
    def test_valid_numbers_come_back_in_e164(self, raw: str, country: str, expected: str) -> None:
        assert normalise_msisdn(raw, country) == expected

    @pytest.mark.parametrize(
        ("raw", "country", "code"),
        [
            ("not a number", "GB", "msisdn_unparseable"),
            ("+4474001", "GB", "msisdn_invalid"),
            ("+33612345678", "GB", "msisdn_wrong_country"),
            # +44 7911 is Guernsey: same country code, another region.
            ("+447911123456", "GB", "msisdn_wrong_country"),
            ("+442079460000", "GB", "msisdn_not_mobile"),
            ("+33142685300", "FR", "msisdn_not_mobile"),
        ],
    )
    def test_bad_numbers_are_refused_with_the_reason(
        self, raw: str, country: str, code: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            normalise_msisdn(raw, country)
        assert codes(caught.value) == {code}


class TestLuhnAndIccid:
    def test_known_check_digit(self) -> None:
        # The textbook example of the Luhn algorithm: 7992739871 → 3.
        assert luhn_check_digit("7992739871") == "3"
        assert is_luhn_valid("79927398713")

    @given(st.text(alphabet="0123456789", min_size=1, max_size=25))
    def test_appending_the_check_digit_always_validates(self, body: str) -> None:
        assert is_luhn_valid(body + luhn_check_digit(body))

    @given(
        st.text(alphabet="0123456789", min_size=2, max_size=25),
        st.integers(min_value=0),
        st.integers(min_value=1, max_value=9),
    )
    def test_any_single_digit_error_is_caught(self, body: str, where: int, delta: int) -> None:
        number = body + luhn_check_digit(body)
        position = where % len(number)
        wrong = str((int(number[position]) + delta) % 10)
        mistyped = number[:position] + wrong + number[position + 1 :]
        assert not is_luhn_valid(mistyped)

    @given(st.integers(min_value=0, max_value=10**12 - 2))
    def test_next_iccid_is_the_next_serial_and_stays_valid(self, serial: int) -> None:
        body = f"894430{serial:012d}"
        first = body + luhn_check_digit(body)
        following = next_iccid(first)
        assert normalise_iccid(following) == following
        assert int(following[:-1]) == int(body) + 1

    def test_spaces_are_ignored(self) -> None:
        body = "894430202600000000"
        value = body + luhn_check_digit(body)
        spaced = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
        assert normalise_iccid(spaced) == value

    @pytest.mark.parametrize(
        ("raw", "code"),
        [
            ("8944302026000000", "iccid_format"),  # too short
            ("89443020260000000000000", "iccid_format"),  # too long
            ("8944302026000000A00", "iccid_format"),
            ("1944302026000000007", "iccid_industry"),
        ],
    )
    def test_bad_iccids(self, raw: str, code: str) -> None:
        with pytest.raises(ValidationError) as caught:
            normalise_iccid(raw)
        assert codes(caught.value) == {code}

    def test_wrong_check_digit(self) -> None:
        body = "894430202600000000"
        wrong = str((int(luhn_check_digit(body)) + 1) % 10)
        with pytest.raises(ValidationError) as caught:
            normalise_iccid(body + wrong)
        assert codes(caught.value) == {"iccid_check_digit"}


class TestImsi:
    def test_imsi_of_the_host_network(self) -> None:
        assert normalise_imsi("234307000000001", "234", "30") == "234307000000001"
        assert normalise_imsi("310120700000001", "310", "120") == "310120700000001"

    @pytest.mark.parametrize(
        ("raw", "code"),
        [("23430700000000", "imsi_format"), ("2343070000000x1", "imsi_format"),
         ("234157000000001", "imsi_network")],
    )  # fmt: skip
    def test_bad_imsis(self, raw: str, code: str) -> None:
        with pytest.raises(ValidationError) as caught:
            normalise_imsi(raw, "234", "30")
        assert codes(caught.value) == {code}


class TestPac:
    def test_valid_pac_is_upper_cased(self) -> None:
        assert normalise_pac("abc 123456") == "ABC123456"

    @pytest.mark.parametrize("raw", ["AB1234567", "ABC12345", "ABCD23456", "ABC1234567", ""])
    def test_bad_pacs(self, raw: str) -> None:
        with pytest.raises(ValidationError):
            normalise_pac(raw)


def make_rio(operator: str, quality: str, reference: str, msisdn_national: str) -> str:
    return (
        operator
        + quality
        + reference
        + rio_check_key(operator, quality, reference, msisdn_national)
    )


class TestRio:
    def test_a_rio_with_its_key_is_accepted(self) -> None:
        rio = make_rio("01", "P", "A1B2C3", "0612345678")
        assert normalise_rio(rio.lower(), "+33612345678") == rio

    def test_key_on_a_hand_computed_case(self) -> None:
        # "00P000000" + "0000000000": "0" is at position 26 of the alphabet, "P" at 15.
        # In closed form each key character is Σ position * weight^(18 - i) mod 37, with
        # weights 1, 2 and 4: 2, 8 and 23, i.e. "C", "I" and "X".
        assert rio_check_key("00", "P", "000000", "0000000000") == "CIX"

    def test_the_key_ties_the_rio_to_the_number(self) -> None:
        rio = make_rio("02", "E", "XYZ789", "0612345678")
        with pytest.raises(ValidationError) as caught:
            normalise_rio(rio, "+33612345679")
        assert codes(caught.value) == {"rio_key"}

    @given(
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=6, max_size=6),
        st.integers(min_value=0, max_value=5),
        st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
    )
    def test_any_single_change_to_the_reference_is_caught(
        self, reference: str, position: int, replacement: str
    ) -> None:
        rio = make_rio("01", "P", reference, "0612345678")
        changed = reference[:position] + replacement + reference[position + 1 :]
        if changed == reference:
            return
        with pytest.raises(ValidationError):
            normalise_rio("01P" + changed + rio[9:], "+33612345678")

    @pytest.mark.parametrize(
        "raw", ["01P12345ABC", "01X123456ABC", "A1P123456ABC", "01P12345+ABC", "01P123456AB"]
    )
    def test_bad_formats(self, raw: str) -> None:
        with pytest.raises(ValidationError) as caught:
            normalise_rio(raw, "+33612345678")
        assert codes(caught.value) == {"rio_format"}


class TestUsPortIn:
    def test_account_and_pin(self) -> None:
        assert normalise_us_account_number("acct-1234 5678") == "ACCT12345678"
        assert normalise_us_pin("1234") == "1234"

    @pytest.mark.parametrize("raw", ["", "A" * 21, "ACCT#1"])
    def test_bad_account_numbers(self, raw: str) -> None:
        with pytest.raises(ValidationError):
            normalise_us_account_number(raw)

    @pytest.mark.parametrize("raw", ["123", "12345678901", "12a4"])
    def test_bad_pins(self, raw: str) -> None:
        with pytest.raises(ValidationError):
            normalise_us_pin(raw)


class TestPortInRequest:
    def test_gb_needs_a_pac(self) -> None:
        request = normalise_port_in(
            PortIn(msisdn="07400 123456", donor_operator=" Vodafone ", code="abc123456"), "GB"
        )
        assert request == PortIn("+447400123456", "Vodafone", code="ABC123456")

    def test_fr_checks_the_rio_against_the_number(self) -> None:
        rio = make_rio("01", "P", "123456", "0612345678")
        request = normalise_port_in(PortIn("06 12 34 56 78", "Orange", code=rio), "FR")
        assert request.code == rio

    def test_us_needs_account_and_pin(self) -> None:
        request = normalise_port_in(
            PortIn("+12015550123", "Verizon", account_number="98765", pin="4321"), "US"
        )
        assert (request.account_number, request.pin) == ("98765", "4321")

    def test_every_bad_field_is_reported(self) -> None:
        with pytest.raises(ValidationError) as caught:
            normalise_port_in(PortIn("+33612345678", "", account_number="", pin="1"), "US")
        assert set(caught.value.message_dict) == {
            "msisdn",
            "donor_operator",
            "account_number",
            "pin",
        }
