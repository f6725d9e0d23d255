"""3GPP TS 32.298 CDR files (ASN.1 BER): the host network's second usage input format.

``read_cdr_file(path)`` gives the rated records of a file as the 11 text columns of
usage file format v1 plus each record's byte ``position``; ``to_ber(records)`` is the
small generator that writes v1 records as CDRs (tests, ``kindwave simulate --format
ber``). See docs/cdr-files.md. pycrate (2 s to import) is only loaded on first use.
"""

from kindwave.usage.cdr.encoder import (
    CDR_SUFFIX,
    CdrOptions,
    hour_cdr_file_name,
    to_ber,
    write_cdr_file,
)
from kindwave.usage.cdr.reader import (
    POSITION_COLUMN,
    CdrFile,
    decode_cdr_file,
    decode_cdrs,
    read_cdr_file,
)

__all__ = [
    "CDR_SUFFIX",
    "POSITION_COLUMN",
    "CdrFile",
    "CdrOptions",
    "decode_cdr_file",
    "decode_cdrs",
    "hour_cdr_file_name",
    "read_cdr_file",
    "to_ber",
    "write_cdr_file",
]
