"""Golden cases: the golden catalogue (golden-v1.toml, golden-v2.toml from 16 October),
hand-written records and hand-computed charges for every rule of docs/rating-rules.md.

Charge units: 1 major unit = 60,000,000,000 units; voice = seconds x price in micro-units
x 1,000; SMS = messages x micro x 60,000; data = kB x micro per MB x 60.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command
from tests.usage.rating.conftest import Rec, at, deliver

from kindwave.lines import services as lines
from kindwave.usage import services
from kindwave.usage.models import AllowanceUse, RatedUsageSummary, RatingRun
from kindwave.usage.rating import store
from kindwave.usage.rating.cycles import units_to_decimal

CYCLE = "2026-10"
HOME, EU, SWISS, WORLD = "234-30", "262-01", "228-01", "310-260"
NATIONAL, MOBILE = "+442071234567", "+447700900123"


def rated_rows() -> dict[str, dict]:
    """The cycle's rated records by id (without start_time, compared elsewhere)."""
    rows: dict[str, dict] = {}
    for part in store.cycle_parts(CYCLE):
        table = pq.read_table(part).drop_columns(["start_time"])
        for row in table.to_pylist():
            rows[row["record_id"]] = row
    return rows


def golden_records(make_line) -> dict[str, object]:
    small = make_line("g-small")
    payg = make_line("g-payg")
    unlimited = make_line("g-max")
    switcher = make_line("g-small")
    lines.change_plan(switcher, "g-payg", at=at(10, 0))
    late = make_line("g-small")
    stranger = SimpleNamespace(msisdn="+447400299999", sim=SimpleNamespace(imsi="234307199999999"))
    records = [
        # g-small: 600 s, 5 SMS, 1,000 kB; national+mobile covered; per second.
        Rec("s01", "voice_mo", small, at(2), NATIONAL, duration=400),
        Rec("s02", "voice_mo", small, at(3), MOBILE, duration=300),  # crosses the 600 s
        Rec("s03", "voice_mo", small, at(3, 13), "+447000123456", duration=61),  # premium
        Rec("s04", "voice_mo", small, at(3, 14), "+448001234567", duration=120),  # free
        Rec("s05", "voice_mo", small, at(3, 15), "999", duration=30),  # emergency
        Rec("s06", "voice_mo", small, at(16, 0), "+442079999999", duration=90),  # v2 price
        Rec("s07", "voice_mt", small, at(4), "+447700900999", duration=200),  # in, home
        Rec("s08", "voice_mo", small, at(4, 13), "+33612345678", duration=60),  # Europe
        *(
            Rec(f"s1{n}", "sms_mo", small, at(5, 10, n), MOBILE)  # 6 SMS: the 6th pays
            for n in range(6)
        ),
        Rec("s20", "sms_mt", small, at(5, 11), MOBILE),
        Rec("s21", "data", small, at(6), up=500_000, down=499_001),  # 1,000 kB exactly
        Rec("s22", "data", small, at(6, 13), down=1),  # 1 kB beyond
        Rec("s23", "voice_mo", small, at(7), NATIONAL, duration=60, plmn=EU),  # RLAH
        Rec("s24", "voice_mt", small, at(7, 13), MOBILE, duration=100, plmn=EU),
        Rec("s25", "voice_mo", small, at(8), NATIONAL, duration=61, plmn=SWISS),
        Rec("s26", "voice_mt", small, at(8, 13), MOBILE, duration=30, plmn=SWISS),
        Rec("s27", "sms_mo", small, at(8, 14), MOBILE, plmn=SWISS),
        Rec("s28", "sms_mt", small, at(8, 15), MOBILE, plmn=SWISS),
        Rec("s29", "data", small, at(8, 16), up=1000, down=500, plmn=SWISS),
        Rec("s30", "voice_mt", small, at(9), MOBILE, duration=45, plmn=WORLD),
        Rec("s31", "data", small, at(9, 13), down=1_000_000, plmn=WORLD),
        # g-payg: first 60 s whole, then per second; no allowances.
        Rec("p01", "voice_mo", payg, at(2), NATIONAL, duration=10),
        Rec("p02", "voice_mo", payg, at(2, 13), NATIONAL, duration=61),
        Rec("p03", "voice_mo", payg, at(2, 14), NATIONAL, duration=0),  # unanswered
        Rec("p04", "sms_mo", payg, at(2, 15), "+4491234567"),  # premium SMS
        Rec("p05", "data", payg, at(2, 16), up=2000, down=500),
        Rec("p06", "voice_mo", payg, at(8), NATIONAL, duration=10, plmn=SWISS),
        # g-max: unlimited; 30 s minimum then 6 s steps; withdrawn in golden-2.
        Rec("m01", "voice_mo", unlimited, at(2), NATIONAL, duration=31),
        Rec("m02", "voice_mo", unlimited, at(20), "+12125551234", duration=100),
        Rec("m03", "data", unlimited, at(20, 13), down=5_000_000_000),
        Rec("m04", "voice_mo", unlimited, at(21), NATIONAL, duration=20),
        Rec("m05", "voice_mt", unlimited, at(21, 13), MOBILE, duration=20),
        # A plan change on 10 October: g-small then g-payg.
        Rec("c01", "voice_mo", switcher, at(5), NATIONAL, duration=700),
        Rec("c02", "voice_mo", switcher, at(12), NATIONAL, duration=30),
        # First covered call after the version change: the bucket is golden-2's 1,200 s.
        Rec("l01", "voice_mo", late, at(17), NATIONAL, duration=900),
        Rec("l0b", "voice_mo", late, at(18), NATIONAL, duration=200),  # same instant:
        Rec("l0a", "voice_mo", late, at(18), NATIONAL, duration=200),  # l0a goes first
        # Not a line of ours: output unrated, never dropped.
        Rec("x01", "voice_mo", stranger, at(3), NATIONAL, duration=10),  # type: ignore[arg-type]
        # Outside the cycle: not rated in October.
        Rec("o01", "voice_mo", small, datetime(2026, 9, 30, 23, 59, 59, tzinfo=UTC), NATIONAL, 5),
        Rec("o02", "voice_mo", small, datetime(2026, 11, 1, tzinfo=UTC), NATIONAL, duration=5),
    ]
    deliver(records)
    return {"small": small, "payg": payg, "max": unlimited, "switcher": switcher, "late": late}


