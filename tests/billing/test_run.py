"""Lines, rated usage and carrier charges for the bill-run tests, written through the
lines app's services (rated summaries and the rating run straight as rows, as
``usage.rate_cycle`` leaves them)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kindwave.accounts.models import User
from kindwave.billing.models import BillRun, CarrierCharge, Invoice, InvoiceLine
from kindwave.billing.services import billrun
from kindwave.billing.services.billrun import BillRunError, run_bill_run
from kindwave.causes.models import Cause
from kindwave.ledger import chart
from kindwave.ledger import services as ledger
from kindwave.ledger.models import Account, Transfer, balance
from kindwave.lines import services as lines
from kindwave.lines.models import Line, Market
from kindwave.usage.models import RatedUsageSummary, RatingRun
from kindwave.usage.rating.cycles import UNITS_PER_MAJOR
from tests.lines.conftest import iccid

CYCLE = "2026-03"
ORDERED = datetime(2026, 2, 20, tzinfo=UTC)


def stock(market: Market, count: int = 40) -> None:
    """Numbers and SIMs for ``count`` lines in the GB or FR market."""
    if market.code == "GB":
        lines.add_number_block(market, "+447400300000", f"+4474003{count - 1:05d}")
        lines.add_sims(market, iccid(202_700_000_000), "234307100000000", count)
    else:
        lines.add_number_block(market, "+33612300000", f"+336123{count - 1:05d}")
        lines.add_sims(market, iccid(202_800_000_000, "893301"), "208017100000000", count)


def make_line(
    owner: User,
    market: Market,
    plan: str,
    *,
    activated: datetime | None = datetime(2026, 2, 25, tzinfo=UTC),
    cause: Cause | None = None,
) -> Line:
    line = lines.order_line(owner, market, plan, cause=cause, at=ORDERED)
    if activated is not None:
        line = lines.activate_line(line, at=activated)
    return line


def rate(cycle: str = CYCLE, usage: dict[Line, list[tuple[str, str]]] | None = None) -> RatingRun:
    """A finished rating run of ``cycle`` with, per line, (service, amount) charge lines."""
    for line, charges in (usage or {}).items():
        for number, (service, amount) in enumerate(charges):
            RatedUsageSummary.objects.create(
                line=line,
                cycle=cycle,
                plan_code="gb-starter",
                service=service,
                direction="out",
                zone_code=f"home{number or ''}",  # one summary row per charge
                zone_kind="home",
                class_code="premium" if service == "voice" else "",
                records=1,
                quantity=60,
                included=0,
                charged=60 + number,
                charge_units=int(Decimal(amount) * UNITS_PER_MAJOR),
                currency=line.market.currency,
            )
    return RatingRun.objects.create(
        cycle=cycle,
        engine="duckdb",
        # Each run later than the last: the latest finished run is the cycle's rating.
        finished_at=datetime(2026, 4, 1, 1, tzinfo=UTC)
        + timedelta(minutes=RatingRun.objects.count()),
        catalog_fingerprint="test",
    )


def carrier_charge(
    line: Line, kind: str, amount: int, cause: Cause | None = None, cycle: str = CYCLE
) -> CarrierCharge:
    """A confirmed carrier charge of ``cycle``, as carrier billing leaves it."""
    return CarrierCharge.objects.create(
        reference=uuid.uuid4(),
        client_key=str(uuid.uuid4()),
        owner=line.owner,
        line=line,
        kind=kind,
        merchant="" if kind == "donation" else "Museum shop",
        cause=cause,
        description="Donation" if kind == "donation" else "Museum ticket",
        amount_minor=amount,
        currency=line.market.currency,
        state=CarrierCharge.State.CONFIRMED,
        reserved_at=datetime(2026, 3, 5, tzinfo=UTC),
        settled_at=datetime(2026, 3, 5, 0, 1, tzinfo=UTC),
        cycle=cycle,
    )


# --- Tests -------------------------------------------------------------------------------


def posted(code: str) -> int:
    return balance(Account.objects.get(code=code))


def books() -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Everything a bill run writes, without ids or clock times."""
    invoices = list(
        Invoice.objects.order_by("number").values_list(
            "number", "line_id", "cycle", "net_minor", "vat_minor", "extras_minor",
            "credits_minor", "total_minor", "cause_id", "cause_share_minor", "status",
        )
    )  # fmt: skip
    items = list(
        InvoiceLine.objects.order_by("invoice__number", "position").values_list(
            "invoice__number", "position", "kind", "description", "amount_minor", "quantity"
        )
    )
    transfers = list(
        Transfer.objects.order_by("idempotency_key").values_list(
            "idempotency_key", "debit_account__code", "credit_account__code", "amount", "code",
            "payload_sha256",
        )
    )  # fmt: skip
    return invoices, items, transfers


