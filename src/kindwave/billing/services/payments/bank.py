"""Bank transfers and direct debits, reconciled from the bank's statements.

Two formats are read (docs/billing-payments.md):

* **CSV** (UTF-8, a header row, comma-separated): ``entry_ref``, ``booking_date``
  (``YYYY-MM-DD``), ``amount`` (major units with a dot, e.g. ``12.34``; negative for a
  debit), ``currency`` (ISO 4217), ``remittance`` (the payer's reference text);
* **ISO 20022 camt.053** (bank-to-customer statement, versions ``.001.02`` to
  ``.001.13``), parsed with ``defusedxml`` (no entity expansion, no external
  entities): each ``Ntry`` with ``CdtDbtInd`` ``CRDT`` and status ``BOOK``, its ``Amt``
  and ``Ccy``, ``BookgDt``, ``AcctSvcrRef`` (else ``NtryRef``, else the first
  transaction's ``AcctSvcrRef``) and the remittance (``Ustrd`` texts and structured
  creditor references).

A batched ``Ntry`` (several ``TxDtls``, e.g. a direct-debit collection) is split into
one entry per transaction, each with its own amount, reference and remittance.

Every credit entry reaches the ledger: Dr bank, Cr receivables (and the subscriber's
wallet for any excess) when its remittance names one invoice in its currency, Cr
suspense otherwise — staff then apply it with :func:`apply_bank_entry`. An entry is
known by (statement account, reference, booking date); a file is imported once (by its
SHA-256), and an entry already seen in an earlier, overlapping statement is skipped, so
nothing is paid twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import ClassVar
from xml.etree.ElementTree import Element  # types only; parsing is defusedxml's

from babel.numbers import get_currency_precision
from defusedxml import ElementTree
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kindwave.accounts.models import User
from kindwave.billing.models import BankEntry, BankStatement, Invoice, Payment
from kindwave.billing.services.payments.core import (
    InvoiceNotFound,
    PaymentError,
    PaymentProvider,
    _record,
    check_currency,
)
from kindwave.ledger import chart
from kindwave.ledger import services as ledger

CSV_COLUMNS = ("entry_ref", "booking_date", "amount", "currency", "remittance")
CAMT053 = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.(\d{2})$")
# An invoice number as a payer types it: GB-2026-000123, gb 2026 000123, GB2026000123…
# The sequence has six digits or more (GB-2026-1000000 follows GB-2026-999999).
INVOICE_NUMBER = re.compile(
    r"(?<![A-Za-z0-9])([A-Za-z]{2})\s*[-/. ]?\s*(\d{4})\s*[-/. ]?\s*(\d{6,})(?!\d)"
)


class StatementError(PaymentError):
    """A statement file that cannot be imported; nothing of it was written."""


#: Why a zero credit is kept without a payment (there is nothing to apply).
ZERO_AMOUNT = "zero amount: nothing to apply"
#: The placeholder SEPA payers put in EndToEndId when they give none: not a reference.
NOT_PROVIDED = "NOTPROVIDED"


@dataclass(frozen=True)
class StatementEntry:
    """One credit entry as read from a statement, before matching. ``account`` is the
    statement's IBAN (empty for CSV): with the reference and the date, the entry's key."""

    entry_ref: str
    booked_on: date
    amount_minor: int
    currency: str
    remittance: str
    account: str = ""

    @property
    def key(self) -> tuple[str, str, date]:
        return (self.account, self.entry_ref, self.booked_on)


@dataclass
class ParsedStatement:
    format: str
    entries: list[StatementEntry]
    debits: int = 0
    not_booked: int = 0


@dataclass
class ImportSummary:
    """What an import did: the credit entries read, those new to Kindwave, matched and
    unmatched (with the reason), and the amounts per currency."""

    statement: BankStatement
    entries: int = 0
    debits_skipped: int = 0
    not_booked_skipped: int = 0
    already_seen: int = 0
    matched: int = 0
    unmatched: list[BankEntry] = field(default_factory=list)
    matched_minor: Counter[str] = field(default_factory=Counter)
    unmatched_minor: Counter[str] = field(default_factory=Counter)


# --- Reading ------------------------------------------------------------------------------


def to_minor(text: str, currency: str, where: str) -> int:
    """``"12.34"`` GBP → 1234; more decimals than the currency has, or not a number, is
    refused with ``where`` named."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise StatementError(
            _("%(where)s: %(text)r is not an amount.") % {"where": where, "text": text}
        )
    places = get_currency_precision(currency)
    minor = value.scaleb(places)
    if minor != minor.to_integral_value():
        raise StatementError(
            _("%(where)s: %(text)r has more than %(places)s decimals for %(currency)s.")
            % {"where": where, "text": text, "places": places, "currency": currency}
        )
    return int(minor)


