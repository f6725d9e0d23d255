"""Checks on the identifiers a mobile line is made of: MSISDN, ICCID, IMSI and port-in codes.

Each ``normalise_*`` function returns the canonical form of a valid value and raises
``django.core.exceptions.ValidationError`` with the reason otherwise, so that forms,
services and importers all refuse bad input with the same words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# E.164 country calling code of each market; a market's numbers must also belong to the
# market's own region (+44 is shared with Jersey, Guernsey and the Isle of Man).
COUNTRY_CALLING_CODES: dict[str, str] = {"GB": "44", "FR": "33", "US": "1"}

_MOBILE_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)


def _compact(raw: str) -> str:
    """Drop the spaces, dots and dashes people type or print between groups of characters."""
    return re.sub(r"[\s.\-]", "", raw)


# --- MSISDN ---------------------------------------------------------------------------------


def normalise_msisdn(raw: str, country: str) -> str:
    """Return the E.164 form (``+447400123456``) of a valid mobile number of ``country``.

    National forms are accepted (``07400 123456`` for GB). Refused: unparseable input,
    numbers libphonenumber does not know as valid, numbers of another country or region,
    and numbers that are not mobile numbers.
    """
    try:
        parsed = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            _("%(value)s is not a phone number."), code="msisdn_unparseable", params={"value": raw}
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(
            _("%(value)s is not a valid phone number."),
            code="msisdn_invalid",
            params={"value": raw},
        )
    region = phonenumbers.region_code_for_number(parsed)
    if region != country:
        raise ValidationError(
            _("%(value)s is a number of %(region)s, not of %(country)s."),
            code="msisdn_wrong_country",
            params={"value": raw, "region": region or "?", "country": country},
        )
    if phonenumbers.number_type(parsed) not in _MOBILE_TYPES:
        raise ValidationError(
            _("%(value)s is not a mobile number."), code="msisdn_not_mobile", params={"value": raw}
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def national_significant_number(msisdn: str) -> str:
    """``+33612345678`` → ``612345678`` (the digits after the country calling code)."""
    return phonenumbers.national_significant_number(phonenumbers.parse(msisdn, None))


# --- ICCID (ITU-T E.118) --------------------------------------------------------------------


def luhn_check_digit(body: str) -> str:
    """The Luhn (mod 10) check digit to append to the decimal string ``body``."""
    total = 0
    # Doubling starts from the rightmost digit of the body, which sits next to the check digit.
    for position, char in enumerate(reversed(body)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def is_luhn_valid(number: str) -> bool:
    """True if the last digit of ``number`` is the Luhn check digit of the others."""
    return len(number) >= 2 and number.isdigit() and luhn_check_digit(number[:-1]) == number[-1]


def normalise_iccid(raw: str) -> str:
    """Return a valid ICCID: 19 or 20 digits, starting 89 (telecom), Luhn check digit last."""
    value = _compact(raw)
    if not value.isdigit() or not 19 <= len(value) <= 20:
        raise ValidationError(
            _("ICCID %(value)s: must be 19 or 20 digits."),
            code="iccid_format",
            params={"value": raw},
        )
    if not value.startswith("89"):
        raise ValidationError(
            _("ICCID %(value)s: must start with 89 (the telecommunications industry code)."),
            code="iccid_industry",
            params={"value": raw},
        )
    if not is_luhn_valid(value):
        raise ValidationError(
            _("ICCID %(value)s: the check digit is wrong (mistyped?)."),
            code="iccid_check_digit",
            params={"value": raw},
        )
    return value


def next_iccid(iccid: str) -> str:
    """The ICCID printed on the next SIM of a batch: body + 1, check digit recomputed."""
    body = iccid[:-1]
    following = str(int(body) + 1).rjust(len(body), "0")
    if len(following) != len(body):
        raise ValidationError(
            _("ICCID %(value)s is the last of its range."), params={"value": iccid}
        )
    return following + luhn_check_digit(following)


# --- IMSI (ITU-T E.212) ---------------------------------------------------------------------


def normalise_imsi(raw: str, mcc: str, mnc: str) -> str:
    """Return a valid IMSI: 15 digits whose MCC and MNC are the host network's."""
    value = _compact(raw)
    if not value.isdigit() or len(value) != 15:
        raise ValidationError(
            _("IMSI %(value)s: must be 15 digits."), code="imsi_format", params={"value": raw}
        )
    if not value.startswith(mcc + mnc):
        raise ValidationError(
            _("IMSI %(value)s: does not belong to the host network %(mcc)s-%(mnc)s."),
            code="imsi_network",
            params={"value": raw, "mcc": mcc, "mnc": mnc},
        )
    return value


# --- Port-in codes --------------------------------------------------------------------------

_PAC = re.compile(r"^[A-Z]{3}[0-9]{6}$")
_RIO = re.compile(r"^[0-9]{2}[PE][A-Z0-9]{6}[A-Z0-9+]{3}$")
_US_ACCOUNT = re.compile(r"^[A-Z0-9]{1,20}$")
_US_PIN = re.compile(r"^[0-9]{4,10}$")

