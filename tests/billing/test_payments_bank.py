"""Bank statements: CSV and camt.053 read, entries matched by the invoice number in the
remittance, unmatched ones kept with the reason, nothing paid twice."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import given
from hypothesis import strategies as st

from kindwave.billing.models import BankEntry, BankStatement, Invoice, Payment
from kindwave.billing.services.payments import StatementError, import_bank_statement
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
            ("GB-2026-0001234", []),  # seven digits: not one of ours
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
        assert (payment.provider, payment.provider_ref) == ("bank", "BANK-20260402-0001")
        assert BankEntry.objects.get(entry_ref="BANK-20260402-0001").payment == payment
        assert Transfer.objects.filter(idempotency_key__startswith="payment:bank:").count() == 1
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
        assert posted("operator:bank:GBP") == 1_900
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