def _currency(text: str, where: str) -> str:
    currency = text.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise StatementError(
            _("%(where)s: %(text)r is not an ISO 4217 currency.") % {"where": where, "text": text}
        )
    return currency


def _date(text: str, where: str) -> date:
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise StatementError(
            _("%(where)s: %(text)r is not a date (YYYY-MM-DD).") % {"where": where, "text": text}
        ) from None


def read_csv_statement(data: bytes) -> ParsedStatement:
    """The credit entries of a CSV statement (see the module's docstring); debits
    (negative amounts) are counted and skipped. A malformed file is refused with the line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise StatementError(_("The CSV statement is not UTF-8 text.")) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [column.strip().lower() for column in next(reader, [])]
    if tuple(header) != CSV_COLUMNS:
        raise StatementError(
            _("The CSV statement's header must be %(expected)s, not %(found)s.")
            % {"expected": ",".join(CSV_COLUMNS), "found": ",".join(header) or _("empty")}
        )
    parsed = ParsedStatement("csv", [])
    for row in reader:
        where = _("line %(line)s") % {"line": reader.line_num}
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(CSV_COLUMNS):
            raise StatementError(
                _("%(where)s: expected %(expected)s fields, found %(found)s.")
                % {"where": where, "expected": len(CSV_COLUMNS), "found": len(row)}
            )
        ref, booked, amount, currency_text, remittance = (cell.strip() for cell in row)
        if not ref:
            raise StatementError(_("%(where)s: the entry reference is empty.") % {"where": where})
        currency = _currency(currency_text, where)
        minor = to_minor(amount, currency, where)
        if minor < 0:
            parsed.debits += 1
            continue
        parsed.entries.append(
            StatementEntry(ref, _date(booked, where), minor, currency, remittance[:300])
        )
    return parsed


def _text(element: Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def read_camt053(data: bytes) -> ParsedStatement:
    """The booked credit entries of an ISO 20022 camt.053 statement (any ``.001.NN``
    version: the paths read are the same in all). Debit and not-booked entries are
    counted and skipped. Parsed with defusedxml; a malformed file is refused."""
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as error:
        raise StatementError(
            _("The camt.053 statement is not well-formed XML: %(error)s") % {"error": error}
        ) from None
    except Exception as error:  # defusedxml's refusals (entities, DTDs)
        raise StatementError(
            _("The camt.053 statement was refused as unsafe XML: %(error)s") % {"error": error}
        ) from None
    namespace = root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""
    version = CAMT053.match(namespace)
    if version is None or root.tag != f"{{{namespace}}}Document":
        raise StatementError(
            _(
                "Not a camt.053 statement (root %(tag)s); expected a Document in the namespace "
                "urn:iso:std:iso:20022:tech:xsd:camt.053.001.NN."
            )
            % {"tag": root.tag}
        )
    ns = {"c": namespace}
    parsed = ParsedStatement(f"camt.053.001.{version.group(1)}", [])
    statements = root.findall("c:BkToCstmrStmt/c:Stmt", ns)
    if not statements:
        raise StatementError(_("The camt.053 file has no statement (BkToCstmrStmt/Stmt)."))
    for statement in statements:
        statement_id = _text(statement.find("c:Id", ns))
        account = _text(statement.find("c:Acct/c:Id/c:IBAN", ns)).replace(" ", "").upper()
        for position, entry in enumerate(statement.findall("c:Ntry", ns), start=1):
            where = _("statement %(id)s, entry %(n)s") % {"id": statement_id, "n": position}
            if _text(entry.find("c:CdtDbtInd", ns)) != "CRDT":
                parsed.debits += 1
                continue
            # .02 writes <Sts>BOOK</Sts>, later versions <Sts><Cd>BOOK</Cd></Sts>.
            status = _text(entry.find("c:Sts/c:Cd", ns)) or _text(entry.find("c:Sts", ns))
            if status != "BOOK":
                parsed.not_booked += 1
                continue
            parsed.entries += _camt_entries(entry, ns, account, where)
    return parsed


def _remittance(element: Element, ns: dict[str, str]) -> str:
    """The ``Ustrd`` texts and structured creditor references under ``element``."""
    return " ".join(
        text
        for text in (
            _text(node)
            for path in ("c:RmtInf/c:Ustrd", "c:RmtInf/c:Strd/c:CdtrRefInf/c:Ref")
            for node in element.findall(path, ns)
        )
        if text
    )[:300]


def _amount(element: Element | None, currency: str, where: str) -> int:
    if element is None or not element.get("Ccy"):
        raise StatementError(_("%(where)s: no amount with a currency.") % {"where": where})
    if _currency(element.get("Ccy", ""), where) != currency:
        raise StatementError(
            _("%(where)s: a transaction in %(found)s inside an entry in %(currency)s.")
            % {"where": where, "found": element.get("Ccy"), "currency": currency}
        )
    return to_minor(_text(element), currency, where)


def _camt_entries(
    entry: Element, ns: dict[str, str], account: str, where: str
) -> list[StatementEntry]:
    """The credit entries of one booked ``Ntry``: itself, or one per transaction when it
    batches several (``TxDtls``), whose amounts must add up to the entry's."""
    amount = entry.find("c:Amt", ns)
    if amount is None or not amount.get("Ccy"):
        raise StatementError(_("%(where)s: no amount with a currency.") % {"where": where})
    currency = _currency(amount.get("Ccy", ""), where)
    total = to_minor(_text(amount), currency, where)
    booked = _date(
        _text(entry.find("c:BookgDt/c:Dt", ns)) or _text(entry.find("c:BookgDt/c:DtTm", ns)),
        where,
    )
    own_ref = _text(entry.find("c:AcctSvcrRef", ns)) or _text(entry.find("c:NtryRef", ns))
    transactions = entry.findall("c:NtryDtls/c:TxDtls", ns)
    if len(transactions) <= 1:
        ref = own_ref or _text(entry.find("c:NtryDtls/c:TxDtls/c:Refs/c:AcctSvcrRef", ns))
        if not ref:
            raise StatementError(
                _("%(where)s: no entry reference (AcctSvcrRef or NtryRef).") % {"where": where}
            )
        remittance = " ".join(_remittance(tx, ns) for tx in transactions)
        return [StatementEntry(ref[:120], booked, total, currency, remittance, account)]
    found = []
    for index, tx in enumerate(transactions, start=1):
        here = _("%(where)s, transaction %(n)s") % {"where": where, "n": index}
        end_to_end = _text(tx.find("c:Refs/c:EndToEndId", ns))
        ref = (
            _text(tx.find("c:Refs/c:AcctSvcrRef", ns))
            or (end_to_end if end_to_end.upper() != NOT_PROVIDED else "")
            or (f"{own_ref}/{index}" if own_ref else "")
        )
        if not ref:
            raise StatementError(
                _("%(where)s: no reference (AcctSvcrRef, EndToEndId or the entry's).")
                % {"where": here}
            )
        tx_amount = tx.find("c:Amt", ns)
        if tx_amount is None:
            tx_amount = tx.find("c:AmtDtls/c:TxAmt/c:Amt", ns)
        minor = _amount(tx_amount, currency, here)
        found.append(
            StatementEntry(ref[:120], booked, minor, currency, _remittance(tx, ns), account)
        )
    added = sum(part.amount_minor for part in found)
    if added != total:
        raise StatementError(
            _("%(where)s: its transactions add up to %(sum)s, not the entry's %(total)s.")
            % {"where": where, "sum": added, "total": total}
        )
    return found


