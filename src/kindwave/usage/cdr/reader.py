"""Reading a file of 3GPP TS 32.298 CDRs (ASN.1 BER) into usage file v1 records.

A file is a plain concatenation of CDRs, each a CSRecord or GPRSRecord CHOICE value
(no TS 32.297 file header; see docs/cdr-files.md). pycrate decodes each record; this
module finds where each one starts and ends (with pycrate's BER tag and length
decoder), drops unknown vendor fields, and maps the rated records to the 11 text
columns of usage file format v1. A file is read whole or refused whole.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from kindwave.usage.cdr import fields as f
from kindwave.usage.cdr.schema import (
    CONTEXT_CLASS,
    ORIGINATING_NUMBER_OID,
    RATED,
    RECORD_ID_OID,
    Candidate,
    CdrTypes,
    cdr_types,
)
from kindwave.usage.fileformat import COLUMNS, TIME_FORMAT, UsageFileError

POSITION_COLUMN = "position"
METADATA_SKIPPED = b"kindwave.cdr.skipped_records"
METADATA_VENDOR_FIELDS = b"kindwave.cdr.vendor_fields"

SCHEMA = pa.schema(
    [
        *(pa.field(name, pa.string(), nullable=False) for name in COLUMNS),
        pa.field(POSITION_COLUMN, pa.int64(), nullable=False),
    ]
)

_IA5_STRING = "_unk_0022"  # pycrate's name of an open-type value tagged UNIVERSAL 22


@dataclass
class CdrFile:
    """What one CDR file held: the rated records, and what was left out of them."""

    table: pa.Table
    skipped_records: Counter[str] = field(default_factory=Counter)  # by 32.298 record name
    vendor_fields: int = 0  # unknown fields dropped from records before decoding

    @property
    def records(self) -> int:
        return self.table.num_rows


class _RecordError(Exception):
    """A record is not a valid CDR; the reader adds the file name and offset."""


def read_cdr_file(path: Path) -> pa.Table:
    """The rated records of one CDR file as the 11 v1 columns (text) plus ``position``.

    ``position`` is each CDR's byte offset in the file. Unrated record types are
    skipped and vendor fields dropped; their counts are in the schema metadata
    (``kindwave.cdr.skipped_records``: ``name=count,…``; ``kindwave.cdr.vendor_fields``).
    Raises :class:`UsageFileError` ``"{path}: offset {n}: {what}"`` when the file is
    not a sequence of valid CDRs, so that nothing of it is used.
    """
    result = decode_cdr_file(path)
    skipped = ",".join(f"{name}={count}" for name, count in sorted(result.skipped_records.items()))
    return result.table.replace_schema_metadata(
        {
            METADATA_SKIPPED: skipped.encode(),
            METADATA_VENDOR_FIELDS: str(result.vendor_fields).encode(),
        }
    )


def decode_cdr_file(path: Path) -> CdrFile:
    """:func:`read_cdr_file` with the skip and vendor-field counts as attributes."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UsageFileError(f"{path}: cannot be read ({error.strerror or error})") from None
    return decode_cdrs(data, str(path))


def decode_cdrs(data: bytes, name: str = "<bytes>") -> CdrFile:
    """The CDRs concatenated in ``data``; errors name ``name`` and the record's offset."""
    types = cdr_types()
    columns: dict[str, list[str]] = {column: [] for column in COLUMNS}
    positions: list[int] = []
    result = CdrFile(table=SCHEMA.empty_table())
    offset = 0
    while offset < len(data):
        try:
            end, candidates = _frame(types, data, offset)
            record = data[offset:end]
            alternative, value, stripped = _decode(types, record, candidates)
            result.vendor_fields += stripped
            kind = RATED.get(alternative)
            if kind is None:
                result.skipped_records[alternative] += 1
            else:
                row = _MAPPERS[alternative](value)
                row["record_type"] = kind
                for column in COLUMNS:
                    columns[column].append(row[column])
                positions.append(offset)
        except _RecordError as error:
            raise UsageFileError(f"{name}: offset {offset}: {error}") from None
        offset = end
    arrays = [pa.array(columns[column], pa.string()) for column in COLUMNS]
    result.table = pa.Table.from_arrays([*arrays, pa.array(positions, pa.int64())], schema=SCHEMA)
    return result