@pytest.fixture
def three_lines(gb: Market, alice: User, bob: User, charlie: User, demo_causes) -> list[Line]:
    stock(gb)
    return [
        make_line(alice, gb, "gb-starter", cause=demo_causes["wateraid"]),
        make_line(bob, gb, "gb-everyday", activated=datetime(2026, 3, 10, 9, tzinfo=UTC)),
        make_line(charlie, gb, "gb-payg"),
    ]


class TestGoldenRun:
    def test_three_subscribers_get_hand_computed_invoices_and_postings(
        self, three_lines: list[Line], demo_causes
    ) -> None:
        _alice_line, _bob_line, charlie_line = three_lines
        rate(usage={charlie_line: [("voice", "0.975")]})

        summary = run_bill_run(CYCLE)

        invoices = {i.line_id: i for i in Invoice.objects.all()}
        alice_bill, bob_bill, charlie_bill = (invoices[line.pk] for line in three_lines)
        # alice: a whole month of Starter (£6.00 incl. VAT).
        assert alice_bill.number == "GB-2026-000001"
        assert (alice_bill.net_minor, alice_bill.vat_minor, alice_bill.total_minor) == (
            500,
            100,
            600,
        )
        assert (alice_bill.cause, alice_bill.cause_share_minor) == (demo_causes["wateraid"], 50)
        assert str(alice_bill.issued_on) == "2026-04-01"
        assert str(alice_bill.due_on) == "2026-04-15"
        # bob: Everyday from 10 March = 22 of 31 days: 1000 x 22/31 = 709.68 → 710;
        # VAT 710/6 = 118.33 → 118; net 592; 10 % = 59.2 → 59, to the foundation.
        assert bob_bill.number == "GB-2026-000002"
        assert (bob_bill.net_minor, bob_bill.vat_minor, bob_bill.cause_share_minor) == (
            592,
            118,
            59,
        )
        assert bob_bill.cause is None
        # charlie: pay as you go, one premium call of £0.975 → 98p (tie, to even);
        # VAT 98/6 = 16.33 → 16; net 82; 10 % = 8.2 → 8.
        assert charlie_bill.number == "GB-2026-000003"
        assert list(charlie_bill.lines.values_list("kind", "amount_minor")) == [("usage", 98)]
        assert (charlie_bill.net_minor, charlie_bill.vat_minor) == (82, 16)
        assert charlie_bill.cause_share_minor == 8
        # The ledger: every invoice posted once, the books balance.
        assert posted("operator:receivables:GBP") == 600 + 710 + 98
        assert posted("operator:revenue:GBP") == 500 + 592 + 82
        assert posted("operator:vat:GB") == 100 + 118 + 16
        assert posted(chart.cause(demo_causes["wateraid"].pk, "GBP").code) == 50
        assert posted("foundation:fund:GBP") == 59 + 8
        assert posted("operator:cause-share:GBP") == 50 + 59 + 8
        assert set(Transfer.objects.values_list("code", flat=True)) == {
            "invoice-revenue", "invoice-vat", "bill-share",
        }  # fmt: skip
        assert ledger.verify().ok
        assert (summary.invoices, summary.lines) == (3, 3)
        assert summary.totals["GBP"].total_minor == 1408
        assert summary.shares_by_cause == {demo_causes["wateraid"].pk: 1, None: 2}
        assert BillRun.objects.get(cycle=CYCLE).state == BillRun.State.COMPLETE

    def test_a_french_subscriber_gets_a_french_invoice_in_euros(
        self, fr: Market, alice: User
    ) -> None:
        alice.language = "fr"
        alice.save(update_fields=["language"])
        stock(fr)
        make_line(alice, fr, "fr-essentiel")
        rate()

        run_bill_run(CYCLE)

        bill = Invoice.objects.get()
        assert (bill.number, bill.currency, bill.language) == ("FR-2026-000001", "EUR", "fr")
        # 4,99 € TTC: VAT 499/6 = 83.17 → 83; net 416; 10 % = 41.6 → 42.
        assert (bill.net_minor, bill.vat_minor, bill.cause_share_minor) == (416, 83, 42)
        assert bill.lines.get().description.startswith("Essentiel")
        assert posted("operator:vat:FR") == 83

    def test_one_offs_and_the_wallet_appear_on_the_bill_and_in_the_ledger(
        self, gb: Market, alice: User, demo_causes
    ) -> None:
        stock(gb)
        line = make_line(alice, gb, "gb-starter")
        donation = carrier_charge(line, "donation", 500, demo_causes["wateraid"])
        purchase = carrier_charge(line, "purchase", 250)
        chart.ensure(chart.bank("GBP"), chart.wallet(alice.pk, "GBP"))
        ledger.transfer(
            "refund:1", "operator:bank:GBP", f"wallet:{alice.pk}:GBP", 300, "GBP", "overpayment"
        )
        rate()

        run_bill_run(CYCLE)

        bill = Invoice.objects.get()
        assert list(bill.lines.values_list("kind", "amount_minor")) == [
            ("plan_fee", 600), ("donation", 500), ("purchase", 250), ("credit", -300),
        ]  # fmt: skip
        assert (bill.extras_minor, bill.credits_minor, bill.total_minor) == (750, -300, 1050)
        assert bill.cause_share_minor == 50  # the share is on the net only
        donation.refresh_from_db()
        purchase.refresh_from_db()
        assert donation.invoice == bill
        assert purchase.invoice == bill
        assert posted(f"wallet:{alice.pk}:GBP") == 0
        assert posted("operator:receivables:GBP") == 1050
        assert ledger.verify().ok

    def test_a_line_with_nothing_to_bill_gets_no_invoice_and_no_number(
        self, gb: Market, alice: User, bob: User
    ) -> None:
        stock(gb)
        make_line(alice, gb, "gb-payg")  # no usage, no fee
        bob_line = make_line(bob, gb, "gb-starter")
        rate()

        summary = run_bill_run(CYCLE)

        assert list(Invoice.objects.values_list("line_id", "number")) == [
            (bob_line.pk, "GB-2026-000001")
        ]
        assert (summary.lines, summary.invoices) == (2, 1)


