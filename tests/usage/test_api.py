"""The usage JSON API (/api/kindwave/v1/), own data only, over usage delivered, ingested and
rated through the real pipeline (tests/usage/rated_data.py)."""

from __future__ import annotations

import json
import os
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from kindwave.accounts.models import User
from kindwave.api import RATE_LIMIT, api
from kindwave.lines import services as lines
from kindwave.lines.models import Line, Market
from tests.conftest import client_for
from tests.lines.conftest import AT, FIRST_ICCID, FIRST_IMSI, FIRST_NUMBER, LAST_NUMBER
from tests.usage.rated_data import (
    ALICES_CHARGES_MINOR,
    ALICES_MONTH,
    CYCLE,
    deliver_and_rate,
    texts,
)

pytestmark = pytest.mark.django_db
BASE = "/api/kindwave/v1"
# The committed OpenAPI document: a change to the API must show up here, on purpose
# (KINDWAVE_UPDATE_OPENAPI=1 rewrites it).
OPENAPI = Path(__file__).with_name("openapi-kindwave-v1.json")


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()  # the rate limit's counters live in the cache


@pytest.fixture
def gb(settings, tmp_path: Path) -> Market:
    settings.DATA_DIR = tmp_path / "data"
    lines.load_catalog_file(lines.demo_catalog_path("gb"))
    market = Market.objects.get(code="GB")
    lines.add_number_block(market, FIRST_NUMBER, LAST_NUMBER)
    lines.add_sims(market, FIRST_ICCID, FIRST_IMSI, 10)
    return market


@pytest.fixture
def alices_line(gb: Market, alice: User) -> Line:
    return lines.activate_line(lines.order_line(alice, gb, "gb-everyday", at=AT), at=AT)


@pytest.fixture
def rated_line(alices_line: Line, tmp_path: Path) -> Line:
    deliver_and_rate(tmp_path / "delivery", alices_line, ALICES_MONTH + texts(60))
    return alices_line


def get(user: User | None, path: str) -> tuple[int, Any, str]:
    client = client_for(user) if user is not None else Client()
    response = client.get(BASE + path)
    return response.status_code, response.json(), response["Content-Type"]


class TestAuthentication:
    @pytest.mark.parametrize(
        "path", ["/lines", "/lines/1/usage", f"/lines/1/usage/records?cycle={CYCLE}"]
    )
    def test_without_a_session_it_is_401_problem_details(self, path: str) -> None:
        status, body, content_type = get(None, path)

        assert status == 401
        assert content_type == "application/problem+json"
        assert body["status"] == 401
        assert body["title"] == "Unauthorized"
        assert "Log in" in body["detail"]


class TestMyLines:
    def test_lists_only_my_lines_with_their_plan(
        self, alices_line: Line, alice: User, gb: Market, bob: User
    ) -> None:
        lines.order_line(bob, gb, "gb-starter", at=AT)

        status, body, _ = get(alice, "/lines")

        assert status == 200
        assert body == [
            {
                "id": alices_line.pk,
                "msisdn": "+447400100000",
                "state": "active",
                "market": "GB",
                "plan": {"code": "gb-everyday", "name": "Everyday"},
            }
        ]

    def test_query_count_does_not_grow_with_lines(
        self, gb: Market, alice: User, django_assert_max_num_queries
    ) -> None:
        for _ in range(4):
            lines.order_line(alice, gb, "gb-starter", at=AT)
        client = client_for(alice)

        with django_assert_max_num_queries(8):
            response = client.get(f"{BASE}/lines")
        assert len(response.json()) == 4