# --- Framing: where a record ends, with pycrate's tag and length decoder --------------------


def _frame(types: CdrTypes, data: bytes, offset: int) -> tuple[int, tuple[Candidate, ...]]:
    from pycrate_core.charpy import Charpy

    char = Charpy(data)
    char._cur = 8 * offset
    codec = types.codec
    try:
        tag_class, constructed, tag = codec.decode_tag(char)
        length = codec.decode_len(char)
    except types.decode_errors:
        raise _RecordError(f"truncated record header ({len(data) - offset} bytes left)") from None
    if tag_class != CONTEXT_CLASS or not constructed:
        raise _RecordError(
            f"not a CDR: octet {data[offset]:#04x} is not the tag of a 32.298 record "
            "(a constructed, context-specific tag)"
        )
    candidates = types.by_tag.get(tag)
    if candidates is None:
        raise _RecordError(f"unknown record type: tag [{tag}] is no CSRecord or GPRSRecord")
    if length == -1:  # indefinite length: let pycrate walk to the end-of-contents octets
        char._cur = 8 * offset
        try:
            codec.decode_single(char)
        except types.decode_errors:
            raise _RecordError(f"truncated {candidates[0].alternative}") from None
        return char._cur >> 3, candidates
    end = (char._cur >> 3) + length
    if end > len(data):
        raise _RecordError(
            f"truncated {candidates[0].alternative}: {length} bytes announced, "
            f"{len(data) - (char._cur >> 3)} left in the file"
        )
    return end, candidates


def _decode(
    types: CdrTypes, record: bytes, candidates: tuple[Candidate, ...]
) -> tuple[str, dict[str, Any], int]:
    """(alternative, value, vendor fields dropped) of one record, or :class:`_RecordError`."""
    problem = ""
    for candidate in candidates:
        value = _try_decode(types, candidate, record)
        if value is not None:
            return candidate.alternative, value, 0
        stripped, dropped = _strip_unknown_fields(types, candidate, record)
        if dropped:
            value = _try_decode(types, candidate, stripped)
            if value is not None:
                return candidate.alternative, value, dropped
        problem = problem or _decode_problem(types, candidate, stripped if dropped else record)
    raise _RecordError(f"invalid {candidates[0].alternative}: {problem}")


def _try_decode(types: CdrTypes, candidate: Candidate, record: bytes) -> dict[str, Any] | None:
    try:
        candidate.choice.from_ber(record)
        alternative, value = candidate.choice.get_val()
    except types.decode_errors:
        return None
    return value if alternative == candidate.alternative else None


def _decode_problem(types: CdrTypes, candidate: Candidate, record: bytes) -> str:
    """pycrate's reason, without the value it quotes after a comma (it may be an IMSI)."""
    try:
        candidate.choice.from_ber(record)
    except types.decode_errors as error:
        where, _, what = (str(error) or type(error).__name__).partition(": ")
        return f"{where}: {what.split(', ')[0]}"[:200] if what else where.split(", ")[0][:200]
    return "undecodable"


def _strip_unknown_fields(
    types: CdrTypes, candidate: Candidate, record: bytes
) -> tuple[bytes, int]:
    """The record without the fields whose tags its SET does not define, and how many.

    Vendors add fields with tags of their own; pycrate (rightly, for a SET without an
    extension marker) refuses them, so they are cut out before decoding: the outer tag
    is kept, the length recomputed with pycrate's encoder, the known fields copied as is.
    """
    from pycrate_core.charpy import Charpy
    from pycrate_core.utils import pack_val

    codec = types.codec
    char = Charpy(record)
    try:
        codec.decode_tag(char)
        header_tag_end = char._cur >> 3
        length = codec.decode_len(char)
        content_end = len(record) if length == -1 else (char._cur >> 3) + length
        kept: list[bytes] = []
        dropped = 0
        while (char._cur >> 3) < content_end:
            start = char._cur >> 3
            tlv, _ = codec.decode_single(char)
            tag_class, _constructed, tag, field_length = tlv[0], tlv[1], tlv[2], tlv[3]
            if (tag_class, tag, field_length) == (0, 0, 0):  # end-of-contents of the record
                break
            if tag_class == CONTEXT_CLASS and tag in candidate.field_tags:
                kept.append(record[start : char._cur >> 3])
            else:
                dropped += 1
    except types.decode_errors:
        return record, 0
    if not dropped:
        return record, 0
    content = b"".join(kept)
    length_octets, _bits = pack_val(*codec.encode_len(len(content)))
    return record[:header_tag_end] + length_octets + content, dropped


