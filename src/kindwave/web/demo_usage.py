"""Usage for the demo logins' own lines (alice, bob, zoé), so that "my usage" shows a
living month after ``kindwave demo``.

The simulated operators' subscribers get their usage from ``kindwave simulate``; the
demo personas order their lines through the platform, so the simulation knows nothing
of them. This module plays the host network's part for those few lines: it writes
usage files v1 (docs/usage-files.md) for them into a feed of its own, which the demo
ingests beside the simulation's. The records are drawn from a seeded generator, so
the files (and therefore their checksums) are the same on every run and a second
``kindwave demo`` skips them as already ingested.
"""

from __future__ import annotations

import gzip
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kindwave.usage.fileformat import COLUMNS, HEADER_LINE, TIME_FORMAT, hour_file_name


@dataclass(frozen=True)
class PersonaLine:
    """What the host network knows of a line: its identities and where it lives."""

    key: str  # a stable label for record ids, e.g. "alice"
    msisdn: str
    imsi: str
    home_plmn: str
    home_cells: Sequence[str]
    contacts: Sequence[str]  # numbers the person calls and texts
    trips: Sequence[tuple[int, int, str]] = ()  # (first day, last day, visited MCC-MNC)


def _record(
    line: PersonaLine,
    serial: int,
    record_type: str,
    counterpart: str,
    start: datetime,
    duration_s: int,
    up: int,
    down: int,
    cell: str,
    plmn: str,
) -> dict[str, str]:
    return {
        "record_id": f"demo-{line.key}-{serial:06d}",
        "record_type": record_type,
        "msisdn": line.msisdn,
        "imsi": line.imsi,
        "counterpart": counterpart,
        "start_time": start.strftime(TIME_FORMAT),
        "duration_s": str(duration_s),
        "bytes_up": str(up),
        "bytes_down": str(down),
        "cell_id": cell,
        "visited_plmn": plmn,
    }


def persona_records(
    line: PersonaLine, first_day: datetime, days: int, until: datetime, seed: int
) -> list[dict[str, str]]:
    """A plausible month of one person's calls, texts and data, seeded and so repeatable:
    a few calls and texts a day (more in the evening), data through the day, and the
    trips abroad the persona takes. Only records starting before ``until`` are kept."""
    rng = random.Random(f"{seed}:{line.key}")
    records: list[dict[str, str]] = []
    serial = 0
    for day in range(days):
        midnight = first_day + timedelta(days=day)
        plmn, cells = line.home_plmn, list(line.home_cells)
        for first, last, visited in line.trips:
            if first <= day <= last:
                plmn = visited
                cells = [f"{visited}-{2000 + n}-{100 + n}" for n in range(3)]

        def at(hour_low: int, hour_high: int, midnight: datetime = midnight) -> datetime:
            return midnight + timedelta(seconds=rng.randrange(hour_low * 3600, hour_high * 3600))

        plan: list[tuple[str, datetime]] = []
        plan += [("voice_mo", at(8, 22)) for _ in range(rng.randint(1, 5))]
        plan += [("voice_mt", at(9, 21)) for _ in range(rng.randint(0, 3))]
        plan += [("sms_mo", at(7, 23)) for _ in range(rng.randint(1, 8))]
        plan += [("sms_mt", at(7, 23)) for _ in range(rng.randint(1, 6))]
        plan += [("data", at(6, 24)) for _ in range(rng.randint(3, 9))]
        for record_type, start in sorted(plan, key=lambda item: item[1]):
            serial += 1
            cell = rng.choice(cells)
            contact = rng.choice(line.contacts)
            if record_type.startswith("voice"):
                # One call in eight is not answered (duration 0), as on a real network.
                duration = 0 if rng.random() < 0.125 else int(rng.lognormvariate(4.5, 1.0)) + 1
                records.append(
                    _record(line, serial, record_type, contact, start, duration, 0, 0, cell, plmn)
                )
            elif record_type.startswith("sms"):
                records.append(
                    _record(line, serial, record_type, contact, start, 0, 0, 0, cell, plmn)
                )
            else:
                down = int(rng.lognormvariate(15.5, 1.3))
                up = down // rng.randint(5, 20)
                duration = rng.randint(30, 3600)
                records.append(
                    _record(line, serial, "data", "", start, duration, up, down, cell, plmn)
                )
    return [record for record in records if datetime.fromisoformat(record["start_time"]) < until]


def write_hour_files(records: Iterable[dict[str, str]], out_dir: Path) -> int:
    """Write ``records`` as usage files v1, one per UTC hour that has records, under
    ``out_dir/YYYY-MM-DD/``; byte-identical for the same records. Returns the file count."""
    by_hour: dict[datetime, list[dict[str, str]]] = defaultdict(list)
    for record in records:
        start = datetime.fromisoformat(record["start_time"])
        by_hour[start.replace(minute=0, second=0, microsecond=0)].append(record)
    for hour, rows in sorted(by_hour.items()):
        rows.sort(key=lambda row: (row["start_time"], row["record_id"]))
        lines = [HEADER_LINE, *(",".join(row[column] for column in COLUMNS) for row in rows)]
        text = "\n".join(lines) + "\n"
        folder = out_dir / f"{hour.astimezone(UTC):%Y-%m-%d}"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / hour_file_name(hour)
        temporary = target.with_name(target.name + ".tmp")
        # mtime=0 and no file name in the header: the bytes depend only on the records.
        with (
            temporary.open("wb") as raw,
            gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as compressed,
        ):
            compressed.write(text.encode("utf-8"))
        temporary.replace(target)
    return len(by_hour)
