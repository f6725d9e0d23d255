"""The bills in Kindwave's JSON API (/api/kindwave/v1/bills): own bills only, as issued,
money as {amount, amount_minor, currency}, errors as problem details."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from kindwave.accounts.models import User
from kindwave.api import api
from kindwave.billing.models import Invoice, InvoiceLine
from kindwave.causes.models import Cause
from kindwave.lines.models import Line
from tests.billing.factories import make_invoice
from tests.billing.test_views import a_year_of_bills
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
BASE = "/api/kindwave/v1"


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()  # the rate limit's counters live in the cache


@pytest.fixture
def alices_bills(active_line: Line, demo_causes: dict[str, Cause]) -> list[Invoice]:
    """Alice's March bill (WaterAid, a £5.00 donation, paid) and April bill (no cause)."""
    march = make_invoice(active_line, "2026-03", extras_minor=500, cause=demo_causes["wateraid"])
    april = make_invoice(active_line, "2026-04", net_minor=2_345, vat_minor=469)
    Invoice.objects.filter(pk=march.pk).update(status=Invoice.Status.PAID, paid_minor=1_700)
    return [march, april]


def get(user: User | None, path: str) -> tuple[int, Any, str]:
    client = client_for(user) if user is not None else Client()
    response = client.get(BASE + path)
    body = response.json() if "json" in response["Content-Type"] else response.content
    return response.status_code, body, response["Content-Type"]


def money(amount: str, minor: int, currency: str = "GBP") -> dict[str, Any]:
    return {"amount": amount, "amount_minor": minor, "currency": currency}


class TestAuthentication:
    @pytest.mark.parametrize(
        "path", ["/bills", "/bills/GB-2026-000001", "/bills/GB-2026-000001/pdf"]
    )
    def test_without_a_session_it_is_401_problem_details(
        self, alices_bills: list[Invoice], path: str
    ) -> None:
        status, body, content_type = get(None, path)

        assert status == 401
        assert content_type == "application/problem+json"
        assert body["title"] == "Unauthorized"


class TestMyBills:
    def test_lists_my_bills_newest_first(self, alices_bills: list[Invoice], alice: User) -> None:
        march, april = alices_bills

        status, body, _ = get(alice, "/bills")

        assert status == 200
        assert (body["page"], body["per_page"], body["pages"], body["total"]) == (1, 50, 1, 2)
        assert [bill["number"] for bill in body["bills"]] == [april.number, march.number]
        assert body["bills"][1] == {
            "number": march.number,
            "cycle": "2026-03",
            "line_id": march.line_id,
            "msisdn": march.msisdn,
            "issued_on": "2026-04-01",
            "due_on": "2026-04-15",
            "status": "paid",
            "total": money("17.00", 1_700),
            "outstanding": money("0.00", 0),
            "url": f"{BASE}/bills/{march.number}",
            "pdf_url": f"{BASE}/bills/{march.number}/pdf",
        }

    def test_pages(self, active_line: Line, alice: User) -> None:
        for month in range(1, 6):
            make_invoice(active_line, f"2026-{month:02d}")

        _, second, _ = get(alice, "/bills?page=2&per_page=2")
        _, beyond, _ = get(alice, "/bills?page=4&per_page=2")

        assert (second["page"], second["pages"], second["total"]) == (2, 3, 5)
        assert [bill["cycle"] for bill in second["bills"]] == ["2026-03", "2026-02"]
        assert beyond["bills"] == []

    @pytest.mark.parametrize("query", ["page=0", "per_page=501", "page=x"])
    def test_bad_paging_is_422_problem_details(self, alice: User, query: str) -> None:
        status, body, content_type = get(alice, f"/bills?{query}")

        assert status == 422
        assert content_type == "application/problem+json"
        assert body["errors"]

    def test_the_query_count_does_not_grow_with_bills(
        self, active_line: Line, alice: User, django_assert_max_num_queries
    ) -> None:
        a_year_of_bills(active_line)
        client = client_for(alice)

        with django_assert_max_num_queries(6):
            response = client.get(f"{BASE}/bills")
        assert response.json()["total"] == 12

    def test_an_outsider_lists_none_of_alices_bills(
        self, alices_bills: list[Invoice], charlie: User
    ) -> None:
        _, body, _ = get(charlie, "/bills")

        assert body["total"] == 0
        assert body["bills"] == []


