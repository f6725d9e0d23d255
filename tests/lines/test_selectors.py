"""Reads: the access check (only the owner sees a line), and what was in force when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from kindwave.accounts.models import User
from kindwave.lines import selectors, services
from kindwave.lines.models import Line, Market

from .catalog_samples import MINIMAL, changed
from .conftest import AT

pytestmark = pytest.mark.django_db


class TestAccess:
    def test_the_owner_sees_her_lines(self, active_line: Line, alice: User) -> None:
        assert list(selectors.lines_of(alice)) == [active_line]
        assert selectors.get_line_for(alice, active_line.pk) == active_line

    @pytest.mark.parametrize("who", ["bob", "charlie", "staff"])
    def test_anyone_else_gets_404(
        self, active_line: Line, who: str, request: pytest.FixtureRequest
    ) -> None:
        user = request.getfixturevalue(who)
        assert list(selectors.lines_of(user)) == []
        with pytest.raises(Http404):
            selectors.get_line_for(user, active_line.pk)

    def test_anonymous_gets_404(self, active_line: Line) -> None:
        assert list(selectors.lines_of(AnonymousUser())) == []
        with pytest.raises(Http404):
            selectors.get_line_for(AnonymousUser(), active_line.pk)

    def test_a_line_that_does_not_exist_is_404_too(self, alice: User) -> None:
        with pytest.raises(Http404):
            selectors.get_line_for(alice, 999_999)

    def test_lines_of_needs_one_query(
        self, active_line: Line, alice: User, django_assert_num_queries: object
    ) -> None:
        with django_assert_num_queries(1):  # type: ignore[operator]
            lines = list(selectors.lines_of(alice))
            assert lines[0].sim.iccid
            assert lines[0].market.code == "GB"


class TestCatalogueInForce:
    def test_versions_by_time(self, db: None) -> None:
        services.load_catalog(MINIMAL)
        v2 = changed('version = "v1"', 'version = "v2"')
        v2 = changed(
            "effective_from = 2026-01-01T00:00:00Z", "effective_from = 2026-06-01T00:00:00Z", v2
        )
        v2 = changed('code = "gb-bundle"', 'code = "gb-bundle-2"', v2)
        services.load_catalog(v2)
        june = datetime(2026, 6, 1, tzinfo=UTC)
        assert selectors.catalog_in_force("GB", datetime(2025, 12, 31, tzinfo=UTC)) is None
        assert selectors.catalog_in_force("gb", june - timedelta(microseconds=1)).version == "v1"  # type: ignore[union-attr]
        assert selectors.catalog_in_force("GB", june).version == "v2"  # type: ignore[union-attr]
        assert [plan.code for plan in selectors.plans_on_offer("GB", june)] == [
            "gb-payg",
            "gb-bundle-2",
        ]
        assert selectors.plans_on_offer("FR", june) == []

    def test_plan_in_force_follows_price_changes_and_keeps_withdrawn_plans(
        self, gb_stock: Market, alice: User
    ) -> None:
        line = services.order_line(alice, gb_stock, "gb-starter", at=AT)
        text = services.demo_catalog_path("gb").read_text("utf-8")
        v2 = changed('version = "2026-01"', 'version = "2026-07"', text)
        v2 = changed(
            "effective_from = 2026-01-01T00:00:00Z", "effective_from = 2026-07-01T00:00:00Z", v2
        )
        v2 = changed("monthly_fee = 10.00", "monthly_fee = 11.00", v2)
        services.load_catalog(v2)
        july = datetime(2026, 7, 1, tzinfo=UTC)
        everyday = services.change_plan(line, "gb-everyday", at=AT + timedelta(days=1))
        assert everyday.plan_code == "gb-everyday"
        before = selectors.plan_in_force(line, july - timedelta(microseconds=1))
        after = selectors.plan_in_force(line, july)
        assert before is not None
        assert (before.catalog.version, before.monthly_fee_minor) == (
            "2026-01",
            1000,
        )
        assert after is not None
        assert (after.catalog.version, after.monthly_fee_minor) == (
            "2026-07",
            1100,
        )
        assert selectors.plan_in_force(line, AT - timedelta(seconds=1)) is None

    def test_destination_classes_of_the_demo_catalogue(self, gb: Market) -> None:
        catalog = selectors.catalog_in_force(gb, AT)
        assert catalog is not None
        expected = {
            "+442079460000": "national",
            "+447400123456": "mobile",
            "+447012345678": "premium",
            "+448001234567": "free",
            "+33612345678": "intl-europe",
            "+12015550123": "intl-north-america",
            "+8613800000000": "intl-world",
            "999": "emergency",
            "118118": "directory",
        }
        found = {number: selectors.destination_class_for(catalog, number) for number in expected}
        assert {
            number: klass.code if klass else None for number, klass in found.items()
        } == expected

    def test_roaming_zones_of_the_demo_catalogue(self, gb: Market) -> None:
        catalog = selectors.catalog_in_force(gb, AT)
        assert catalog is not None
        zones = {mcc: selectors.roaming_zone_for(catalog, mcc) for mcc in ("234", "208", "310")}
        assert {mcc: zone.code if zone else None for mcc, zone in zones.items()} == {
            "234": "home",
            "208": "eu",
            "310": "world",
        }
        assert zones["208"] is not None
        assert zones["208"].rated_as_home