def read_statement(data: bytes, name: str = "") -> ParsedStatement:
    """Read a statement in either format: XML (camt.053) when it starts with ``<``. The
    same entry (account, reference, date) twice in one file is refused: a bank never
    books it twice, and skipping the second would drop money silently."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head == b"<" or name.lower().endswith(".xml"):
        parsed = read_camt053(data)
    else:
        parsed = read_csv_statement(data)
    counts = Counter(entry.key for entry in parsed.entries)
    twice = sorted(key for key, count in counts.items() if count > 1)
    if twice:
        _account, ref, booked = twice[0]
        raise StatementError(
            _("The entry %(ref)s of %(date)s appears more than once in this file.")
            % {"ref": ref, "date": booked.isoformat()}
        )
    return parsed


# --- Matching -----------------------------------------------------------------------------


def invoice_numbers_in(remittance: str) -> list[str]:
    """The invoice numbers a payer wrote in ``remittance``, normalised (``gb 2026 000123``
    → ``GB-2026-000123``), in order of appearance, without repeats."""
    found: list[str] = []
    for market, year, sequence in INVOICE_NUMBER.findall(remittance):
        number = f"{market.upper()}-{year}-{sequence}"
        if number not in found:
            found.append(number)
    return found


def match_entry(entry: StatementEntry) -> tuple[Invoice | None, str]:
    """The invoice ``entry`` pays, or ``None`` and the reason it cannot be matched."""
    if entry.amount_minor == 0:
        return None, ZERO_AMOUNT
    numbers = invoice_numbers_in(entry.remittance)
    if not numbers:
        return None, "no invoice number in the remittance information"
    invoices = list(Invoice.objects.filter(number__in=numbers))
    if not invoices:
        return None, f"unknown invoice number {numbers[0]}"
    if len(invoices) > 1:
        return None, "several invoice numbers: " + ", ".join(sorted(i.number for i in invoices))
    invoice = invoices[0]
    if invoice.currency != entry.currency:
        return (
            None,
            f"wrong currency: {entry.currency} for invoice {invoice.number} in {invoice.currency}",
        )
    return invoice, ""


# --- Importing ----------------------------------------------------------------------------


class BankTransfers(PaymentProvider):
    """Bank transfers and direct debits, known from the bank's statements."""

    code: ClassVar[str] = Payment.Provider.BANK

    def import_statement(
        self, path: Path, progress: Callable[[int, int], None] | None = None
    ) -> ImportSummary:
        return import_bank_statement(path, progress=progress)


