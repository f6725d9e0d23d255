"""A small 3GPP TS 32.298 CDR generator: usage file v1 records → BER CDRs, with pycrate.

It writes what a host network's mediation would deliver for each v1 record (see
docs/cdr-files.md for the field mapping), so that tests and the simulator can feed
the reader real BER. Deterministic: the same records and options give the same bytes.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Literal

from kindwave.usage.cdr import fields as f
from kindwave.usage.cdr.schema import ORIGINATING_NUMBER_OID, RECORD_ID_OID, cdr_types
from kindwave.usage.fileformat import TIME_FORMAT

CDR_SUFFIX = ".ber"

_RECORD_TYPE = {"voice_mo": 0, "voice_mt": 1, "sms_mo": 6, "sms_mt": 7}
_PGW, _SGW = 85, 84
_NORMAL_RELEASE = 0
_CLASSMARK = bytes.fromhex("5758a6")  # a plausible MS classmark 2 (TS 24.008)
_CHARGING_CHARACTERISTICS = bytes.fromhex("0800")  # "normal" profile
_RATING_GROUP = 1


@dataclass(frozen=True)
class CdrOptions:
    """The host network's nodes as the CDRs name them."""

    time_zone: tzinfo = UTC  # TimeStamps are written in this zone's local time
    msc_address: str = "+447953000001"  # recordingEntity of CS records (E.164)
    smsc_address: str = "+447953000100"  # serviceCentre of SMS records
    gateway_ipv4: bytes = bytes((10, 0, 0, 1))  # P-GW / S-GW address
    serving_node_ipv4: bytes = bytes((10, 0, 1, 1))  # the MME/SGSN serving the session
    node_id: str = "kindwave-gw-1"
    data_record: Literal["pGWRecord", "sGWRecord"] = "pGWRecord"


def hour_cdr_file_name(hour: datetime) -> str:
    """``usage-YYYYMMDDTHH.ber``: the CDR file of the UTC hour starting at ``hour``."""
    if hour.tzinfo is None:
        raise ValueError("hour must be timezone-aware")
    return f"usage-{hour.astimezone(UTC):%Y%m%dT%H}{CDR_SUFFIX}"


def to_ber(records: Iterable[Mapping[str, str]], options: CdrOptions | None = None) -> bytes:
    """The BER CDRs of v1 ``records`` (dicts of the 11 text columns), concatenated.

    Raises ValueError for a record that a CDR cannot hold (e.g. a CS cell id above
    65535, which needs the two-octet CellId of 32.298).
    """
    options = options or CdrOptions()
    types = cdr_types()
    chunks: list[bytes] = []
    for record in records:
        kind = record["record_type"]
        value: tuple[str, dict[str, Any]]
        if kind == "data":
            choice, value = types.gprs_record, (options.data_record, _data_value(record, options))
        elif kind in _RECORD_TYPE:
            choice, value = types.cs_record, _cs_value(record, options)
        else:
            raise ValueError(f"record {record.get('record_id')!r}: unknown record_type {kind!r}")
        choice.set_val(value)
        chunks.append(choice.to_ber())
    return b"".join(chunks)


def write_cdr_file(
    path: Path, records: Iterable[Mapping[str, str]], options: CdrOptions | None = None
) -> None:
    """Write one CDR file atomically (a temporary name, then a rename)."""
    content = to_ber(records, options)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as handle:
        handle.write(content)
        handle.flush()
    os.replace(partial, path)


def _time(record: Mapping[str, str], options: CdrOptions, *, at_end: bool = False) -> bytes:
    moment = datetime.strptime(record["start_time"], TIME_FORMAT).replace(tzinfo=UTC)
    if at_end:
        moment += timedelta(seconds=int(record["duration_s"]))
    return f.encode_timestamp(moment, options.time_zone)


def _reference(record_id: str, size: int) -> bytes:
    """Stable per-record octets for the call reference, charging id, …"""
    return hashlib.sha256(record_id.encode()).digest()[:size]


def _extension(identifier: tuple[int, ...], information: tuple[str, bytes]) -> dict[str, Any]:
    return {"identifier": identifier, "information": information}


def _record_id_extension(record: Mapping[str, str]) -> dict[str, Any]:
    return _extension(RECORD_ID_OID, ("_unk_0022", record["record_id"].encode("ascii")))