# --- Mapping 32.298 values to usage file v1 text ------------------------------------------


def _text_time(moment: datetime) -> str:
    return moment.strftime(TIME_FORMAT)


def _field(what: str, decode: Callable[[Any], str], raw: Any) -> str:
    """The v1 text of an optional field: empty when absent, :class:`_RecordError` when bad."""
    if raw is None:
        return ""
    try:
        return decode(raw)
    except (f.FieldError, UnicodeDecodeError) as error:
        raise _RecordError(f"{what}: {error}") from None


def _timestamp(what: str, raw: bytes | None) -> str:
    return _field(what, lambda octets: _text_time(f.decode_timestamp(octets)), raw)


def _count(raw: int | None) -> str:
    return "" if raw is None else str(raw)


def _extensions(value: dict[str, Any]) -> dict[tuple[int, ...], tuple[str, bytes]]:
    found: dict[tuple[int, ...], tuple[str, bytes]] = {}
    for extension in value.get("recordExtensions") or ():
        information = extension.get("information")
        if information is not None:
            found[tuple(extension["identifier"])] = information
    return found


def _record_id(prefix: str, value: dict[str, Any], identity: tuple[str, ...]) -> str:
    """The host's record id (a Kindwave extension) or one derived from identifying fields.

    32.298 has no id unique across a network; re-delivering a CDR repeats its
    identifying fields, so their digest is stable, and distinct CDRs differ in them.
    """
    carried = _extensions(value).get(RECORD_ID_OID)
    if carried is not None:
        if carried[0] != _IA5_STRING:
            raise _RecordError("record id extension is not an IA5String")
        try:
            return carried[1].decode("ascii")
        except UnicodeDecodeError:
            raise _RecordError("record id extension is not ASCII") from None
    parts = tuple(repr(value.get(name)) for name in identity)
    digest = hashlib.sha256("\x1f".join((prefix, *parts)).encode()).hexdigest()
    return f"{prefix}-{digest[:40]}"


def _cs_cell(value: dict[str, Any]) -> tuple[str, str]:
    """(cell_id, visited_plmn) from a CS record's ``location``: the serving cell's PLMN."""
    location = value.get("location")
    if location is None or location.get("mCC-MNC") is None:
        return "", ""
    try:
        plmn = f.decode_plmn(location["mCC-MNC"])
        lac = f.decode_uint(location["locationAreaCode"], 2, "locationAreaCode")
        ci = f.decode_uint(location["cellId"], 2, "cellId")
    except f.FieldError as error:
        raise _RecordError(f"location: {error}") from None
    return f"{plmn}-{lac}-{ci}", plmn


def _cs_row(
    value: dict[str, Any],
    *,
    counterpart: str,
    start: str,
    duration: str,
    prefix: str,
    identity: tuple[str, ...],
) -> dict[str, str]:
    cell_id, visited_plmn = _cs_cell(value)
    return {
        "record_id": _record_id(prefix, value, identity),
        "msisdn": _field("servedMSISDN", f.decode_address, value.get("servedMSISDN")),
        "imsi": _field("servedIMSI", f.decode_tbcd, value.get("servedIMSI")),
        "counterpart": counterpart,
        "start_time": start,
        "duration_s": duration,
        "bytes_up": "0",
        "bytes_down": "0",
        "cell_id": cell_id,
        "visited_plmn": visited_plmn,
    }


_CALL_IDENTITY = (
    "recordType",
    "recordingEntity",
    "callReference",
    "sequenceNumber",
    "seizureTime",
    "answerTime",
    "servedIMSI",
)


def _call_start(value: dict[str, Any]) -> str:
    # The conversation starts at answer; an unanswered call has only its seizure.
    if value.get("answerTime") is not None:
        return _timestamp("answerTime", value["answerTime"])
    return _timestamp("seizureTime", value.get("seizureTime"))