def import_bank_statement(
    path: Path | str, progress: Callable[[int, int], None] | None = None
) -> ImportSummary:
    """Import a bank statement file (CSV or camt.053) and pay the invoices it names.

    Each new credit entry is stored (``BankEntry``); when its remittance names exactly
    one invoice in its currency, a payment (provider ``bank``, reference
    :func:`bank_ref`) is recorded with :func:`record_payment`; otherwise the reason is
    stored for staff and the money is held in suspense (Dr bank Cr suspense, code
    ``payment-unmatched``) until :func:`apply_bank_entry`. A zero credit is kept with
    the reason and moves nothing.
    Refused (``StatementError``, nothing written): an unreadable or malformed file, a
    file already imported. Entries already imported from another statement are skipped.
    One transaction for the whole file: a crash leaves nothing, and a re-run imports it
    whole. Lines suspended by dunning are reactivated after the commit when nothing is
    overdue any more. ``progress(done, total)`` is called per entry. For staff jobs.
    """
    from kindwave.billing.services import dunning

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise StatementError(
            _("Cannot read %(path)s: %(error)s") % {"path": path, "error": error.strerror}
        ) from None
    sha256 = hashlib.sha256(data).hexdigest()
    known = BankStatement.objects.filter(source_sha256=sha256).first()
    if known is not None:
        raise StatementError(
            _("This file was already imported on %(when)s as %(name)s.")
            % {"when": known.imported_at.strftime("%Y-%m-%d %H:%M UTC"), "name": known.source_name}
        )
    parsed = read_statement(data, path.name)
    paid: list[Payment] = []
    with transaction.atomic():
        statement = BankStatement.objects.create(
            source_name=path.name[:255], source_sha256=sha256, format=parsed.format
        )
        summary = ImportSummary(
            statement,
            entries=len(parsed.entries),
            debits_skipped=parsed.debits,
            not_booked_skipped=parsed.not_booked,
        )
        refs = [entry.entry_ref for entry in parsed.entries]
        seen = {
            (row.account, row.entry_ref, row.booked_on)
            for row in BankEntry.objects.filter(entry_ref__in=refs).only(
                "account", "entry_ref", "booked_on"
            )
        }
        for done, entry in enumerate(parsed.entries, start=1):
            if entry.key in seen:
                summary.already_seen += 1
            else:
                seen.add(entry.key)
                payment = _import_entry(statement, entry, summary)
                if payment is not None:
                    paid.append(payment)
            if progress is not None:
                progress(done, len(parsed.entries))
        statement.entries, statement.matched = len(parsed.entries), summary.matched
        statement.save(update_fields=["entries", "matched"])
    for payment in paid:  # a no-op for lines dunning did not suspend
        dunning.reactivate_if_settled(payment.invoice.line)
    return summary


