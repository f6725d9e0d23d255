"""A billed cycle is closed to re-rating: the usage pages must keep showing what the
invoices were made from (the bill run registers the check with usage)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from kindwave.billing.services.billrun import run_bill_run
from kindwave.lines.models import Line
from kindwave.usage import services as usage
from tests.billing.test_run import CYCLE, rate, three_lines

__all__ = ["three_lines"]


def test_a_cycle_is_open_to_rating_until_a_bill_run_starts(three_lines: list[Line]) -> None:
    rate(CYCLE)
    assert usage.closed_reason(CYCLE) is None

    run_bill_run(CYCLE)

    assert "is billed" in (usage.closed_reason(CYCLE) or "")
    assert usage.closed_reason("2026-04") is None
    with pytest.raises(usage.CycleClosedError, match="cannot be rated again"):
        usage.rate_cycle(CYCLE)
    with pytest.raises(CommandError, match="cannot be rated again"):
        call_command("usage", "rate", "--cycle", CYCLE, "--quiet")