# The RIO check key works on this 37-symbol alphabet (ARCEP, annex to the number
# portability decision: letters first, then digits, then "+").
_RIO_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+"


def normalise_pac(raw: str) -> str:
    """A UK Porting Authorisation Code: three letters and six digits, e.g. ``ABC123456``."""
    value = _compact(raw).upper()
    if not _PAC.match(value):
        raise ValidationError(
            _("PAC %(value)s: must be three letters followed by six digits, e.g. ABC123456."),
            code="pac_format",
            params={"value": raw},
        )
    return value


def rio_check_key(operator: str, quality: str, reference: str, national_number: str) -> str:
    """The 3-character key CCC of a French RIO ``OO Q RRRRRR CCC`` for a 10-digit number.

    The ARCEP algorithm: the 19 characters ``OO Q RRRRRR`` + the number in its national
    10-digit form are read as positions in the 37-symbol alphabet; three running sums,
    with weights 1, 2 and 4 applied to the previous sum, are reduced modulo 37; each
    result is written back as a symbol of the alphabet.
    """
    text = operator + quality + reference + national_number
    if len(text) != 19:
        raise ValueError("a RIO key is computed over exactly 19 characters")
    a = b = c = 0
    for char in text:
        position = _RIO_ALPHABET.index(char)
        a = (a + position) % 37
        b = (2 * b + position) % 37
        c = (4 * c + position) % 37
    return _RIO_ALPHABET[a] + _RIO_ALPHABET[b] + _RIO_ALPHABET[c]


def normalise_rio(raw: str, msisdn: str) -> str:
    """A French RIO for the mobile number ``msisdn`` (E.164), with its check key verified.

    Twelve characters: operator code (2 digits), ``P`` (consumer) or ``E`` (business),
    six alphanumerics (the contract reference) and the 3-character key, which ties the
    RIO to the number being ported.
    """
    value = _compact(raw).upper()
    if not _RIO.match(value):
        raise ValidationError(
            _(
                "RIO %(value)s: must be 12 characters: a 2-digit operator code, P or E, "
                "6 letters or digits and a 3-character key, e.g. 01P123456ABC."
            ),
            code="rio_format",
            params={"value": raw},
        )
    national = "0" + national_significant_number(msisdn)
    expected = rio_check_key(value[0:2], value[2], value[3:9], national)
    if value[9:] != expected:
        raise ValidationError(
            _("RIO %(value)s: does not match the number %(number)s (wrong key or wrong number)."),
            code="rio_key",
            params={"value": raw, "number": national},
        )
    return value


def normalise_us_account_number(raw: str) -> str:
    """The account number at the donor carrier: 1 to 20 letters or digits."""
    value = _compact(raw).upper()
    if not _US_ACCOUNT.match(value):
        raise ValidationError(
            _("Account number %(value)s: must be 1 to 20 letters or digits."),
            code="us_account_format",
            params={"value": raw},
        )
    return value


def normalise_us_pin(raw: str) -> str:
    """The number-transfer PIN (or account PIN) at the donor carrier: 4 to 10 digits."""
    value = _compact(raw)
    if not _US_PIN.match(value):
        raise ValidationError(_("Transfer PIN: must be 4 to 10 digits."), code="us_pin_format")
    return value


@dataclass(frozen=True)
class PortIn:
    """A request to bring an existing number from another operator (the donor).

    GB needs ``code`` (a PAC), FR ``code`` (a RIO), US ``account_number`` and ``pin``.
    """

    msisdn: str
    donor_operator: str
    code: str = ""
    account_number: str = ""
    pin: str = ""


def normalise_port_in(port_in: PortIn, country: str) -> PortIn:
    """Check a port-in request against the rules of the market's country; return it canonical."""
    errors: dict[str, list[ValidationError]] = {}
    msisdn = port_in.msisdn
    try:
        msisdn = normalise_msisdn(port_in.msisdn, country)
    except ValidationError as error:
        errors["msisdn"] = [error]
    donor = port_in.donor_operator.strip()
    if not donor:
        errors["donor_operator"] = [
            ValidationError(_("The donor operator is required."), code="donor_required")
        ]
    code, account, pin = port_in.code, port_in.account_number, port_in.pin
    try:
        if country == "GB":
            code = normalise_pac(port_in.code)
        elif country == "FR":
            # The RIO's key can only be checked against a valid number.
            if "msisdn" not in errors:
                code = normalise_rio(port_in.code, msisdn)
        elif country == "US":
            account = normalise_us_account_number(port_in.account_number)
        else:
            raise ValidationError(
                _("Port-in is not available in %(country)s."), params={"country": country}
            )
    except ValidationError as error:
        errors["code" if country != "US" else "account_number"] = [error]
    if country == "US":
        try:
            pin = normalise_us_pin(port_in.pin)
        except ValidationError as error:
            errors["pin"] = [error]
    if errors:
        raise ValidationError(errors)
    return PortIn(msisdn=msisdn, donor_operator=donor, code=code, account_number=account, pin=pin)