class TestRefusals:
    @pytest.mark.parametrize(
        ("cycle", "message"),
        [
            ("2026-3", "not a cycle"),
            ("March", "not a cycle"),
            ("2026-13", "not a cycle"),
            ("2026-12", "not over yet"),
            ("2099-01", "not over yet"),
        ],
    )
    def test_a_bad_cycle_is_refused_and_nothing_is_written(
        self, three_lines: list[Line], cycle: str, message: str
    ) -> None:
        rate()
        with pytest.raises(CommandError, match=message):
            call_command("billing", "run", "--cycle", cycle, "--quiet")
        assert not BillRun.objects.exists()
        assert not Invoice.objects.exists()

    def test_a_cycle_without_rating_is_refused(self, three_lines: list[Line]) -> None:
        with pytest.raises(CommandError, match="has not been rated"):
            call_command("billing", "run", "--cycle", CYCLE, "--quiet")
        assert not BillRun.objects.exists()
        assert not Transfer.objects.exists()

    def test_a_cycle_before_the_latest_billed_one_is_refused(self, three_lines: list[Line]) -> None:
        rate()
        rate("2026-02")
        run_bill_run(CYCLE)
        with pytest.raises(BillRunError, match="2026-03 is already billed"):
            run_bill_run("2026-02")
        assert not BillRun.objects.filter(cycle="2026-02").exists()

    def test_a_cycle_rated_again_after_its_run_began_is_refused(
        self, three_lines: list[Line], monkeypatch
    ) -> None:
        rate()
        fail_after_first_batch(monkeypatch)
        with pytest.raises(RuntimeError):
            run_bill_run(CYCLE, batch_size=1)
        rate()
        with pytest.raises(BillRunError, match="rated again"):
            run_bill_run(CYCLE)

    def test_contradictory_facts_stop_the_run_with_the_line_named(
        self, three_lines: list[Line]
    ) -> None:
        rate(usage={three_lines[0]: [("voice", "1.5")]})
        RatedUsageSummary.objects.update(currency="EUR")  # a GB line charged in euros
        with pytest.raises(BillRunError, match=f"Line {three_lines[0].pk} cannot be billed"):
            run_bill_run(CYCLE)
        assert not Invoice.objects.exists()
        assert not Transfer.objects.exists()


