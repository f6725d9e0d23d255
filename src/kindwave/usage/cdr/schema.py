"""Which 3GPP TS 32.298 records Kindwave reads, and pycrate's types for them (loaded lazily).

pycrate's compiled ``CDR`` module takes about two seconds to import, so nothing here
imports it at module level: :func:`cdr_types` does, once, on first use.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from typing import Any

# ManagementExtension identifiers (ITU-T X.667: an OID under 2.25 made from a UUID needs
# no registration) that the host network uses to carry what 32.298 has no field for.
KINDWAVE_ARC = (2, 25, 316317909997254308853313046479898613790)
RECORD_ID_OID = (*KINDWAVE_ARC, 1)  # information: IA5String, the record_id of format v1
ORIGINATING_NUMBER_OID = (*KINDWAVE_ARC, 2)  # information: OCTET STRING, an AddressString

# The CHOICE alternatives Kindwave rates, by the 32.298 CHOICE they belong to.
CS_RATED = {
    "moCallRecord": "voice_mo",
    "mtCallRecord": "voice_mt",
    "moSMSRecord": "sms_mo",
    "mtSMSRecord": "sms_mt",
}
GPRS_RATED = {"pGWRecord": "data", "sGWRecord": "data"}
RATED = {**CS_RATED, **GPRS_RATED}

CONTEXT_CLASS = 2  # BER tag class of every record tag and of every field tag in them


@dataclass(frozen=True)
class Candidate:
    """One way of reading a top-level tag: an alternative of CSRecord or GPRSRecord."""

    choice: Any  # pycrate CHOICE type (CSRecord or GPRSRecord); module-level, stateful
    alternative: str
    field_tags: frozenset[int]  # context tags of the alternative's SET components


@dataclass(frozen=True)
class CdrTypes:
    by_tag: dict[int, tuple[Candidate, ...]]  # top-level context tag → its readings
    cs_record: Any
    gprs_record: Any
    codec: Any  # pycrate ASN1CodecBER: tag and length octets, never our own parsing
    decode_errors: tuple[type[Exception], ...]


@cache
def cdr_types() -> CdrTypes:
    """pycrate's CSRecord and GPRSRecord types, the record tags and the BER codec."""
    import pycrate_core.log

    # pycrate sets its logger to INFO on import, then logs a line for each of dozens of
    # harmless OID aliases while compiling the modules; only its warnings matter here.
    pycrate_core.log.logger.setLevel(logging.WARNING)
    from pycrate_asn1dir import CDR  # 2 s: only when a file is read
    from pycrate_asn1rt.codecs import ASN1CodecBER
    from pycrate_asn1rt.err import ASN1Err
    from pycrate_core.utils import PycrateErr

    cs_record = CDR.CSChargingDataTypes.CSRecord
    gprs_record = CDR.GPRSChargingDataTypes.GPRSRecord
    by_tag: dict[int, list[Candidate]] = {}
    # CS first: tags 20-22 name a CS and a PS record alike (32.298 keeps them in separate
    # modules); neither is rated, so the order only decides which name a skip is counted as.
    for choice in (cs_record, gprs_record):
        for name, component in choice._cont.items():
            tag = component._tag[0]
            fields = component._cont if component.TYPE == "SET" else None
            field_tags = frozenset(
                field._tag[0]
                for field in (fields.values() if fields is not None else ())
                if field._tag is not None
            )
            by_tag.setdefault(tag, []).append(Candidate(choice, name, field_tags))
    return CdrTypes(
        by_tag={tag: tuple(candidates) for tag, candidates in by_tag.items()},
        cs_record=cs_record,
        gprs_record=gprs_record,
        codec=ASN1CodecBER,
        decode_errors=(ASN1Err, PycrateErr, ValueError, TypeError, IndexError, KeyError),
    )
