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
from tests.causes.money import (
    bill_share,
    billed,
    gift,
    line_for,
    more_stock,
    posted_at,
    subscriber,
)

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
OCTOBER = datetime(2026, 10, 1, 1, tzinfo=UTC)


@pytest.fixture
def books(gb_stock: Market, demo_causes: dict[str, Cause], alice: User, tmp_path: Path) -> dict:
    """October 2026 in GBP: six WaterAid subscribers' bill shares (one reversed), five
    Trussell Trust subscribers' and alice's to the foundation; five of the WaterAid
    subscribers give 3.00 each by phone; WaterAid's pledge part. Payouts on 5 November;
    then alice alone gives 2.50 to the Trussell Trust. A EUR share to the Restos du Cœur
    with no one behind it that Kindwave can count."""
    more_stock(gb_stock)
    wateraid, trussell = demo_causes["wateraid"], demo_causes["the-trussell-trust"]
    restos = demo_causes["restos-du-coeur"]
    givers = [line_for(subscriber(n), gb_stock, wateraid, START) for n in range(6)]
    trussell_lines = [line_for(subscriber(10 + n), gb_stock, trussell, START) for n in range(5)]
    alice_line = line_for(alice, gb_stock, None, START)
    for line, cause in [
        *((line, wateraid) for line in givers),
        *((line, trussell) for line in trussell_lines),
        (alice_line, None),
    ]:
        billed(line, cause, 2_000, OCTOBER)  # a share of 200 each
    with posted_at(datetime(2026, 10, 20, tzinfo=UTC)):
        ledger.reverse(
            "fix:1", Transfer.objects.get(idempotency_key=f"bill:2026-09:line:{givers[0].pk}")
        )
    for number, line in enumerate(givers[:5]):
        gift(line.owner, wateraid, 300, datetime(2026, 10, 9, tzinfo=UTC), f"gift-{number}")
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
    bill_share("eur:1", restos, 345, OCTOBER, currency="EUR")
    with posted_at(datetime(2026, 11, 5, tzinfo=UTC)):
        payouts.run_payouts(
            threshold=1_000, currency="GBP", out_dir=tmp_path, now=datetime(2026, 11, 5, tzinfo=UTC)
        )
    gift(alice, trussell, 250, datetime(2026, 11, 9, tzinfo=UTC), "alice-gift")
    return {"wateraid": wateraid, "trussell": trussell, "restos": restos}


def feed_json(client: Client | None = None) -> dict:
    response = (client or Client()).get(reverse("transparency:ledger-json"))
    assert response.status_code == 200
    return json.loads(response.content)


def of(name: chart.AccountName) -> int:
    account = Account.objects.filter(code=name.code).first()
    return balance(account) if account is not None else 0


def test_the_feed_rows_by_month_and_source(books: dict) -> None:
    document = feed_json()
    rows = {
        (r["month"], r["recipient"], r["source"], r["currency"]): (
            r["amount_minor"],
            r["transfers"],
            r["subscribers"],
        )
        for r in document["rows"]
    }

    assert rows == {
        # Six shares of 200 less the reversal of one: 7 transfers, 6 subscribers.
        ("2026-10", "wateraid", "bill-share", "GBP"): (1_000, 7, 6),
        ("2026-10", "wateraid", "donation", "GBP"): (1_500, 5, 5),
        ("2026-10", "wateraid", "pledge", "GBP"): (777, 1, None),
        # Alice's share to the foundation is hers alone: pooled with the month's smallest
        # recipient shown apart, the Trussell Trust (5 subscribers): 6 together.
        ("2026-10", "other", "bill-share", "GBP"): (1_200, 6, 6),
        ("2026-11", "the-trussell-trust", "payout", "GBP"): (-1_000, 1, None),
        ("2026-11", "wateraid", "payout", "GBP"): (-3_277, 1, None),
    }
    assert document["withheld"] == [
        {
            "month": "2026-10",
            "recipient": "foundation",
            "source": "bill-share",
            "currency": "GBP",
            "reason": "fewer-subscribers",
            "published_in": "2026-10",
        },
        {
            "month": "2026-10",
            "recipient": "restos-du-coeur",
            "source": "bill-share",
            "currency": "EUR",
            "reason": "fewer-subscribers",
            "published_in": None,
        },
        {
            "month": "2026-10",
            "recipient": "the-trussell-trust",
            "source": "bill-share",
            "currency": "GBP",
            "reason": "merged",
            "published_in": "2026-10",
        },
        {
            "month": "2026-11",
            "recipient": "the-trussell-trust",
            "source": "donation",
            "currency": "GBP",
            "reason": "fewer-subscribers",
            "published_in": None,
        },
    ]
    assert document["minimum_subscribers"] == transparency.MIN_PUBLISHED_COUNT


def test_grand_totals_equal_the_ledger_less_what_is_held_back(books: dict) -> None:
    rows = feed_json()["rows"]
    recipients = Account.objects.filter(code__startswith="cause:") | Account.objects.filter(
        code__startswith="foundation:"
    )

    for currency, held_back in (("GBP", 250), ("EUR", 345)):  # alice's gift; the EUR share
        published = sum(r["amount_minor"] for r in rows if r["currency"] == currency)
        owed = sum(balance(a) for a in recipients.filter(currency=currency))
        assert published + held_back == owed
    # A recipient with nothing pooled: its own rows are its balance.
    wateraid = [r for r in rows if r["recipient"] == "wateraid"]
    assert sum(r["amount_minor"] for r in wateraid) == of(chart.cause(books["wateraid"].pk, "GBP"))


