"""The usage app's public face: what other apps (billing, the web pages, the demo) call.

Ingest lives in ``ingest.py`` and rating in the ``rating`` package; other apps import
from here only, and never read the lake directly.
"""

from kindwave.usage.ingest import (
    DEFAULT_DEDUP_HORIZON_DAYS,
    HORIZON_VARIABLE,
    CellFileError,
    CellLoadSummary,
    IngestSummary,
    dedup_horizon_days,
    find_usage_files,
    ingest_usage_files,
    load_cells,
)

__all__ = [
    "DEFAULT_DEDUP_HORIZON_DAYS",
    "HORIZON_VARIABLE",
    "CellFileError",
    "CellLoadSummary",
    "IngestSummary",
    "dedup_horizon_days",
    "find_usage_files",
    "ingest_usage_files",
    "load_cells",
]