def bank_ref(entry: StatementEntry | BankEntry) -> str:
    """The payment reference of a bank entry: its account, booking date and the bank's
    reference (``GB33BUKB…:2026-04-04:BUKB-0404-000101``; CSV entries have no account)."""
    parts = (entry.account, entry.booked_on.isoformat(), entry.entry_ref)
    return ":".join(part for part in parts if part)


def _record_bank(
    invoice: Invoice, entry: StatementEntry | BankEntry, source: chart.AccountName | None = None
) -> Payment:
    """The payment of ``entry`` to ``invoice``, received on its booking date (UTC), taken
    from ``source`` (the bank by default; suspense when staff apply a held entry)."""
    booked = entry.booked_on
    return _record(
        invoice,
        provider=Payment.Provider.BANK,
        provider_ref=bank_ref(entry),
        amount_minor=entry.amount_minor,
        currency=entry.currency,
        fee_minor=0,
        received_at=datetime(booked.year, booked.month, booked.day, tzinfo=UTC),
        source=source,
    )


def _import_entry(
    statement: BankStatement, entry: StatementEntry, summary: ImportSummary
) -> Payment | None:
    invoice, problem = match_entry(entry)
    payment = None
    if invoice is not None:
        payment = _record_bank(invoice, entry)
    row = BankEntry.objects.create(
        statement=statement,
        account=entry.account,
        entry_ref=entry.entry_ref,
        booked_on=entry.booked_on,
        amount_minor=entry.amount_minor,
        currency=entry.currency,
        remittance=entry.remittance,
        payment=payment,
        problem=problem,
    )
    if payment is not None:
        summary.matched += 1
        summary.matched_minor[entry.currency] += entry.amount_minor
    else:
        _hold_in_suspense(row)
        summary.unmatched.append(row)
        summary.unmatched_minor[entry.currency] += entry.amount_minor
    return payment