class TestMyBill:
    def test_the_bill_as_issued_with_its_lines(
        self, alices_bills: list[Invoice], alice: User
    ) -> None:
        march = alices_bills[0]

        status, body, _ = get(alice, f"/bills/{march.number}")

        assert status == 200
        assert body["customer_name"] == "Alice Martin"
        assert body["language"] == "en"
        assert (body["period_start"], body["period_end"]) == ("2026-03-01", "2026-03-31")
        assert body["issued_at"] == "2026-04-01T00:00:00Z"
        assert (body["tax_mode"], body["vat_rate"], body["vat_percent"]) == (
            "inclusive",
            "0.2",
            "20",
        )
        assert body["net"] == money("10.00", 1_000)
        assert body["vat"] == money("2.00", 200)
        assert body["extras"] == money("5.00", 500)
        assert body["credits"] == money("0.00", 0)
        assert body["total"] == money("17.00", 1_700)
        assert body["paid"] == money("17.00", 1_700)
        assert body["cause"] == {"slug": "wateraid", "name": "WaterAid"}
        assert body["cause_share"] == money("1.00", 100)
        assert body["lines"] == [
            {
                "position": 1,
                "kind": InvoiceLine.Kind.PLAN_FEE,
                "description": "Plan fee",
                "quantity": 1,
                "unit": "",
                "period_start": None,
                "period_end": None,
                "amount": money("12.00", 1_200),
                "vat_applies": True,
            },
            {
                "position": 2,
                "kind": InvoiceLine.Kind.DONATION,
                "description": "Donation",
                "quantity": 1,
                "unit": "",
                "period_start": None,
                "period_end": None,
                "amount": money("5.00", 500),
                "vat_applies": False,
            },
        ]

    def test_no_cause_is_the_foundation(self, alices_bills: list[Invoice], alice: User) -> None:
        _, body, _ = get(alice, f"/bills/{alices_bills[1].number}")

        assert body["cause"] is None
        assert body["cause_share"] == money("2.35", 235)
        assert body["status"] == "open"
        assert body["outstanding"] == money("28.14", 2_814)

    def test_the_pdf(self, alices_bills: list[Invoice], alice: User) -> None:
        march = alices_bills[0]
        response = client_for(alice).get(f"{BASE}/bills/{march.number}/pdf")

        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"] == f'attachment; filename="{march.number}.pdf"'
        assert response.content.startswith(b"%PDF-")

    @pytest.mark.parametrize("suffix", ["", "/pdf"])
    @pytest.mark.parametrize("persona", ["charlie", "bob", "cause_admin", "staff"])
    def test_anyone_but_the_owner_gets_the_missing_bill_404(
        self,
        alices_bills: list[Invoice],
        persona: str,
        suffix: str,
        request: pytest.FixtureRequest,
    ) -> None:
        user = request.getfixturevalue(persona)

        theirs = get(user, f"/bills/{alices_bills[0].number}{suffix}")
        missing = get(user, f"/bills/GB-2026-999999{suffix}")

        assert theirs == missing
        assert theirs[0] == 404
        assert theirs[2] == "application/problem+json"


class TestOpenAPI:
    def test_the_document_describes_the_bills_endpoints(self) -> None:
        paths = json.loads(json.dumps(api.get_openapi_schema()))["paths"]

        assert {f"{BASE}/bills", f"{BASE}/bills/{{number}}", f"{BASE}/bills/{{number}}/pdf"} <= set(
            paths
        )
        pdf = paths[f"{BASE}/bills/{{number}}/pdf"]["get"]["responses"]
        assert "application/pdf" in pdf["200"]["content"]
        assert "application/problem+json" in pdf["404"]["content"]
        assert pdf["404"]["description"].startswith("No such bill")
        listing = paths[f"{BASE}/bills"]["get"]
        assert {p["name"] for p in listing["parameters"]} == {"page", "per_page"}