class TestUsage:
    def test_a_cycles_daily_usage_allowances_totals_and_charges(
        self, rated_line: Line, alice: User
    ) -> None:
        status, body, _ = get(alice, f"/lines/{rated_line.pk}/usage?cycle={CYCLE}")

        assert status == 200
        assert body["line_id"] == rated_line.pk
        assert body["cycle"] == CYCLE
        assert body["period_start"] == "2026-03-01T00:00:00Z"
        assert body["period_end"] == "2026-04-01T00:00:00Z"
        assert body["rated_cycles"] == [CYCLE]
        first = body["daily"][0]
        assert first["day"] == "2026-03-02"
        assert {entry["zone_kind"] for entry in body["daily"]} == {
            "home",
            "roam_like_at_home",
            "rest_of_world",
        }
        totals = {total["service"]: total for total in body["totals"]}
        assert totals["voice"]["quantity"] == 125 + 90 + 30 + 60
        assert totals["sms"]["quantity"] == 61
        assert totals["data"] == {
            "service": "data",
            "unit": "kB",
            "quantity": 3500,
            "charge": {"amount": "0", "amount_minor": 0, "currency": "GBP"},
        }
        data = next(a for a in body["allowances"] if a["service"] == "data")
        assert data["allowed"] == 40_960_000
        assert data["used"] == 3500
        assert data["remaining"] == 40_960_000 - 3500
        voice = next(a for a in body["allowances"] if a["service"] == "voice")
        assert voice["allowed"] is None
        assert voice["remaining"] is None

    def test_money_is_exact_and_rounded_once_per_charge_line(
        self, rated_line: Line, alice: User
    ) -> None:
        _, body, _ = get(alice, f"/lines/{rated_line.pk}/usage?cycle={CYCLE}")

        charged = {
            (line["zone_code"], line["class_code"]): line["charge"]
            for line in body["charges"]
            if line["charged"]
        }
        assert charged[("home", "premium")] == {
            "amount": "0.975",
            "amount_minor": 98,
            "currency": "GBP",
        }
        assert Decimal(charged[("home", "intl-europe")]["amount"]) == Decimal("0.125")
        assert charged[("home", "intl-europe")]["amount_minor"] == 12  # half-even
        total = body["charges_total"]
        assert Decimal(total["amount"]) == Decimal("1.85")
        assert total["amount_minor"] == ALICES_CHARGES_MINOR
        assert total["currency"] == "GBP"

    def test_defaults_to_the_latest_rated_cycle(self, rated_line: Line, alice: User) -> None:
        _, body, _ = get(alice, f"/lines/{rated_line.pk}/usage")

        assert body["cycle"] == CYCLE

    def test_a_cycle_without_usage_is_empty(self, rated_line: Line, alice: User) -> None:
        status, body, _ = get(alice, f"/lines/{rated_line.pk}/usage?cycle=2025-12")

        assert status == 200
        assert body["daily"] == body["charges"] == []
        assert body["charges_total"] is None

    @pytest.mark.parametrize("cycle", ["2026-13", "march", "2026-3"])
    def test_a_bad_cycle_is_400_problem_details(
        self, alices_line: Line, alice: User, cycle: str
    ) -> None:
        status, body, content_type = get(alice, f"/lines/{alices_line.pk}/usage?cycle={cycle}")

        assert status == 400
        assert content_type == "application/problem+json"
        assert body["title"] == "Bad Request"
        assert "is not a billing month" in body["detail"]

    def test_query_count_is_bounded(
        self, rated_line: Line, alice: User, django_assert_max_num_queries
    ) -> None:
        client = client_for(alice)

        with django_assert_max_num_queries(10):
            response = client.get(f"{BASE}/lines/{rated_line.pk}/usage?cycle={CYCLE}")
        assert response.status_code == 200


class TestRecords:
    def test_pages_of_records_newest_first_in_utc(self, rated_line: Line, alice: User) -> None:
        status, body, _ = get(
            alice, f"/lines/{rated_line.pk}/usage/records?cycle={CYCLE}&per_page=50"
        )

        assert status == 200
        assert (body["page"], body["per_page"], body["pages"], body["total"]) == (1, 50, 2, 67)
        records = body["records"]
        assert len(records) == 50
        times = [datetime.fromisoformat(record["start_time"]) for record in records]
        assert times == sorted(times, reverse=True)
        assert all(record["start_time"].endswith("Z") for record in records)

    def test_a_record_with_its_charge(self, rated_line: Line, alice: User) -> None:
        _, body, _ = get(alice, f"/lines/{rated_line.pk}/usage/records?cycle={CYCLE}&page=2")

        premium = next(r for r in body["records"] if r["class_code"] == "premium")
        assert premium == {
            "record_id": premium["record_id"],
            "start_time": "2026-03-05T14:00:00Z",
            "record_type": "voice_mo",
            "service": "voice",
            "direction": "out",
            "counterpart": "+449098790000",
            "zone_code": "home",
            "zone_kind": "home",
            "class_code": "premium",
            "quantity": 90,
            "included": 0,
            "charged": 90,
            "unit": "seconds",
            "charge": {"amount": "0.975", "amount_minor": 98, "currency": "GBP"},
        }

    def test_a_page_after_the_last_is_empty(self, rated_line: Line, alice: User) -> None:
        _, body, _ = get(alice, f"/lines/{rated_line.pk}/usage/records?cycle={CYCLE}&page=5")

        assert body["records"] == []
        assert body["total"] == 67

    @pytest.mark.parametrize("query", ["page=0", "per_page=0", "per_page=501", "page=x"])
    def test_bad_paging_is_422_problem_details(
        self, alices_line: Line, alice: User, query: str
    ) -> None:
        status, body, content_type = get(
            alice, f"/lines/{alices_line.pk}/usage/records?cycle={CYCLE}&{query}"
        )

        assert status == 422
        assert content_type == "application/problem+json"
        assert body["errors"][0]["loc"][-1] in {"page", "per_page"}
        assert "input" not in body["errors"][0]  # what was sent is not echoed

    def test_query_count_is_bounded(
        self, rated_line: Line, alice: User, django_assert_max_num_queries
    ) -> None:
        client = client_for(alice)

        with django_assert_max_num_queries(8):
            response = client.get(f"{BASE}/lines/{rated_line.pk}/usage/records?cycle={CYCLE}")
        assert response.status_code == 200


