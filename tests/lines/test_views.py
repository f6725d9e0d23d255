"""The subscriber's pages, as each persona sees them."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from kindwave.accounts.models import User
from kindwave.causes.models import Cause
from kindwave.lines import selectors, services
from kindwave.lines.models import Line, LineState, Market
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices_line(gb_stock: Market, alice: User, demo_causes: dict[str, Cause]) -> Line:
    line = services.order_line(alice, gb_stock, "gb-everyday", cause=demo_causes["wateraid"])
    return services.activate_line(line)


class TestHome:
    def test_shows_my_line_plan_and_cause(self, alices_line: Line, alice: User) -> None:
        page = client_for(alice).get(reverse("lines:home")).content.decode()

        assert "+44 7400 100000" in page  # the number as people read it
        assert "Everyday" in page
        assert "WaterAid" in page
        assert "£10.00" in page

    def test_in_french_with_french_money(self, alices_line: Line, alice: User) -> None:
        alice.language = "fr"
        alice.save(update_fields=["language"])

        page = client_for(alice).get(reverse("lines:home")).content.decode()

        assert '<html lang="fr">' in page
        assert "10,00\xa0£GB" in page

    def test_anonymous_is_sent_to_login(self) -> None:
        response = Client().get(reverse("lines:home"))

        assert response.status_code == 302
        assert response.url.startswith(reverse("accounts:login"))

    def test_query_count_does_not_grow_with_lines(
        self,
        gb_stock: Market,
        alice: User,
        django_assert_max_num_queries,
    ) -> None:
        for _ in range(3):
            services.order_line(alice, gb_stock, "gb-starter")
        client = client_for(alice)
        client.get(reverse("lines:home"))  # warm the session

        with django_assert_max_num_queries(40):
            client.get(reverse("lines:home"))


class TestAccess:
    """Charlie, the outsider, must not learn anything about alice's line."""

    @pytest.mark.parametrize("name", ["lines:detail"])
    def test_outsider_gets_404_on_reading(
        self, alices_line: Line, charlie: User, name: str
    ) -> None:
        response = client_for(charlie).get(reverse(name, args=[alices_line.pk]))

        assert response.status_code == 404

    @pytest.mark.parametrize("name", ["lines:change_cause", "lines:activate"])
    def test_outsider_gets_404_on_writing(
        self, alices_line: Line, charlie: User, demo_causes: dict[str, Cause], name: str
    ) -> None:
        response = client_for(charlie).post(
            reverse(name, args=[alices_line.pk]), {"cause": "wwf-uk", "iccid": "1"}
        )

        assert response.status_code == 404
        assert selectors.cause_in_force(alices_line, alices_line.activated_at).slug == "wateraid"  # type: ignore[union-attr, arg-type]

    @pytest.mark.parametrize("persona", ["bob", "cause_admin"])
    def test_household_member_and_cause_admin_get_404_too(
        self, alices_line: Line, persona: str, request: pytest.FixtureRequest
    ) -> None:
        user = request.getfixturevalue(persona)

        response = client_for(user).get(reverse("lines:detail", args=[alices_line.pk]))

        assert response.status_code == 404

    def test_staff_see_the_line_in_the_admin(self, alices_line: Line, staff: User) -> None:
        response = client_for(staff).get(reverse("admin:lines_line_change", args=[alices_line.pk]))

        assert response.status_code == 200
        assert alices_line.msisdn in response.content.decode()

    def test_a_cause_admin_is_not_staff(self, cause_admin: User) -> None:
        response = client_for(cause_admin).get(reverse("admin:index"))

        assert response.status_code == 302
        assert reverse("admin:login") in response.url

    def test_staff_also_get_404_outside_the_admin(self, alices_line: Line, staff: User) -> None:
        assert (
            client_for(staff).get(reverse("lines:detail", args=[alices_line.pk])).status_code == 404
        )

    def test_owner_sees_the_line(self, alices_line: Line, alice: User) -> None:
        page = client_for(alice).get(reverse("lines:detail", args=[alices_line.pk]))

        assert page.status_code == 200
        assert alices_line.sim.iccid in page.content.decode()


