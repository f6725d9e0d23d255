"""The octet layouts inside 3GPP TS 32.298 CDR fields, both ways, as pure functions.

pycrate decodes the ASN.1 (BER) structure of a CDR, but many of its fields are
OCTET STRINGs whose content follows other specifications; these functions turn
that content into the text forms of usage file format v1 and back. No BER here.

* TBCD (TS 29.002): two digits an octet, the first digit in the low nibble, an odd
  count padded with the filler ``F`` in the last high nibble (IMSI).
* AddressString / ISDN-AddressString (TS 29.002) and BCDDirectoryNumber (TS 24.008):
  one octet of extension bit, nature of address (type of number) and numbering plan,
  then TBCD digits. ``0x91`` = international number, ISDN plan: written ``+digits``;
  anything else (``0x81``: unknown type, a short code) is written as bare digits.
* TP-DA (TS 23.040 §9.1.2.5, ``SmsTpDestinationNumber``): the number of digits,
  the type-of-address octet as above, then TBCD digits.
* TimeStamp (TS 32.298): 9 octets ``YYMMDDhhmmss`` in BCD (first digit in the high
  nibble), ``+`` or ``-`` in ASCII, then the offset to UTC ``hhmm`` in BCD. The time
  is local time; UTC = local - offset. ``YY`` is read as 20YY.
* PLMN-Id and MCC-MNC (TS 24.008 §10.5.1.3): ``MCC2 MCC1 | MNC3 MCC3 | MNC2 MNC1``
  nibbles, ``MNC3 = F`` for a two-digit MNC.
* LAC, CI, TAC: big-endian unsigned integers (2 octets; the E-UTRAN cell identity,
  ECI, is 28 bits in 4 octets).
* User Location Information (TS 29.274 §8.21, the IE's body from its flags octet):
  flags, then CGI, SAI, RAI, TAI, ECGI, LAI in that order for each flag set.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

INTERNATIONAL = 0x91  # extension bit, international number, ISDN/telephony numbering plan
UNKNOWN_TYPE = 0x81  # extension bit, unknown type of number, ISDN/telephony numbering plan

_TYPE_OF_NUMBER_MASK = 0x70
_INTERNATIONAL_TYPE = 0x10

ULI_CGI, ULI_SAI, ULI_RAI, ULI_TAI, ULI_ECGI, ULI_LAI = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
_ULI_PARTS = ((ULI_CGI, 7), (ULI_SAI, 7), (ULI_RAI, 7), (ULI_TAI, 5), (ULI_ECGI, 7), (ULI_LAI, 5))
_MAX_ECI = 2**28 - 1


class FieldError(ValueError):
    """The octets of a field do not follow their encoding; the message says how."""


# --- TBCD ----------------------------------------------------------------------------------


def encode_tbcd(digits: str) -> bytes:
    """``"234301"`` → ``b"\\x32\\x34\\x10"``: TBCD, low nibble first, F-filled."""
    if not digits.isdigit() or not digits.isascii():
        raise ValueError(f"TBCD needs decimal digits, got {digits!r}")
    padded = digits + "F" * (len(digits) % 2)
    return bytes(int(padded[i + 1] + padded[i], 16) for i in range(0, len(padded), 2))


def decode_tbcd(octets: bytes) -> str:
    """TBCD octets → digits; a filler ``F`` may only end the string."""
    digits: list[str] = []
    for index, octet in enumerate(octets):
        low, high = octet & 0x0F, octet >> 4
        if low > 9:
            raise FieldError(f"TBCD octet {octet:#04x} holds a non-digit")
        digits.append(chr(48 + low))
        if high == 0x0F and index == len(octets) - 1:
            break
        if high > 9:
            raise FieldError(f"TBCD octet {octet:#04x} holds a non-digit")
        digits.append(chr(48 + high))
    return "".join(digits)


# --- Numbers -------------------------------------------------------------------------------


def encode_address(number: str) -> bytes:
    """``"+447400100000"`` → international AddressString; ``"70070"`` → unknown type."""
    if number.startswith("+"):
        return bytes([INTERNATIONAL]) + encode_tbcd(number[1:])
    return bytes([UNKNOWN_TYPE]) + encode_tbcd(number)


def decode_address(octets: bytes) -> str:
    """AddressString or BCDDirectoryNumber octets → ``+digits`` (international) or digits."""
    if not octets:
        raise FieldError("empty address")
    digits = decode_tbcd(octets[1:])
    if octets[0] & _TYPE_OF_NUMBER_MASK == _INTERNATIONAL_TYPE:
        return "+" + digits
    return digits


def encode_tp_address(number: str) -> bytes:
    """A number as a TS 23.040 address field (TP-DA): digit count, type of address, TBCD."""
    digits = number.removeprefix("+")
    return bytes([len(digits)]) + encode_address(number)


def decode_tp_address(octets: bytes) -> str:
    """A TS 23.040 address field → ``+digits`` or digits (the digit count is checked)."""
    if len(octets) < 2:
        raise FieldError("address field shorter than 2 octets")
    number = decode_address(octets[1:])
    if len(number.removeprefix("+")) != octets[0]:
        digits = len(number.removeprefix("+"))
        raise FieldError(f"address field announces {octets[0]} digits, holds {digits}")
    return number


# --- Time ----------------------------------------------------------------------------------


def _bcd_pair(value: int) -> int:
    return (value // 10) << 4 | value % 10


def encode_timestamp(moment: datetime, zone: tzinfo = UTC) -> bytes:
    """An aware instant as a 32.298 TimeStamp in the local time of ``zone`` with its offset."""
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    local = moment.astimezone(zone)
    offset = local.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = b"+" if minutes >= 0 else b"-"
    hours, rest = divmod(abs(minutes), 60)
    if not 2000 <= local.year <= 2099:
        raise ValueError(f"a TimeStamp holds years 2000-2099, not {local.year}")
    clock = (local.year % 100, local.month, local.day, local.hour, local.minute, local.second)
    return (
        bytes(_bcd_pair(part) for part in clock) + sign + bytes((_bcd_pair(hours), _bcd_pair(rest)))
    )


def _bcd_value(octet: int) -> int:
    high, low = octet >> 4, octet & 0x0F
    if high > 9 or low > 9:
        raise FieldError(f"BCD octet {octet:#04x} holds a non-digit")
    return high * 10 + low


def decode_timestamp(octets: bytes) -> datetime:
    """A 32.298 TimeStamp → the aware UTC instant it denotes."""
    if len(octets) != 9:
        raise FieldError(f"TimeStamp must be 9 octets, got {len(octets)}")
    year, month, day, hour, minute, second = (_bcd_value(o) for o in octets[:6])
    sign = octets[6:7]
    if sign not in (b"+", b"-"):
        raise FieldError(f"TimeStamp offset sign {sign!r} is neither '+' nor '-'")
    offset_hours, offset_minutes = _bcd_value(octets[7]), _bcd_value(octets[8])
    if offset_hours > 14 or offset_minutes > 59:
        raise FieldError(f"TimeStamp offset {offset_hours:02d}{offset_minutes:02d} is impossible")
    try:
        local = datetime(2000 + year, month, day, hour, minute, second)  # noqa: DTZ001
    except ValueError:
        raise FieldError(
            f"TimeStamp 20{year:02d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d} "
            "is not a real date and time"
        ) from None
    offset = timedelta(hours=offset_hours, minutes=offset_minutes)
    utc = local - offset if sign == b"+" else local + offset
    return utc.replace(tzinfo=UTC)


# --- Networks and cells --------------------------------------------------------------------


def encode_plmn(plmn: str) -> bytes:
    """``"234-30"`` / ``"310-120"`` → the 3-octet PLMN-Id (TS 24.008)."""
    mcc, _, mnc = plmn.partition("-")
    if len(mcc) != 3 or len(mnc) not in (2, 3) or not (mcc + mnc).isdigit():
        raise ValueError(f"{plmn!r} is not MCC-MNC")
    mnc3 = mnc[2] if len(mnc) == 3 else "F"
    return bytes.fromhex(mcc[1] + mcc[0] + mnc3 + mcc[2] + mnc[1] + mnc[0])


def decode_plmn(octets: bytes) -> str:
    """The 3-octet PLMN-Id → ``MCC-MNC`` (MNC with 2 or 3 digits as encoded)."""
    if len(octets) != 3:
        raise FieldError(f"PLMN-Id must be 3 octets, got {len(octets)}")
    nibbles = octets.hex().upper()  # MCC2 MCC1 MNC3 MCC3 MNC2 MNC1
    mcc = nibbles[1] + nibbles[0] + nibbles[3]
    mnc = nibbles[5] + nibbles[4] + ("" if nibbles[2] == "F" else nibbles[2])
    if not (mcc + mnc).isdigit():
        raise FieldError(f"PLMN-Id {octets.hex()} holds a non-digit")
    return f"{mcc}-{mnc}"


def encode_uint(value: int, size: int) -> bytes:
    """A non-negative integer as ``size`` big-endian octets."""
    return value.to_bytes(size, "big")


def decode_uint(octets: bytes, size: int, what: str) -> int:
    if len(octets) != size:
        raise FieldError(f"{what} must be {size} octets, got {len(octets)}")
    return int.from_bytes(octets, "big")


def split_cell_id(cell_id: str) -> tuple[str, int, int]:
    """``"234-30-1001-12"`` → (``"234-30"``, 1001, 12)."""
    mcc, mnc, lac, ci = cell_id.split("-")
    return f"{mcc}-{mnc}", int(lac), int(ci)


def encode_uli(plmn: str, tac: int, eci: int) -> bytes:
    """A User Location Information body with a TAI and an ECGI (flags ``0x18``)."""
    if eci > _MAX_ECI:
        raise ValueError(f"E-UTRAN cell identity {eci} is more than 28 bits")
    network = encode_plmn(plmn)
    return (
        bytes([ULI_TAI | ULI_ECGI]) + network + encode_uint(tac, 2) + network + encode_uint(eci, 4)
    )


def decode_uli(octets: bytes) -> tuple[str, int, int] | None:
    """(PLMN, LAC or TAC, CI or ECI) of the serving cell in a User Location Information body.

    E-UTRAN first (ECGI with the TAI's TAC), then GERAN/UTRAN (CGI, then SAI with its
    service area code as the cell); None when it names no cell (only RAI/LAI).
    """
    if not octets:
        raise FieldError("empty User Location Information")
    flags, position = octets[0], 1
    parts: dict[int, bytes] = {}
    for flag, size in _ULI_PARTS:
        if flags & flag:
            part = octets[position : position + size]
            if len(part) != size:
                raise FieldError("User Location Information shorter than its flags announce")
            parts[flag] = part
            position += size
    if ULI_ECGI in parts and ULI_TAI in parts:
        ecgi, tai = parts[ULI_ECGI], parts[ULI_TAI]
        return (
            decode_plmn(ecgi[:3]),
            int.from_bytes(tai[3:5], "big"),
            int.from_bytes(ecgi[3:7], "big") & _MAX_ECI,
        )
    for flag in (ULI_CGI, ULI_SAI):
        if flag in parts:
            part = parts[flag]
            return (
                decode_plmn(part[:3]),
                int.from_bytes(part[3:5], "big"),
                int.from_bytes(part[5:7], "big"),
            )
    return None