# (record, quantity, included, charged, charge units, zone, class, plan, catalogue version)
EXPECTED = [
    ("s01", 400, 400, 0, 0, "home", "national", "g-small", "golden-1"),
    ("s02", 300, 200, 100, 100 * 200_000 * 1000, "home", "mobile", "g-small", "golden-1"),
    ("s03", 61, 0, 61, 61 * 650_000 * 1000, "home", "premium", "g-small", "golden-1"),
    ("s04", 120, 0, 120, 0, "home", "free", "g-small", "golden-1"),
    ("s05", 30, 0, 30, 0, "home", "emergency", "g-small", "golden-1"),
    ("s06", 90, 0, 90, 90 * 300_000 * 1000, "home", "national", "g-small", "golden-2"),
    ("s07", 200, 0, 200, 0, "home", None, "g-small", "golden-1"),
    ("s08", 60, 0, 60, 60 * 300_000 * 1000, "home", "intl-europe", "g-small", "golden-1"),
    *((f"s1{n}", 1, 1, 0, 0, "home", "mobile", "g-small", "golden-1") for n in range(5)),
    ("s15", 1, 0, 1, 100_000 * 60_000, "home", "mobile", "g-small", "golden-1"),
    ("s20", 1, 0, 1, 0, "home", None, "g-small", "golden-1"),
    ("s21", 1000, 1000, 0, 0, "home", None, "g-small", "golden-1"),
    ("s22", 1, 0, 1, 1 * 100_000 * 60, "home", None, "g-small", "golden-1"),
    ("s23", 60, 0, 60, 60 * 200_000 * 1000, "eu", "national", "g-small", "golden-1"),
    ("s24", 100, 0, 100, 0, "eu", None, "g-small", "golden-1"),
    ("s25", 61, 0, 61, 61 * 500_000 * 1000, "swiss", "national", "g-small", "golden-1"),
    ("s26", 30, 0, 30, 30 * 200_000 * 1000, "swiss", None, "g-small", "golden-1"),
    ("s27", 1, 0, 1, 200_000 * 60_000, "swiss", "mobile", "g-small", "golden-1"),
    ("s28", 1, 0, 1, 50_000 * 60_000, "swiss", None, "g-small", "golden-1"),
    ("s29", 2, 0, 2, 2 * 500_000 * 60, "swiss", None, "g-small", "golden-1"),
    ("s30", 45, 0, 45, 45 * 750_000 * 1000, "world", None, "g-small", "golden-1"),
    ("s31", 1000, 0, 1000, 1000 * 1_000_000 * 60, "world", None, "g-small", "golden-1"),
    ("p01", 60, 0, 60, 60 * 200_000 * 1000, "home", "national", "g-payg", "golden-1"),
    ("p02", 61, 0, 61, 61 * 200_000 * 1000, "home", "national", "g-payg", "golden-1"),
    ("p03", 0, 0, 0, 0, "home", "national", "g-payg", "golden-1"),
    ("p04", 1, 0, 1, 250_000 * 60_000, "home", "premium", "g-payg", "golden-1"),
    ("p05", 3, 0, 3, 3 * 100_000 * 60, "home", None, "g-payg", "golden-1"),
    ("p06", 60, 0, 60, 60 * 500_000 * 1000, "swiss", "national", "g-payg", "golden-1"),
    ("m01", 36, 36, 0, 0, "home", "national", "g-max", "golden-1"),
    ("m02", 102, 0, 102, 102 * 900_000 * 1000, "home", "intl-world", "g-max", "golden-1"),
    ("m03", 5_000_000, 5_000_000, 0, 0, "home", None, "g-max", "golden-1"),
    ("m04", 30, 30, 0, 0, "home", "national", "g-max", "golden-1"),
    ("m05", 20, 0, 20, 0, "home", None, "g-max", "golden-1"),
    ("c01", 700, 600, 100, 100 * 200_000 * 1000, "home", "national", "g-small", "golden-1"),
    ("c02", 60, 0, 60, 60 * 200_000 * 1000, "home", "national", "g-payg", "golden-1"),
    ("l01", 900, 900, 0, 0, "home", "national", "g-small", "golden-2"),
    ("l0a", 200, 200, 0, 0, "home", "national", "g-small", "golden-2"),
    ("l0b", 200, 100, 100, 100 * 300_000 * 1000, "home", "national", "g-small", "golden-2"),
]


