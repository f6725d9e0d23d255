"""Invariants of the rating (hypothesis): however the records are split into files and
ordered, the output is the same; included + charged = quantity; no charge is negative;
the database summaries are the sums of the rated records."""

from __future__ import annotations

import random
from datetime import timedelta

import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.usage.rating.conftest import Rec, at, clear_lake, deliver_files

from kindwave.usage import services
from kindwave.usage.models import RatedUsageSummary
from kindwave.usage.rating import store

CYCLE = "2026-10"
COUNTERPARTS = ["+442071234567", "+447700900123", "+447000123456", "+448001234567", "999",
                "+33612345678", "+12125551234", "+4491234567"]  # fmt: skip
PLMNS = ["234-30", "234-30", "234-30", "262-01", "228-01", "310-260"]

record_shapes = st.lists(
    st.tuples(
        st.integers(0, 2),  # which line
        st.sampled_from(["voice_mo", "voice_mt", "sms_mo", "sms_mt", "data"]),
        st.integers(0, 31 * 24 * 3600 - 1),  # second of October
        st.sampled_from(COUNTERPARTS),
        st.integers(0, 900),  # duration
        st.integers(0, 3_000_000),  # bytes
        st.sampled_from(PLMNS),
    ),
    min_size=1,
    max_size=60,
)


def output() -> list[dict]:
    """The cycle's rated records in record id order (rows in a shard have no order)."""
    rows = []
    for part in store.cycle_parts(CYCLE):
        rows.extend(pq.read_table(part).to_pylist())
    return sorted(rows, key=lambda row: row["record_id"])


def build(shapes, owners) -> list[Rec]:
    records = []
    for index, (who, kind, second, counterpart, duration, volume, plmn) in enumerate(shapes):
        voice, data = kind.startswith("voice"), kind == "data"
        records.append(
            Rec(
                f"r{index:04d}",
                kind,
                owners[who],
                at(1, 0) + timedelta(seconds=second),
                None if data else counterpart,
                duration=duration if voice else 0,
                down=volume if data else 0,
                plmn=plmn,
            )
        )
    return records


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(shapes=record_shapes, seed=st.integers(0, 2**16), pieces=st.integers(1, 6))
def test_rating_ignores_how_records_are_split_and_ordered(make_line, shapes, seed, pieces):
    owners = getattr(make_line, "owners", None)
    if owners is None:
        owners = make_line.owners = [make_line("g-small"), make_line("g-payg"), make_line("g-max")]
    records = build(shapes, owners)

    clear_lake()
    deliver_files([records], name="whole")
    services.rate_cycle(CYCLE)
    whole = output()

    shuffled = records[:]
    random.Random(seed).shuffle(shuffled)
    files = [shuffled[n::pieces] for n in range(pieces)]
    clear_lake()
    deliver_files(files, name=f"split{seed}")
    services.rate_cycle(CYCLE)
    split = output()

    assert split == whole
    rated = [row for row in whole if row["status"] == "rated"]
    assert len(whole) == len(records)
    for row in rated:
        assert row["included"] + row["charged"] == row["quantity"]
        assert row["included"] >= 0
        assert row["charged"] >= 0
        assert row["charge_units"] >= 0
    summaries = RatedUsageSummary.objects.filter(cycle=CYCLE)
    assert sum(s.records for s in summaries) == len(rated)
    assert sum(s.charge_units for s in summaries) == sum(r["charge_units"] for r in rated)
    assert sum(s.quantity for s in summaries) == sum(r["quantity"] for r in rated)
    assert sum(s.included for s in summaries) == sum(r["included"] for r in rated)
