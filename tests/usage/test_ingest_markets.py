"""Record ids are unique per host network, not across networks: the same id delivered by
two markets' host networks is two records, and a duplicate only within one market."""

from __future__ import annotations

from pathlib import Path

import pytest

from kindwave.lines import services as lines
from kindwave.lines.models import Market
from kindwave.simulator.run import make_options, simulate
from kindwave.usage import lake, services


@pytest.fixture
def two_markets(settings, tmp_path: Path, demo_causes: object) -> dict[str, Path]:
    """A UK and a French host network, one simulated day each; their simulators number
    records the same way, so many ids are the same in both."""
    settings.DATA_DIR = tmp_path / "data"
    lines.load_demo_catalogs()
    deliveries = {}
    for country, seed in (("GB", 3), ("FR", 4)):
        out = tmp_path / country
        simulate(
            make_options(
                country=country, subscribers=15, days=1, seed=seed, start=None, out_dir=out
            )
        )
        lines.import_simulated_operator(out)
        services.load_cells(out / "cells.csv")
        deliveries[country] = out / "usage"
    return deliveries


def lake_count() -> int:
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(part).num_rows for part in lake.ingested_parts())


def test_the_same_record_id_in_two_markets_is_two_records(two_markets) -> None:
    gb = services.ingest_usage_files([two_markets["GB"]], market=Market.objects.get(code="GB"))
    fr = services.ingest_usage_files([two_markets["FR"]], market=Market.objects.get(code="FR"))

    assert gb.accepted > 0
    assert fr.accepted > 0
    assert fr.duplicates == 0
    assert sum(fr.quarantined.values()) == 0
    assert lake_count() == gb.accepted + fr.accepted


def test_a_duplicate_within_a_market_is_still_dropped(two_markets, tmp_path: Path) -> None:
    market = Market.objects.get(code="GB")
    first = services.ingest_usage_files([two_markets["GB"]], market=market)
    # The same records again, in a file with other bytes (a re-delivery).
    one_hour = sorted(two_markets["GB"].rglob("usage-*.csv.gz"))[12]
    redelivered = tmp_path / "again" / one_hour.name
    redelivered.parent.mkdir()
    import gzip

    text = gzip.decompress(one_hour.read_bytes())
    redelivered.write_bytes(gzip.compress(text, compresslevel=1, mtime=1))
    second = services.ingest_usage_files([redelivered], market=market)

    records = text.decode().count("\n") - 1
    assert records > 0
    assert second.duplicates == records
    assert lake_count() == first.accepted