def _location(cell_id: str) -> dict[str, bytes]:
    plmn, lac, ci = f.split_cell_id(cell_id)
    if ci > 0xFFFF:
        raise ValueError(f"cell {cell_id}: a CS record's CellId holds at most 65535")
    return {
        "locationAreaCode": f.encode_uint(lac, 2),
        "cellId": f.encode_uint(ci, 2),
        "mCC-MNC": f.encode_plmn(plmn),
    }


def _cs_value(record: Mapping[str, str], options: CdrOptions) -> tuple[str, dict[str, Any]]:
    kind = record["record_type"]
    counterpart = record["counterpart"]
    value: dict[str, Any] = {
        "recordType": _RECORD_TYPE[kind],
        "servedIMSI": f.encode_tbcd(record["imsi"]),
        "servedMSISDN": f.encode_address(record["msisdn"]),
        "recordingEntity": f.encode_address(options.msc_address),
        "location": _location(record["cell_id"]),
        "recordExtensions": [_record_id_extension(record)],
    }
    if kind in ("voice_mo", "voice_mt"):
        value.update(
            answerTime=_time(record, options),
            callDuration=int(record["duration_s"]),
            causeForTerm=_NORMAL_RELEASE,
            callReference=_reference(record["record_id"], 8),
        )
        if kind == "voice_mo":
            value["calledNumber"] = f.encode_address(counterpart)
            return "moCallRecord", value
        value["callingNumber"] = f.encode_address(counterpart)
        return "mtCallRecord", value
    value.update(msClassmark=_CLASSMARK, serviceCentre=f.encode_address(options.smsc_address))
    if kind == "sms_mo":
        value.update(
            messageReference=_reference(record["record_id"], 1),
            originationTime=_time(record, options),
            destinationNumber=f.encode_tp_address(counterpart),
        )
        return "moSMSRecord", value
    value["deliveryTime"] = _time(record, options)
    value["recordExtensions"].append(
        _extension(ORIGINATING_NUMBER_OID, ("_unk_004", f.encode_address(counterpart)))
    )
    return "mtSMSRecord", value


def _data_value(record: Mapping[str, str], options: CdrOptions) -> dict[str, Any]:
    plmn, tac, eci = f.split_cell_id(record["cell_id"])
    opening = _time(record, options)
    closing = _time(record, options, at_end=True)
    up, down = int(record["bytes_up"]), int(record["bytes_down"])
    pgw = options.data_record == "pGWRecord"
    value: dict[str, Any] = {
        "recordType": _PGW if pgw else _SGW,
        "servedIMSI": f.encode_tbcd(record["imsi"]),
        "p-GWAddress" if pgw else "s-GWAddress": (
            "iPBinaryAddress",
            ("iPBinV4Address", options.gateway_ipv4),
        ),
        "chargingID": int.from_bytes(_reference(record["record_id"], 4), "big"),
        "servingNodeAddress": [("iPBinaryAddress", ("iPBinV4Address", options.serving_node_ipv4))],
        "recordOpeningTime": opening,
        "duration": int(record["duration_s"]),
        "causeForRecClosing": _NORMAL_RELEASE,
        "nodeID": options.node_id,
        "localSequenceNumber": 1,
        "servedMSISDN": f.encode_address(record["msisdn"]),
        "chargingCharacteristics": _CHARGING_CHARACTERISTICS,
        "servingNodePLMNIdentifier": f.encode_plmn(record["visited_plmn"]),
        "userLocationInformation": f.encode_uli(plmn, tac, eci),
        "servingNodeType": ["mME"],
        "recordExtensions": [_record_id_extension(record)],
    }
    if pgw:
        value["listOfServiceData"] = [
            {
                "ratingGroup": _RATING_GROUP,
                "datavolumeFBCUplink": up,
                "datavolumeFBCDownlink": down,
                "serviceConditionChange": (0, 32),
                "timeOfReport": closing,
            }
        ]
    else:
        value["listOfTrafficVolumes"] = [
            {
                "dataVolumeGPRSUplink": up,
                "dataVolumeGPRSDownlink": down,
                "changeCondition": "recordClosure",
                "changeTime": closing,
            }
        ]
    return value
