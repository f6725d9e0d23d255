"""The bill run of a cycle: every line's invoice, gap-free numbers and the ledger postings.

``run_bill_run(cycle)`` bills the lines in a fixed order (market code, line id), a batch at
a time. Each batch reads what it needs in a few queries, computes the drafts with the pure
rules of :mod:`kindwave.billing.services.invoicing`, and writes in ONE transaction: the
market/year invoice sequences (locked), the invoices and their lines, the carrier charges
marked invoiced, and the ledger transfers (``bill:<cycle>:line:<id>/n``). A crash loses at
most the batch in flight, which rolls back whole; a re-run skips the lines already
invoiced and continues with the same numbers an uninterrupted run would have given.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import cast

from django.conf import settings
from django.db import models, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from kindwave.billing.models import BillRun, CarrierCharge, Invoice, InvoiceLine, InvoiceSequence
from kindwave.billing.services.invoicing import (
    CarrierFact,
    CatalogTerms,
    InvoiceDraft,
    LineFacts,
    cause_at,
    compute_invoice,
)
from kindwave.ledger import chart
from kindwave.ledger import services as ledger
from kindwave.ledger.models import balance
from kindwave.ledger.services import Leg
from kindwave.lib.bulk import ids_in, insert_rows
from kindwave.lines.models import (
    CatalogVersion,
    CauseChoice,
    Line,
    LineStateChange,
    PlanSubscription,
)
from kindwave.usage import services as usage

BATCH_SIZE = 500


class BillRunError(Exception):
    """A bill run that cannot start; the message says why. Nothing was written."""


@dataclass
class CurrencyTotals:
    invoices: int = 0
    net_minor: int = 0
    vat_minor: int = 0
    extras_minor: int = 0
    credits_minor: int = 0
    total_minor: int = 0
    shares_minor: int = 0


@dataclass
class BillRunSummary:
    """What a bill run did; the totals are the whole cycle's (also after a resume)."""

    cycle: str
    already_complete: bool = False
    lines: int = 0  # lines considered in the cycle
    processed: int = 0  # lines this call looked at (the rest were invoiced before)
    invoices: int = 0
    totals: dict[str, CurrencyTotals] = field(default_factory=dict)
    # cause id (None: the foundation) → invoices whose share went to it
    shares_by_cause: dict[int | None, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def lines_per_second(self) -> float:
        return self.processed / self.seconds if self.seconds else 0.0


# --- Checks ------------------------------------------------------------------------------


def rating_closed_by_billing(cycle: str) -> str | None:
    """Why ``cycle`` may not be rated again: once a bill run has started on it, its rated
    usage is what the invoices are made from (late usage is a later cycle's matter)."""
    if BillRun.objects.filter(cycle=cycle).exists():
        return _(
            "The cycle %(cycle)s is billed (its bill run has started): its usage cannot be "
            "rated again, or the usage pages would no longer match the invoices."
        ) % {"cycle": cycle}
    return None


def check_cycle(cycle: str, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The cycle's bounds, or ``BillRunError`` if it is malformed or not over yet."""
    try:
        start, end = usage.cycle_bounds(cycle)
    except ValueError:
        raise BillRunError(
            _("%(cycle)r is not a cycle: write it YYYY-MM, e.g. 2026-10.") % {"cycle": cycle}
        ) from None
    if end > (now or timezone.now()):
        raise BillRunError(
            _("The cycle %(cycle)s is not over yet: it can be billed from %(end)s (UTC).")
            % {"cycle": cycle, "end": end.strftime("%Y-%m-%d %H:%M")}
        )
    return start, end


def _start(cycle: str, now: datetime | None) -> tuple[BillRun, datetime, datetime]:
    start, end = check_cycle(cycle, now)
    existing = BillRun.objects.filter(cycle=cycle).first()
    if existing is not None and existing.state == BillRun.State.COMPLETE:
        return existing, start, end
    rating = usage.latest_run(cycle)
    if rating is None:
        raise BillRunError(
            _(
                "The cycle %(cycle)s has not been rated: run "
                "`kindwave usage rate --cycle %(cycle)s` first."
            )
            % {"cycle": cycle}
        )
    later = (
        BillRun.objects.filter(state=BillRun.State.COMPLETE, cycle__gt=cycle)
        .order_by("-cycle")
        .first()
    )
    if later is not None:
        raise BillRunError(
            _(
                "The cycle %(later)s is already billed: invoice numbers must follow the "
                "calendar, so %(cycle)s can no longer be billed."
            )
            % {"later": later.cycle, "cycle": cycle}
        )
    unfinished = BillRun.objects.filter(state=BillRun.State.RUNNING).exclude(cycle=cycle).first()
    if unfinished is not None:
        raise BillRunError(
            _("The bill run of %(other)s is unfinished: run it again to complete it first.")
            % {"other": unfinished.cycle}
        )
    if existing is not None and existing.rating_run_id not in (None, rating.pk):
        raise BillRunError(
            _(
                "The cycle %(cycle)s was rated again after its bill run began; the run must "
                "finish on the rating it started with (rating run %(run)s)."
            )
            % {"cycle": cycle, "run": existing.rating_run_id}
        )
    run, _created = BillRun.objects.get_or_create(
        cycle=cycle,
        defaults={"state": BillRun.State.RUNNING, "rating_run_id": rating.pk},
    )
    return run, start, end


# --- Reading a batch ---------------------------------------------------------------------


def candidate_lines(cycle: str, start: datetime, end: datetime) -> list[int]:
    """Every line that may have something to bill in the cycle, in billing order (market
    code, line id): in service at some moment of it, or with usage or carrier charges."""
    rows = set(
        Line.objects.filter(activated_at__lt=end)
        .filter(Q(terminated_at__isnull=True) | Q(terminated_at__gt=start))
        .values_list("pk", "market__code")
    )
    extra_ids = set(usage.lines_with_usage(cycle)) | set(
        CarrierCharge.objects.filter(
            state=CarrierCharge.State.CONFIRMED, cycle=cycle, invoice__isnull=True
        ).values_list("line_id", flat=True)
    )
    known = {pk for pk, _code in rows}
    missing = sorted(extra_ids - known)
    for begin in range(0, len(missing), 900):
        rows |= set(
            Line.objects.filter(pk__in=missing[begin : begin + 900]).values_list(
                "pk", "market__code"
            )
        )
    return [pk for pk, _code in sorted(rows, key=lambda row: (row[1], row[0]))]


def catalog_terms(market_id: int, end: datetime) -> list[CatalogTerms]:
    """What the invoices need of every catalogue version of the market that took effect
    before the cycle's end (a few versions; read once per run)."""
    versions = (
        CatalogVersion.objects.filter(market_id=market_id, effective_from__lt=end)
        .prefetch_related("plans", "destination_classes", "roaming_zones")
        .order_by("effective_from")
    )
    return [
        CatalogTerms(
            effective_from=version.effective_from,
            tax_mode=version.tax_mode,
            vat_rate=version.vat_rate,
            fees={plan.code: plan.monthly_fee_minor for plan in version.plans.all()},
            plan_names={plan.code: (plan.name_en, plan.name_fr) for plan in version.plans.all()},
            class_names={
                item.code: (item.name_en, item.name_fr)
                for item in version.destination_classes.all()
            },
            zone_names={
                item.code: (item.name_en, item.name_fr) for item in version.roaming_zones.all()
            },
        )
        for version in versions
    ]


@dataclass(frozen=True)
class _LineRow:
    line_id: int
    market_id: int
    market_code: str
    currency: str
    owner_id: int
    customer_name: str
    msisdn: str
    language: str


def _read_batch(cycle: str, line_ids: Sequence[int]) -> tuple[list[_LineRow], dict[int, LineFacts]]:
    """The batch's lines and their facts (wallet balances are read later, under lock)."""
    batch = ids_in(line_ids)
    rows = [
        _LineRow(pk, market_id, code, currency, owner_id, full_name or email, msisdn, language)
        for pk, market_id, code, currency, owner_id, full_name, email, msisdn, language in (
            Line.objects.filter(pk__in=batch).values_list(
                "pk",
                "market_id",
                "market__code",
                "market__currency",
                "owner_id",
                "owner__full_name",
                "owner__email",
                "msisdn",
                "owner__language",
            )
        )
    ]
    states: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for line_id, at, to_state in (
        LineStateChange.objects.filter(line_id__in=batch)
        .order_by("line_id", "at", "pk")
        .values_list("line_id", "at", "to_state")
    ):
        states[line_id].append((at, to_state))
    subscriptions: dict[int, list[tuple[datetime, datetime | None, str]]] = defaultdict(list)
    for line_id, valid_from, valid_to, plan_code in PlanSubscription.objects.filter(
        line_id__in=batch
    ).values_list("line_id", "valid_from", "valid_to", "plan_code"):
        subscriptions[line_id].append((valid_from, valid_to, plan_code))
    causes: dict[int, list[tuple[datetime, int | None]]] = defaultdict(list)
    for line_id, valid_from, cause_id in CauseChoice.objects.filter(line_id__in=batch).values_list(
        "line_id", "valid_from", "cause_id"
    ):
        causes[line_id].append((valid_from, cause_id))
    charges = usage.cycle_charges_for_lines(line_ids, cycle)
    carrier: dict[int, list[CarrierFact]] = defaultdict(list)
    for charge in CarrierCharge.objects.filter(
        line_id__in=batch,
        state=CarrierCharge.State.CONFIRMED,
        cycle=cycle,
        invoice__isnull=True,
    ).order_by("settled_at", "pk"):
        carrier[charge.line_id].append(
            CarrierFact(
                charge.pk,
                charge.kind,
                charge.description,
                charge.amount_minor,
                charge.cause_id,
            )
        )
    facts = {
        row.line_id: LineFacts(
            line_id=row.line_id,
            currency=row.currency,
            language=row.language,
            states=states[row.line_id],
            subscriptions=subscriptions[row.line_id],
            causes=causes[row.line_id],
            charges=charges.get(row.line_id, []),
            carrier=carrier[row.line_id],
        )
        for row in rows
    }
    return rows, facts


# --- Writing a batch ---------------------------------------------------------------------


def _legs(draft: InvoiceDraft, row: _LineRow, cycle: str) -> list[Leg]:
    """The invoice's ledger legs (docs/billing-rules.md, "Ledger postings")."""
    currency = draft.currency
    receivables, revenue, vat, unbilled, expense = _market_accounts(row.market_code, currency)
    description = f"bill {cycle}"
    legs = [
        Leg(receivables, revenue, draft.net_minor, currency, "invoice-revenue", description),
        Leg(receivables, vat, draft.vat_minor, currency, "invoice-vat", description),
        Leg(receivables, unbilled, draft.extras_minor, currency, "invoice-extras", description),
        Leg(chart.wallet(row.owner_id, currency).code, receivables, -draft.credits_minor,
            currency, "wallet-credit", description),
        Leg(expense, _share_account(draft.cause_id, currency).code, draft.cause_share_minor,
            currency, "bill-share", description),
    ]  # fmt: skip
    return [leg for leg in legs if leg.amount > 0]


@lru_cache(maxsize=64)
def _market_names(market_code: str, currency: str) -> tuple[chart.AccountName, ...]:
    """The operator's accounts every invoice of a market posts to (receivables, revenue,
    VAT, unbilled, cause-share expense), named once per run rather than per invoice."""
    return (
        chart.receivables(currency),
        chart.revenue(currency),
        chart.vat_payable(market_code, currency),
        chart.unbilled(currency),
        chart.cause_share(currency),
    )


@lru_cache(maxsize=64)
def _market_accounts(market_code: str, currency: str) -> tuple[str, str, str, str, str]:
    receivables, revenue, vat, unbilled, expense = (
        name.code for name in _market_names(market_code, currency)
    )
    return receivables, revenue, vat, unbilled, expense


@lru_cache(maxsize=4096)
def _share_account(cause_id: int | None, currency: str) -> chart.AccountName:
    return chart.foundation(currency) if cause_id is None else chart.cause(cause_id, currency)


_INVOICE_COLUMNS = (
    "number", "market", "year", "sequence", "bill_run", "cycle", "line", "owner",
    "customer_name", "msisdn", "language", "issued_at", "issued_on", "due_on", "period_start",
    "period_end", "currency", "tax_mode", "vat_rate", "net_minor", "vat_minor", "extras_minor",
    "credits_minor", "total_minor", "cause", "cause_share_minor", "status", "paid_minor",
    "paid_at", "created_at",
)  # fmt: skip
_LINE_COLUMNS = (
    "invoice", "position", "kind", "description", "quantity", "unit", "period_start",
    "period_end", "amount_minor", "vat_applies",
)  # fmt: skip


def _write_batch(
    run: BillRun,
    cycle: str,
    end: datetime,
    line_ids: Sequence[int],
    catalogs: dict[int, list[CatalogTerms]],
    ensured: set[str],
) -> int:
    """Bill one batch of lines in one transaction; returns the invoices issued."""
    rows, facts = _read_batch(cycle, line_ids)
    for row in rows:
        if row.market_id not in catalogs:
            catalogs[row.market_id] = catalog_terms(row.market_id, end)
    _ensure_accounts(rows, facts, end, ensured)
    with transaction.atomic():
        # One writer per cycle at a time: a second runner waits here, then sees our lines.
        BillRun.objects.select_for_update().filter(pk=run.pk).first()
        done = set(
            Invoice.objects.filter(cycle=cycle, line_id__in=ids_in(line_ids)).values_list(
                "line_id", flat=True
            )
        )
        todo = [row for row in sorted(rows, key=lambda r: (r.market_code, r.line_id))
                if row.line_id not in done]  # fmt: skip
        wallet_codes = {chart.wallet(row.owner_id, row.currency).code for row in todo}
        wallets = {
            code: balance(account) - account.debits_pending
            for code, account in ledger.lock_accounts(wallet_codes, missing_ok=True).items()
        }
        drafts = _drafts(todo, facts, wallets, cycle, catalogs)
        if not drafts:
            return 0
        ids = _insert_invoices(run, cycle, end, drafts)
        for row, _draft in drafts:
            charge_ids = [fact.charge_id for fact in facts[row.line_id].carrier]
            if charge_ids:
                marked = CarrierCharge.objects.filter(
                    pk__in=charge_ids, invoice__isnull=True
                ).update(invoice_id=ids[row.line_id])
                if marked != len(charge_ids):
                    raise BillRunError(_("A carrier charge was invoiced by someone else."))
        ledger.transfer_batch(
            [
                (f"bill:{cycle}:line:{row.line_id}", _legs(draft, row, cycle))
                for row, draft in drafts
            ]
        )
        BillRun.objects.filter(pk=run.pk).update(
            invoices_issued=models.F("invoices_issued") + len(drafts)
        )
    return len(drafts)


def _drafts(
    todo: list[_LineRow],
    facts: dict[int, LineFacts],
    wallets: dict[str, int],
    cycle: str,
    catalogs: dict[int, list[CatalogTerms]],
) -> list[tuple[_LineRow, InvoiceDraft]]:
    """The batch's invoice drafts, in billing order; ``wallets`` (code → credit available)
    is spent as it goes, so a subscriber's several lines share one wallet."""
    share_percent = cast("dict[str, int]", settings.BILLING)["CAUSE_SHARE_PERCENT"]
    drafts: list[tuple[_LineRow, InvoiceDraft]] = []
    for row in todo:
        code = chart.wallet(row.owner_id, row.currency).code
        try:
            draft = compute_invoice(
                replace(facts[row.line_id], wallet_minor=wallets.get(code, 0)),
                cycle,
                catalogs[row.market_id],
                share_percent=share_percent,
            )
        except ValueError as error:
            raise BillRunError(
                _("Line %(line)s cannot be billed: %(error)s")
                % {"line": row.line_id, "error": error}
            ) from None
        if draft is not None:
            wallets[code] = wallets.get(code, 0) + draft.credits_minor
            drafts.append((row, draft))
    return drafts


def _insert_invoices(
    run: BillRun, cycle: str, end: datetime, drafts: list[tuple[_LineRow, InvoiceDraft]]
) -> dict[int, int]:
    """Number the drafts and insert them with their lines; returns line id → invoice id."""
    issued_on = end.date()
    due_on = issued_on + timedelta(
        days=cast("dict[str, int]", settings.BILLING)["PAYMENT_TERMS_DAYS"]
    )
    now = timezone.now()
    numbers = _allocate_numbers([row for row, _draft in drafts], issued_on.year)
    invoice_rows = []
    for (row, draft), sequence in zip(drafts, numbers, strict=True):
        paid = draft.total_minor == 0
        invoice_rows.append(
            (
                f"{row.market_code}-{issued_on.year}-{sequence:06d}", row.market_id,
                issued_on.year, sequence, run.pk, cycle, row.line_id, row.owner_id,
                row.customer_name[:150], row.msisdn, draft.language, end, issued_on,
                due_on, draft.period_start, draft.period_end, draft.currency,
                draft.tax_mode, draft.vat_rate, draft.net_minor, draft.vat_minor,
                draft.extras_minor, draft.credits_minor, draft.total_minor,
                draft.cause_id, draft.cause_share_minor,
                Invoice.Status.PAID if paid else Invoice.Status.OPEN, 0,
                end if paid else None, now,
            )
        )  # fmt: skip
    insert_rows(Invoice, _INVOICE_COLUMNS, invoice_rows)
    ids = dict(
        Invoice.objects.filter(
            cycle=cycle, line_id__in=ids_in([row.line_id for row, _draft in drafts])
        ).values_list("line_id", "pk")
    )
    line_rows = [
        (ids[row.line_id], position, item.kind, item.description[:255], item.quantity,
         item.unit, item.period_start, item.period_end, item.amount_minor, item.vat_applies)
        for row, draft in drafts
        for position, item in enumerate(draft.lines, start=1)
    ]  # fmt: skip
    insert_rows(InvoiceLine, _LINE_COLUMNS, line_rows)
    return ids


def _allocate_numbers(rows: list[_LineRow], year: int) -> list[int]:
    """The next numbers of each market's sequence for ``year``, in ``rows`` order; the
    sequences are locked and advanced in the caller's transaction (no gap, no reuse)."""
    needed: dict[int, int] = defaultdict(int)
    for row in rows:
        needed[row.market_id] += 1
    next_number: dict[int, int] = {}
    for market_id in sorted(needed):
        sequence, _created = InvoiceSequence.objects.select_for_update().get_or_create(
            market_id=market_id, year=year
        )
        next_number[market_id] = sequence.last_number + 1
        InvoiceSequence.objects.filter(pk=sequence.pk).update(
            last_number=sequence.last_number + needed[market_id]
        )
    numbers = []
    for row in rows:
        numbers.append(next_number[row.market_id])
        next_number[row.market_id] += 1
    return numbers


def _ensure_accounts(
    rows: Iterable[_LineRow], facts: dict[int, LineFacts], end: datetime, ensured: set[str]
) -> None:
    """Open (idempotently, outside the batch's transaction) the accounts the batch may
    post to; ``ensured`` remembers those already opened in this run."""
    names: set[chart.AccountName] = set()
    for row in rows:
        names.update(_market_names(row.market_code, row.currency))
        names.add(_share_account(cause_at(facts[row.line_id].causes, end), row.currency))
    fresh = {name.code: name for name in names if name.code not in ensured}
    if fresh:
        chart.ensure(*fresh.values())
        ensured.update(fresh)


# --- The run -----------------------------------------------------------------------------


def run_bill_run(
    cycle: str,
    *,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = BATCH_SIZE,
    now: datetime | None = None,
) -> BillRunSummary:
    """Bill every line of ``cycle`` (``YYYY-MM``, UTC) and close the cycle's bill run.

    Promises: refuses with ``BillRunError`` (nothing written) a malformed cycle, a cycle
    not over at ``now``, a cycle without a finished rating run, a cycle earlier than one
    already billed, or while another cycle's run is unfinished. Resumable and idempotent:
    each batch is one transaction; a re-run after a crash continues where the last
    committed batch ended and gives the same invoices, numbers and ledger as an
    uninterrupted run; a complete run is closed (``already_complete``, nothing written).
    ``progress(done, total)`` reports lines. Operator staff run it
    (``kindwave billing run``).
    """
    began = time.perf_counter()
    if batch_size < 1:
        raise BillRunError(_("The batch size must be at least 1."))
    run, start, end = _start(cycle, now)
    if run.state == BillRun.State.COMPLETE:
        summary = _summarise(cycle, run)
        summary.already_complete = True
        return summary
    line_ids = candidate_lines(cycle, start, end)
    catalogs: dict[int, list[CatalogTerms]] = {}
    ensured: set[str] = set()
    invoiced = set(Invoice.objects.filter(cycle=cycle).values_list("line_id", flat=True))
    todo = [pk for pk in line_ids if pk not in invoiced]
    done = len(line_ids) - len(todo)
    if progress is not None:
        progress(done, len(line_ids))
    for begin in range(0, len(todo), batch_size):
        batch = todo[begin : begin + batch_size]
        _write_batch(run, cycle, end, batch, catalogs, ensured)
        done += len(batch)
        if progress is not None:
            progress(done, len(line_ids))
    with transaction.atomic():
        BillRun.objects.filter(pk=run.pk).update(
            state=BillRun.State.COMPLETE,
            finished_at=timezone.now(),
            lines_seen=len(line_ids),
            invoices_issued=Invoice.objects.filter(cycle=cycle).count(),
        )
    run.refresh_from_db()
    summary = _summarise(cycle, run)
    summary.processed = len(todo)
    summary.seconds = time.perf_counter() - began
    return summary


def _summarise(cycle: str, run: BillRun) -> BillRunSummary:
    invoices = Invoice.objects.filter(cycle=cycle)
    totals = {
        row["currency"]: CurrencyTotals(
            invoices=row["invoices"],
            net_minor=row["net"] or 0,
            vat_minor=row["vat"] or 0,
            extras_minor=row["extras"] or 0,
            credits_minor=row["credits"] or 0,
            total_minor=row["total"] or 0,
            shares_minor=row["shares"] or 0,
        )
        for row in invoices.values("currency")
        .annotate(
            invoices=Count("pk"),
            net=Sum("net_minor"),
            vat=Sum("vat_minor"),
            extras=Sum("extras_minor"),
            credits=Sum("credits_minor"),
            total=Sum("total_minor"),
            shares=Sum("cause_share_minor"),
        )
        .order_by("currency")
    }
    shares = {
        row["cause_id"]: row["count"]
        for row in invoices.filter(cause_share_minor__gt=0)
        .values("cause_id")
        .annotate(count=Count("pk"))
        .order_by("cause_id")
    }
    return BillRunSummary(
        cycle=cycle,
        lines=run.lines_seen,
        invoices=sum(item.invoices for item in totals.values()),
        totals=totals,
        shares_by_cause=shares,
    )
