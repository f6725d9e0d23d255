"""Bank statements: CSV and camt.053 read, entries matched by the invoice number in the
remittance, unmatched ones kept with the reason, nothing paid twice."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import given
from hypothesis import strategies as st

from kindwave.billing.models import BankEntry, BankStatement, Invoice, Payment
from kindwave.billing.services.payments import (
    PaymentError,
    StatementError,
    apply_bank_entry,
    bank,
    import_bank_statement,
)
from kindwave.billing.services.payments.bank import (
    invoice_numbers_in,
    read_camt053,
    read_csv_statement,
    to_minor,
)
from kindwave.ledger import services as ledger
from kindwave.ledger.models import Transfer
from kindwave.lines.models import Line
from tests.billing.factories import make_invoice
from tests.billing.test_payments import issue, posted

pytestmark = pytest.mark.django_db

HERE = Path(__file__).parent
CSV = HERE / "payments_statement.csv"
OVERLAP = HERE / "payments_statement_overlap.csv"
CAMT_02 = HERE / "payments_camt053_v02.xml"
CAMT_08 = HERE / "payments_camt053_v08.xml"


@pytest.fixture
def invoices(active_line: Line) -> list[Invoice]:
    """GB-2026-000001 (March) and GB-2026-000002 (April), £12.00 each, issued."""
    return [issue(make_invoice(active_line, cycle)) for cycle in ("2026-03", "2026-04")]


def copy(source: Path, directory: Path, name: str | None = None) -> Path:
    target = directory / (name or source.name)
    target.write_bytes(source.read_bytes())
    return target


class TestReadingCsv:
    def test_credit_entries_are_read_and_debits_counted(self) -> None:
        parsed = read_csv_statement(CSV.read_bytes())

        assert [entry.entry_ref for entry in parsed.entries] == [
            "BANK-20260402-0001",
            "BANK-20260402-0002",
            "BANK-20260403-0004",
            "BANK-20260403-0005",
        ]
        assert parsed.entries[0].amount_minor == 1_200
        assert parsed.entries[0].booked_on.isoformat() == "2026-04-02"
        assert parsed.entries[3].remittance == "Facture GB-2026-000002, merci"
        assert parsed.debits == 1

    @pytest.mark.parametrize(
        ("text", "error"),
        [
            (b"ref,date,amount\n", "header must be"),
            (
                b"entry_ref,booking_date,amount,currency,remittance\nA,2026-04-02,1.234,GBP,x\n",
                "line 2: '1.234' has more than 2 decimals",
            ),
            (
                b"entry_ref,booking_date,amount,currency,remittance\nA,2026-04-02,12,GBP\n",
                "line 2: expected 5 fields",
            ),
            (
                b"entry_ref,booking_date,amount,currency,remittance\nA,02/04/2026,1,GBP,x\n",
                "is not a date",
            ),
            (
                b"entry_ref,booking_date,amount,currency,remittance\nA,2026-04-02,1,pounds,x\n",
                "not an ISO 4217 currency",
            ),
            (
                b"entry_ref,booking_date,amount,currency,remittance\nA,2026-04-02,1\xff,GBP,x\n",
                "not UTF-8",
            ),
            (
                b"entry_ref,booking_date,amount,currency,remittance\nA,2026-04-02,1e400x,GBP,x\n",
                "is not an amount",
            ),
        ],
    )
    def test_a_malformed_file_is_refused_with_the_line(self, text: bytes, error: str) -> None:
        with pytest.raises(StatementError, match=error):
            read_csv_statement(text)


class TestReadingCamt053:
    def test_version_02(self) -> None:
        parsed = read_camt053(CAMT_02.read_bytes())

        assert parsed.format == "camt.053.001.02"
        assert [(e.entry_ref, e.amount_minor, e.remittance) for e in parsed.entries] == [
            ("BUKB-0402-000081", 1_200, "KINDWAVE GB-2026-000001"),
            ("BUKB-0402-000083", 350, "Donation, no reference"),
        ]
        assert parsed.debits == 1

    def test_version_08_with_nested_status_datetime_and_a_structured_reference(self) -> None:
        parsed = read_camt053(CAMT_08.read_bytes())

        assert parsed.format == "camt.053.001.08"
        (entry,) = parsed.entries
        assert (entry.entry_ref, entry.booked_on.isoformat(), entry.remittance) == (
            "BUKB-0404-000101",
            "2026-04-04",
            "gb-2026-000002",
        )
        assert parsed.not_booked == 1

    @pytest.mark.parametrize(
        ("text", "error"),
        [
            (b"<Document", "not well-formed"),
            (
                b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.02"/>',
                "Not a camt.053",
            ),
            (b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"/>', "no statement"),
            (
                b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
                b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">&b;</Document>',
                "unsafe XML",
            ),
        ],
    )
    def test_a_malformed_or_unsafe_file_is_refused(self, text: bytes, error: str) -> None:
        with pytest.raises(StatementError, match=error):
            read_camt053(text)

    def test_an_entry_without_a_reference_is_refused(self) -> None:
        text = CAMT_02.read_bytes().replace(b"<AcctSvcrRef>BUKB-0402-000083</AcctSvcrRef>", b"")
        text = text.replace(b"<NtryRef>3</NtryRef>", b"")

        with pytest.raises(StatementError, match="entry 3: no entry reference"):
            read_camt053(text)


class TestMatching:
    @pytest.mark.parametrize(
        ("remittance", "numbers"),
        [
            ("GB-2026-000123", ["GB-2026-000123"]),
            ("inv gb 2026 000123 thanks", ["GB-2026-000123"]),
            ("GB2026000123", ["GB-2026-000123"]),
            ("fr/2026/000001 and FR-2026-000001 again", ["FR-2026-000001"]),
            ("GB-2026-1000000", ["GB-2026-1000000"]),  # after GB-2026-999999
            ("gb 2026 12345678 thanks", ["GB-2026-12345678"]),
            ("GB-2026-12345", []),  # five digits: not one of ours
            ("XGB-2026-000123", []),
            ("no number here", []),
        ],
    )
    def test_invoice_numbers_are_found_whatever_the_case_and_spacing(
        self, remittance: str, numbers: list[str]
    ) -> None:
        assert invoice_numbers_in(remittance) == numbers


class TestImport:
    def test_matched_entries_pay_and_the_rest_wait_with_a_reason(
        self, invoices: list[Invoice]
    ) -> None:
        summary = import_bank_statement(CSV)

        assert (summary.entries, summary.matched, summary.debits_skipped) == (4, 1, 1)
        assert summary.matched_minor == {"GBP": 1_200}
        assert summary.unmatched_minor == {"GBP": 1_499, "EUR": 1_200}
        reasons = {entry.entry_ref: entry.problem for entry in summary.unmatched}
        assert reasons == {
            "BANK-20260402-0002": "no invoice number in the remittance information",
            "BANK-20260403-0004": "unknown invoice number GB-2026-999999",
            "BANK-20260403-0005": "wrong currency: EUR for invoice GB-2026-000002 in GBP",
        }
        march, april = (Invoice.objects.get(pk=invoice.pk) for invoice in invoices)
        assert (march.status, april.status) == ("paid", "open")
        payment = Payment.objects.get()
        assert (payment.provider, payment.provider_ref) == ("bank", "2026-04-02:BANK-20260402-0001")
        assert BankEntry.objects.get(entry_ref="BANK-20260402-0001").payment == payment
        paid = Transfer.objects.filter(idempotency_key__startswith="payment:bank:", code="payment")
        assert paid.count() == 1
        # The unmatched money is in the ledger's bank too, held in suspense for staff.
        assert posted("operator:suspense:GBP") == 1_499
        assert posted("operator:suspense:EUR") == 1_200
        assert posted("operator:bank:GBP") == 1_200 + 1_499
        held = Transfer.objects.filter(code="payment-unmatched")
        assert sorted(held.values_list("amount", flat=True)) == [500, 999, 1_200]
        assert BankStatement.objects.get().matched == 1
        assert ledger.verify().ok

    def test_the_same_file_twice_is_refused(self, invoices: list[Invoice], tmp_path: Path) -> None:
        import_bank_statement(CSV)

        with pytest.raises(StatementError, match="already imported"):
            import_bank_statement(copy(CSV, tmp_path, "renamed.csv"))
        assert Payment.objects.count() == 1

    def test_an_overlapping_statement_pays_nothing_twice(self, invoices: list[Invoice]) -> None:
        import_bank_statement(CSV)

        summary = import_bank_statement(OVERLAP)

        assert (summary.entries, summary.already_seen, summary.matched) == (3, 2, 1)
        assert Payment.objects.count() == 2
        april = Invoice.objects.get(pk=invoices[1].pk)
        assert (april.paid_minor, april.status) == (700, "open")
        assert posted("operator:bank:GBP") == 1_900 + 1_499  # matched + held in suspense
        assert ledger.verify().ok

    def test_camt053_statements_of_both_versions_pay(self, invoices: list[Invoice]) -> None:
        first = import_bank_statement(CAMT_02)
        second = import_bank_statement(CAMT_08)

        assert (first.matched, len(first.unmatched), second.matched) == (1, 1, 1)
        assert set(Invoice.objects.values_list("status", flat=True)) == {"paid"}
        assert posted("operator:receivables:GBP") == 0
        assert ledger.verify().ok

    def test_a_bad_file_writes_nothing(self, invoices: list[Invoice], tmp_path: Path) -> None:
        bad = tmp_path / "bad.csv"
        bad.write_text(CSV.read_text() + "BANK-X,2026-04-05,1.001,GBP,GB-2026-000002\n")

        with pytest.raises(StatementError, match="line 7"):
            import_bank_statement(bad)
        assert (BankStatement.objects.count(), Payment.objects.count()) == (0, 0)

    def test_a_missing_file_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(StatementError, match="Cannot read"):
            import_bank_statement(tmp_path / "nowhere.csv")


class TestCommand:
    def test_import_prints_a_summary(self, invoices: list[Invoice]) -> None:
        out = StringIO()

        call_command("billing", "payments", "import", str(CSV), "--quiet", stdout=out)

        text = out.getvalue()
        assert "4 credit entries, 0 already imported, 1 matched (£12.00), 3 unmatched" in text
        assert "unknown invoice number GB-2026-999999" in text
        listing = StringIO()
        call_command("billing", "payments", "unmatched", stdout=listing)
        assert "BANK-20260402-0002" in listing.getvalue()

    def test_a_file_imported_twice_is_a_clear_command_error(self, invoices: list[Invoice]) -> None:
        call_command("billing", "payments", "import", str(CSV), "--quiet", stdout=StringIO())

        with pytest.raises(CommandError, match="already imported"):
            call_command("billing", "payments", "import", str(CSV), "--quiet")

    def test_a_path_that_is_not_a_file_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(CommandError, match="is not a file"):
            call_command("billing", "payments", "import", str(tmp_path))


@given(pence=st.integers(0, 10**12))
def test_amounts_in_major_units_read_exactly(pence: int) -> None:
    assert to_minor(f"{pence // 100}.{pence % 100:02d}", "GBP", "x") == pence


# --- Unmatched money, batches, reused references (the review's findings) -----------------

CAMT = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>
<Stmt><Id>S-{day}</Id><Acct><Id><IBAN>GB33 BUKB 2020 1555 5555 55</IBAN></Id></Acct>
{entries}</Stmt></BkToCstmrStmt></Document>"""
NTRY = """<Ntry><NtryRef>{ref}</NtryRef><Amt Ccy="GBP">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd>
<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-04-{day}</Dt></BookgDt><NtryDtls>{txs}</NtryDtls>
</Ntry>"""
TX = """<TxDtls><Refs>{refs}</Refs><Amt Ccy="GBP">{amount}</Amt>
<RmtInf><Ustrd>{text}</Ustrd></RmtInf></TxDtls>"""
IBAN = "GB33BUKB20201555555555"