def _mo_call(value: dict[str, Any]) -> dict[str, str]:
    return _cs_row(
        value,
        counterpart=_field("calledNumber", f.decode_address, value.get("calledNumber")),
        start=_call_start(value),
        duration=_count(value.get("callDuration")),
        prefix="moc",
        identity=_CALL_IDENTITY,
    )


def _mt_call(value: dict[str, Any]) -> dict[str, str]:
    return _cs_row(
        value,
        counterpart=_field("callingNumber", f.decode_address, value.get("callingNumber")),
        start=_call_start(value),
        duration=_count(value.get("callDuration")),
        prefix="mtc",
        identity=_CALL_IDENTITY,
    )


def _mo_sms(value: dict[str, Any]) -> dict[str, str]:
    return _cs_row(
        value,
        counterpart=_field(
            "destinationNumber", f.decode_tp_address, value.get("destinationNumber")
        ),
        start=_timestamp("originationTime", value.get("originationTime")),
        duration="0",
        prefix="mos",
        identity=(
            "recordingEntity",
            "servedIMSI",
            "originationTime",
            "messageReference",
            "destinationNumber",
        ),
    )


def _mt_sms(value: dict[str, Any]) -> dict[str, str]:
    # 32.298's MT SMS record has no originating number: the host adds it as an extension.
    originating = _extensions(value).get(ORIGINATING_NUMBER_OID)
    return _cs_row(
        value,
        counterpart=_field(
            "originating number extension", f.decode_address, originating and originating[1]
        ),
        start=_timestamp("deliveryTime", value.get("deliveryTime")),
        duration="0",
        prefix="mts",
        identity=("recordingEntity", "servedIMSI", "deliveryTime", "serviceCentre"),
    )


def _volumes(value: dict[str, Any]) -> tuple[str, str]:
    """(bytes_up, bytes_down): the service data containers' sum (PGW), else the
    traffic volume containers' (SGW); empty when the record reports neither."""
    containers = value.get("listOfServiceData")
    if containers is not None:
        up = sum(c.get("datavolumeFBCUplink", 0) for c in containers)
        down = sum(c.get("datavolumeFBCDownlink", 0) for c in containers)
        return str(up), str(down)
    containers = value.get("listOfTrafficVolumes")
    if containers is not None:
        up = sum(c.get("dataVolumeGPRSUplink", 0) for c in containers)
        down = sum(c.get("dataVolumeGPRSDownlink", 0) for c in containers)
        return str(up), str(down)
    return "", ""


def _data(prefix: str, address: str) -> Callable[[dict[str, Any]], dict[str, str]]:
    def row(value: dict[str, Any]) -> dict[str, str]:
        cell = None
        if value.get("userLocationInformation") is not None:
            try:
                cell = f.decode_uli(value["userLocationInformation"])
            except f.FieldError as error:
                raise _RecordError(f"userLocationInformation: {error}") from None
        cell_id = "" if cell is None else f"{cell[0]}-{cell[1]}-{cell[2]}"
        serving = _field(
            "servingNodePLMNIdentifier", f.decode_plmn, value.get("servingNodePLMNIdentifier")
        )
        bytes_up, bytes_down = _volumes(value)
        identity = (
            address,
            "chargingID",
            "nodeID",
            "recordSequenceNumber",
            "localSequenceNumber",
            "recordOpeningTime",
        )
        return {
            "record_id": _record_id(prefix, value, identity),
            "msisdn": _field("servedMSISDN", f.decode_address, value.get("servedMSISDN")),
            "imsi": _field("servedIMSI", f.decode_tbcd, value.get("servedIMSI")),
            "counterpart": "",
            "start_time": _timestamp("recordOpeningTime", value.get("recordOpeningTime")),
            "duration_s": _count(value.get("duration")),
            "bytes_up": bytes_up,
            "bytes_down": bytes_down,
            "cell_id": cell_id,
            "visited_plmn": serving or (cell[0] if cell else ""),
        }

    return row


_MAPPERS: dict[str, Callable[[dict[str, Any]], dict[str, str]]] = {
    "moCallRecord": _mo_call,
    "mtCallRecord": _mt_call,
    "moSMSRecord": _mo_sms,
    "mtSMSRecord": _mt_sms,
    "pGWRecord": _data("pgw", "p-GWAddress"),
    "sGWRecord": _data("sgw", "s-GWAddress"),
}
