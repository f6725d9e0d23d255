"""The usage app's public face: what other apps (billing, the web pages, the demo) call.

Ingest lives in ``ingest.py`` and rating in the ``rating`` package; other apps import
from here only, and never read the lake directly.

Rating's read API (docs/rating-rules.md): cycles are calendar months in UTC written
``YYYY-MM``; quantities are integers (voice in billable seconds, SMS in messages, data
in kB); money is an exact ``Decimal`` in major units, rounded to minor units once per
invoice line with :func:`to_minor_units` (half-even).
"""

from __future__ import annotations

from collections.abc import Callable

from kindwave.usage.ingest import (
    DEFAULT_DEDUP_HORIZON_DAYS,
    DEFAULT_RETENTION_DAYS,
    HORIZON_VARIABLE,
    RETENTION_VARIABLE,
    CellFileError,
    CellLoadSummary,
    IngestSummary,
    PurgeSummary,
    ReprocessSummary,
    dedup_horizon_days,
    find_usage_files,
    ingest_usage_files,
    load_cells,
    missing_hours,
    purge_usage,
    reprocess_quarantine,
    retention_days,
)
from kindwave.usage.rating.cycles import current_cycle, cycle_bounds, to_minor_units
from kindwave.usage.rating.reads import (
    AllowanceStatus,
    ChargeLine,
    DailyUsage,
    RatedPage,
    RatedRecord,
    allowance_status,
    cycle_charges,
    cycle_charges_for_lines,
    daily_usage,
    latest_run,
    lines_with_usage,
    rated_cycles,
    rated_records,
)
from kindwave.usage.rating.summary import RatingSummary


class CycleClosedError(ValueError):
    """The cycle may not be rated again: an app that used its outputs has closed it."""


# Checks other apps register (in their AppConfig.ready) to close a cycle to re-rating: each
# returns why the cycle is closed, or None. Billing closes a cycle once a bill run used it,
# so that usage pages always show what the invoices were made from. Usage itself never
# imports those apps.
_CLOSERS: list[Callable[[str], str | None]] = []


def close_cycles_when(check: Callable[[str], str | None]) -> None:
    """Register ``check(cycle) -> reason | None``; a reason refuses ``rate_cycle``."""
    if check not in _CLOSERS:
        _CLOSERS.append(check)


def closed_reason(cycle: str) -> str | None:
    """Why ``cycle`` may not be rated again (None if it may)."""
    for check in _CLOSERS:
        reason = check(cycle)
        if reason:
            return reason
    return None


def rate_cycle(
    cycle: str, *, engine: str = "duckdb", progress: Callable[[int], None] | None = None
) -> RatingSummary:
    """Rate every lake record of ``cycle`` and replace the cycle's outputs.

    Promises: idempotent (the same lake and catalogue give the same output, byte for
    byte in the rated records); atomic (the rated records are swapped in with one
    rename and the database rows replaced in one transaction, so readers see the old
    outputs or the new ones); every record of the cycle is either rated or output as
    unrated with a reason. Raises ``ValueError`` for a bad cycle or engine and
    ``lake.LakeBusyError`` while an ingest runs and ``CycleClosedError`` for a cycle
    another app closed (billed). ``progress(records)`` reports records rated. Operator
    staff call it (``kindwave usage rate``).
    """
    from kindwave.usage.rating.engine import rate_cycle as run

    reason = closed_reason(cycle)
    if reason:
        raise CycleClosedError(reason)

    return run(cycle, engine=engine, progress=progress)


__all__ = [
    "DEFAULT_DEDUP_HORIZON_DAYS",
    "DEFAULT_RETENTION_DAYS",
    "HORIZON_VARIABLE",
    "RETENTION_VARIABLE",
    "AllowanceStatus",
    "CellFileError",
    "CellLoadSummary",
    "ChargeLine",
    "CycleClosedError",
    "DailyUsage",
    "IngestSummary",
    "PurgeSummary",
    "RatedPage",
    "RatedRecord",
    "RatingSummary",
    "ReprocessSummary",
    "allowance_status",
    "close_cycles_when",
    "closed_reason",
    "current_cycle",
    "cycle_bounds",
    "cycle_charges",
    "cycle_charges_for_lines",
    "daily_usage",
    "dedup_horizon_days",
    "find_usage_files",
    "ingest_usage_files",
    "latest_run",
    "lines_with_usage",
    "load_cells",
    "missing_hours",
    "purge_usage",
    "rate_cycle",
    "rated_cycles",
    "rated_records",
    "reprocess_quarantine",
    "retention_days",
    "to_minor_units",
]