def camt(directory: Path, name: str, day: str, *entries: str) -> Path:
    path = directory / name
    path.write_text(CAMT.format(day=day, entries="".join(entries)), encoding="utf-8")
    return path


def csv_file(directory: Path, name: str, *rows: str) -> Path:
    path = directory / name
    path.write_text("\n".join(["entry_ref,booking_date,amount,currency,remittance", *rows]))
    return path


class TestUnmatchedMoneyIsHeldInSuspense:
    def test_a_mistyped_reference_is_held_then_applied_by_staff(
        self, active_line: Line, staff, tmp_path: Path
    ) -> None:
        invoice = issue(make_invoice(active_line))  # GB-2026-000001, £12.00
        statement = csv_file(tmp_path, "a.csv", "E-1,2026-04-02,12.00,GBP,Kindwave GB-2026-00001")

        summary = import_bank_statement(statement)

        assert (summary.matched, len(summary.unmatched)) == (0, 1)
        assert posted("operator:bank:GBP") == 1_200  # the ledger's bank agrees with the bank's
        assert posted("operator:suspense:GBP") == 1_200
        (entry,) = summary.unmatched

        payment = apply_bank_entry(entry, invoice.number, by=staff)

        invoice.refresh_from_db()
        entry.refresh_from_db()
        assert (invoice.status, entry.payment, entry.applied_by) == ("paid", payment, staff)
        assert entry.applied_at is not None
        assert posted("operator:suspense:GBP") == 0
        assert posted("operator:receivables:GBP") == 0
        assert posted("operator:bank:GBP") == 1_200  # moved once, not twice
        assert list(bank.entries_to_review()) == []
        assert ledger.verify().ok

    def test_applying_more_than_is_owed_credits_the_wallet(
        self, active_line: Line, staff, tmp_path: Path
    ) -> None:
        invoice = issue(make_invoice(active_line))
        import_bank_statement(csv_file(tmp_path, "a.csv", "E-1,2026-04-02,15.00,GBP,hello"))

        apply_bank_entry(bank.find_bank_entry("E-1"), invoice.number, by=staff)

        assert posted(f"wallet:{active_line.owner_id}:GBP") == 300
        assert posted("operator:suspense:GBP") == 0
        assert ledger.verify().ok

    def test_dunning_no_longer_suspends_someone_who_paid(
        self, active_line: Line, staff, tmp_path: Path
    ) -> None:
        from kindwave.billing.services import dunning
        from kindwave.lines.models import LineState

        invoice = issue(make_invoice(active_line))
        import_bank_statement(csv_file(tmp_path, "a.csv", "E-1,2026-04-02,12.00,GBP,oops"))
        apply_bank_entry(bank.find_bank_entry("E-1"), invoice.number, by=staff)

        dunning.run_dunning(at=datetime(2026, 4, 30, tzinfo=UTC))

        active_line.refresh_from_db()
        assert active_line.state == LineState.ACTIVE

    @pytest.mark.parametrize(
        ("row", "number", "error"),
        [
            ("E-1,2026-04-02,12.00,EUR,x", "GB-2026-000001", "is in GBP"),
            ("E-1,2026-04-02,12.00,GBP,x", "GB-2026-424242", "no invoice GB-2026-424242"),
            ("E-1,2026-04-02,0.00,GBP,x", "GB-2026-000001", "nothing to apply"),
        ],
    )
    def test_refusals_write_nothing(
        self, active_line: Line, staff, tmp_path: Path, row: str, number: str, error: str
    ) -> None:
        issue(make_invoice(active_line))
        import_bank_statement(csv_file(tmp_path, "a.csv", row))
        before = Transfer.objects.count(), Payment.objects.count()

        with pytest.raises(PaymentError, match=error):
            apply_bank_entry(bank.find_bank_entry("E-1"), number, by=staff)

        assert (Transfer.objects.count(), Payment.objects.count()) == before
        assert BankEntry.objects.get().payment is None

    def test_an_entry_is_applied_once(self, active_line: Line, staff, tmp_path: Path) -> None:
        march = issue(make_invoice(active_line))
        april = issue(make_invoice(active_line, "2026-04"))
        import_bank_statement(csv_file(tmp_path, "a.csv", "E-1,2026-04-02,12.00,GBP,x"))
        entry = bank.find_bank_entry("E-1")
        apply_bank_entry(entry, march.number, by=staff)

        with pytest.raises(PaymentError, match="already applied"):
            apply_bank_entry(entry, april.number, by=staff)
        assert Payment.objects.count() == 1

    def test_a_matched_entry_cannot_be_applied_again(self, invoices: list[Invoice], staff) -> None:
        import_bank_statement(CSV)

        with pytest.raises(PaymentError, match="already applied"):
            apply_bank_entry(bank.find_bank_entry("BANK-20260402-0001"), "GB-2026-000002", by=staff)

    def test_a_zero_credit_is_kept_with_a_reason_not_a_failed_import(
        self, invoices: list[Invoice], tmp_path: Path
    ) -> None:
        statement = csv_file(tmp_path, "z.csv", "Z-1,2026-04-02,0.00,GBP,GB-2026-000001")

        summary = import_bank_statement(statement)

        (entry,) = summary.unmatched
        assert entry.problem == bank.ZERO_AMOUNT
        assert Transfer.objects.filter(code="payment-unmatched").count() == 0
        assert ledger.verify().ok

    def test_a_zero_camt_credit_is_kept_too(self, invoices: list[Invoice], tmp_path: Path) -> None:
        tx = TX.format(refs="", amount="0.00", text="GB-2026-000001")
        path = camt(tmp_path, "z.xml", "04", NTRY.format(ref="1", amount="0.00", day="04", txs=tx))

        summary = import_bank_statement(path)

        assert [entry.problem for entry in summary.unmatched] == [bank.ZERO_AMOUNT]


