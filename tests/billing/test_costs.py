"""Staff-entered costs: posted to the ledger when recorded, never edited, cancelled by a
reversal, frozen once the quarter's pledge is posted; the admin goes through the service."""

from __future__ import annotations

from decimal import Decimal
from unittest import mock

import pytest
from django.urls import reverse

from kindwave.accounts.models import User
from kindwave.billing.models import BillRun, OperatingCost
from kindwave.billing.services import costs, pledge
from kindwave.ledger import chart
from kindwave.ledger.models import Account, Transfer, balance
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_a_cost_is_posted_dr_expense_cr_bank(staff: User) -> None:
    cost = costs.record_cost("2026-Q2", "wholesale", "GBP", 12_345, "EE bill", staff)

    posted = Transfer.objects.get(idempotency_key=f"cost:{cost.pk}")
    assert (posted.debit_account.code, posted.credit_account.code) == (
        chart.wholesale("GBP").code,
        chart.bank("GBP").code,
    )
    assert (posted.amount, posted.code) == (12_345, "cost-wholesale")
    assert "EE" not in posted.description  # staff text stays out of the public ledger
    assert cost.entered_by == staff


@pytest.mark.parametrize(
    ("period", "kind", "currency", "amount", "message"),
    [
        ("2026-Q9", "wholesale", "GBP", 1, "not a quarter"),
        ("2026-Q2", "marketing", "GBP", 1, "Unknown cost kind"),
        ("2026-Q2", "operating", "JPY", 1, "not 'JPY'"),
        ("2026-Q2", "operating", "GBP", 0, "positive"),
        ("2026-Q2", "operating", "GBP", -5, "positive"),
        ("2026-Q2", "operating", "GBP", 1.5, "positive"),
    ],
)
def test_bad_costs_are_refused_and_nothing_is_written(
    period: str, kind: str, currency: str, amount: int, message: str
) -> None:
    with pytest.raises(costs.CostError, match=message):
        costs.record_cost(period, kind, currency, amount, "x", None)

    assert not OperatingCost.objects.exists()
    assert not Transfer.objects.exists()


def test_a_reversed_cost_leaves_the_pledge_and_the_books(db: None) -> None:
    kept = costs.record_cost("2026-Q2", "operating", "GBP", 1_000, "rent", None)
    wrong = costs.record_cost("2026-Q2", "operating", "GBP", 9_000, "typo", None)

    costs.reverse_cost(wrong)
    costs.reverse_cost(wrong)  # idempotent

    assert costs.is_reversed(wrong)
    assert not costs.is_reversed(kept)
    assert costs.costs_of(costs.Quarter.parse("2026-Q2"), "GBP") == costs.QuarterCosts(0, 1_000)
    assert balance(Account.objects.get(code=chart.operating_costs("GBP").code)) == 1_000


def post_q2_pledge() -> None:
    for cycle in ("2026-04", "2026-05", "2026-06"):
        BillRun.objects.create(cycle=cycle, state=BillRun.State.COMPLETE)
    pledge.post_pledge("2026-Q2", pledge.PledgeOptions(Decimal(25), "profit", "subscribers"))


def test_costs_freeze_once_the_pledge_is_posted(db: None) -> None:
    cost = costs.record_cost("2026-Q2", "operating", "GBP", 1_000, "rent", None)
    post_q2_pledge()

    with pytest.raises(costs.CostError, match="already posted"):
        costs.record_cost("2026-Q2", "operating", "GBP", 1, "late", None)
    with pytest.raises(costs.CostError, match="already posted"):
        costs.reverse_cost(cost)
    costs.record_cost("2026-Q2", "operating", "EUR", 1, "another currency is open", None)


def test_a_cost_checked_before_the_pledge_posted_is_refused_when_saved(db: None) -> None:
    costs.record_cost("2026-Q2", "operating", "GBP", 1_000, "rent", None)
    # Staff filled in the form (checked: the quarter was open), then the pledge posted.
    checked = costs.check_cost("2026-Q2", "operating", "GBP", 500)
    post_q2_pledge()

    with (
        mock.patch.object(costs, "check_cost", return_value=checked),
        pytest.raises(costs.CostError, match="already posted"),
    ):
        costs.record_cost("2026-Q2", "operating", "GBP", 500, "late", None)

    assert OperatingCost.objects.count() == 1
    assert Transfer.objects.filter(code="cost-operating").count() == 1


def cost_form(**changes: str) -> dict[str, str]:
    """The admin's add form, filled in."""
    return {
        "period": "2026-Q3",
        "kind": "operating",
        "currency": "GBP",
        "amount_minor": "250000",
        "description": "Customer care team",
        **changes,
    }


class TestAdmin:
    def test_staff_add_a_cost_and_it_is_posted(self, staff: User) -> None:
        response = client_for(staff).post(reverse("admin:billing_operatingcost_add"), cost_form())

        assert response.status_code == 302, response.content.decode()[:3000]
        cost = OperatingCost.objects.get()
        assert cost.entered_by == staff
        assert Transfer.objects.filter(idempotency_key=f"cost:{cost.pk}").exists()

    def test_a_bad_period_is_a_form_error(self, staff: User) -> None:
        response = client_for(staff).post(
            reverse("admin:billing_operatingcost_add"), cost_form(period="Q3 2026")
        )

        assert response.status_code == 200
        assert "not a quarter" in response.content.decode()
        assert not OperatingCost.objects.exists()

    def test_a_posted_cost_cannot_be_changed_or_deleted(self, staff: User) -> None:
        cost = costs.record_cost("2026-Q2", "operating", "GBP", 1_000, "rent", None)
        client = client_for(staff)

        client.post(
            reverse("admin:billing_operatingcost_change", args=[cost.pk]),
            cost_form(period="2026-Q2", amount_minor="1"),
        )
        client.post(reverse("admin:billing_operatingcost_delete", args=[cost.pk]), {"post": "yes"})

        cost.refresh_from_db()
        assert cost.amount_minor == 1_000

    def test_the_reverse_action_cancels_a_cost(self, staff: User) -> None:
        cost = costs.record_cost("2026-Q2", "operating", "GBP", 1_000, "rent", None)

        client_for(staff).post(
            reverse("admin:billing_operatingcost_changelist"),
            {"action": "reverse_costs", "_selected_action": [cost.pk]},
        )

        assert costs.is_reversed(cost)
