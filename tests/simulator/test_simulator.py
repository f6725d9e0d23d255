"""``kindwave simulate``: determinism, validity of every record, and the daily life it depicts.

The simulations are small (a few hundred subscribers over three days, starting
on the default Thursday so that a Saturday is included) and shared per module.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from io import StringIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import phonenumbers
import pytest
from django.core.management import CommandError, call_command

from kindwave.simulator.contract import SUBSCRIBERS_HEADER
from kindwave.simulator.countries import HOST_COUNTRIES, INTERNATIONAL, RoamingZone
from kindwave.simulator.geography import geohash
from kindwave.simulator.management.commands.simulate import Command
from kindwave.simulator.numbering import TemplateSet, luhn_valid, mix64
from kindwave.simulator.run import (
    SimulationArgumentError,
    SimulationOptions,
    SimulationSummary,
    make_options,
    simulate,
)
from kindwave.usage.fileformat import (
    COLUMNS,
    HEADER_LINE,
    RECORD_TYPES,
    hour_of_file,
    read_usage_file,
    validate_record,
)

SUBSCRIBERS = 400
DAYS = 3


@dataclass(frozen=True)
class Record:
    hour: datetime
    file: Path
    line: int
    row: dict[str, str]

    @property
    def start(self) -> datetime:
        return datetime.strptime(self.row["start_time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class Simulation:
    out_dir: Path
    summary: SimulationSummary
    manifest: dict
    subscribers: list[dict[str, str]]
    cells: list[dict[str, str]]
    records: list[Record]

    @property
    def plmn(self) -> str:
        return self.manifest["host_network"]["plmn"]

    @property
    def by_msisdn(self) -> dict[str, dict[str, str]]:
        return {subscriber["msisdn"]: subscriber for subscriber in self.subscribers}

    def at_home_network(self) -> list[Record]:
        return [r for r in self.records if r.row["visited_plmn"] == self.plmn]


def run_simulation(
    out_dir: Path, country: str, subscribers: int, days: int, seed: int
) -> Simulation:
    summary = simulate(
        make_options(
            country=country,
            subscribers=subscribers,
            days=days,
            seed=seed,
            start=None,
            out_dir=out_dir,
        )
    )
    return load(out_dir, summary)


def load(out_dir: Path, summary: SimulationSummary) -> Simulation:
    records = []
    for path in sorted((out_dir / "usage").glob("*/*.csv.gz")):
        hour = hour_of_file(path)
        records.extend(Record(hour, path, line, row) for line, row in read_usage_file(path))
    with (out_dir / "subscribers.csv").open(encoding="utf-8", newline="") as handle:
        subscribers = list(csv.DictReader(handle))
    with (out_dir / "cells.csv").open(encoding="utf-8", newline="") as handle:
        cells = list(csv.DictReader(handle))
    manifest = json.loads((out_dir / "simulation.json").read_text(encoding="utf-8"))
    return Simulation(out_dir, summary, manifest, subscribers, cells, records)


@pytest.fixture(scope="module")
def gb(tmp_path_factory: pytest.TempPathFactory) -> Simulation:
    return run_simulation(tmp_path_factory.mktemp("gb") / "out", "GB", SUBSCRIBERS, DAYS, seed=11)


@pytest.fixture(scope="module", params=["GB", "FR", "US"])
def any_country(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Simulation:
    out_dir = tmp_path_factory.mktemp(request.param.lower()) / "out"
    return run_simulation(out_dir, request.param, 250, 2, seed=5)


def all_files(out_dir: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(out_dir)): path.read_bytes()
        for path in sorted(out_dir.rglob("*"))
        if path.is_file()
    }


class TestDeterminism:
    def test_same_arguments_give_byte_identical_files(self, tmp_path: Path) -> None:
        # Given two runs with the same arguments into different directories
        run_simulation(tmp_path / "one", "FR", 150, 2, seed=42)
        run_simulation(tmp_path / "two", "FR", 150, 2, seed=42)

        # Then every file exists in both and has the same bytes
        one, two = all_files(tmp_path / "one"), all_files(tmp_path / "two")
        assert one.keys() == two.keys()
        assert len(one) == 3 + 2 * 24
        for name, content in one.items():
            assert content == two[name], name

    def test_another_seed_gives_other_usage(self, tmp_path: Path) -> None:
        run_simulation(tmp_path / "one", "GB", 100, 1, seed=1)
        run_simulation(tmp_path / "two", "GB", 100, 1, seed=2)
        assert all_files(tmp_path / "one") != all_files(tmp_path / "two")

    def test_gzip_header_has_no_name_and_no_time(self, gb: Simulation) -> None:
        header = gb.records[0].file.read_bytes()[:10]
        flags, mtime = header[3], header[4:8]
        assert header[:3] == b"\x1f\x8b\x08"
        assert flags == 0  # no FNAME, no comment, no extra field
        assert mtime == b"\x00\x00\x00\x00"


class TestUsageFiles:
    def test_every_record_is_valid_in_the_file_of_its_hour(self, any_country: Simulation) -> None:
        known_cells = frozenset(cell["cell_id"] for cell in any_country.cells)
        problems = [
            (record.file.name, record.line, problem)
            for record in any_country.records
            for problem in validate_record(
                record.row,
                home_plmn=any_country.plmn,
                known_cells=known_cells,
                file_hour=record.hour,
            )
        ]
        assert problems == []
        assert len(any_country.records) == any_country.summary.records

    def test_one_file_per_hour_in_a_folder_per_day(self, gb: Simulation) -> None:
        names = sorted(
            str(path.relative_to(gb.out_dir / "usage"))
            for path in (gb.out_dir / "usage").rglob("*")
            if path.is_file()
        )
        expected = [
            f"2026-10-0{day}/usage-2026100{day}T{hour:02d}.csv.gz"
            for day in range(1, DAYS + 1)
            for hour in range(24)
        ]
        assert names == expected

    def test_an_hour_without_records_still_has_its_file(self, tmp_path: Path) -> None:
        # Given a single subscriber, whose nights are mostly silent
        sim = run_simulation(tmp_path / "out", "GB", 1, 1, seed=3)

        files = sorted((tmp_path / "out" / "usage").rglob("*.csv.gz"))
        assert len(files) == 24
        empty = [path for path in files if not list(read_usage_file(path))]
        assert empty, "expected at least one silent hour for a lone subscriber"
        with gzip.open(empty[0], "rt", encoding="utf-8", newline="") as handle:
            assert handle.read() == HEADER_LINE + "\n"
        assert sim.summary.hour_files == 24

    def test_records_are_sorted_by_start_time_then_record_id(self, gb: Simulation) -> None:
        by_file: dict[Path, list[tuple[str, str]]] = {}
        for record in gb.records:
            by_file.setdefault(record.file, []).append(
                (record.row["start_time"], record.row["record_id"])
            )
        for keys in by_file.values():
            assert keys == sorted(keys)

    def test_record_ids_are_unique_across_the_simulation(self, gb: Simulation) -> None:
        ids = [record.row["record_id"] for record in gb.records]
        assert len(set(ids)) == len(ids)

    def test_header_and_line_ends(self, gb: Simulation) -> None:
        raw = gzip.decompress(gb.records[-1].file.read_bytes())
        assert raw.startswith(HEADER_LINE.encode() + b"\n")
        assert b"\r" not in raw
        assert raw.endswith(b"\n")

    def test_volume_is_realistic(self, gb: Simulation) -> None:
        per_subscriber_day = len(gb.records) / SUBSCRIBERS / DAYS
        assert 20 <= per_subscriber_day <= 60
        counts = Counter(record.row["record_type"] for record in gb.records)
        assert counts["data"] > sum(counts[t] for t in RECORD_TYPES if t != "data")

    def test_incoming_and_outgoing_voice_and_sms(self, gb: Simulation) -> None:
        counts = Counter(record.row["record_type"] for record in gb.records)
        assert all(counts[record_type] > 100 for record_type in RECORD_TYPES)

    def test_durations_and_volumes_are_heavy_tailed(self, gb: Simulation) -> None:
        calls = np.array(
            [int(r.row["duration_s"]) for r in gb.records if r.row["record_type"] == "voice_mo"]
        )
        volumes = np.array(
            [int(r.row["bytes_down"]) for r in gb.records if r.row["record_type"] == "data"]
        )
        # A long right tail: the mean well above the median, and some very large values.
        assert calls.mean() > 1.3 * np.median(calls)
        assert calls.max() > 10 * np.median(calls)
        assert volumes.mean() > 3 * np.median(volumes)
        assert all(
            int(r.row["duration_s"]) > 0 for r in gb.records if r.row["record_type"] == "data"
        )


class TestDailyLife:
    def test_nights_are_mostly_spent_at_home(self, any_country: Simulation) -> None:
        subscribers = any_country.by_msisdn
        at_home = []
        for record in any_country.at_home_network():
            subscriber = subscribers[record.row["msisdn"]]
            if record.start.astimezone(ZoneInfo(subscriber["time_zone"])).hour < 6:
                at_home.append(record.row["cell_id"] == subscriber["home_cell_id"])
        assert len(at_home) > 200
        assert sum(at_home) / len(at_home) > 0.7

    def test_weekday_daytime_is_away_from_home_more_than_at_weekends(self, gb: Simulation) -> None:
        subscribers = gb.by_msisdn
        away: dict[bool, list[bool]] = {False: [], True: []}
        for record in gb.at_home_network():
            local = record.start.astimezone(ZoneInfo("Europe/London"))
            if 10 <= local.hour < 16:
                home = subscribers[record.row["msisdn"]]["home_cell_id"]
                away[local.weekday() >= 5].append(record.row["cell_id"] != home)
        weekday = sum(away[False]) / len(away[False])
        weekend = sum(away[True]) / len(away[True])
        assert weekday > weekend + 0.08

    def test_activity_follows_the_clock(self, gb: Simulation) -> None:
        hours = Counter(
            r.start.astimezone(ZoneInfo("Europe/London")).hour
            for r in gb.records
            if r.row["record_type"] == "voice_mo"
        )
        assert hours[18] > 5 * hours[4]

    def test_some_roam_in_the_eu_and_some_beyond(self, gb: Simulation) -> None:
        zones = {n["plmn"]: n["zone"] for n in gb.manifest["visited_networks"]}
        roaming = [r for r in gb.records if r.row["visited_plmn"] != gb.plmn]
        seen = Counter(zones[r.row["visited_plmn"]] for r in roaming)
        assert seen[RoamingZone.EU_EEA.value] > 0
        assert seen[RoamingZone.WORLD.value] > 0
        # Abroad, the cell is the visited network's and not one of ours.
        known_cells = {cell["cell_id"] for cell in gb.cells}
        assert all(r.row["cell_id"].startswith(r.row["visited_plmn"] + "-") for r in roaming)
        assert not any(r.row["cell_id"] in known_cells for r in roaming)

    def test_no_usage_before_activation(self, gb: Simulation) -> None:
        window_start = "2026-10-01T00:00:00Z"
        joined = {
            s["msisdn"]: s["activated_at"]
            for s in gb.subscribers
            if s["activated_at"] >= window_start
        }
        assert joined, "some subscribers should join during the window"
        assert len(joined) < SUBSCRIBERS / 5
        for record in gb.records:
            since = joined.get(record.row["msisdn"])
            assert since is None or record.row["start_time"] >= since


class TestCounterparts:
    def test_premium_freephone_and_short_codes(self, gb: Simulation) -> None:
        counterparts = Counter()
        for record in gb.records:
            number = record.row["counterpart"]
            if number.startswith("+449"):
                counterparts["premium"] += 1
            elif number.startswith(("+44800", "+44808")):
                counterparts["freephone"] += 1
            elif re.fullmatch(r"[0-9]{3,6}", number):
                counterparts["short code"] += 1
            elif number.startswith("+") and not number.startswith("+44"):
                counterparts["abroad"] += 1
        assert all(
            counterparts[kind] > 0 for kind in ("premium", "freephone", "short code", "abroad")
        )

    @pytest.mark.parametrize(
        ("country", "premium", "freephone"),
        [("FR", "+33 8 9", "+33 800"), ("US", "+1 900", "+1 800")],
    )
    def test_premium_and_freephone_in_other_countries(
        self, country: str, premium: str, freephone: str
    ) -> None:
        host = HOST_COUNTRIES[country]
        premium_numbers = TemplateSet.of(host.premium).pick(mix64(np.arange(50, dtype=np.uint64)))
        freephone_numbers = TemplateSet.of(host.freephone).pick(
            mix64(np.arange(50, dtype=np.uint64))
        )
        assert all(f"+{n}".startswith(premium.replace(" ", "")) for n in premium_numbers)
        assert any(f"+{n}".startswith(freephone.replace(" ", "")) for n in freephone_numbers)

    def test_calls_between_subscribers_have_both_sides(self, gb: Simulation) -> None:
        subscribers = gb.by_msisdn
        outgoing = {
            (r.row["msisdn"], r.row["counterpart"], r.row["start_time"], r.row["duration_s"])
            for r in gb.records
            if r.row["record_type"] == "voice_mo" and r.row["counterpart"] in subscribers
        }
        incoming = {
            (r.row["counterpart"], r.row["msisdn"], r.row["start_time"], r.row["duration_s"])
            for r in gb.records
            if r.row["record_type"] == "voice_mt"
        }
        assert len(outgoing) > 20
        assert outgoing <= incoming

    def test_counterpart_numbers_are_valid(self, any_country: Simulation) -> None:
        numbers = {
            r.row["counterpart"]
            for r in any_country.records
            if r.row["counterpart"].startswith("+")
        }
        invalid = [n for n in numbers if not phonenumbers.is_valid_number(phonenumbers.parse(n))]
        assert invalid == []

    @pytest.mark.parametrize("code", [*sorted(HOST_COUNTRIES), "abroad"])
    def test_every_number_template_gives_valid_numbers(self, code: str) -> None:
        if code == "abroad":
            templates = INTERNATIONAL
        else:
            host = HOST_COUNTRIES[code]
            templates = (*host.mobile, *host.landline, *host.premium, *host.freephone)
        for template in templates:
            # Every two-digit continuation of the prefix, then arbitrary digits.
            rest = template.free_digits - 2
            tails = (mix64(np.arange(100, dtype=np.uint64)) % np.uint64(10**rest)).tolist()
            numbers = [
                f"+{template.prefix}{head:02d}{tail:0{rest}d}"
                for head, tail in zip(range(100), tails, strict=False)
            ]
            invalid = [
                n for n in numbers if not phonenumbers.is_valid_number(phonenumbers.parse(n))
            ]
            assert invalid == [], template


class TestSubscribers:
    def test_contract_columns_and_values(self, any_country: Simulation) -> None:
        host = HOST_COUNTRIES[any_country.manifest["host_network"]["country"]]
        text = (any_country.out_dir / "subscribers.csv").read_text(encoding="utf-8")
        assert text.splitlines()[0] == ",".join(SUBSCRIBERS_HEADER)
        cell_ids = {cell["cell_id"] for cell in any_country.cells}
        for subscriber in any_country.subscribers:
            assert subscriber["plan_code"] in {plan.code for plan in host.plans}
            assert subscriber["cause_slug"] in {*host.causes, ""}
            assert subscriber["language"] == host.language
            assert subscriber["home_cell_id"] in cell_ids
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", subscriber["activated_at"])
            ZoneInfo(subscriber["time_zone"])
        refs = [s["subscriber_ref"] for s in any_country.subscribers]
        assert len(set(refs)) == len(refs)

    def test_about_one_in_ten_chose_no_cause(self, gb: Simulation) -> None:
        no_cause = sum(1 for s in gb.subscribers if not s["cause_slug"]) / len(gb.subscribers)
        assert 0.04 < no_cause < 0.18

    def test_unlimited_plans_use_more_data(self, gb: Simulation) -> None:
        plan = {s["msisdn"]: s["plan_code"] for s in gb.subscribers}
        volume: Counter[str] = Counter()
        for record in gb.records:
            volume[plan[record.row["msisdn"]]] += int(record.row["bytes_down"])
        people = Counter(plan.values())
        per_person = {code: volume[code] / people[code] for code in people}
        assert per_person["gb-unlimited"] > 1.5 * per_person["gb-payg"]

    def test_emails_are_unique_ascii(self, any_country: Simulation) -> None:
        emails = [s["email"] for s in any_country.subscribers]
        assert len(set(emails)) == len(emails)
        assert all(re.fullmatch(r"[a-z0-9]+\.[a-z0-9]+\.\d+@example\.org", e) for e in emails)

    def test_french_names_keep_their_accents(self, tmp_path: Path) -> None:
        sim = run_simulation(tmp_path / "fr", "FR", 300, 1, seed=9)
        names = " ".join(s["given_name"] + " " + s["family_name"] for s in sim.subscribers)
        assert re.search(r"[éèëïçôâêî]", names)
        assert all(s["time_zone"] == "Europe/Paris" for s in sim.subscribers)

    def test_msisdns_are_valid_and_inside_the_number_blocks(self, any_country: Simulation) -> None:
        region = any_country.manifest["host_network"]["country"]
        blocks = [
            (int(block["first"]), int(block["last"]))
            for block in any_country.manifest["number_blocks"]
        ]
        msisdns = [s["msisdn"] for s in any_country.subscribers]
        assert len(set(msisdns)) == len(msisdns)
        for msisdn in msisdns:
            parsed = phonenumbers.parse(msisdn)
            assert phonenumbers.is_valid_number_for_region(parsed, region), msisdn
            assert any(first <= int(msisdn) <= last for first, last in blocks)
        if region == "GB":
            assert all(m.startswith("+447") for m in msisdns)
        if region == "FR":
            assert all(m.startswith(("+336", "+337")) for m in msisdns)

    def test_sims_are_well_formed_and_inside_the_sim_range(self, any_country: Simulation) -> None:
        host = HOST_COUNTRIES[any_country.manifest["host_network"]["country"]]
        (sim_range,) = any_country.manifest["sim_ranges"]
        for subscriber in any_country.subscribers:
            iccid, imsi = subscriber["iccid"], subscriber["imsi"]
            assert len(iccid) == 19
            assert iccid.startswith("89" + host.calling_code)
            assert luhn_valid(iccid), iccid
            assert sim_range["iccid_first"] <= iccid <= sim_range["iccid_last"]
            assert re.fullmatch(r"\d{15}", imsi)
            assert imsi.startswith(host.mcc_mnc)
            assert sim_range["imsi_first"] <= imsi <= sim_range["imsi_last"]
        assert luhn_valid(sim_range["iccid_first"])
        assert luhn_valid(sim_range["iccid_last"])


class TestCellsAndManifest:
    def test_cells(self, gb: Simulation) -> None:
        ids = [cell["cell_id"] for cell in gb.cells]
        assert len(set(ids)) == len(ids)
        for cell in gb.cells:
            assert re.fullmatch(r"234-30-\d{1,5}-\d{1,5}", cell["cell_id"])
            lat, lon = float(cell["lat"]), float(cell["lon"])
            assert 49.5 < lat < 59.5
            assert -8.5 < lon < 2.5
            assert cell["zone_id"] == geohash(lat, lon, 5)
        sites = Counter(cell["site_id"] for cell in gb.cells)
        assert set(sites.values()) <= {3, 6}
        # London (the biggest city) has more sites than any other zone.
        zones = Counter(cell["zone_id"] for cell in gb.cells)
        assert zones.most_common(1)[0][0].startswith("gcp")

    def test_manifest_counts_match_the_files(self, gb: Simulation) -> None:
        counts = gb.manifest["counts"]
        assert gb.manifest["arguments"] == {
            "country": "GB",
            "subscribers": SUBSCRIBERS,
            "days": DAYS,
            "seed": 11,
            "start": "2026-10-01",
        }
        assert counts["records"] == len(gb.records)
        actual = Counter(record.row["record_type"] for record in gb.records)
        assert counts["records_by_type"] == {t: actual[t] for t in RECORD_TYPES}
        assert counts["cells"] == len(gb.cells)
        assert counts["subscribers"] == len(gb.subscribers)
        assert counts["usage_files"] == DAYS * 24
        assert gb.manifest["window"] == {
            "start": "2026-10-01T00:00:00Z",
            "end": "2026-10-04T00:00:00Z",
            "hours": 72,
        }

    def test_summary_line(self, gb: Simulation) -> None:
        line = gb.summary.line()
        assert f"{gb.summary.files:,} files" in line
        assert "records/s" in line
        assert all(record_type in line for record_type in RECORD_TYPES)


def checked(out_dir: Path, **overrides: Any) -> SimulationOptions:
    """Options for a tiny simulation, with ``overrides``, through the argument checks."""
    values: dict[str, Any] = {
        "country": "GB",
        "subscribers": 10,
        "days": 1,
        "seed": 1,
        "start": None,
        "out_dir": out_dir,
    }
    return make_options(**(values | overrides))


class TestArguments:
    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            ({"subscribers": 0}, "--subscribers must be at least 1, got 0"),
            ({"subscribers": -5}, "--subscribers must be at least 1, got -5"),
            ({"country": "DE"}, "unknown country 'DE': choose one of FR, GB, US"),
            ({"days": 0}, "--days must be at least 1, got 0"),
            ({"start": "2026-13-01"}, "--start '2026-13-01' is not a date in the form YYYY-MM-DD"),
            ({"start": "tomorrow"}, "--start 'tomorrow' is not a date in the form YYYY-MM-DD"),
            ({"start": "20261001"}, "--start '20261001' is not a date in the form YYYY-MM-DD"),
            ({"seed": -1}, "--seed must be between 0 and"),
        ],
    )
    def test_nonsense_is_refused_with_a_clear_message(
        self, tmp_path: Path, overrides: dict[str, object], message: str
    ) -> None:
        with pytest.raises(SimulationArgumentError, match=re.escape(message)):
            checked(tmp_path / "out", **overrides)
        assert not (tmp_path / "out").exists()

    def test_every_problem_is_listed_at_once(self, tmp_path: Path) -> None:
        with pytest.raises(SimulationArgumentError) as error:
            checked(tmp_path / "out", subscribers=0, days=0)
        assert "--subscribers" in str(error.value)
        assert "--days" in str(error.value)

    def test_a_non_empty_directory_needs_force(self, tmp_path: Path) -> None:
        (tmp_path / "notes.txt").write_text("mine")
        with pytest.raises(SimulationArgumentError, match="exists and is not empty; pass --force"):
            checked(tmp_path)
        assert (tmp_path / "notes.txt").read_text() == "mine"

    def test_force_never_deletes_files_it_did_not_write(self, tmp_path: Path) -> None:
        (tmp_path / "notes.txt").write_text("mine")
        with pytest.raises(SimulationArgumentError, match=r"did not write \(notes.txt\)"):
            checked(tmp_path, force=True)
        assert (tmp_path / "notes.txt").exists()

    def test_a_file_is_not_a_directory(self, tmp_path: Path) -> None:
        (tmp_path / "out").write_text("")
        with pytest.raises(SimulationArgumentError, match="exists and is not a directory"):
            checked(tmp_path / "out")

    def test_force_rewrites_a_previous_simulation(self, tmp_path: Path) -> None:
        out = tmp_path / "out"
        simulate(checked(out, days=2, seed=1))
        simulate(checked(out, days=1, seed=2, force=True))
        fresh = tmp_path / "fresh"
        simulate(checked(fresh, days=1, seed=2))
        assert all_files(out) == all_files(fresh)

    def test_resume_finishes_an_interrupted_run_with_the_same_bytes(self, tmp_path: Path) -> None:
        # Given a run interrupted after some hours: later hours and the manifest
        # missing, an hour file half-written under its temporary name
        out = tmp_path / "out"
        simulate(checked(out, days=2, seed=6))
        (out / "simulation.json").unlink()
        hours = sorted((out / "usage").rglob("*.csv.gz"))
        kept = hours[0].read_bytes()
        for path in hours[30:]:
            path.unlink()
        hours[30].with_name(hours[30].name + ".partial").write_bytes(b"half")

        # When resumed
        summary = simulate(checked(out, days=2, seed=6, resume=True))

        # Then the output is that of an uninterrupted run, earlier hours untouched
        fresh = tmp_path / "fresh"
        simulate(checked(fresh, days=2, seed=6))
        assert all_files(out) == all_files(fresh)
        assert hours[0].read_bytes() == kept
        assert (
            summary.records
            == json.loads((fresh / "simulation.json").read_text())["counts"]["records"]
        )

    def test_resume_refuses_another_simulation(self, tmp_path: Path) -> None:
        out = tmp_path / "out"
        simulate(checked(out, seed=1))
        with pytest.raises(
            SimulationArgumentError, match="holds a simulation with other arguments"
        ):
            simulate(checked(out, seed=2, resume=True))

    def test_force_and_resume_exclude_each_other(self, tmp_path: Path) -> None:
        with pytest.raises(
            SimulationArgumentError, match="--force and --resume exclude each other"
        ):
            checked(tmp_path, force=True, resume=True)

    def test_start_date(self, tmp_path: Path) -> None:
        chosen = checked(tmp_path / "a", start="2027-02-28")
        assert chosen.start == date(2027, 2, 28)
        default = checked(tmp_path / "b")
        assert default.start == date(2026, 10, 1)


class TestCommand:
    def test_writes_the_files_and_prints_a_summary(self, tmp_path: Path) -> None:
        stdout = StringIO()
        out = tmp_path / "out"
        call_command(
            Command(),
            str(out),
            "--country=US",
            "--subscribers=20",
            "--days=1",
            "--seed=4",
            "--start=2026-11-02",
            stdout=stdout,
        )
        assert "27 files (24 hourly usage files)" in stdout.getvalue()
        assert (out / "usage" / "2026-11-02" / "usage-20261102T00.csv.gz").exists()

    def test_is_found_by_name_once_the_app_is_installed(
        self, tmp_path: Path, settings: Any
    ) -> None:
        # Given the app installed (the project's settings will list it)
        if "kindwave.simulator" not in settings.INSTALLED_APPS:
            settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "kindwave.simulator"]
        stdout = StringIO()

        call_command(
            "simulate",
            str(tmp_path / "out"),
            "--country=gb",
            "--subscribers=5",
            "--days=1",
            "--seed=0",
            stdout=stdout,
        )

        assert "Simulated 5 subscribers" in stdout.getvalue()

    def test_refuses_nonsense_with_a_command_error(self, tmp_path: Path) -> None:
        with pytest.raises(CommandError, match="--subscribers must be at least 1"):
            call_command(
                Command(),
                str(tmp_path / "out"),
                "--country=GB",
                "--subscribers=0",
                "--days=1",
                "--seed=1",
            )


def test_columns_are_the_documented_ones() -> None:
    assert ",".join(COLUMNS) == (
        "record_id,record_type,msisdn,imsi,counterpart,start_time,duration_s,"
        "bytes_up,bytes_down,cell_id,visited_plmn"
    )
