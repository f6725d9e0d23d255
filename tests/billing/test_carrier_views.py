"""The subscriber's carrier-billing page, as alice and as a stranger see it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kindwave.accounts.models import User
from kindwave.billing.services import carrier
from kindwave.lines.models import Line
from tests.billing.test_carrier import buy
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
URL = reverse("billing:carrier_billing")


def test_strangers_are_sent_to_log_in(db) -> None:
    response = Client().get(URL)

    assert response.status_code == 302
    assert "login" in response["Location"]


def test_shows_this_months_spend_and_limit(active_line: Line, alice: User) -> None:
    carrier.set_limit(alice, enabled=True, monthly_limit_minor=5_000)
    buy(alice, "t", 1_250, description="Bus ticket", merchant="City Buses", at=timezone.now())

    page = client_for(alice).get(URL).content.decode()

    assert "£12.50" in page  # charged so far
    assert "£50.00" in page  # my limit
    assert "£37.50" in page  # left
    assert "Bus ticket" in page
    assert 'value="50.00"' in page
    assert "£240.00" in page  # the operator's cap, named


def test_charlie_sees_none_of_alices_charges(active_line: Line, alice: User, charlie) -> None:
    buy(
        alice,
        "t",
        1_250,
        description="Bus ticket",
        merchant="City Buses",
        at=datetime(2026, 3, 2, tzinfo=UTC),
    )

    page = client_for(charlie).get(URL).content.decode()

    assert "Bus ticket" not in page
    assert "Nothing has been charged" in page


def test_saving_a_limit_and_switching_off(alice: User) -> None:
    response = client_for(alice).post(URL, {"monthly_limit": "20.00"})

    assert response.status_code == 302
    terms = carrier.limit_for(alice)
    assert (terms.enabled, terms.own_limit_minor) == (False, 2_000)
    client_for(alice).post(URL, {"enabled": "on", "monthly_limit": ""})
    terms = carrier.limit_for(alice)
    assert (terms.enabled, terms.own_limit_minor) == (True, None)


@pytest.mark.parametrize(
    ("value", "error"),
    [("240.01", "at most £240.00"), ("-1", "greater than or equal to 0"), ("ten", "a number")],
)
def test_a_bad_limit_shows_the_error_and_saves_nothing(alice: User, value: str, error: str) -> None:
    response = client_for(alice).post(URL, {"enabled": "on", "monthly_limit": value})

    assert response.status_code == 200
    assert error in response.content.decode()
    assert carrier.limit_for(alice).own_limit_minor is None


def test_a_post_without_the_csrf_token_is_refused(alice: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    response = client.post(URL, {"enabled": "on", "monthly_limit": "1.00"})

    assert response.status_code == 403
    assert carrier.limit_for(alice).own_limit_minor is None


def test_in_french(active_line: Line, alice: User) -> None:
    alice.language = "fr"
    alice.save(update_fields=["language"])

    page = client_for(alice).get(URL).content.decode()

    assert '<html lang="fr">' in page
    assert "240,00\xa0£GB" in page
    assert "£240.00" not in page  # the form's help text too reads as a French reader writes it


def test_a_limit_over_the_cap_is_explained_in_french(active_line: Line, alice: User) -> None:
    alice.language = "fr"
    alice.save(update_fields=["language"])

    page = client_for(alice).post(URL, {"enabled": "on", "monthly_limit": "999"}).content.decode()

    assert "240,00\xa0£GB" in page
    assert "£240.00" not in page
