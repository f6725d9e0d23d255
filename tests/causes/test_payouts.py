"""Payouts: the threshold, verified causes only, idempotent re-runs, a crash between two
payouts, and remittance statements that add up to the payout."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import pytest
from django.core.management import CommandError, call_command

from kindwave.causes import payouts, services
from kindwave.causes.models import Cause, Payout, PayoutBatch
from kindwave.ledger import chart
from kindwave.ledger import services as ledger
from kindwave.ledger.models import Account, Transfer, balance
from tests.causes.money import bill_share, donation, posted_at

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def owed(cause: Cause, currency: str = "GBP") -> int:
    return balance(Account.objects.get(code=chart.cause(cause.pk, currency).code))


@pytest.fixture
def wateraid(demo_causes: dict[str, Cause]) -> Cause:
    return demo_causes["wateraid"]


@pytest.fixture
def trussell(demo_causes: dict[str, Cause]) -> Cause:
    return demo_causes["the-trussell-trust"]


@pytest.fixture
def accrued(wateraid: Cause, trussell: Cause, demo_causes: dict[str, Cause]) -> None:
    """WaterAid £62.50 over two months and three sources, Trussell £49.99 (under £50), Emerge
    £80 but no longer verified."""
    bill_share("w1", wateraid, 2_000, datetime(2026, 9, 1, tzinfo=UTC))
    bill_share("w2", wateraid, 1_250, datetime(2026, 10, 1, tzinfo=UTC))
    donation("w3", wateraid, 2_500, datetime(2026, 10, 5, tzinfo=UTC))
    fund = chart.ensure(chart.pledge_fund("GBP"))[0]
    expense = chart.ensure(chart.pledge_expense("GBP"))[0]
    account = chart.ensure(chart.cause(wateraid.pk, "GBP"))[0]
    with posted_at(datetime(2026, 10, 7, tzinfo=UTC)):
        ledger.transfer_linked(
            "pledge:2026-Q3:GBP",
            [
                ledger.Leg(expense, fund, 500, "GBP", "pledge"),
                ledger.Leg(fund, account, 500, "GBP", "pledge"),
            ],
        )
    bill_share("t1", trussell, 4_999, datetime(2026, 10, 1, tzinfo=UTC))
    emerge = demo_causes["emerge-poverty-free"]
    bill_share("e1", emerge, 8_000, datetime(2026, 10, 1, tzinfo=UTC))
    services.withdraw_verification(emerge)


def test_only_verified_causes_at_the_threshold_are_paid(
    accrued: None, wateraid: Cause, trussell: Cause, tmp_path: Path
) -> None:
    summary = payouts.run_payouts(threshold=5_000, out_dir=tmp_path, now=DAY)

    (payout,) = summary.paid
    assert (payout.cause, payout.amount_minor, payout.currency) == (wateraid, 6_250, "GBP")
    assert payout.reference == f"KW-20261102-{wateraid.pk}-GBP"
    assert summary.batch.key == "2026-11-02"
    assert [w.cause.slug for w in summary.unverified] == ["emerge-poverty-free"]
    assert summary.below_threshold == 1
    assert owed(wateraid) == 0
    assert owed(trussell) == 4_999
    paid = Transfer.objects.get(idempotency_key=f"payout:{payout.reference}")
    assert (paid.code, paid.credit_account.code) == ("payout", chart.bank("GBP").code)
    assert ledger.verify().ok


def test_the_threshold_defaults_to_the_settings(
    accrued: None, trussell: Cause, settings, tmp_path: Path
) -> None:
    settings.BILLING = {**settings.BILLING, "PAYOUT_THRESHOLD_MINOR": 4_000}

    summary = payouts.run_payouts(out_dir=tmp_path, now=DAY)

    assert {p.cause.slug for p in summary.paid} == {"wateraid", "the-trussell-trust"}


def test_a_rerun_the_same_day_joins_the_batch_and_pays_nothing_twice(
    accrued: None, wateraid: Cause, tmp_path: Path
) -> None:
    payouts.run_payouts(threshold=5_000, out_dir=tmp_path, now=DAY)
    bill_share("w4", wateraid, 9_000, DAY)

    again = payouts.run_payouts(threshold=5_000, out_dir=tmp_path, now=DAY.replace(hour=18))

    assert again.paid == []
    assert [p.cause for p in again.already] == [wateraid]
    assert PayoutBatch.objects.count() == 1
    assert Payout.objects.count() == 1
    assert owed(wateraid) == 9_000  # waits for tomorrow's batch

    tomorrow = payouts.run_payouts(threshold=5_000, out_dir=tmp_path, now=DAY.replace(day=3))

    assert [p.amount_minor for p in tomorrow.paid] == [9_000]
    assert owed(wateraid) == 0


def test_a_crash_between_two_payouts_then_a_rerun_pays_each_once(
    accrued: None, wateraid: Cause, trussell: Cause, tmp_path: Path
) -> None:
    real = ledger.transfer
    calls = []

    def crash_on_second(*args: object, **kwargs: object) -> Transfer:
        calls.append(args[0])
        if len(calls) == 2:
            raise RuntimeError("killed")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    with (
        mock.patch("kindwave.causes.payouts.ledger.transfer", crash_on_second),
        pytest.raises(RuntimeError),
    ):
        payouts.run_payouts(threshold=4_000, out_dir=tmp_path, now=DAY)

    assert Payout.objects.count() == 1  # the second payout's row rolled back with its transfer
    first = Payout.objects.get()
    assert Transfer.objects.filter(code="payout").count() == 1

    summary = payouts.run_payouts(threshold=4_000, out_dir=tmp_path, now=DAY)

    assert [p.pk for p in summary.already] == [first.pk]
    assert len(summary.paid) == 1
    assert Payout.objects.count() == Transfer.objects.filter(code="payout").count() == 2
    assert owed(wateraid) == owed(trussell) == 0
    assert ledger.verify().ok


def test_statements_lost_in_a_crash_are_written_by_a_later_run(
    accrued: None, wateraid: Cause, settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.DATA_DIR = tmp_path
    # The payout commits, then the process dies before writing its statement.
    with (
        mock.patch.object(payouts, "write_statement", side_effect=RuntimeError("killed")),
        pytest.raises(RuntimeError),
    ):
        payouts.run_payouts(threshold=5_000, now=DAY)
    (paid,) = Payout.objects.all()
    batch_dir = tmp_path / "payouts" / "2026-11-02"
    assert not batch_dir.exists()

    # Any later day, with nothing to pay, the run writes the earlier batch's statements.
    call_command("causes", "payouts", "--threshold", "5000", "--quiet")

    out = capsys.readouterr().out
    assert f"Statements written now for 1 earlier payouts: {paid.reference}" in out
    assert "0 payouts made now" in out
    csv_path = batch_dir / f"{paid.reference}.csv"
    assert (batch_dir / f"{paid.reference}.pdf").read_bytes().startswith(b"%PDF-")
    assert csv_path.read_text(encoding="utf-8").splitlines()[-1].endswith(",total,,6250,GBP")
    # …once: the next run finds them there.
    assert payouts.run_payouts(threshold=5_000, now=DAY.replace(day=10)).recovered == []


def test_the_statement_sums_to_the_payout_by_month_and_source(
    accrued: None, wateraid: Cause, tmp_path: Path
) -> None:
    (payout,) = payouts.run_payouts(threshold=5_000, out_dir=tmp_path, now=DAY).paid

    with (tmp_path / f"{payout.reference}.csv").open(newline="", encoding="utf-8") as source:
        rows = list(csv.DictReader(source))

    lines = [(r["month"], r["source"], int(r["amount_minor"])) for r in rows[:-1]]
    assert lines == [
        ("2026-09", "bill-share", 2_000),
        ("2026-10", "bill-share", 1_250),
        ("2026-10", "donation", 2_500),
        ("2026-10", "pledge", 500),
    ]
    assert (
        sum(amount for *_, amount in lines) == payout.amount_minor == int(rows[-1]["amount_minor"])
    )
    assert rows[-1]["source"] == "total"
    pdf = (tmp_path / f"{payout.reference}.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")


def test_the_next_statement_starts_after_the_previous_payout(
    accrued: None, wateraid: Cause, tmp_path: Path
) -> None:
    payouts.run_payouts(threshold=5_000, out_dir=tmp_path, now=DAY)
    bill_share("w5", wateraid, 7_000, datetime(2026, 11, 20, tzinfo=UTC))
    with posted_at(datetime(2026, 11, 21, tzinfo=UTC)):
        ledger.reverse("w5:reversal-part", Transfer.objects.get(idempotency_key="w1"))

    (second,) = payouts.run_payouts(
        threshold=5_000, out_dir=tmp_path, now=DAY.replace(month=12)
    ).paid

    lines = payouts.statement_lines(second)
    assert [(f"{line.month:%Y-%m}", line.source, line.amount) for line in lines] == [
        ("2026-11", "bill-share", 5_000)  # 7,000 in, 2,000 reversed
    ]
    assert second.amount_minor == 5_000


class TestCommand:
    def test_prints_a_summary_and_writes_statements(
        self, accrued: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        call_command("causes", "payouts", "--threshold", "5000", "--out", str(tmp_path), "--quiet")

        out = capsys.readouterr().out
        assert "paid WaterAid: 62.50 GBP" in out
        assert "Emerge Poverty Free is not verified; 80.00 GBP stays owed" in out
        assert "1 payouts made now (62.50 GBP)" in out
        assert len(list(tmp_path.glob("KW-*.csv"))) == len(list(tmp_path.glob("KW-*.pdf"))) == 1

    @pytest.mark.parametrize(
        ("arguments", "message"),
        [(["--threshold", "0"], "threshold"), (["--currency", "JPY"], "not 'JPY'")],
    )
    def test_bad_input_is_a_clear_error(self, db: None, arguments: list[str], message: str) -> None:
        with pytest.raises(CommandError, match=message):
            call_command("causes", "payouts", *arguments, "--quiet")

    def test_one_currency_only(self, accrued: None, wateraid: Cause, tmp_path: Path) -> None:
        call_command(
            "causes",
            "payouts",
            "--currency",
            "eur",
            "--threshold",
            "1",
            "--out",
            str(tmp_path),
            "--quiet",
        )

        assert not Payout.objects.exists()
        assert owed(wateraid) == 6_250