def _hold_in_suspense(entry: BankEntry) -> None:
    """Book an unmatched receipt: Dr bank Cr suspense (code ``payment-unmatched``), so the
    ledger's bank agrees with the real one. Idempotent (the key is the entry's); a zero
    entry moves nothing."""
    if entry.amount_minor <= 0:
        return
    bank, suspense = chart.ensure(chart.bank(entry.currency), chart.suspense(entry.currency))
    ledger.transfer(
        f"payment:bank:{bank_ref(entry)}:suspense",
        bank,
        suspense,
        entry.amount_minor,
        entry.currency,
        "payment-unmatched",
        "bank receipt not yet matched to an invoice",
    )


def find_bank_entry(
    entry_ref: str, *, booked_on: date | None = None, account: str | None = None
) -> BankEntry:
    """The one statement entry with reference ``entry_ref`` (narrowed by booking date and
    account when the bank reused the reference); ``PaymentError`` if none or several."""
    found = BankEntry.objects.filter(entry_ref=entry_ref.strip())
    if booked_on is not None:
        found = found.filter(booked_on=booked_on)
    if account is not None:
        found = found.filter(account=account.replace(" ", "").upper())
    entries = list(found.order_by("booked_on", "id")[:10])
    if not entries:
        raise PaymentError(_("There is no bank entry %(ref)s.") % {"ref": entry_ref})
    if len(entries) > 1:
        raise PaymentError(
            _("Several bank entries have the reference %(ref)s (%(which)s); give the date.")
            % {
                "ref": entry_ref,
                "which": ", ".join(f"{e.account or 'CSV'} {e.booked_on}" for e in entries),
            }
        )
    return entries[0]


def apply_bank_entry(entry: BankEntry | int, invoice_number: str, *, by: User | None) -> Payment:
    """Apply an unmatched bank entry (held in suspense) to the invoice ``invoice_number``:
    a ``Payment`` (provider ``bank``, reference :func:`bank_ref`) posted Dr suspense
    Cr receivables up to what is outstanding, the rest Cr the owner's wallet; the entry
    records the payment, who applied it (``by``) and when.

    Refused (``PaymentError``, nothing written): an entry already applied or matched, a
    zero entry, an unknown invoice (``InvoiceNotFound``), an invoice in another currency.
    Atomic; the entry's row is locked, so two staff applying it at once apply it once.
    The line is reactivated after the commit if dunning suspended it and nothing is
    overdue any more. For staff (the caller checks that ``by`` may do this).
    """
    from kindwave.billing.services import dunning

    pk = entry if isinstance(entry, int) else entry.pk
    with transaction.atomic():
        locked = BankEntry.objects.select_for_update().filter(pk=pk).first()
        if locked is None:
            raise PaymentError(_("There is no such bank entry."))
        if locked.payment_id is not None:
            raise PaymentError(
                _("The bank entry %(ref)s of %(date)s is already applied to an invoice.")
                % {"ref": locked.entry_ref, "date": locked.booked_on.isoformat()}
            )
        if locked.amount_minor <= 0:
            raise PaymentError(_("A zero entry has nothing to apply."))
        invoice = Invoice.objects.filter(number=invoice_number.strip().upper()).first()
        if invoice is None:
            raise InvoiceNotFound(_("There is no invoice %(number)s.") % {"number": invoice_number})
        check_currency(invoice, locked.currency)
        # Entries imported before unmatched money reached the ledger: book it now (a no-op
        # when the suspense transfer exists), so the suspense account never goes negative.
        _hold_in_suspense(locked)
        payment = _record_bank(invoice, locked, source=chart.suspense(locked.currency))
        locked.payment, locked.applied_by, locked.applied_at = payment, by, timezone.now()
        locked.save(update_fields=["payment", "applied_by", "applied_at"])
    dunning.reactivate_if_settled(payment.invoice.line)
    return payment


def entries_to_review(limit: int | None = None) -> Iterable[BankEntry]:
    """Statement entries no invoice was found for, oldest first, for staff to settle."""
    found = BankEntry.objects.filter(payment__isnull=True).select_related("statement")
    found = found.order_by("booked_on", "id")
    return found[:limit] if limit else found
