"""The minimum-count rule counts every donor of a month: people who gave by card as well as
on their phone bill, each person once however many ways they gave (docs/transparency.md).

The donations go through the community's own services (the card processor double, carrier
billing's reserve → one confirmation), so their ledger transfers and the rows the feed
counts are written as in production; the clock is stopped on 9 October 2026."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kindwave.accounts.models import User
from kindwave.causes import transparency
from kindwave.causes.models import Cause
from kindwave.community.models import Donation
from kindwave.community.services import donations
from kindwave.lines.models import Market
from tests.billing import card_double
from tests.causes.money import line_for, more_stock, posted_at, subscriber
from tests.causes.test_payouts import trussell, wateraid

pytestmark = pytest.mark.django_db

double = card_double.double  # the running processor double, configured
__all__ = ["trussell", "wateraid"]  # fixtures

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
GIVING_DAY = datetime(2026, 10, 9, 12, 0, tzinfo=UTC)
MONTH = "2026-10"


def by_card(user: User, cause: Cause, amount: int = 300) -> Donation:
    with posted_at(GIVING_DAY):
        donation = donations.donate_by_card(
            user,
            cause=cause,
            amount_minor=amount,
            currency="GBP",
            token=card_double.SUCCEEDS,
            idempotency_key=f"card-{user.pk}-{cause.pk}",
        )
    assert donation.state == Donation.State.COMPLETED
    return donation


def by_phone(user: User, cause: Cause, amount: int = 300) -> Donation:
    with posted_at(GIVING_DAY):
        pending = donations.donate_by_phone_bill(
            user, cause=cause, amount_minor=amount, currency="GBP", client_key=f"phone-{cause.pk}"
        )
        donation = donations.confirm_phone_bill_donation(user, pending.reference)
    assert donation.state == Donation.State.COMPLETED
    return donation


def phone_donor(number: int, market: Market, cause: Cause) -> User:
    """A subscriber with an active line (carrier billing needs one)."""
    user = subscriber(number)
    line_for(user, market, cause, START)
    return user


def donation_rows(feed: transparency.Feed) -> list[tuple[str, str, int, int | None]]:
    return [
        (row.month, row.recipient, row.amount_minor, row.subscribers)
        for row in feed.rows
        if row.source == "donation"
    ]


def donation_withheld(feed: transparency.Feed) -> list[tuple[str, str, str, str | None]]:
    return [
        (w.month, w.recipient, w.reason, w.published_in)
        for w in feed.withheld
        if w.source == "donation"
    ]


@pytest.fixture
def market(gb_stock: Market) -> Market:
    more_stock(gb_stock)
    return gb_stock


def test_four_card_donors_and_no_phone_donor_are_pooled(
    wateraid: Cause, double: card_double.CardDouble
) -> None:
    # Given four people who gave to WaterAid by card in October, and no one by phone,
    for number in range(4):
        by_card(subscriber(number), wateraid)

    # when the feed is computed,
    feed = transparency.build_feed()

    # then their four gifts are counted (not zero) and, four being under five, held back.
    counts = transparency._subscriber_counts()
    assert counts[(MONTH, wateraid.pk, "donation", "GBP")] == 4
    assert donation_rows(feed) == []
    assert donation_withheld(feed) == [(MONTH, wateraid.slug, transparency.FEWER, None)]


def test_five_card_donors_are_published(wateraid: Cause, double: card_double.CardDouble) -> None:
    # Given five people who gave 3.00 each to WaterAid by card in October,
    for number in range(5):
        by_card(subscriber(number), wateraid)

    # when the feed is computed,
    feed = transparency.build_feed()

    # then WaterAid's October donations have their own row, with the five people behind it.
    assert donation_rows(feed) == [(MONTH, wateraid.slug, 1_500, 5)]
    assert donation_withheld(feed) == []


def test_card_and_phone_donors_are_counted_together(
    market: Market, wateraid: Cause, double: card_double.CardDouble
) -> None:
    # Given two card donors and three phone-bill donors to WaterAid in October,
    for number in range(2):
        by_card(subscriber(number), wateraid)
    for number in range(10, 13):
        by_phone(phone_donor(number, market, wateraid), wateraid)

    # when the feed is computed,
    feed = transparency.build_feed()

    # then the five of them stand behind one published row (a phone-bill gift is one
    # person, though both its carrier charge and its donation record it).
    assert donation_rows(feed) == [(MONTH, wateraid.slug, 1_500, 5)]


def test_a_person_who_gave_by_card_and_by_phone_counts_once(
    market: Market, wateraid: Cause, double: card_double.CardDouble
) -> None:
    # Given three card donors to WaterAid, and a fourth person who gave both by card and
    # on the phone bill,
    for number in range(3):
        by_card(subscriber(number), wateraid)
    both = phone_donor(10, market, wateraid)
    by_card(both, wateraid)
    by_phone(both, wateraid)

    # when the feed is computed,
    feed = transparency.build_feed()

    # then that is four people, not five: the five gifts are held back.
    counts = transparency._subscriber_counts()
    assert counts[(MONTH, wateraid.pk, "donation", "GBP")] == 4
    assert donation_rows(feed) == []
    assert donation_withheld(feed) == [(MONTH, wateraid.slug, transparency.FEWER, None)]


def test_a_pool_counts_a_person_who_gave_both_ways_to_two_causes_once(
    market: Market, wateraid: Cause, trussell: Cause, double: card_double.CardDouble
) -> None:
    # Given three card donors to WaterAid, one of whom also gave to the Trussell Trust on
    # the phone bill, and one card donor to the Trussell Trust (3 + 2 gifts, 4 people),
    card_donors = [subscriber(number) for number in range(2)]
    both = phone_donor(10, market, wateraid)
    for user in [*card_donors, both]:
        by_card(user, wateraid)
    by_phone(both, trussell)
    by_card(subscriber(5), trussell)

    # when the feed is computed,
    feed = transparency.build_feed()

    # then pooling both causes finds four people: nothing is published.
    assert donation_rows(feed) == []
    assert sorted(donation_withheld(feed)) == [
        (MONTH, trussell.slug, transparency.FEWER, None),
        (MONTH, wateraid.slug, transparency.FEWER, None),
    ]

    # And with one more Trussell Trust card donor (five people), the pool is published.
    by_card(subscriber(6), trussell)
    feed = transparency.build_feed()
    assert donation_rows(feed) == [(MONTH, transparency.OTHER, 1_800, 5)]