class TestBatchesAndReusedReferences:
    def test_a_direct_debit_batch_pays_each_invoice(
        self, active_line: Line, tmp_path: Path
    ) -> None:
        a = issue(make_invoice(active_line, "2026-03"))
        b = issue(make_invoice(active_line, "2026-04"))
        txs = TX.format(refs="<EndToEndId>KW-DD-1</EndToEndId>", amount="12.00", text=a.number)
        txs += TX.format(refs="<EndToEndId>NOTPROVIDED</EndToEndId>", amount="12.00", text=b.number)
        path = camt(
            tmp_path, "dd.xml", "04", NTRY.format(ref="7", amount="24.00", day="04", txs=txs)
        )

        summary = import_bank_statement(path)

        assert (summary.entries, summary.matched, summary.unmatched) == (2, 2, [])
        refs = set(BankEntry.objects.values_list("account", "entry_ref"))
        assert refs == {(IBAN, "KW-DD-1"), (IBAN, "7/2")}  # NOTPROVIDED is no reference
        assert set(Invoice.objects.values_list("status", flat=True)) == {"paid"}
        assert ledger.verify().ok

    def test_a_batch_whose_transactions_do_not_add_up_is_refused(self, tmp_path: Path) -> None:
        txs = TX.format(refs="", amount="12.00", text="a") + TX.format(
            refs="", amount="1.00", text="b"
        )
        path = camt(
            tmp_path, "dd.xml", "04", NTRY.format(ref="7", amount="24.00", day="04", txs=txs)
        )

        with pytest.raises(StatementError, match="add up to 1300, not the entry's 2400"):
            import_bank_statement(path)
        assert BankStatement.objects.count() == 0

    def test_a_transaction_amount_may_be_in_its_amount_details(self) -> None:
        tx = (
            "<TxDtls><Refs><AcctSvcrRef>T-{n}</AcctSvcrRef></Refs><AmtDtls><TxAmt>"
            '<Amt Ccy="GBP">{amount}</Amt></TxAmt></AmtDtls></TxDtls>'
        )
        txs = tx.format(n=1, amount="5.00") + tx.format(n=2, amount="7.50")
        data = CAMT.format(
            day="04", entries=NTRY.format(ref="7", amount="12.50", day="04", txs=txs)
        )

        parsed = read_camt053(data.encode())

        assert [(e.entry_ref, e.amount_minor) for e in parsed.entries] == [
            ("T-1", 500),
            ("T-2", 750),
        ]

    def test_a_reference_reused_on_another_day_is_a_new_entry(
        self, active_line: Line, tmp_path: Path
    ) -> None:
        a = issue(make_invoice(active_line, "2026-03"))
        b = issue(make_invoice(active_line, "2026-04"))
        for day, invoice in (("04", a), ("05", b)):
            tx = TX.format(refs="", amount="12.00", text=invoice.number)
            entry = NTRY.format(ref="1", amount="12.00", day=day, txs=tx)
            summary = import_bank_statement(camt(tmp_path, f"s{day}.xml", day, entry))
            assert (summary.already_seen, summary.matched) == (0, 1)

        assert set(Invoice.objects.values_list("status", flat=True)) == {"paid"}
        assert ledger.verify().ok

    def test_the_same_entry_twice_in_one_file_is_refused(self, tmp_path: Path) -> None:
        statement = csv_file(
            tmp_path, "d.csv", "E-1,2026-04-02,1.00,GBP,x", "E-1,2026-04-02,2.00,GBP,y"
        )

        with pytest.raises(StatementError, match="E-1 of 2026-04-02 appears more than once"):
            import_bank_statement(statement)

    def test_a_seven_digit_invoice_number_is_matched(
        self, active_line: Line, tmp_path: Path
    ) -> None:
        invoice = make_invoice(active_line)
        Invoice.objects.filter(pk=invoice.pk).update(number="GB-2026-1000000")
        invoice.refresh_from_db()
        issue(invoice)

        summary = import_bank_statement(
            csv_file(tmp_path, "a.csv", "E-1,2026-04-02,12.00,GBP,Kindwave GB-2026-1000000")
        )

        assert summary.matched == 1


