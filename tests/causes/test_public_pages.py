"""The public money pages as a service to strangers: their own rate limit per client (the
client's address behind our proxies), the feed computed once per state of the ledger, and
numbers in the reader's language (files for machines stay in minor units)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from kindwave.causes import payouts, transparency
from kindwave.causes.models import Cause
from kindwave.causes.views import FEED_RATE_LIMIT, PAGE_RATE_LIMIT
from kindwave.config import ConfigError, load_config
from kindwave.ledger import chart
from kindwave.ledger import services as ledger
from kindwave.lib.ratelimit import client_address
from tests.causes.money import posted_at

pytestmark = pytest.mark.django_db

OCTOBER = datetime(2026, 10, 8, tzinfo=UTC)


def pledge_part(cause: Cause, amount: int, key: str, currency: str = "GBP") -> None:
    """A cause's part of a pledge (published exactly: the operator's own money)."""
    expense, fund, account = chart.ensure(
        chart.pledge_expense(currency), chart.pledge_fund(currency), chart.cause(cause.pk, currency)
    )
    with posted_at(OCTOBER):
        ledger.transfer_linked(
            key,
            [
                ledger.Leg(expense, fund, amount, currency, "pledge"),
                ledger.Leg(fund, account, amount, currency, "pledge"),
            ],
        )


class TestRateLimits:
    def test_the_pages_have_a_budget_of_their_own_per_client(
        self, demo_causes: dict[str, Cause], frozen_clock: None
    ) -> None:
        client = Client(REMOTE_ADDR="203.0.113.9")
        pages = [reverse("transparency:home"), reverse("causes:detail", args=["wateraid"])]
        statuses = {client.get(pages[n % 2]).status_code for n in range(PAGE_RATE_LIMIT)}

        refused = client.get(pages[0])

        assert statuses == {200}
        assert refused.status_code == 429
        assert refused["Retry-After"] == "55"
        assert client.get(reverse("causes:detail", args=["no-such-cause"])).status_code == 429
        # The feed counts apart, and so does another client.
        assert client.get(reverse("transparency:ledger-json")).status_code == 200
        assert Client(REMOTE_ADDR="203.0.113.10").get(pages[1]).status_code == 200

    def test_behind_a_proxy_each_client_has_its_budget_whatever_it_claims(
        self, db: None, settings, frozen_clock: None
    ) -> None:
        settings.TRUSTED_PROXY_HOPS = 1
        proxy = Client(REMOTE_ADDR="10.0.0.2")  # every request arrives from our proxy
        feed = reverse("transparency:ledger-csv")
        for number in range(FEED_RATE_LIMIT):
            # A client forging the header gains nothing: the proxy appends its real address.
            forged = f"192.0.2.{number}, 198.51.100.7"
            assert proxy.get(feed, HTTP_X_FORWARDED_FOR=forged).status_code == 200

        assert proxy.get(feed, HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 429
        assert proxy.get(feed, HTTP_X_FORWARDED_FOR="198.51.100.8").status_code == 200


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (0, "198.51.100.7", "10.0.0.2"),  # no proxy trusted: the header is the client's word
        (1, "198.51.100.7", "198.51.100.7"),
        (1, "192.0.2.1, 198.51.100.7", "198.51.100.7"),
        (2, "192.0.2.1, 198.51.100.7, 10.0.0.1", "198.51.100.7"),
        (2, "198.51.100.7", "10.0.0.2"),  # fewer entries than proxies: not through ours
        (1, "", "10.0.0.2"),
    ],
)
def test_the_client_address(settings, hops: int, forwarded: str, expected: str) -> None:
    settings.TRUSTED_PROXY_HOPS = hops
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)

    assert client_address(request) == expected


def test_the_proxy_hops_setting() -> None:
    base = {"KINDWAVE_DEBUG": "true"}
    assert load_config(base).trusted_proxy_hops == 0
    assert load_config({**base, "KINDWAVE_TRUSTED_PROXY_HOPS": "2"}).trusted_proxy_hops == 2
    with pytest.raises(ConfigError, match="KINDWAVE_TRUSTED_PROXY_HOPS"):
        load_config({**base, "KINDWAVE_TRUSTED_PROXY_HOPS": "-1"})


def test_the_feed_is_computed_once_per_state_of_the_ledger(
    demo_causes: dict[str, Cause], django_assert_num_queries
) -> None:
    wateraid = demo_causes["wateraid"]
    pledge_part(wateraid, 500, "pledge:a")
    first = transparency.public_feed()

    with django_assert_num_queries(1):  # the ledger's state; the feed comes from the cache
        again = transparency.public_feed()
    pledge_part(wateraid, 700, "pledge:b")
    changed = transparency.public_feed()

    assert again == first
    assert [row.amount_minor for row in changed.rows] == [1_200]


class TestNumbersInTheReadersLanguage:
    def test_pages_in_french_files_for_machines(self, demo_causes: dict[str, Cause]) -> None:
        pledge_part(demo_causes["wateraid"], 123_450, "pledge:fr")
        french = Client(HTTP_ACCEPT_LANGUAGE="fr")

        home = french.get(reverse("transparency:home")).content.decode()
        cause = french.get(reverse("causes:detail", args=["wateraid"])).content.decode()
        english = Client().get(reverse("transparency:home")).content.decode()

        for page in (home, cause):
            assert 'lang="fr"' in page
            assert "1\u202f234,50" in page
            assert "1,234.50" not in page
        assert "1,234.50" in english
        row = json.loads(Client().get(reverse("transparency:ledger-json")).content)["rows"][0]
        assert row["amount_minor"] == 123_450
        body = Client().get(reverse("transparency:ledger-csv")).content.decode()
        assert next(csv.DictReader(io.StringIO(body)))["amount_minor"] == "123450"

    def test_major_follows_the_language(self) -> None:
        assert transparency.major(-123_456_789, "EUR", "fr") == "-1\u202f234\u202f567,89"
        assert transparency.major(-123_456_789, "EUR", "en") == "-1,234,567.89"
        assert transparency.major(5, "USD", "en") == "0.05"

    @pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils")
    def test_a_french_cause_reads_its_statement_in_french(
        self, demo_causes: dict[str, Cause], tmp_path: Path
    ) -> None:
        restos = demo_causes["restos-du-coeur"]
        pledge_part(restos, 123_450, "pledge:eur", currency="EUR")
        (payout,) = payouts.run_payouts(threshold=5_000, out_dir=tmp_path, now=OCTOBER).paid

        text = subprocess.run(
            ["pdftotext", "-layout", str(tmp_path / f"{payout.reference}.pdf"), "-"],
            capture_output=True,
            check=True,
            text=True,
        ).stdout
        statement = (tmp_path / f"{payout.reference}.csv").read_text(encoding="utf-8")

        assert "234,50" in text
        assert "1,234.50" not in text
        assert ",123450,EUR" in statement  # the CSV stays in minor units
        # The document is rendered in French (its words come from the French catalogue).
        with mock.patch("weasyprint.HTML") as html:
            payouts.write_statement(payout, tmp_path / "again")
        assert '<html lang="fr">' in html.call_args.kwargs["string"]