class TestOrder:
    def test_orders_a_line_with_plan_and_cause(
        self, gb_stock: Market, bob: User, demo_causes: dict[str, Cause]
    ) -> None:
        client = client_for(bob)

        form = client.get(reverse("lines:order"), {"market": "GB"})
        response = client.post(
            reverse("lines:order") + "?market=GB", {"plan": "gb-starter", "cause": "wateraid"}
        )

        assert form.status_code == 200
        line = Line.objects.get(owner=bob)
        assert response.status_code == 302
        assert response.url == reverse("lines:detail", args=[line.pk])
        assert line.state == LineState.ORDERED
        assert selectors.cause_in_force(line, line.ordered_at).slug == "wateraid"  # type: ignore[union-attr]

    def test_a_cause_of_another_country_is_refused(
        self, gb_stock: Market, bob: User, demo_causes: dict[str, Cause]
    ) -> None:
        response = client_for(bob).post(
            reverse("lines:order") + "?market=GB",
            {"plan": "gb-starter", "cause": "restos-du-coeur"},
        )

        assert response.status_code == 200
        assert not Line.objects.filter(owner=bob).exists()

    def test_an_unknown_plan_is_refused_with_a_form_error(
        self, gb_stock: Market, bob: User, demo_causes: dict[str, Cause]
    ) -> None:
        response = client_for(bob).post(
            reverse("lines:order") + "?market=GB", {"plan": "gb-free-forever", "cause": ""}
        )

        assert response.status_code == 200
        assert "errorlist" in response.content.decode()
        assert not Line.objects.filter(owner=bob).exists()

    def test_unverified_people_must_verify_first(self, gb_stock: Market) -> None:
        from kindwave.accounts.services import create_subscriber

        newcomer = create_subscriber(email="new@example.org", full_name="New", password="x")

        response = client_for(newcomer).get(reverse("lines:order"))

        assert response.status_code == 302
        assert response.url == reverse("lines:home")

    def test_out_of_stock_is_a_form_error_not_a_crash(
        self, gb: Market, bob: User, demo_causes: dict[str, Cause]
    ) -> None:
        response = client_for(bob).post(
            reverse("lines:order") + "?market=GB", {"plan": "gb-starter", "cause": ""}
        )

        assert response.status_code == 200
        assert not Line.objects.filter(owner=bob).exists()


class TestActivateAndChangeCause:
    def test_activation_needs_the_iccid_of_this_lines_sim(
        self, gb_stock: Market, alice: User
    ) -> None:
        line = services.order_line(alice, gb_stock, "gb-starter")
        client = client_for(alice)

        client.post(reverse("lines:activate", args=[line.pk]), {"iccid": "8944302026000000000"})
        line.refresh_from_db()
        assert line.state == LineState.ORDERED

        client.post(reverse("lines:activate", args=[line.pk]), {"iccid": line.sim.iccid})
        line.refresh_from_db()
        assert line.state == LineState.ACTIVE

    def test_activating_twice_is_refused_politely(self, alices_line: Line, alice: User) -> None:
        response = client_for(alice).post(
            reverse("lines:activate", args=[alices_line.pk]),
            {"iccid": alices_line.sim.iccid},
            follow=True,
        )

        assert response.status_code == 200
        assert "message error" in response.content.decode()

    def test_changing_the_cause_takes_effect_from_now(self, alices_line: Line, alice: User) -> None:
        client_for(alice).post(
            reverse("lines:change_cause", args=[alices_line.pk]), {"cause": "wwf-uk"}
        )

        from django.utils import timezone

        assert selectors.cause_in_force(alices_line, timezone.now()).slug == "wwf-uk"  # type: ignore[union-attr]
        assert selectors.cause_in_force(alices_line, alices_line.activated_at).slug == "wateraid"  # type: ignore[union-attr, arg-type]

    def test_choosing_no_cause_goes_to_the_foundation(self, alices_line: Line, alice: User) -> None:
        client_for(alice).post(reverse("lines:change_cause", args=[alices_line.pk]), {"cause": ""})

        from django.utils import timezone

        assert selectors.cause_in_force(alices_line, timezone.now()) is None