@pytest.fixture
def golden_lines(make_line) -> dict[str, object]:
    return golden_records(make_line)


class TestGoldenCases:
    def test_every_record_is_priced_as_computed_by_hand(self, golden_lines, engine: str) -> None:
        summary = services.rate_cycle(CYCLE, engine=engine)

        rows = rated_rows()
        got = {
            record_id: (
                record_id,
                row["quantity"],
                row["included"],
                row["charged"],
                row["charge_units"],
                row["zone_code"],
                row["class_code"],
                row["plan_code"],
                row["catalog_version"],
            )
            for record_id, row in rows.items()
            if row["status"] == "rated"
        }
        assert got == {expected[0]: expected for expected in EXPECTED}
        assert rows["x01"]["status"] == "unrated"
        assert rows["x01"]["unrated_reason"] == "no_line"
        assert "o01" not in rows
        assert "o02" not in rows
        assert summary.records == len(EXPECTED) + 1
        assert summary.unrated == {"no_line": 1}
        assert summary.charge_units == {"GBP": sum(e[4] for e in EXPECTED)}

    def test_zone_kinds_and_directions(self, golden_lines, engine: str) -> None:
        services.rate_cycle(CYCLE, engine=engine)

        rows = rated_rows()
        assert rows["s23"]["zone_kind"] == "roam_like_at_home"
        assert rows["s25"]["zone_kind"] == "priced"
        assert rows["s30"]["zone_kind"] == "rest_of_world"
        assert rows["s07"]["direction"] == "in"
        assert rows["s21"]["direction"] == "out"
        assert rows["s21"]["service"] == "data"
        assert rows["s21"]["usage_date"].isoformat() == "2026-10-06"

    def test_each_line_is_in_its_shard(self, golden_lines, engine: str) -> None:
        services.rate_cycle(CYCLE, engine=engine)

        seen = 0
        for part in store.cycle_parts(CYCLE):
            shard = Path(part).parent.name.removeprefix(f"{store.SHARD_COLUMN}=")
            for line_id in pq.read_table(part, columns=["line_id"]).column("line_id").to_pylist():
                seen += 1
                if line_id is not None:
                    assert shard == str(store.shard_of(line_id))
                    assert part in store.cycle_parts(CYCLE, line_id)
        assert seen == len(rated_rows())


