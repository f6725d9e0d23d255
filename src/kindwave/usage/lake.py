"""The usage lake: Parquet parts partitioned by usage date, listed by the manifest.

Layout: ``DATA_DIR/lake/usage/usage_date=YYYY-MM-DD/part-<sha>.parquet`` where
``<sha>`` is the first 16 hex digits of the SHA-256 of the source file, so a re-run
of an interrupted ingest rewrites a part under the same name with the same bytes.
A part belongs to the lake only once a ``UsageFile`` row lists it: readers go
through :func:`ingested_parts`, never through a bare glob.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.db.models import Q

from kindwave.lines.models import Market
from kindwave.usage.models import UsageFile

PART_SHA_LENGTH = 16
TEMP_SUFFIX = ".tmp"

SCHEMA = pa.schema(
    [
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("record_type", pa.string(), nullable=False),
        pa.field("msisdn", pa.string(), nullable=False),
        pa.field("imsi", pa.string(), nullable=False),
        pa.field("counterpart", pa.string()),
        pa.field("start_time", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("duration_s", pa.int64(), nullable=False),
        pa.field("bytes_up", pa.int64(), nullable=False),
        pa.field("bytes_down", pa.int64(), nullable=False),
        pa.field("cell_id", pa.string(), nullable=False),
        pa.field("visited_plmn", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
    ]
)


DICTIONARY_COLUMNS = ["record_type", "msisdn", "imsi", "cell_id", "visited_plmn", "source_file"]


def lake_root() -> Path:
    """The usage lake's directory, read from ``settings.DATA_DIR`` at call time."""
    return Path(settings.DATA_DIR) / "lake" / "usage"


class LakeBusyError(Exception):
    """Another process is writing to the lake."""


@contextmanager
def exclusive_writer() -> Iterator[None]:
    """Hold the lake's writer lock, or raise ``LakeBusyError`` at once.

    One writer at a time: a second ingest would otherwise take the first one's
    in-flight parts for orphans and delete them. The lock is an ``flock`` on a file in
    the lake, released by the kernel if the holder dies, so a crash never leaves it held.
    """
    root = lake_root()
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".writer.lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LakeBusyError(
                f"another ingest is writing to {root}; run again when it has finished"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def part_name(usage_date: date, source_sha256: str) -> str:
    """The part of a source file's records of one usage date, relative to the lake root."""
    return f"usage_date={usage_date.isoformat()}/part-{source_sha256[:PART_SHA_LENGTH]}.parquet"


def partition_date(part: str) -> date:
    """``usage_date=2026-10-01/part-….parquet`` → 2026-10-01."""
    return date.fromisoformat(part.split("/", 1)[0].removeprefix("usage_date="))


def write_part(relative: str, table: pa.Table) -> Path:
    """Write one part atomically: a temporary name in the same directory, fsync, rename.

    A crash leaves either the whole part under its final name or at most a temporary
    file, which :func:`remove_orphans` deletes.
    """
    path = lake_root() / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + TEMP_SUFFIX)
    with temporary.open("wb") as handle:
        # Dictionary-encode only the columns that repeat (a record id or a counterpart
        # rarely does): faster to write and a fifth smaller.
        pq.write_table(
            table.cast(SCHEMA), handle, compression="zstd", use_dictionary=DICTIONARY_COLUMNS
        )
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return path


def ingested_parts(
    first: date | None = None, last: date | None = None, *, market: Market | None = None
) -> list[Path]:
    """Every part of the lake the manifest vouches for, optionally only usage dates
    ``first`` to ``last`` (inclusive) and only the files of ``market`` (with the files
    recorded before the manifest knew markets), sorted by name, each once."""
    root = lake_root()
    files = UsageFile.objects.filter(status=UsageFile.Status.INGESTED)
    if market is not None:
        files = files.filter(Q(market=market) | Q(market__isnull=True))
    parts: set[Path] = set()
    for listed in files.values_list("parts", flat=True):
        for part in listed:
            day = partition_date(part)
            if (first is None or day >= first) and (last is None or day <= last):
                parts.add(root / part)
    return sorted(parts)


def remove_orphans() -> list[Path]:
    """Delete part files (and temporary files) that no manifest row lists.

    They are what an interrupted ingest leaves; their source file was not recorded as
    ingested, so the next run writes them again. Returns what was removed.
    """
    root = lake_root()
    if not root.is_dir():
        return []
    known = {str(path) for path in ingested_parts()}
    removed = []
    for path in sorted(root.glob("usage_date=*/part-*")):
        if str(path) not in known:
            path.unlink()
            removed.append(path)
    return removed


def record_ids(parts: Iterable[Path]) -> set[str]:
    """The record ids held in ``parts``."""
    files = [str(path) for path in parts]
    if not files:
        return set()
    with duckdb.connect() as connection:
        rows = connection.execute(
            "SELECT record_id FROM read_parquet(?, hive_partitioning = false)", [files]
        ).fetchall()
    return {record_id for (record_id,) in rows}


def records_as_text(parts: Iterable[Path], ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """The lake's records with ``ids``, looked up in ``parts``, in the usage file's text
    form (the 11 columns of format v1, in order), to compare with a delivered record."""
    files = [str(path) for path in parts]
    wanted = sorted(set(ids))
    if not files or not wanted:
        return {}
    with duckdb.connect() as connection:
        connection.execute("SET TimeZone='UTC'")
        connection.register("wanted", pa.table({"record_id": wanted}))
        table = connection.execute(
            """
            SELECT record_id, record_type, msisdn, imsi, coalesce(counterpart, ''),
                   strftime(start_time, '%Y-%m-%dT%H:%M:%SZ'), duration_s::VARCHAR,
                   bytes_up::VARCHAR, bytes_down::VARCHAR, cell_id, visited_plmn
            FROM read_parquet(?, hive_partitioning = false) JOIN wanted USING (record_id)
            """,
            [files],
        ).fetchall()
    return {row[0]: tuple(str(value) for value in row) for row in table}