class TestApplyCommand:
    def test_apply_by_reference(self, active_line: Line, staff, tmp_path: Path) -> None:
        invoice = issue(make_invoice(active_line))
        import_bank_statement(csv_file(tmp_path, "a.csv", "E-1,2026-04-02,12.00,GBP,oops"))
        out = StringIO()

        call_command(
            "billing", "payments", "apply", "E-1", invoice.number, "--by", staff.email, stdout=out
        )

        assert f"E-1 (2026-04-02, £12.00) applied to {invoice.number}" in out.getvalue()
        assert Invoice.objects.get(pk=invoice.pk).status == "paid"

    def test_a_reused_reference_needs_the_date(
        self, active_line: Line, staff, tmp_path: Path
    ) -> None:
        invoice = issue(make_invoice(active_line))
        import_bank_statement(csv_file(tmp_path, "a.csv", "1,2026-04-02,5.00,GBP,x"))
        import_bank_statement(csv_file(tmp_path, "b.csv", "1,2026-04-03,7.00,GBP,y"))

        with pytest.raises(CommandError, match="Several bank entries"):
            call_command("billing", "payments", "apply", "1", invoice.number, "--by", staff.email)
        call_command(
            "billing", "payments", "apply", "1", invoice.number, "--by", staff.email,
            "--booked-on", "2026-04-03", stdout=StringIO(),
        )  # fmt: skip
        assert Invoice.objects.get(pk=invoice.pk).paid_minor == 700

    @pytest.mark.parametrize("who", ["nobody@example.org", "alice@example.org"])
    def test_only_staff_may_apply(self, active_line: Line, tmp_path: Path, who: str) -> None:
        invoice = issue(make_invoice(active_line))
        import_bank_statement(csv_file(tmp_path, "a.csv", "E-1,2026-04-02,12.00,GBP,oops"))

        with pytest.raises(CommandError, match="not a member of staff"):
            call_command("billing", "payments", "apply", "E-1", invoice.number, "--by", who)
        assert Payment.objects.count() == 0