def fail_after_first_batch(monkeypatch) -> None:
    real = ledger.transfer_batch
    calls = []

    def failing(groups):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the machine died")
        return real(groups)

    monkeypatch.setattr(billrun.ledger, "transfer_batch", failing)


class TestRerun:
    def test_a_complete_run_is_closed_and_changes_nothing(self, three_lines: list[Line]) -> None:
        rate()
        call_command("billing", "run", "--cycle", CYCLE, "--quiet")
        before = books()

        from io import StringIO

        out = StringIO()
        call_command("billing", "run", "--cycle", CYCLE, "--quiet", stdout=out)

        assert "already complete" in out.getvalue()
        assert books() == before

    def test_a_run_that_died_midway_resumes_to_the_uninterrupted_result(
        self, three_lines: list[Line], monkeypatch
    ) -> None:
        rate()
        # Given the uninterrupted run's result
        with transaction.atomic():
            run_bill_run(CYCLE)
            calm = books()
            transaction.set_rollback(True)
        # When a run dies in its second batch (one line a batch)
        fail_after_first_batch(monkeypatch)
        with pytest.raises(RuntimeError):
            run_bill_run(CYCLE, batch_size=1)
        assert Invoice.objects.count() == 1
        assert BillRun.objects.get().state == BillRun.State.RUNNING
        monkeypatch.undo()
        # Then running it again gives the same invoices, numbers and ledger
        summary = run_bill_run(CYCLE, batch_size=1)
        assert books() == calm
        assert summary.processed == 2
        assert ledger.verify().ok


# --- Properties --------------------------------------------------------------------------

subscriber = st.tuples(
    st.sampled_from(["gb-payg", "gb-starter", "gb-everyday", "gb-unlimited"]),
    st.none() | st.integers(1, 31),  # activation day in March (None: February)
    st.none() | st.integers(2, 31),  # termination day
    st.lists(st.sampled_from(["0.975", "0.125", "2.5", "0.004"]), max_size=3),
    st.integers(0, 700),  # wallet
    st.booleans(),  # chose a cause
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(people=st.lists(subscriber, min_size=1, max_size=5), batch=st.integers(1, 4))
def test_after_any_bill_run_the_books_balance_and_a_rerun_changes_nothing(
    gb: Market, demo_causes, people, batch: int
) -> None:
    with transaction.atomic():
        stock(gb, 10)
        chart.ensure(chart.bank("GBP"))
        usage: dict[Line, list[tuple[str, str]]] = {}
        for number, (plan, start, end, charges, wallet, chose) in enumerate(people):
            owner = User.objects.create_user(email=f"p{number}@example.org", password="x")
            activated = datetime(2026, 3, start, 8, tzinfo=UTC) if start else None
            cause = demo_causes["wateraid"] if chose else None
            line = make_line(
                owner, gb, plan, cause=cause, **({"activated": activated} if start else {})
            )
            if end and (start or 0) < end:
                lines.terminate_line(line, "moved away", at=datetime(2026, 3, end, 12, tzinfo=UTC))
            usage[line] = [("voice", amount) for amount in charges]
            if wallet:
                chart.ensure(chart.wallet(owner.pk, "GBP"))
                ledger.transfer(
                    f"w{number}",
                    "operator:bank:GBP",
                    f"wallet:{owner.pk}:GBP",
                    wallet,
                    "GBP",
                    "overpayment",
                )
        rate(usage=usage)

        summary = run_bill_run(CYCLE, batch_size=batch)
        first = books()
        again = run_bill_run(CYCLE)

        assert ledger.verify().ok
        assert again.already_complete
        assert books() == first
        invoices = list(Invoice.objects.all())
        numbers = sorted(invoice.sequence for invoice in invoices)
        assert numbers == list(range(1, len(invoices) + 1))  # no gap
        for invoice in invoices:
            assert invoice.total_minor == sum(invoice.lines.values_list("amount_minor", flat=True))
        assert posted("operator:receivables:GBP") == sum(i.total_minor for i in invoices)
        assert posted("operator:revenue:GBP") == sum(i.net_minor for i in invoices)
        assert summary.invoices == len(invoices)
        transaction.set_rollback(True)
