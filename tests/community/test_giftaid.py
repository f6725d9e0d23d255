"""Gift Aid: the declaration's checks and HMRC's schedule export (service and command)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from kindwave.accounts.models import User
from kindwave.causes.models import Cause
from kindwave.community import giftaid
from kindwave.community.giftaid import GiftAidDeclaration, GiftAidError
from kindwave.community.models import Donation
from kindwave.community.services import donations
from tests.billing import card_double
from tests.community.test_donations import DECLARATION, double

__all__ = ["double"]

pytestmark = pytest.mark.django_db


@pytest.fixture
def wateraid(demo_causes: dict[str, Cause]) -> Cause:
    return demo_causes["wateraid"]


def give(
    user: User, cause: Cause, key: str, amount: int, declaration: GiftAidDeclaration | None
) -> Donation:
    return donations.donate_by_card(
        user,
        cause=cause,
        amount_minor=amount,
        currency="GBP",
        token=card_double.SUCCEEDS,
        idempotency_key=key,
        gift_aid=declaration,
    )


def completed_on(donation: Donation, when: datetime) -> None:
    Donation.objects.filter(pk=donation.pk).update(completed_at=when)


class TestDeclaration:
    def test_cleaned_as_hmrc_asks(self, wateraid: Cause) -> None:
        cleaned = giftaid.check_declaration(DECLARATION, cause=wateraid, currency="GBP")

        assert cleaned.postcode == "SW1A 1AA"
        assert cleaned.last_name == "Martin Smith"  # a space for the hyphen

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"postcode": "75011"}, "not a UK postcode"),
            ({"postcode": ""}, "not a UK postcode"),
            ({"first_name": " "}, "first name"),
            ({"last_name": "x" * 36}, "last name"),
            ({"house": ""}, "house name or number"),
            ({"title": "Professor"}, "title"),
            ({"accepted": False}, "confirm the declaration"),
        ],
    )
    def test_refusals(self, wateraid: Cause, changes: dict[str, object], message: str) -> None:
        declaration = GiftAidDeclaration(**{**DECLARATION.__dict__, **changes})

        with pytest.raises(GiftAidError, match=message):
            giftaid.check_declaration(declaration, cause=wateraid, currency="GBP")

    def test_only_uk_causes_and_pounds(self, demo_causes: dict[str, Cause]) -> None:
        with pytest.raises(GiftAidError, match="UK charities"):
            giftaid.check_declaration(
                DECLARATION, cause=demo_causes["feeding-america"], currency="GBP"
            )
        with pytest.raises(GiftAidError, match="pounds sterling"):
            giftaid.check_declaration(DECLARATION, cause=demo_causes["wateraid"], currency="USD")

    def test_stored_on_the_donation_with_the_wording(
        self, alice: User, wateraid: Cause, double: card_double.CardDouble
    ) -> None:
        donation = give(alice, wateraid, "g1", 2_500, DECLARATION)

        assert donation.gift_aid is True
        assert (donation.gift_aid_first_name, donation.gift_aid_last_name) == (
            "Alice",
            "Martin Smith",
        )
        assert (donation.gift_aid_house, donation.gift_aid_postcode) == ("12", "SW1A 1AA")
        assert donation.gift_aid_statement.startswith(
            "I want to Gift Aid my donation of £25.00 to WaterAid. I am a UK taxpayer"
        )
        assert donation.gift_aid_declared_at is not None


class TestExport:
    @pytest.fixture
    def books(
        self,
        alice: User,
        bob: User,
        wateraid: Cause,
        demo_causes: dict[str, Cause],
        double: card_double.CardDouble,
    ) -> None:
        bob_declares = GiftAidDeclaration(
            first_name="Bob",
            last_name="Martin",
            house="Rose Cottage",
            address="Lane End, York",
            postcode="YO1 7HH",
            accepted=True,
        )
        march = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)
        completed_on(give(alice, wateraid, "a1", 2_500, DECLARATION), march)
        completed_on(
            give(bob, wateraid, "b1", 1_005, bob_declares),
            datetime(2026, 3, 31, 23, 59, tzinfo=UTC),
        )
        completed_on(give(alice, wateraid, "a2", 700, None), march)  # no Gift Aid
        completed_on(  # outside the period
            give(alice, wateraid, "a3", 900, DECLARATION), datetime(2026, 4, 1, tzinfo=UTC)
        )
        trussell = demo_causes["the-trussell-trust"]
        completed_on(give(bob, trussell, "b2", 400, bob_declares), march)  # another cause
        with pytest.raises(donations.DonationError):  # declined: never completed
            donations.donate_by_card(
                alice,
                cause=wateraid,
                amount_minor=300,
                currency="GBP",
                token=card_double.DECLINED,
                idempotency_key="a4",
                gift_aid=DECLARATION,
            )

    def test_the_schedule_has_hmrcs_columns_and_the_completed_donations(
        self, books: None, wateraid: Cause
    ) -> None:
        text = giftaid.write_schedule(wateraid, date(2026, 3, 1), date(2026, 3, 31))

        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0] == [
            "Title",
            "First name or initial",
            "Last name",
            "House name or number",
            "Postcode",
            "Aggregated donations",
            "Sponsored event",
            "Donation date",
            "Amount",
        ]
        assert rows[1:] == [
            ["Ms", "Alice", "Martin Smith", "12", "SW1A 1AA", "", "", "15/03/26", "25.00"],
            ["", "Bob", "Martin", "Rose Cottage", "YO1 7HH", "", "", "31/03/26", "10.05"],
        ]
        assert giftaid.summarise(text) == giftaid.ExportSummary(rows=2, total_minor=3_505)

    def test_the_command_writes_the_file(
        self, books: None, wateraid: Cause, tmp_path: Path
    ) -> None:
        out = tmp_path / "giftaid.csv"
        stdout = io.StringIO()

        call_command(
            "community",
            "giftaid-export",
            "--cause",
            "wateraid",
            "--from",
            "2026-03-01",
            "--to",
            "2026-04-30",
            "--out",
            str(out),
            stdout=stdout,
        )

        assert "3 Gift Aid donations to WaterAid, 44.05 GBP" in stdout.getvalue()
        rows = list(csv.DictReader(out.open(encoding="utf-8")))
        assert [row["Amount"] for row in rows] == ["25.00", "10.05", "9.00"]
        assert [p.name for p in tmp_path.iterdir()] == ["giftaid.csv"]  # no temporary left

    def test_the_command_prints_to_standard_output(self, books: None) -> None:
        stdout = io.StringIO()

        call_command(
            "community",
            "giftaid-export",
            "--cause=wateraid",
            "--from=2026-03-15",
            "--to=2026-03-15",
            stdout=stdout,
        )

        lines = stdout.getvalue().splitlines()
        assert len(lines) == 2
        assert lines[1].endswith(",15/03/26,25.00")

    @pytest.mark.parametrize(
        ("arguments", "message"),
        [
            (["--cause=nobody", "--from=2026-03-01", "--to=2026-03-31"], "no cause nobody"),
            (["--cause=restos-du-coeur", "--from=2026-03-01", "--to=2026-03-31"], "not a UK"),
            (["--cause=wateraid", "--from=2026-3-1x", "--to=2026-03-31"], "not a date"),
            (["--cause=wateraid", "--from=2026-04-01", "--to=2026-03-31"], "starts after"),
        ],
    )
    def test_command_refusals(
        self, demo_causes: dict[str, Cause], arguments: list[str], message: str
    ) -> None:
        with pytest.raises(CommandError, match=message):
            call_command("community", "giftaid-export", *arguments, stdout=io.StringIO())