def test_the_reviewers_single_donation_and_single_bill_are_not_published(
    gb_stock: Market, demo_causes: dict[str, Cause], alice: User
) -> None:
    cause = demo_causes["wateraid"]
    line = line_for(alice, gb_stock, cause, START)
    gift(alice, cause, 1_337, datetime(2026, 4, 3, tzinfo=UTC), "one")
    billed(line, cause, 3_210, datetime(2026, 4, 3, tzinfo=UTC), cycle="2026-03")

    feed = transparency.build_feed()

    assert feed.rows == []  # one person's gift and one person's bill: nothing to show
    assert {(w.source, w.published_in) for w in feed.withheld} == {
        ("donation", None),
        ("bill-share", None),
    }
    page = Client().get(reverse("causes:detail", args=[cause.slug])).content.decode()
    assert "13.37" not in page
    assert "3.21" not in page
    assert "fewer than 5 supporters this month" in page


def test_subscribers_are_counts_and_small_counts_are_not_published(books: dict) -> None:
    wateraid = books["wateraid"]
    counts = transparency._subscriber_counts()

    assert counts[("2026-10", wateraid.pk, "bill-share", "GBP")] == 6
    assert counts[("2026-10", wateraid.pk, "donation", "GBP")] == 5
    assert counts[("2026-10", None, "bill-share", "GBP")] == 1
    assert counts[("2026-11", books["trussell"].pk, "donation", "GBP")] == 1
    for row in transparency.ledger_feed():
        assert row.subscribers is None or row.subscribers >= transparency.MIN_PUBLISHED_COUNT
        if row.source in transparency.FROM_SUBSCRIBERS:
            assert row.subscribers is not None


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
    (eur, gbp) = transparency.reports(transparency.public_feed())

    gbp_rows = [r for r in rows if r["currency"] == "GBP"]
    for source in ("bill-share", "pledge", "donation"):
        assert gbp.by_source[source] == sum(
            r["amount_minor"] for r in gbp_rows if r["source"] == source
        )
    assert gbp.paid_out == -sum(r["amount_minor"] for r in gbp_rows if r["source"] == "payout")
    # …and they are the ledger's own balances, but for what is held back (alice's gift).
    assert gbp.by_source["bill-share"] == of(chart.cause_share("GBP"))
    assert gbp.by_source["pledge"] == of(chart.pledge_expense("GBP")) - of(chart.pledge_fund("GBP"))
    assert (
        gbp.by_source["donation"]
        == 1_500
        == sum(t.amount for t in Transfer.objects.filter(code="donation", pending_of__isnull=False))
        - 250
    )
    assert gbp.paid_out == sum(t.amount for t in Transfer.objects.filter(code="payout"))
    assert gbp.withheld
    assert eur.withheld
    assert eur.received == 0

    page = Client().get(reverse("transparency:home")).content.decode()
    assert f">{transparency.major(gbp.received)}<" in page
    assert f">{transparency.major(gbp.by_source['bill-share'])}<" in page
    assert f">{transparency.major(gbp.paid_out)}<" in page
    assert "Other causes together" in page
    assert "not in these figures yet" in page
    for held_back in ("2.50", "3.45"):  # alice's gift, the uncounted EUR share
        assert f">{held_back}<" not in page
        assert f"{held_back} " not in page
    assert "<svg" in page
    assert "<script" not in page.split("</head>")[1]


def test_the_cause_page_shows_its_totals(books: dict) -> None:
    wateraid = books["wateraid"]
    (report,) = transparency.reports(transparency.public_feed(), "wateraid")

    page = Client().get(reverse("causes:detail", args=[wateraid.slug])).content.decode()

    assert report.owed == of(chart.cause(wateraid.pk, "GBP")) == 0
    assert f"{transparency.major(report.received)} GBP" in page
    assert "Owed now" in page
    assert f"KW-20261105-{wateraid.pk}-GBP" in page
    assert 'role="img"' in page
    assert "<table>" in page


def test_a_cause_with_few_supporters_shows_what_the_rule_allows(books: dict) -> None:
    trussell = books["trussell"]

    page = Client().get(reverse("causes:detail", args=[trussell.slug])).content.decode()

    assert "counted with other causes this month" in page  # October's shares, pooled
    assert "fewer than 5 supporters this month" in page  # alice's gift in November
    assert ">2.50<" not in page
    assert "2.50 GBP" not in page
    assert "Owed now" not in page  # what it is owed would give alice's gift away
    assert f"KW-20261105-{trussell.pk}-GBP" in page  # its payout is its own: exact


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


def test_the_feed_is_cacheable_and_rate_limited(db: None, frozen_clock: None) -> None:
    client = Client(REMOTE_ADDR="203.0.113.9")
    first = client.get(reverse("transparency:ledger-json"))
    assert "public" in first["Cache-Control"]
    assert "max-age=300" in first["Cache-Control"]
    for _ in range(FEED_RATE_LIMIT - 1):
        client.get(reverse("transparency:ledger-csv"))

    refused = client.get(reverse("transparency:ledger-csv"))

    assert refused.status_code == 429
    assert refused["Retry-After"] == "55"
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
