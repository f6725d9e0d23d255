"""The transparency pages and the public ledger feed: totals equal sums over the feed and
the ledger's balances, no personal data, the latest verification shown, caching and the
rate limit."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from kindwave.accounts.models import User
from kindwave.causes import payouts, transparency
from kindwave.causes.models import Cause
from kindwave.causes.views import FEED_RATE_LIMIT
from kindwave.ledger import chart
from kindwave.ledger import services as ledger
from kindwave.ledger.models import Account, Transfer, balance
from kindwave.lines.models import Line, Market
from tests.billing.factories import make_invoice
from tests.causes.money import bill_share, donation, line_for, posted_at, subscriber

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


@pytest.fixture
def books(gb_stock: Market, demo_causes: dict[str, Cause], alice: User, tmp_path: Path) -> dict:
    """Six WaterAid subscribers and alice's line to the foundation, billed for 2026-09 and
    given their shares in October; a donation and a pledge to WaterAid; a reversal; a
    WaterAid payout in November; a EUR share to the Restos du Cœur."""
    wateraid, restos = demo_causes["wateraid"], demo_causes["restos-du-coeur"]
    lines = [line_for(subscriber(n), gb_stock, wateraid, START) for n in range(6)]
    alice_line = line_for(alice, gb_stock, None, START)
    october = datetime(2026, 10, 1, 1, tzinfo=UTC)
    for number, line in enumerate([*lines, alice_line]):
        invoice = make_invoice(
            line, "2026-09", net_minor=2_000 + number, cause=wateraid if line in lines else None
        )
        bill_share(
            f"bill:2026-09:line:{line.pk}", invoice.cause, invoice.cause_share_minor, october
        )
    with posted_at(datetime(2026, 10, 20, tzinfo=UTC)):
        ledger.reverse(
            "fix:1", Transfer.objects.get(idempotency_key=f"bill:2026-09:line:{lines[0].pk}")
        )
    donation("carrier:1", wateraid, 1_500, datetime(2026, 10, 9, tzinfo=UTC))
    expense, fund, account = chart.ensure(
        chart.pledge_expense("GBP"), chart.pledge_fund("GBP"), chart.cause(wateraid.pk, "GBP")
    )
    with posted_at(datetime(2026, 10, 8, tzinfo=UTC)):
        ledger.transfer_linked(
            "pledge:2026-Q3:GBP",
            [
                ledger.Leg(expense, fund, 777, "GBP", "pledge"),
                ledger.Leg(fund, account, 777, "GBP", "pledge"),
            ],
        )
    bill_share("eur:1", restos, 345, october, currency="EUR")
    with posted_at(datetime(2026, 11, 5, tzinfo=UTC)):
        payouts.run_payouts(
            threshold=1_000, currency="GBP", out_dir=tmp_path, now=datetime(2026, 11, 5, tzinfo=UTC)
        )
    return {"wateraid": wateraid, "restos": restos, "lines": lines, "alice_line": alice_line}


def feed_json(client: Client | None = None) -> dict:
    response = (client or Client()).get(reverse("transparency:ledger-json"))
    assert response.status_code == 200
    return json.loads(response.content)


def test_each_recipients_rows_add_up_to_its_ledger_balance(books: dict) -> None:
    rows = feed_json()["rows"]

    accounts = Account.objects.filter(code__startswith="cause:") | Account.objects.filter(
        code__startswith="foundation:"
    )
    assert accounts.count() == 3
    for account in accounts:
        cause_id = chart.cause_id_of(account.code)
        name = "foundation" if cause_id is None else Cause.objects.get(pk=cause_id).slug
        mine = [r for r in rows if r["recipient"] == name and r["currency"] == account.currency]
        assert sum(r["amount_minor"] for r in mine) == balance(account), account.code


def test_the_feed_rows_by_month_and_source(books: dict) -> None:
    rows = {
        (r["month"], r["recipient"], r["source"], r["currency"]): r for r in feed_json()["rows"]
    }

    shares = rows[("2026-10", "wateraid", "bill-share", "GBP")]
    # Six shares of 10 % of 2,000…2,005 (rounded half up: 200, 200, 200, 200, 200, 201) less
    # the reversal of the first.
    assert shares["amount_minor"] == 1_201 - 200
    assert shares["transfers"] == 7
    assert shares["subscribers"] == 6  # the owners of the invoices dated 2026-10-01
    assert rows[("2026-10", "wateraid", "donation", "GBP")]["amount_minor"] == 1_500
    assert rows[("2026-10", "wateraid", "pledge", "GBP")]["amount_minor"] == 777
    assert rows[("2026-10", "foundation", "bill-share", "GBP")]["amount_minor"] == 201
    assert rows[("2026-10", "restos-du-coeur", "bill-share", "EUR")]["amount_minor"] == 345
    paid = rows[("2026-11", "wateraid", "payout", "GBP")]
    assert paid["amount_minor"] == -(1_001 + 1_500 + 777)


def test_subscribers_are_counts_and_small_counts_are_not_published(books: dict) -> None:
    wateraid = books["wateraid"]
    counts = transparency._subscriber_counts()

    assert counts[("2026-10", wateraid.pk, "bill-share", "GBP")] == 6
    assert counts[("2026-10", None, "bill-share", "GBP")] == 1
    with posted_at(datetime(2026, 10, 30, tzinfo=UTC)):
        bill_share("late", None, 10, datetime(2026, 10, 30, tzinfo=UTC))
    row = next(
        r
        for r in transparency.ledger_feed()
        if (r.month, r.recipient, r.source) == ("2026-10", "foundation", "bill-share")
    )
    assert row.subscribers is None  # one subscriber: below the minimum of 5


def test_the_feed_has_no_personal_data(books: dict, alice: User) -> None:
    document = feed_json()
    text = (
        json.dumps(document, ensure_ascii=False)
        + Client().get(reverse("transparency:ledger-csv")).content.decode()
    )

    assert all(set(row) == set(transparency.FEED_COLUMNS) for row in document["rows"])
    for line in Line.objects.all():
        assert line.msisdn not in text
        assert line.msisdn.lstrip("+") not in text
    for user in User.objects.all():
        assert user.email not in text
        assert user.full_name not in text
    assert "@" not in text
    assert "owner" not in text
    assert "user" not in text.lower()


def test_csv_and_json_carry_the_same_rows(books: dict) -> None:
    rows = feed_json()["rows"]
    body = Client().get(reverse("transparency:ledger-csv")).content.decode()

    parsed = list(csv.DictReader(io.StringIO(body)))
    assert [
        {
            **r,
            "amount_minor": int(r["amount_minor"]),
            "transfers": int(r["transfers"]),
            "subscribers": int(r["subscribers"]) if r["subscribers"] else None,
        }
        for r in parsed
    ] == rows


def test_the_operator_page_totals_are_sums_over_the_feed_and_the_ledger(books: dict) -> None:
    rows = feed_json()["rows"]
    (eur, gbp) = transparency.reports(transparency.ledger_feed())

    gbp_rows = [r for r in rows if r["currency"] == "GBP"]
    for source in ("bill-share", "pledge", "donation"):
        assert gbp.by_source[source] == sum(
            r["amount_minor"] for r in gbp_rows if r["source"] == source
        )
    assert gbp.paid_out == -sum(r["amount_minor"] for r in gbp_rows if r["source"] == "payout")

    # …and they are the ledger's own balances.
    def of(name: chart.AccountName) -> int:
        return balance(Account.objects.get(code=name.code))

    assert gbp.by_source["bill-share"] == of(chart.cause_share("GBP"))
    assert gbp.by_source["pledge"] == of(chart.pledge_expense("GBP")) - of(chart.pledge_fund("GBP"))
    assert gbp.paid_out == sum(t.amount for t in Transfer.objects.filter(code="payout"))
    assert gbp.owed == sum(
        of(chart.cause(c.pk, "GBP")) for c in Cause.objects.filter(pk=books["wateraid"].pk)
    ) + of(chart.foundation("GBP"))
    assert eur.received == 345

    page = Client().get(reverse("transparency:home")).content.decode()
    assert f">{transparency.major(gbp.received)}<" in page
    assert f">{transparency.major(gbp.by_source['bill-share'])}<" in page
    assert f">{transparency.major(gbp.paid_out)}<" in page
    assert "<svg" in page
    assert "<script" not in page.split("</head>")[1]


def test_the_cause_page_shows_its_totals(books: dict) -> None:
    wateraid = books["wateraid"]
    (report,) = transparency.reports(transparency.ledger_feed(), "wateraid")

    page = Client().get(reverse("causes:detail", args=[wateraid.slug])).content.decode()

    assert report.owed == balance(Account.objects.get(code=chart.cause(wateraid.pk, "GBP").code))
    assert f"{transparency.major(report.received)} GBP" in page
    assert f"KW-20261105-{wateraid.pk}-GBP" in page
    assert 'role="img"' in page
    assert "<table>" in page


def test_the_latest_verification_is_recorded_and_shown(books: dict) -> None:
    page = Client().get(reverse("transparency:home")).content.decode()
    assert "has not been checked yet" in page

    call_command("ledger", "verify", "--quiet", stdout=io.StringIO())

    page = Client().get(reverse("transparency:home")).content.decode()
    assert "The ledger verifies." in page
    verification = feed_json()["verification"]
    assert verification["ok"] is True
    assert {c["currency"] for c in verification["currencies"]} == {"GBP", "EUR"}


def test_an_empty_ledger_has_empty_pages(db: None) -> None:
    assert feed_json()["rows"] == []
    assert "No money has moved yet." in Client().get(reverse("transparency:home")).content.decode()


def test_the_feed_is_cacheable_and_rate_limited(db: None) -> None:
    client = Client(REMOTE_ADDR="203.0.113.9")
    first = client.get(reverse("transparency:ledger-json"))
    assert "public" in first["Cache-Control"]
    assert "max-age=300" in first["Cache-Control"]
    for _ in range(FEED_RATE_LIMIT - 1):
        client.get(reverse("transparency:ledger-csv"))

    refused = client.get(reverse("transparency:ledger-csv"))

    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert (
        Client(REMOTE_ADDR="203.0.113.10").get(reverse("transparency:ledger-json")).status_code
        == 200
    )


def test_the_pages_refuse_writes(db: None) -> None:
    assert Client().post(reverse("transparency:ledger-json")).status_code == 405


def test_the_operator_page_does_not_query_per_recipient(
    books: dict, django_assert_max_num_queries
) -> None:
    with django_assert_max_num_queries(14):
        Client().get(reverse("transparency:home"))