class TestDatabaseOutputs:
    def test_summaries_and_allowances(self, golden_lines) -> None:
        services.rate_cycle(CYCLE)

        switcher = golden_lines["switcher"]
        charges = services.cycle_charges(switcher, CYCLE)
        assert [(c.plan_code, c.class_code, c.quantity, c.included, c.charge) for c in charges] == [
            ("g-payg", "national", 60, 0, Decimal("0.2")),
            ("g-small", "national", 700, 600, units_to_decimal(100 * 200_000 * 1000)),
        ]
        assert services.to_minor_units(charges[1].charge, "GBP") == 33
        statuses = services.allowance_status(switcher, CYCLE)
        assert [(s.plan_code, s.service, s.allowed, s.used, s.remaining) for s in statuses] == [
            ("g-small", "voice", 600, 600, 0),
            ("g-small", "sms", 5, 0, 5),
            ("g-small", "data", 1000, 0, 1000),
        ]
        unlimited = services.allowance_status(golden_lines["max"], CYCLE)
        assert [(s.service, s.allowed, s.used, s.remaining) for s in unlimited] == [
            ("voice", None, 66, None),
            ("sms", None, 0, None),
            ("data", None, 5_000_000, None),
        ]
        late = services.allowance_status(golden_lines["late"], CYCLE)
        assert late[0].allowed == 1200  # the terms at the bucket's first record (golden-2)
        run = RatingRun.objects.get(cycle=CYCLE)
        assert run.records == len(EXPECTED) + 1
        assert run.unrated_by_reason == {"no_line": 1}

    def test_summaries_equal_the_sum_of_rated_records(self, golden_lines) -> None:
        services.rate_cycle(CYCLE)

        rows = [row for row in rated_rows().values() if row["status"] == "rated"]
        summaries = RatedUsageSummary.objects.filter(cycle=CYCLE)
        assert sum(s.records for s in summaries) == len(rows)
        assert sum(s.charge_units for s in summaries) == sum(r["charge_units"] for r in rows)
        assert sum(s.quantity for s in summaries) == sum(r["quantity"] for r in rows)
        assert sum(s.included for s in summaries) == sum(r["included"] for r in rows)


class TestReRating:
    def test_rating_twice_gives_identical_output(self, golden_lines) -> None:
        services.rate_cycle(CYCLE)
        first = rated_rows()
        summaries = sorted(
            RatedUsageSummary.objects.filter(cycle=CYCLE).values_list(
                "line_id", "plan_code", "service", "direction", "zone_code", "class_code",
                "records", "quantity", "included", "charged", "charge_units",
            )
        )  # fmt: skip

        services.rate_cycle(CYCLE)

        assert rated_rows() == first
        assert (
            sorted(
                RatedUsageSummary.objects.filter(cycle=CYCLE).values_list(
                    "line_id", "plan_code", "service", "direction", "zone_code", "class_code",
                    "records", "quantity", "included", "charged", "charge_units",
                )
            )
            == summaries
        )  # fmt: skip
        assert len(list((store.rated_root() / store.RUNS).iterdir())) == 1

    def test_a_catalogue_correction_replaces_the_old_output(self, golden_lines) -> None:
        services.rate_cycle(CYCLE)
        before = rated_rows()["l0b"]["charge_units"]
        text = (
            (Path(__file__).parent / "golden-v2.toml")
            .read_text()
            .replace('version = "golden-2"', 'version = "golden-2b"')
            .replace("2026-10-16T00:00:00Z", "2026-10-16T06:00:00Z")
            .replace("national = 0.30", "national = 0.40")
        )
        lines.load_catalog(text, source_name="golden-v2b.toml")

        services.rate_cycle(CYCLE)

        after = rated_rows()["l0b"]
        assert before == 100 * 300_000 * 1000
        assert after["charge_units"] == 100 * 400_000 * 1000
        assert after["catalog_version"] == "golden-2b"
        assert RatingRun.objects.filter(cycle=CYCLE).count() == 2
        assert AllowanceUse.objects.filter(cycle=CYCLE).count() > 0


class TestCommand:
    def test_rate_prints_a_summary(self, golden_lines, capsys) -> None:
        call_command("usage", "rate", "--cycle", CYCLE, "--quiet")

        out = capsys.readouterr()
        assert f"{len(EXPECTED) + 1:,} records" in out.out
        assert "no_line 1" in out.out
        assert "GBP" in out.out
        assert "have no ingested usage file" in out.err

    @pytest.mark.parametrize("bad", ["2026-13", "2026-1", "October", "2026-10-01"])
    def test_a_bad_cycle_is_refused(self, bad: str, data_dir) -> None:
        with pytest.raises(CommandError, match="cycle"):
            call_command("usage", "rate", "--cycle", bad, "--quiet")

    def test_an_empty_cycle_says_so(self, golden, capsys) -> None:
        call_command("usage", "rate", "--cycle", "2026-05", "--quiet")

        assert "No usage in the lake for 2026-05" in capsys.readouterr().out

    def test_a_busy_lake_is_refused(self, golden) -> None:
        from kindwave.usage import lake

        with lake.exclusive_writer(), pytest.raises(CommandError, match="another"):
            call_command("usage", "rate", "--cycle", CYCLE, "--quiet")
