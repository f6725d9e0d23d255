"""Where rated records live, and how a cycle's output is replaced atomically.

``DATA_DIR/lake/rated/cycle=YYYY-MM`` is a symbolic link to a directory of Parquet
parts, ``DATA_DIR/lake/rated/.runs/<cycle>-<run id>/``. A new rating writes a new run
directory, then replaces the link in one ``rename`` (atomic on POSIX): readers see the
old output or the new one, never a mixture, and a crash mid-write leaves the old output
in place (the unfinished run directory is removed by the next run).
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from django.conf import settings

RUNS = ".runs"


def rated_root() -> Path:
    return Path(settings.DATA_DIR) / "lake" / "rated"


def cycle_link(cycle: str) -> Path:
    return rated_root() / f"cycle={cycle}"


# A cycle's rated records are split by line into SHARDS directories
# (``line_shard=<line_id % SHARDS>/``, hive style, as both engines write them), so one
# line's records are read from one shard: a cheap scan instead of a global sort.
SHARDS = 64
SHARD_COLUMN = "line_shard"


def shard_of(line_id: int) -> int:
    return line_id % SHARDS


def cycle_parts(cycle: str, line_id: int | None = None) -> list[str]:
    """The Parquet parts of the cycle's current output ([] if never rated); only those
    that can hold ``line_id``'s records when it is given."""
    link = cycle_link(cycle)
    if not link.exists():
        return []
    pattern = "*/*.parquet" if line_id is None else f"{SHARD_COLUMN}={shard_of(line_id)}/*.parquet"
    return sorted(str(path) for path in link.glob(pattern))


def new_run_dir(cycle: str) -> Path:
    """A fresh, not yet existing, directory for a run's output."""
    path = rated_root() / RUNS / f"{cycle}-{uuid.uuid4().hex[:12]}"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _fsync_dir(path: Path) -> None:
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def publish(cycle: str, run_dir: Path) -> None:
    """Point the cycle at ``run_dir`` atomically, then delete the previous output."""
    for part in run_dir.iterdir():
        if part.is_file():
            with part.open("rb") as handle:
                os.fsync(handle.fileno())
    _fsync_dir(run_dir)
    link = cycle_link(cycle)
    previous = link.resolve() if link.is_symlink() else None
    temporary = link.with_name(f".{link.name}.{uuid.uuid4().hex[:8]}.link")
    temporary.symlink_to(Path(RUNS) / run_dir.name, target_is_directory=True)
    temporary.replace(link)
    _fsync_dir(link.parent)
    if previous is not None and previous != run_dir.resolve() and previous.is_dir():
        shutil.rmtree(previous, ignore_errors=True)


def remove_unpublished(cycle: str) -> None:
    """Delete run directories of ``cycle`` that its link does not point to (what an
    interrupted run leaves) and stray temporary links."""
    root = rated_root()
    runs = root / RUNS
    link = cycle_link(cycle)
    current = link.resolve() if link.is_symlink() else None
    if runs.is_dir():
        for path in runs.glob(f"{cycle}-*"):
            if path.resolve() != current:
                shutil.rmtree(path, ignore_errors=True)
    for stray in root.glob(f".cycle={cycle}.*.link"):
        stray.unlink(missing_ok=True)
