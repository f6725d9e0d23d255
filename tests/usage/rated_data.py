"""Real rated usage for the "my usage" tests: a few usage-file-v1 records for a line,
written as the host network would, ingested and rated through the real pipeline
(``ingest_usage_files`` → ``rate_cycle``) — no stand-in for the rating's read API.
"""

from __future__ import annotations

import gzip
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kindwave.lines.models import Line
from kindwave.usage import services
from kindwave.usage.fileformat import COLUMNS, hour_file_name

CYCLE = "2026-03"
HOME_CELL = "234-30-1001-12"
FRANCE_CELL = "208-10-41694-63392"
USA_CELL = "310-260-100-200"
CELLS_CSV = f"cell_id,lat,lon,site_id,zone_id\n{HOME_CELL},51.50735,-0.12776,234-30-S00001,gcpvj\n"


@dataclass(frozen=True)
class Usage:
    """One record to deliver: when, what, with whom, how much, where."""

    at: datetime
    record_type: str
    counterpart: str = ""
    duration_s: int = 0
    bytes_down: int = 0
    cell_id: str = HOME_CELL

    @property
    def visited_plmn(self) -> str:
        return "-".join(self.cell_id.split("-")[:2])


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


# A month of alice's usage on Everyday (unlimited calls and texts to UK numbers, 40 GB):
# what is charged, at the GB demo catalogue's prices, is computed by hand beside it.
ALICES_MONTH = [
    Usage(at(2, 10, 15), "voice_mo", "+447700900123", duration_s=125),  # included
    Usage(at(2, 10, 20), "sms_mo", "+447700900123"),  # included
    Usage(at(2, 11, 0), "data", bytes_down=1_500_000),  # 1,500 kB, included
    Usage(at(5, 14, 0), "voice_mo", "+449098790000", duration_s=90),  # premium: £0.975
    Usage(at(6, 9, 30), "voice_mo", "+33142000000", duration_s=30),  # Europe: £0.125
    Usage(at(10, 8, 0), "data", bytes_down=2_000_000, cell_id=FRANCE_CELL),  # EU, included
    Usage(at(12, 18, 0), "voice_mt", "+12125550100", duration_s=60, cell_id=USA_CELL),  # £0.75
]
# Hand-computed: each invoice line rounded once, half-even — 98p + 12p + 75p.
ALICES_CHARGES_MINOR = 185


def texts(count: int, day: int = 15) -> list[Usage]:
    """``count`` texts to a UK mobile, a minute apart from 08:00 on ``day``."""
    start = at(day, 8)
    return [Usage(start + timedelta(minutes=n), "sms_mo", "+447700900456") for n in range(count)]


def write_delivery(directory: Path, line: Line, usage: list[Usage]) -> list[Path]:
    """Hourly usage files v1 (docs/usage-files.md) holding ``usage`` for ``line``."""
    assert line.sim is not None  # an active line has a SIM
    by_hour: dict[datetime, list[Usage]] = defaultdict(list)
    for item in usage:
        by_hour[item.at.replace(minute=0, second=0)].append(item)
    paths = []
    for hour, items in sorted(by_hour.items()):
        rows = [",".join(COLUMNS)]
        for n, item in enumerate(sorted(items, key=lambda u: u.at), start=1):
            rows.append(
                ",".join(
                    [
                        f"{hour:%Y%m%dT%H}-{line.pk:04d}{n:04d}",
                        item.record_type,
                        line.msisdn,
                        line.sim.imsi,
                        item.counterpart,
                        f"{item.at:%Y-%m-%dT%H:%M:%SZ}",
                        str(item.duration_s),
                        "0",
                        str(item.bytes_down),
                        item.cell_id,
                        item.visited_plmn,
                    ]
                )
            )
        path = directory / f"{hour:%Y-%m-%d}" / hour_file_name(hour)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(("\n".join(rows) + "\n").encode(), mtime=0))
        paths.append(path)
    return paths


def deliver_and_rate(directory: Path, line: Line, usage: list[Usage], cycle: str = CYCLE) -> None:
    """Write, ingest and rate ``usage`` of ``line``: what the host network and the
    operator's nightly jobs do. ``settings.DATA_DIR`` must point at a scratch directory."""
    directory.mkdir(parents=True, exist_ok=True)
    cells = directory / "cells.csv"
    cells.write_text(CELLS_CSV, encoding="utf-8")
    services.load_cells(cells)
    summary = services.ingest_usage_files(
        write_delivery(directory / "usage", line, usage), market=line.market
    )
    assert not summary.refused, summary.refused
    assert summary.accepted == len(usage), summary
    services.rate_cycle(cycle)
