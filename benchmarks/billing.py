"""Benchmark the bill run: lines/s for a whole cycle, ledger postings included, against a
plain bulk insert of the same number of invoice rows in the same database.

    .venv/bin/python benchmarks/billing.py [--lines 100000] [--database sqlite|postgres]
                                           [--batch-size 500]

``--database sqlite`` (default) uses a throw-away SQLite file; ``postgres`` uses the empty
database ``DATABASE_URL`` names (it is migrated and its billing, ledger, usage and lines
rows are replaced). Not timed: the GB and FR catalogues, the demo causes, and --lines lines
written in bulk — 80 % GB, 20 % FR; a tenth activated or terminated mid-month, a tenth
changing plan mid-month; each with three rated usage summaries and a cause choice (one in
eight chose none) — plus a finished rating run. Timed:

1. ``run_bill_run`` of the cycle (invoices, their lines, numbers and every ledger transfer;
   no PDFs — they are rendered on demand);
2. the limit: ``insert_rows`` of the same number of invoice rows, nothing else.

Target of issue 4: ≥ 2,000 lines/s on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CYCLE = "2026-03"
START = datetime(2026, 3, 1, tzinfo=UTC)
TARGET = 2_000


def setup_django(database: str, work: Path) -> None:
    os.environ["KINDWAVE_DEBUG"] = "true"
    os.environ["KINDWAVE_DATA_DIR"] = str(work)
    if database == "sqlite":
        os.environ["DATABASE_URL"] = f"sqlite:///{work / 'kindwave.sqlite3'}"
    elif not os.environ.get("DATABASE_URL", "").startswith(("postgres:", "postgresql:")):
        sys.exit("--database postgres needs DATABASE_URL=postgres://… (an empty database)")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kindwave.settings")
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    settings.DEBUG = False  # as in production: no query log


def build(count: int, seed: int = 7) -> None:
    """Markets, causes and ``count`` billable lines with their histories and rated usage."""
    from django.db import transaction

    from kindwave.accounts.models import User
    from kindwave.billing.models import BillRun, Invoice, InvoiceLine, InvoiceSequence
    from kindwave.causes import services as causes
    from kindwave.causes.models import Cause
    from kindwave.ledger.models import Account, Transfer
    from kindwave.lib.bulk import insert_rows
    from kindwave.lines import services as lines
    from kindwave.lines.models import (
        CauseChoice,
        Line,
        LineStateChange,
        Market,
        PlanSubscription,
        SimCard,
    )
    from kindwave.usage.models import RatedUsageSummary, RatingRun
    from kindwave.usage.rating.cycles import UNITS_PER_MAJOR

    # A throw-away database: empty what a previous run left.
    for model in (InvoiceLine, Invoice, InvoiceSequence, BillRun, Transfer, Account):
        model.objects.all().delete()
    for model in (RatedUsageSummary, RatingRun, CauseChoice, PlanSubscription, LineStateChange):
        model.objects.all().delete()
    Line.objects.all().delete()
    SimCard.objects.all().delete()
    User.objects.filter(email__endswith="@bench.example").delete()
    for market in ("gb", "fr"):
        lines.load_catalog_file(lines.demo_catalog_path(market))
    causes.load_demo_causes()
    markets = {m.code: m for m in Market.objects.all()}
    cause_ids = {
        "GB": list(Cause.objects.filter(country="GB").values_list("pk", flat=True)),
        "FR": list(Cause.objects.filter(country="FR").values_list("pk", flat=True)),
    }
    plans = {
        "GB": ["gb-starter", "gb-everyday", "gb-unlimited", "gb-payg"],
        "FR": ["fr-essentiel", "fr-confort", "fr-illimite", "fr-payg"],
    }
    rng = random.Random(seed)
    now = datetime.now(tz=UTC)
    ordered = datetime(2026, 1, 10, tzinfo=UTC)
    first = (User.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    users, sims, line_rows, states, subs, choices, usage = [], [], [], [], [], [], []
    for n in range(count):
        pk = first + n
        code = "GB" if n % 5 else "FR"
        market = markets[code]
        users.append(
            ("!", None, False, f"s{pk}@bench.example", f"Subscriber {pk}",
             "fr" if code == "FR" else "en", "UTC", now, True, False, now, pk)
        )  # fmt: skip
        imsi = f"{market.host_mcc}{market.host_mnc}{pk:010d}"[:15]
        sims.append((pk, market.pk, f"89{pk:017d}", imsi, "assigned", now))
        shape = rng.random()
        activated = ordered + timedelta(days=5)
        terminated = None
        if shape < 0.05:
            activated = START + timedelta(days=rng.randrange(31), hours=rng.randrange(24))
        elif shape < 0.10:
            terminated = START + timedelta(days=rng.randrange(1, 31), hours=rng.randrange(24))
        msisdn = f"+4474{pk:08d}" if code == "GB" else f"+336{pk:08d}"
        state = "terminated" if terminated else "active"
        line_rows.append(
            (pk, pk, market.pk, msisdn, pk, state, ordered, activated, terminated,
             terminated or activated, "")
        )  # fmt: skip
        states += [(pk, "", "ordered", ordered, "ordered", now),
                   (pk, "ordered", "active", activated, "activated", now)]  # fmt: skip
        if terminated:
            states.append((pk, "active", "terminated", terminated, "terminated", now))
        plan = rng.choice(plans[code])
        if 0.10 <= shape < 0.20:
            change = START + timedelta(days=rng.randrange(1, 31))
            other = rng.choice([p for p in plans[code] if p != plan])
            subs += [(pk, plan, ordered, change, now), (pk, other, change, None, now)]
        else:
            subs.append((pk, plan, ordered, terminated, now))
        chosen = rng.choice(cause_ids[code]) if rng.random() > 0.125 else None
        choices.append((pk, chosen, ordered, now))
        for service, direction, zone, kind, klass in (
            ("voice", "out", "home", "home", "mobile"),
            ("sms", "out", "home", "home", "mobile"),
            ("data", "out", "eu", "roam_like_at_home", ""),
        ):
            units = rng.randrange(0, 3 * UNITS_PER_MAJOR)
            usage.append(
                (pk, CYCLE, plan, service, direction, zone, kind, klass, 10, 100, 50, 50, units,
                 market.currency)
            )  # fmt: skip
    with transaction.atomic():
        insert_rows(User, ("password", "last_login", "is_superuser", "email", "full_name",
                           "language", "time_zone", "email_verified_at", "is_active",
                           "is_staff", "date_joined", "id"), users)  # fmt: skip
        insert_rows(SimCard, ("id", "market", "iccid", "imsi", "status", "created_at"), sims)
        insert_rows(Line, ("id", "owner", "market", "msisdn", "sim", "state", "ordered_at",
                           "activated_at", "terminated_at", "state_changed_at",
                           "external_ref"), line_rows)  # fmt: skip
        insert_rows(LineStateChange, ("line", "from_state", "to_state", "at", "reason",
                                      "recorded_at"), states)  # fmt: skip
        insert_rows(PlanSubscription, ("line", "plan_code", "valid_from", "valid_to",
                                       "created_at"), subs)  # fmt: skip
        insert_rows(CauseChoice, ("line", "cause", "valid_from", "chosen_at"), choices)
        insert_rows(RatedUsageSummary, ("line", "cycle", "plan_code", "service", "direction",
                                        "zone_code", "zone_kind", "class_code", "records",
                                        "quantity", "included", "charged", "charge_units",
                                        "currency"), usage)  # fmt: skip
        RatingRun.objects.create(
            cycle=CYCLE, engine="duckdb", finished_at=now, catalog_fingerprint="bench"
        )
    # A live database has planner statistics (autovacuum); freshly bulk-loaded tables do
    # not until autovacuum passes, and the planner would scan them whole.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def bulk_limit(count: int) -> float:
    """Seconds to insert ``count`` invoice rows with ``insert_rows`` alone."""
    from django.db import transaction

    from kindwave.billing.models import BillRun, Invoice
    from kindwave.lines.models import Line

    run = BillRun.objects.create(cycle="1999-01", state=BillRun.State.COMPLETE)
    sample = list(Line.objects.values_list("pk", "market_id", "owner_id", "msisdn")[:count])
    issued = datetime(2026, 4, 1, tzinfo=UTC)
    rows = [
        (f"LIMIT-{n:08d}", market, 1999, n + 1, run.pk, "1999-01", line, owner, "Subscriber",
         msisdn, "en", issued, issued.date(), date(2026, 4, 15), date(2026, 3, 1),
         date(2026, 3, 31), "GBP", "inclusive", Decimal("0.2000"), 500, 100, 0, 0, 600, None,
         50, "open", 0, None, issued)
        for n, (line, market, owner, msisdn) in enumerate(sample)
    ]  # fmt: skip
    from kindwave.billing.services.billrun import _INVOICE_COLUMNS
    from kindwave.lib.bulk import insert_rows

    began = time.perf_counter()
    with transaction.atomic():
        for start in range(0, len(rows), 500):
            insert_rows(Invoice, _INVOICE_COLUMNS, rows[start : start + 500])
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kindwave-billing-bench-") as work:
        setup_django(args.database, Path(work))
        from django.db import connection

        from kindwave.billing.services.billrun import run_bill_run
        from kindwave.ledger import services as ledger

        began = time.perf_counter()
        build(args.lines)
        print(f"database: {connection.vendor}; built {args.lines:,} lines in "
              f"{time.perf_counter() - began:.1f} s (not timed)")  # fmt: skip
        summary = run_bill_run(CYCLE, batch_size=args.batch_size)
        rate = summary.processed / summary.seconds
        print(
            f"bill run {CYCLE}: {summary.processed:,} lines, {summary.invoices:,} invoices in "
            f"{summary.seconds:.1f} s: {rate:,.0f} lines/s (ledger postings included)"
        )
        for currency, totals in summary.totals.items():
            print(f"  {currency}: {totals.invoices:,} invoices, total {totals.total_minor:,} "
                  f"minor units, shares {totals.shares_minor:,}")  # fmt: skip
        limit = bulk_limit(args.lines)
        limit_rate = args.lines / limit
        print(
            f"limit: insert_rows of {args.lines:,} invoice rows: {limit:.1f} s, "
            f"{limit_rate:,.0f} rows/s (the bill run reaches {rate / limit_rate:.0%} of it)"
        )
        verified = ledger.verify()
        print(
            f"ledger verify: {verified.transfers:,} transfers, {'ok' if verified.ok else 'FAILED'}"
        )
        print(f"target ≥ {TARGET:,} lines/s: {'met' if rate >= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