class TestAccess:
    """Another person's line answers exactly as a line that does not exist."""

    @pytest.mark.parametrize("persona", ["bob", "charlie", "cause_admin", "staff"])
    @pytest.mark.parametrize("suffix", ["/usage", "/usage/records"])
    def test_anyone_but_the_owner_gets_the_missing_line_404(
        self, rated_line: Line, persona: str, suffix: str, request: pytest.FixtureRequest
    ) -> None:
        user = request.getfixturevalue(persona)

        theirs = get(user, f"/lines/{rated_line.pk}{suffix}?cycle={CYCLE}")
        missing = get(user, f"/lines/{rated_line.pk + 1000}{suffix}?cycle={CYCLE}")

        assert theirs == missing
        assert theirs[0] == 404
        assert theirs[2] == "application/problem+json"

    def test_an_outsider_lists_none_of_alices_lines(self, rated_line: Line, charlie: User) -> None:
        assert get(charlie, "/lines")[1] == []


class TestOpenAPI:
    def test_the_document_describes_the_usage_endpoints(self) -> None:
        document = api.get_openapi_schema()

        assert document["info"]["title"] == "Kindwave API"
        paths = document["paths"]
        assert set(paths) >= {
            f"{BASE}/lines",
            f"{BASE}/lines/{{line_id}}/usage",
            f"{BASE}/lines/{{line_id}}/usage/records",
        }
        records = paths[f"{BASE}/lines/{{line_id}}/usage/records"]["get"]
        assert {p["name"] for p in records["parameters"]} == {
            "line_id",
            "cycle",
            "page",
            "per_page",
        }

    def test_the_document_is_served(self, alice: User) -> None:
        response = client_for(alice).get(f"{BASE}/openapi.json")

        assert response.status_code == 200
        assert response.json()["openapi"].startswith("3.")

    def test_the_committed_document_is_up_to_date(self) -> None:
        document = json.dumps(api.get_openapi_schema(), indent=2, sort_keys=True) + "\n"
        if os.environ.get("KINDWAVE_UPDATE_OPENAPI") == "1":
            OPENAPI.write_text(document, encoding="utf-8")

        assert OPENAPI.read_text(encoding="utf-8") == document, (
            "the API changed: review the change, then run this test with "
            "KINDWAVE_UPDATE_OPENAPI=1 to update " + OPENAPI.name
        )


class TestRateLimit:
    def test_beyond_the_limit_it_is_429_with_retry_after(self, alice: User, bob: User) -> None:
        limit = int(RATE_LIMIT.split("/")[0])
        client = client_for(alice)
        for _ in range(limit):
            assert client.get(f"{BASE}/lines").status_code == 200

        response = client.get(f"{BASE}/lines")

        assert response.status_code == 429
        assert response["Content-Type"] == "application/problem+json"
        assert int(response["Retry-After"]) > 0
        assert response.json()["title"] == "Too Many Requests"
        # the limit is per person: bob is not held back by alice's requests
        assert client_for(bob).get(f"{BASE}/lines").status_code == 200
