"""The usage app's tables: the ingest's bookkeeping (``ingest.py``) and the rating's
outputs (``rating.py``). Usage records themselves live in the Parquet lake."""

from kindwave.usage.models.ingest import Cell, QuarantinedRecord, QuarantineReason, UsageFile
from kindwave.usage.models.rating import AllowanceUse, RatedUsageSummary, RatingRun

__all__ = [
    "AllowanceUse",
    "Cell",
    "QuarantineReason",
    "QuarantinedRecord",
    "RatedUsageSummary",
    "RatingRun",
    "UsageFile",
]
