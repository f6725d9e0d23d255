"""Importing a simulated operator: people, active lines, plans and causes — once."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from kindwave.accounts.models import User
from kindwave.causes.models import Cause
from kindwave.lines import selectors, services
from kindwave.lines.models import (
    CauseChoice,
    Line,
    LineStateChange,
    Market,
    NumberBlock,
    PhoneNumber,
    PlanSubscription,
    SimCard,
)
from kindwave.lines.services import SUBSCRIBER_COLUMNS, InvalidSimulationError

from .conftest import FIRST_IMSI, iccid

pytestmark = pytest.mark.django_db

ROWS = [
    # ref, given, family, email, language, tz, msisdn, serial, imsi, plan, cause, activated
    ("gb-00000001", "Zoë", "Brontë", "zoe.bronte.1@example.org", "en", "Europe/London",
     "+447400100003", 0, "234307000000000", "gb-everyday", "wateraid", "2024-05-08T11:09:05Z"),
    ("gb-00000002", "Siân", "Ó Briain", "sian.obriain.2@example.org", "fr", "Europe/Paris",
     "+447400100007", 1, "234307000000001", "gb-starter", "", "2026-02-19T16:01:06Z"),
    ("gb-00000003", "Ali", "Khan", "ali.khan.3@example.org", "en", "Europe/London",
     "+447400100311", 2, "234307000000002", "gb-payg", "wwf-uk", "2025-12-31T23:59:59+00:00"),
]  # fmt: skip


def write_operator(directory: Path, rows: list[tuple[object, ...]] = ROWS) -> Path:
    directory.mkdir(exist_ok=True)
    simulation = {
        "generator": "kindwave simulate",
        "host_network": {"country": "GB", "plmn": "234-30", "operator": "EE", "language": "en"},
        "number_blocks": [{"first": "+447400100000", "last": "+447400100019"}],
        "sim_ranges": [
            {
                "iccid_first": iccid(202_600_000_000),
                "iccid_last": iccid(202_600_000_019),
                "imsi_first": FIRST_IMSI,
                "imsi_last": "234307000000019",
                "count": 20,
            }
        ],
    }
    (directory / "simulation.json").write_text(json.dumps(simulation), "utf-8")
    with (directory / "subscribers.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(SUBSCRIBER_COLUMNS)
        for ref, given, family, email, lang, tz, msisdn, serial, imsi, plan, cause, since in rows:
            writer.writerow(
                [ref, given, family, email, lang, tz, msisdn, iccid(202_600_000_000 + int(serial)),
                 imsi, plan, cause, since, "234-30-1001-53"]
            )  # fmt: skip
    return directory


@pytest.fixture
def operator(tmp_path: Path, gb: Market, demo_causes: dict[str, Cause]) -> Path:
    return write_operator(tmp_path / "sim")


def test_imports_people_lines_plans_and_causes(
    operator: Path, demo_causes: dict[str, Cause]
) -> None:
    progress: list[tuple[int, int]] = []
    summary = services.import_simulated_operator(operator, progress=lambda *p: progress.append(p))
    assert (summary.market, summary.rows, summary.lines_created, summary.lines_already_present) == (
        "GB",
        3,
        3,
        0,
    )
    assert (summary.users_created, summary.number_blocks_created, summary.sims_added_to_stock) == (
        3,
        1,
        20,
    )
    assert progress == [(0, 3), (3, 3)]

    zoe = User.objects.get(email="zoe.bronte.1@example.org")
    assert (zoe.full_name, zoe.language, zoe.is_email_verified) == ("Zoë Brontë", "en", True)
    assert not zoe.has_usable_password()
    sian = User.objects.get(email="sian.obriain.2@example.org")
    assert (sian.full_name, sian.language, sian.time_zone) == (
        "Siân Ó Briain",
        "fr",
        "Europe/Paris",
    )

    line = Line.objects.get(msisdn="+447400100003")
    since = datetime(2024, 5, 8, 11, 9, 5, tzinfo=UTC)
    assert (line.owner, line.state, line.activated_at, line.external_ref) == (
        zoe,
        "active",
        since,
        "gb-00000001",
    )
    assert (line.sim.iccid, line.sim.imsi, line.sim.status) == (
        iccid(202_600_000_000),
        "234307000000000",
        "assigned",
    )
    assert line.number is not None
    assert line.number.status == "assigned"
    assert list(line.state_changes.values_list("from_state", "to_state", "at")) == [
        ("", "ordered", since),
        ("ordered", "active", since),
    ]
    assert selectors.line_state_at(line, since) == "active"
    assert selectors.subscription_in_force(line, since).plan_code == "gb-everyday"  # type: ignore[union-attr]
    assert selectors.cause_in_force(line, since) == demo_causes["wateraid"]
    no_choice = Line.objects.get(msisdn="+447400100007")
    assert CauseChoice.objects.get(line=no_choice).cause is None

    # A number outside the operator's blocks (ported in, say) is imported as it is.
    outside = Line.objects.get(msisdn="+447400100311")
    assert outside.number is None
    assert PhoneNumber.objects.filter(status="available").count() == 18
    assert SimCard.objects.filter(status="available").count() == 17


def test_running_it_again_imports_nothing_twice(operator: Path) -> None:
    services.import_simulated_operator(operator)
    counts = [
        model.objects.count()
        for model in (
            User,
            Line,
            LineStateChange,
            PlanSubscription,
            CauseChoice,
            NumberBlock,
            SimCard,
        )
    ]
    summary = services.import_simulated_operator(operator)
    assert (summary.lines_created, summary.lines_already_present, summary.users_created) == (
        0,
        3,
        0,
    )
    assert (summary.number_blocks_created, summary.sims_added_to_stock) == (0, 0)
    assert counts == [
        model.objects.count()
        for model in (
            User,
            Line,
            LineStateChange,
            PlanSubscription,
            CauseChoice,
            NumberBlock,
            SimCard,
        )
    ]


def test_new_rows_are_added_on_a_later_run(operator: Path, tmp_path: Path) -> None:
    services.import_simulated_operator(write_operator(operator, ROWS[:1]))
    summary = services.import_simulated_operator(write_operator(operator, ROWS))
    assert (summary.lines_created, summary.lines_already_present) == (2, 1)


def test_a_person_already_known_gets_the_line(operator: Path, alice: User) -> None:
    rows = [(*ROWS[0][:3], "alice@example.org", *ROWS[0][4:])]
    summary = services.import_simulated_operator(write_operator(operator, rows))
    assert (summary.users_created, summary.users_reused) == (0, 1)
    assert Line.objects.get().owner == alice


@pytest.mark.parametrize(
    ("index", "value", "expected"),
    [
        (9, "gb-gold", "subscribers.csv line 3 (subscriber gb-00000002): unknown plan code "
         "'gb-gold' (GB plans: gb-everyday, gb-payg, gb-starter, gb-unlimited)"),
        (10, "no-such-cause", "subscribers.csv line 3 (subscriber gb-00000002): unknown cause "
         "slug 'no-such-cause'"),
        (6, "+33612345678", "subscribers.csv line 3 (subscriber gb-00000002): +33612345678 is a "
         "number of FR, not of GB."),
        (8, "208017000000001", "subscribers.csv line 3 (subscriber gb-00000002): IMSI "
         "208017000000001: does not belong to the host network 234-30."),
        (11, "2026-02-19T16:01:06", "subscribers.csv line 3 (subscriber gb-00000002): "
         "activated_at '2026-02-19T16:01:06' must be an ISO 8601 date-time with a time zone"),
        (3, "zoe.bronte.1@example.org", "subscribers.csv line 3 (subscriber gb-00000002): email "
         "zoe.bronte.1@example.org already appears on line 2"),
        (5, "Mars/Olympus", "subscribers.csv line 3 (subscriber gb-00000002): 'Mars/Olympus' is "
         "not a time zone"),
    ],
)  # fmt: skip
def test_a_bad_row_is_named_and_nothing_is_imported(
    operator: Path, index: int, value: str, expected: str
) -> None:
    row = list(ROWS[1])
    row[index] = value
    write_operator(operator, [ROWS[0], tuple(row), ROWS[2]])
    with pytest.raises(InvalidSimulationError) as caught:
        services.import_simulated_operator(operator)
    assert expected in caught.value.problems
    assert (Line.objects.count(), User.objects.count(), NumberBlock.objects.count()) == (0, 0, 0)


def test_every_bad_row_is_reported_at_once(operator: Path) -> None:
    rows = [(*row[:9], "gb-gold", *row[10:]) for row in ROWS]
    write_operator(operator, rows)
    with pytest.raises(InvalidSimulationError) as caught:
        services.import_simulated_operator(operator)
    assert len(caught.value.problems) == 3


def test_missing_columns(operator: Path) -> None:
    (operator / "subscribers.csv").write_text("subscriber_ref,email\nx,y\n", "utf-8")
    with pytest.raises(InvalidSimulationError, match="missing columns given_name, family_name"):
        services.import_simulated_operator(operator)


def test_market_without_catalogue(tmp_path: Path, db: None) -> None:
    with pytest.raises(InvalidSimulationError, match="No catalogue is loaded for GB"):
        services.import_simulated_operator(write_operator(tmp_path / "sim"))


def test_another_host_network_is_refused(operator: Path) -> None:
    data = json.loads((operator / "simulation.json").read_text("utf-8"))
    data["host_network"]["plmn"] = "234-15"
    (operator / "simulation.json").write_text(json.dumps(data), "utf-8")
    with pytest.raises(InvalidSimulationError, match="the host network is 234-15"):
        services.import_simulated_operator(operator)


def test_broken_simulation_json(operator: Path) -> None:
    (operator / "simulation.json").write_text('{"host_network": {"country": "DE"}}', "utf-8")
    with pytest.raises(InvalidSimulationError, match=r"host_network\.country must be one of"):
        services.import_simulated_operator(operator)


def test_the_command(operator: Path, capsys: pytest.CaptureFixture[str]) -> None:
    call_command("lines", "import", str(operator), "--quiet")
    assert "GB: 3 lines imported, 0 already there; 3 people created" in capsys.readouterr().out
    bad = write_operator(operator.parent / "bad", [(*ROWS[0][:9], "gb-gold", *ROWS[0][10:])])
    with pytest.raises(CommandError, match="unknown plan code 'gb-gold'"):
        call_command("lines", "import", str(bad), "--quiet")


def test_stock_commands(gb: Market, capsys: pytest.CaptureFixture[str]) -> None:
    call_command("lines", "add-numbers", "GB", "+447400200000", "+447400200099")
    assert "Added +447400200000…+447400200099 (100 numbers)." in capsys.readouterr().out
    call_command("lines", "add-sims", "GB", iccid(1), FIRST_IMSI, "5")
    assert "Added 5 SIMs to stock." in capsys.readouterr().out
    with pytest.raises(CommandError, match="overlaps"):
        call_command("lines", "add-numbers", "GB", "+447400200050", "+447400200199")


@pytest.mark.slow
def test_imports_the_simulators_real_output(
    tmp_path: Path, gb: Market, demo_causes: object
) -> None:
    call_command("simulate", str(tmp_path / "sim"), country="GB", subscribers=60, days=1, seed=7)
    summary = services.import_simulated_operator(tmp_path / "sim")
    assert summary.lines_created == 60
    assert services.import_simulated_operator(tmp_path / "sim").lines_created == 0
