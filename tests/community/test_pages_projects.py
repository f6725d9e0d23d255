"""The project and donation pages: the list, a project with its progress and updates, follow
and volunteer (plain forms and HTMX), a new project, and a gift on the phone bill with its
one confirmation and receipt — every refusal shown next to the field with nothing written,
someone else's receipt a 404 like a missing one, a double submit one donation."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from django.utils.formats import time_format

from kindwave.accounts.models import User
from kindwave.billing.models import CarrierCharge
from kindwave.billing.services import carrier
from kindwave.causes.models import Cause
from kindwave.community.models import (
    Account,
    Donation,
    Project,
    ProjectFollow,
    Visibility,
    Volunteer,
)
from kindwave.community.project_forms import ProjectForm, parse_amount
from kindwave.community.services import donations, projects
from kindwave.community.services.accounts import ensure_account
from kindwave.community.services.posts import post
from kindwave.ledger.models import Transfer
from kindwave.lines.models import Line
from tests.community.test_donations import DECLARATION
from tests.community.test_projects import create as make_project
from tests.conftest import client_for
from tests.lines.conftest import active_line, gb, gb_stock, ordered_line

__all__ = ["active_line", "gb", "gb_stock", "ordered_line"]

pytestmark = pytest.mark.django_db


@pytest.fixture
def wateraid(demo_causes: dict[str, Cause]) -> Cause:
    return demo_causes["wateraid"]


@pytest.fixture
def project(wateraid: Cause, alice: User) -> Project:
    return make_project(ensure_account(alice), wateraid, volunteers_goal=10)


@pytest.fixture
def alice_client(alice: User, active_line: Line) -> Client:
    """alice, signed in, with an active GB line (her phone bill can take donations)."""
    return client_for(alice)


#: The Gift Aid part of the donation form, filled in as the services' tests declare it.
GIFT_AID = {
    "gift_aid": "on",
    **{
        name: value
        for name, value in asdict(DECLARATION).items()
        if name not in ("accepted", "title")
    },
    "declaration": "on",
}


def written() -> tuple[int, int, int]:
    return Transfer.objects.count(), Donation.objects.count(), CarrierCharge.objects.count()


def donate_url(project: Project) -> str:
    return reverse("community:project_donate", args=[project.slug])


def key_of(client: Client, url: str) -> str:
    """The idempotency key the donation form carries in this render."""
    page = client.get(url).content.decode()
    found = re.search(r'name="client_key" value="([0-9a-f]{32})"', page)
    assert found is not None, "the form has no client key"
    return found.group(1)


def donate(client: Client, project: Project, amount: str, **fields: str) -> object:
    url = donate_url(project)
    data = {"amount": amount, "client_key": key_of(client, url), **fields}
    return client.post(url, data)


class TestParseAmount:
    @pytest.mark.parametrize(
        ("raw", "currency", "minor"),
        [("5", "GBP", 500), ("5.5", "GBP", 550), ("5,50", "EUR", 550), (" 12.34 ", "USD", 1234)],
    )
    def test_major_units_with_a_point_or_a_comma(self, raw: str, currency: str, minor: int) -> None:
        assert parse_amount(raw, currency) == minor

    @pytest.mark.parametrize("raw", ["", "0", "0,00", "-5", "five", "5.555", "1,000.00", "5e3"])
    def test_anything_else_is_refused(self, raw: str) -> None:
        with pytest.raises(Exception, match=r"amount|decimals"):
            parse_amount(raw, "GBP")

    @pytest.mark.parametrize(
        "raw", ["\u0665", "\uff15", "1\u0665", "\u0665.\u0665\u0660", "5.\u0665"]
    )
    def test_only_the_digits_0_to_9(self, raw: str) -> None:
        # Arabic-Indic and full-width digits: \d matches them and Decimal reads them.
        with pytest.raises(ValidationError, match="with the digits 0 to 9"):
            parse_amount(raw, "GBP")


class TestProjectPages:
    def test_anonymous_sees_the_project_and_a_login_link_to_donate(
        self, client: Client, project: Project
    ) -> None:
        response = client.get(reverse("community:project", args=[project.slug]))
        assert response.status_code == 200
        page = response.content.decode()
        assert project.title in page
        assert "WaterAid" in page
        assert "Tamale, Ghana" in page
        assert "£0.00 raised of £1,000.00" in page
        login = reverse("accounts:login") + "?next=" + donate_url(project)
        assert f'href="{login}"' in page
        assert "Log in to donate" in page
        assert 'role="alert"' not in page

    def test_a_missing_project_is_a_404(self, client: Client, demo_causes: object) -> None:
        assert client.get(reverse("community:project", args=["nothing-here"])).status_code == 404

    def test_the_list_shows_open_projects_newest_first_not_ended_ones(
        self, client: Client, project: Project, wateraid: Cause, alice: User
    ) -> None:
        newer = make_project(ensure_account(alice), wateraid, title="Clean water for Kisumu")
        ended = make_project(ensure_account(alice), wateraid, title="Last year's appeal")
        Project.objects.filter(pk=ended.pk).update(deadline=projects.today() - timedelta(days=1))
        page = client.get(reverse("community:projects")).content.decode()
        assert page.index(newer.title) < page.index(project.title)
        assert ended.title not in page
        only = client.get(reverse("community:projects") + "?cause=other").content.decode()
        assert project.title not in only

    def test_progress_bar_in_french_and_the_project_currency(
        self, client: Client, project: Project
    ) -> None:
        Project.objects.filter(pk=project.pk).update(raised_minor=25_050)
        client.cookies["kindwave_language"] = "fr"
        page = client.get(reverse("community:project", args=[project.slug])).content.decode()
        assert "250,50\xa0£GB" in page
        assert 'value="25"' in page
        assert 'max="100"' in page
        assert 'aria-labelledby="money-progress-label"' in page

    def test_updates_newest_first_only_those_the_viewer_may_see_in_bounded_queries(
        self,
        client: Client,
        project: Project,
        alice: User,
        bob: User,
        charlie: User,
        django_assert_max_num_queries: Callable,
    ) -> None:
        alice_account = ensure_account(alice)
        for number in range(6):
            post(
                alice_account,
                f"Week {number}: digging",
                visibility=Visibility.PUBLIC,
                donate_project=project,
            )
        post(
            alice_account,
            "For my followers only",
            visibility=Visibility.PRIVATE,
            donate_project=project,
        )
        client.force_login(charlie)
        url = reverse("community:project", args=[project.slug])
        with django_assert_max_num_queries(10):
            page = client.get(url).content.decode()
        assert page.index("Week 5") < page.index("Week 0")
        assert "For my followers only" not in page
        for number in range(6, 16):
            post(
                alice_account,
                f"Week {number}",
                visibility=Visibility.PUBLIC,
                donate_project=project,
            )
        with django_assert_max_num_queries(10):  # the same count with more updates
            client.get(url)

    def test_post_an_update_only_for_who_speaks_for_the_project(
        self, client: Client, project: Project, alice: User, bob: User
    ) -> None:
        url = reverse("community:project", args=[project.slug])
        link = f'href="{reverse("community:home")}?donate_project={project.slug}"'
        assert link in client_for(alice).get(url).content.decode()  # she runs it
        assert "Post an update" not in client_for(bob).get(url).content.decode()
        ensure_account(bob)  # a community account is not enough
        assert "Post an update" not in client_for(bob).get(url).content.decode()
        assert "Post an update" not in client.get(url).content.decode()


class TestFollowAndVolunteer:
    def test_plain_forms_follow_volunteer_leave_and_unfollow(
        self, project: Project, bob: User
    ) -> None:
        client = client_for(bob)
        url = reverse("community:project", args=[project.slug])
        for action in ("follow", "volunteer"):
            response = client.post(reverse(f"community:project_{action}", args=[project.slug]))
            assert response.status_code == 302
            assert response["Location"] == url
        project.refresh_from_db()
        assert (project.followers_count, project.volunteers_count) == (1, 1)
        page = client.get(url).content.decode()
        assert "Stop volunteering" in page
        assert "Stop following" in page
        for action in ("leave", "unfollow"):
            client.post(reverse(f"community:project_{action}", args=[project.slug]))
        project.refresh_from_db()
        assert (project.followers_count, project.volunteers_count) == (0, 0)

    def test_htmx_answers_with_the_buttons_and_the_progress_out_of_band(
        self, project: Project, bob: User
    ) -> None:
        client = client_for(bob)
        response = client.post(
            reverse("community:project_volunteer", args=[project.slug]), HTTP_HX_REQUEST="true"
        )
        assert response.status_code == 200
        fragment = response.content.decode()
        assert 'id="project-actions"' in fragment
        assert "<html" not in fragment
        assert 'hx-swap-oob="true"' in fragment
        assert "1 of 10 volunteers" in fragment

    def test_htmx_keeps_focus_on_the_replacing_button_and_says_what_happened(
        self, project: Project, bob: User
    ) -> None:
        client = client_for(bob)
        page = client.get(reverse("community:project", args=[project.slug])).content.decode()
        assert '<div id="project-status" role="status"></div>' in page
        assert '<script src="/static/kindwave/projects.js" defer></script>' in page
        assert re.search(r'<button[^>]*data-action="follow"[^>]*>Follow</button>', page)
        response = client.post(
            reverse("community:project_follow", args=[project.slug]), HTTP_HX_REQUEST="true"
        )
        fragment = response.content.decode()
        assert re.search(r'<section[^>]*id="project-actions"[^>]*data-focus="follow"', fragment)
        assert re.search(r'<button[^>]*data-action="follow"[^>]*>Stop following</button>', fragment)
        status = re.search(
            r'<div id="project-status" hx-swap-oob="innerHTML">(.*?)</div>', fragment, re.S
        )
        assert status is not None
        assert "You follow this project." in status.group(1)
        response = client.post(
            reverse("community:project_unfollow", args=[project.slug]), HTTP_HX_REQUEST="true"
        )
        assert "You no longer follow this project." in response.content.decode()

    def test_a_plain_form_says_what_happened_on_the_page(self, project: Project, bob: User) -> None:
        client = client_for(bob)
        response = client.post(
            reverse("community:project_volunteer", args=[project.slug]), follow=True
        )
        assert "You volunteer for this project." in response.content.decode()

    def test_volunteering_after_the_deadline_is_refused_with_the_reason(
        self, project: Project, bob: User
    ) -> None:
        Project.objects.filter(pk=project.pk).update(deadline=projects.today() - timedelta(days=1))
        client = client_for(bob)
        response = client.post(
            reverse("community:project_volunteer", args=[project.slug]), HTTP_HX_REQUEST="true"
        )
        assert "ended on" in response.content.decode()
        assert not Volunteer.objects.exists()

    def test_anonymous_posts_go_to_the_login_page_and_change_nothing(
        self, client: Client, project: Project
    ) -> None:
        response = client.post(reverse("community:project_follow", args=[project.slug]))
        assert response.status_code == 302
        assert "/accounts/login" in response["Location"]
        assert not ProjectFollow.objects.exists()

    def test_an_expired_session_on_htmx_redirects_the_whole_page_to_log_in(
        self, client: Client, project: Project
    ) -> None:
        page = reverse("community:project", args=[project.slug])
        response = client.post(
            reverse("community:project_follow", args=[project.slug]),
            HTTP_HX_REQUEST="true",
            HTTP_HX_CURRENT_URL=f"http://testserver{page}",
        )
        assert response.status_code == 200
        assert response.content == b""  # nothing swapped into the buttons
        assert response["HX-Redirect"] == f"/accounts/login/?next={page}"
        assert not ProjectFollow.objects.exists()

    def test_a_plain_post_logs_in_then_comes_back_to_the_referring_page(
        self, client: Client, project: Project
    ) -> None:
        page = reverse("community:project", args=[project.slug])
        response = client.post(
            reverse("community:project_volunteer", args=[project.slug]),
            HTTP_REFERER=f"http://testserver{page}",
        )
        assert response.status_code == 302
        assert response["Location"] == f"/accounts/login/?next={page}"
        assert not Volunteer.objects.exists()

    def test_follow_needs_the_csrf_token(self, project: Project, bob: User) -> None:
        client = Client(enforce_csrf_checks=True)
        client.force_login(bob)
        response = client.post(reverse("community:project_follow", args=[project.slug]))
        assert response.status_code == 403
        assert not ProjectFollow.objects.exists()


class TestNewProject:
    def test_a_member_starts_a_project(self, alice: User, wateraid: Cause) -> None:
        client = client_for(alice)
        response = client.post(
            reverse("community:project_new"),
            {
                "title": "Wells for Tamale",
                "description": "Ten wells before the dry season.",
                "cause": "wateraid",
                "run_as": "me",
                "currency": "GBP",
                "goal": "1500,50",
                "volunteers_goal": "",
                "deadline": str(projects.today() + timedelta(days=10)),
                "place": "Tamale",
            },
        )
        project = Project.objects.get()
        assert response.status_code == 302
        assert response["Location"] == reverse("community:project", args=[project.slug])
        assert (project.goal_minor, project.owner.user, project.cause) == (150_050, alice, wateraid)

    def test_the_description_label_is_not_the_invoice_column_in_french(
        self, alice: User, demo_causes: dict[str, Cause]
    ) -> None:
        field = ProjectForm(user=alice).fields["description"]
        with translation.override("fr"):
            label = str(field.label)
        assert label != "Désignation"  # the bare msgid's French, an invoice column
        assert str(field.label) == "Description"

    def test_a_cause_admin_runs_one_as_the_cause(self, cause_admin: User, wateraid: Cause) -> None:
        client = client_for(cause_admin)
        assert "WaterAid" in client.get(reverse("community:project_new")).content.decode()
        client.post(
            reverse("community:project_new"),
            {
                "title": "Taps",
                "description": "Taps.",
                "cause": "wateraid",
                "run_as": "wateraid",
                "currency": "GBP",
                "volunteers_goal": "4",
            },
        )
        assert Project.objects.get().owner.cause == wateraid

    @pytest.mark.parametrize(
        ("changes", "field", "message"),
        [
            ({"goal": "", "volunteers_goal": ""}, "goal", "needs a goal"),
            ({"goal": "0"}, "goal", "above zero"),
            ({"deadline": "2020-01-01"}, "deadline", "already passed"),
            ({"run_as": "wateraid"}, "run_as", "Select a valid choice"),
            ({"title": ""}, "title", "required"),
            ({"volunteers_goal": "100001"}, "volunteers_goal", "less than or equal to 100000"),
            ({"volunteers_goal": "3000000000"}, "volunteers_goal", "less than or equal to"),
            ({"goal": "10000000.01"}, "goal", "money goal can be at most £10,000,000.00"),
            ({"goal": "\uff15"}, "goal", "with the digits 0 to 9"),
        ],
    )
    def test_refusals_next_to_the_field_nothing_written(
        self, alice: User, wateraid: Cause, changes: dict[str, str], field: str, message: str
    ) -> None:
        data = {
            "title": "Wells",
            "description": "Wells.",
            "cause": "wateraid",
            "run_as": "me",
            "currency": "GBP",
            "goal": "100",
            **changes,
        }
        response = client_for(alice).post(reverse("community:project_new"), data)
        page = response.content.decode()
        assert response.status_code == 200
        assert not Project.objects.exists()
        errors = re.search(rf'<ul class="errorlist" id="id_{field}_errors"[^>]*>(.*?)</ul>', page)
        assert errors is not None
        assert message in errors.group(1)
        assert re.search(rf'aria-describedby="[^"]*id_{field}_errors', page)


class TestDonateByPhoneBill:
    def test_donate_confirm_once_and_see_the_receipt(
        self, alice_client: Client, project: Project, active_line: Line
    ) -> None:
        response = donate(alice_client, project, "5,00")
        donation = Donation.objects.get()
        confirm_page = reverse("community:donation", args=[donation.reference])
        assert response.status_code == 302
        assert response["Location"] == confirm_page
        assert donation.state == Donation.State.PENDING
        page = alice_client.get(confirm_page).content.decode()
        assert "£5.00 will be added to the bill of your line +44 7400 100000" in page
        assert "given in full to WaterAid, for the project “Wells for Tamale”" in page
        response = alice_client.post(
            reverse("community:donation_confirm", args=[donation.reference])
        )
        assert response.status_code == 302
        assert response["Location"] == confirm_page
        receipt = alice_client.get(confirm_page)
        assert receipt["Cache-Control"] == "private, no-store"
        text = receipt.content.decode()
        for shown in (
            "Thank you for your donation",
            "£5.00",
            "WaterAid",
            "Wells for Tamale",
            "Phone bill",
            str(donation.reference),
            "Not declared",
            "/me/giving/",
        ):
            assert shown in text
        donation.refresh_from_db()
        project.refresh_from_db()
        assert donation.state == Donation.State.COMPLETED
        assert project.raised_minor == 500
        # a second confirmation changes nothing and says why
        alice_client.post(reverse("community:donation_confirm", args=[donation.reference]))
        project.refresh_from_db()
        assert project.raised_minor == 500

    def test_the_confirmation_says_the_reservation_time_from_the_setting(
        self, alice_client: Client, project: Project, settings: Any
    ) -> None:
        settings.BILLING = {**settings.BILLING, "CARRIER_RESERVATION_MINUTES": 12}
        donate(alice_client, project, "5")
        donation = Donation.objects.select_related("carrier_charge").get()
        page = alice_client.get(reverse("community:donation", args=[donation.reference]))
        text = page.content.decode()
        lapses = donation.carrier_charge.reserved_at + timedelta(minutes=12)
        assert f"the reservation lapses after 12 minutes, at {time_format(lapses)}" in text
        assert "30 minutes" not in text

    def test_once_expired_the_page_says_so_and_offers_no_confirm_button(
        self, alice_client: Client, project: Project
    ) -> None:
        donate(alice_client, project, "5")
        donation = Donation.objects.get()
        CarrierCharge.objects.filter(pk=donation.carrier_charge_id).update(
            reserved_at=donation.created_at - timedelta(minutes=31)
        )
        page = alice_client.get(reverse("community:donation", args=[donation.reference]))
        text = page.content.decode()
        assert "This donation expired" in text
        assert "was not confirmed within 30 minutes, so it expired and nothing was charged" in text
        assert "Confirm: donate" not in text
        assert reverse("community:donation_confirm", args=[donation.reference]) not in text
        assert f'href="{donate_url(project)}"' in text  # start again
        response = alice_client.post(
            reverse("community:donation_confirm", args=[donation.reference]), follow=True
        )
        text = response.content.decode()
        said = re.search(r'<ul class="messages"[^>]*>(.*?)</ul>', text, re.S)
        assert said is not None
        assert "This donation was not confirmed within 30 minutes, so it lapsed" in said.group(1)
        assert str(donation.reference) not in said.group(1)
        project.refresh_from_db()
        assert project.raised_minor == 0

    def test_a_double_submit_makes_one_donation(
        self, alice_client: Client, project: Project
    ) -> None:
        url = donate_url(project)
        data = {"amount": "5", "client_key": key_of(alice_client, url)}
        first, second = alice_client.post(url, data), alice_client.post(url, data)
        assert first["Location"] == second["Location"]
        assert Donation.objects.count() == 1
        assert CarrierCharge.objects.count() == 1
        assert key_of(alice_client, url) != data["client_key"]  # a new render, a new key

    def test_a_reused_key_for_another_gift_is_a_new_form_with_a_new_key(
        self, alice_client: Client, project: Project
    ) -> None:
        url = donate_url(project)
        key = key_of(alice_client, url)
        alice_client.post(url, {"amount": "5", "client_key": key})
        before = written()
        response = alice_client.post(url, {"amount": "6", "client_key": key})
        page = response.content.decode()
        assert response.status_code == 200
        assert written() == before
        assert "This donation form was already sent for a different gift." in page
        assert key not in page  # neither in the message nor in the form any more
        assert re.search(r'name="client_key" value="[0-9a-f]{32}"', page)
        assert re.search(r'name="amount" value="6"', page)  # what was typed is kept
        new_key = key_of(alice_client, url)
        response = alice_client.post(url, {"amount": "6", "client_key": new_key})
        assert response.status_code == 302
        assert Donation.objects.count() == 2

    def test_a_resent_form_whose_gift_lapsed_is_a_new_form_with_a_new_key(
        self, alice_client: Client, project: Project
    ) -> None:
        url = donate_url(project)
        key = key_of(alice_client, url)
        alice_client.post(url, {"amount": "5", "client_key": key})
        donation = Donation.objects.get()
        Donation.objects.filter(pk=donation.pk).update(state=Donation.State.CANCELLED)
        page = alice_client.post(url, {"amount": "5", "client_key": key}).content.decode()
        assert "was not confirmed in time, so it was cancelled" in page
        assert key not in page
        assert Donation.objects.count() == 1

    @pytest.mark.parametrize(
        ("amount", "message"),
        [
            ("0", "above zero"),
            ("-5", "above zero"),
            ("five", "such as 5 or 5.50"),
            ("5.555", "at most 2 decimals"),
            ("10000.01", "A single donation can be at most £10,000.00."),
            ("240.01", "over your monthly limit"),
        ],
    )
    def test_bad_amounts_are_refused_next_to_the_field_nothing_written(
        self, alice_client: Client, project: Project, amount: str, message: str
    ) -> None:
        before = written()
        response = donate(alice_client, project, amount)
        page = response.content.decode()
        assert response.status_code == 200
        assert written() == before
        errors = re.search(
            r'<ul class="errorlist" id="id_amount_errors"[^>]*>(.*?)</ul>', page, re.S
        )
        assert errors is not None
        assert message in errors.group(1)
        assert re.search(r'<input[^>]*aria-describedby="id_amount_helptext id_amount_errors"', page)

    def test_without_an_active_line_no_form_but_why_and_where_to_get_a_line(
        self, project: Project, wateraid: Cause, bob: User
    ) -> None:
        client = client_for(bob)
        for url in (donate_url(project), reverse("community:cause_donate", args=["wateraid"])):
            page = client.get(url).content.decode()
            assert 'name="amount"' not in page
            assert "A gift on the phone bill needs an active Kindwave line" in page
            assert f'href="{reverse("lines:order")}"' in page
        before = written()
        page = client.post(donate_url(project), {"amount": "5", "client_key": "d" * 32})
        assert "needs an active Kindwave line" in page.content.decode()
        assert written() == before

    def test_switched_off_carrier_billing_no_form_but_where_to_switch_it_on(
        self, alice_client: Client, alice: User, project: Project
    ) -> None:
        carrier.set_limit(alice, enabled=False, monthly_limit_minor=None)
        page = alice_client.get(donate_url(project)).content.decode()
        assert 'name="amount"' not in page
        assert "You have switched off charges to your phone bill" in page
        assert f'href="{reverse("billing:carrier_billing")}"' in page
        before = written()
        alice_client.post(donate_url(project), {"amount": "5", "client_key": "d" * 32})
        assert written() == before

    def test_a_project_in_another_currency_than_the_line_no_form_but_why(
        self, alice_client: Client, alice: User, demo_causes: dict[str, Cause]
    ) -> None:
        america = demo_causes["feeding-america"]
        project = make_project(ensure_account(alice), america, currency="USD", title="Pantry")
        page = alice_client.get(donate_url(project)).content.decode()
        assert 'name="amount"' not in page
        assert (
            "This project raises money in USD and your phone bill is in GBP, so a gift to it "
            "cannot go on your phone bill."
        ) in page
        cause_url = reverse("community:cause_donate", args=[america.slug])
        assert f'href="{cause_url}"' in page  # giving to the cause itself works
        before = written()
        alice_client.post(donate_url(project), {"amount": "5", "client_key": "d" * 32})
        assert written() == before

    def test_a_gift_to_a_cause_abroad_is_in_the_donors_currency(
        self, alice_client: Client, demo_causes: dict[str, Cause]
    ) -> None:
        america = demo_causes["feeding-america"]
        url = reverse("community:cause_donate", args=[america.slug])
        page = alice_client.get(url).content.decode()
        assert "Amount (GBP)" in page
        assert "your phone bill can take £240.00 more this month" in page
        assert 'name="gift_aid"' not in page  # Gift Aid is for UK charities only
        alice_client.post(url, {"amount": "4", "client_key": key_of(alice_client, url)})
        donation = Donation.objects.get()
        assert (donation.cause, donation.amount_minor, donation.currency) == (america, 400, "GBP")
        page = alice_client.get(url).content.decode()
        assert "your phone bill can take £236.00 more this month" in page

    def test_a_closed_project_says_when_it_ended_instead_of_the_form(
        self, alice_client: Client, alice: User, project: Project
    ) -> None:
        Project.objects.filter(pk=project.pk).update(deadline=date(2026, 1, 2))
        page = alice_client.get(donate_url(project)).content.decode()
        assert 'name="amount"' not in page
        assert "The project Wells for Tamale ended on Jan. 2, 2026." in page
        before = written()
        alice_client.post(donate_url(project), {"amount": "5", "client_key": "d" * 32})
        assert written() == before
        detail = alice_client.get(reverse("community:project", args=[project.slug]))
        assert "it takes no more donations" in detail.content.decode()
        alice.language = "fr"
        alice.save(update_fields=["language"])
        french = alice_client.get(donate_url(project), HTTP_ACCEPT_LANGUAGE="fr")
        assert "2 janvier 2026" in french.content.decode()
        assert "2026-01-02" not in french.content.decode()

    def test_anonymous_is_sent_to_log_in(self, client: Client, project: Project) -> None:
        response = client.get(donate_url(project))
        assert response.status_code == 302
        assert "/accounts/login" in response["Location"]

    def test_no_card_option_on_the_page(self, alice_client: Client, project: Project) -> None:
        page = alice_client.get(donate_url(project)).content.decode().lower()
        assert not re.search(r'name="[^"]*card', page)
        assert "by card" not in page
        scripts = re.findall(r'<script[^>]*src="([^"]+)"', page)
        assert scripts == ["/static/kindwave/vendor/htmx.min.js"]

    def test_gift_aid_declared_with_the_donation(
        self, alice_client: Client, project: Project
    ) -> None:
        donate(alice_client, project, "25", **GIFT_AID)
        donation = Donation.objects.get()
        assert donation.gift_aid
        assert donation.gift_aid_postcode == "SW1A 1AA"
        page = alice_client.get(reverse("community:donation", args=[donation.reference]))
        assert "I want to Gift Aid my donation of £25.00 to WaterAid." in page.content.decode()

    @pytest.mark.parametrize(
        ("changes", "field", "message"),
        [
            ({"postcode": "nowhere"}, "postcode", "not a UK postcode"),
            ({"declaration": ""}, "declaration", "accept the declaration"),
            ({"first_name": ""}, "first_name", "first name must be 1 to 35"),
        ],
    )
    def test_a_bad_gift_aid_declaration_is_refused_next_to_its_field(
        self,
        alice_client: Client,
        project: Project,
        changes: dict[str, str],
        field: str,
        message: str,
    ) -> None:
        fields = {**GIFT_AID, **changes}
        before = written()
        page = donate(alice_client, project, "25", **fields).content.decode()
        assert written() == before
        errors = re.search(rf'<ul class="errorlist" id="id_{field}_errors"[^>]*>(.*?)</ul>', page)
        assert errors is not None
        assert message in errors.group(1)

    def test_a_gift_to_the_cause_itself(self, alice_client: Client, wateraid: Cause) -> None:
        url = reverse("community:cause_donate", args=["wateraid"])
        alice_client.post(url, {"amount": "3.50", "client_key": key_of(alice_client, url)})
        donation = Donation.objects.get()
        assert (donation.cause, donation.project, donation.amount_minor) == (wateraid, None, 350)
        assert donation.currency == "GBP"


class TestSomeoneElsesDonation:
    @pytest.fixture
    def alices(self, alice: User, active_line: Line, project: Project) -> Donation:
        return donations.donate_by_phone_bill(
            alice,
            cause=project.cause,
            project=project,
            amount_minor=500,
            currency="GBP",
            client_key="k1",
        )

    def test_bob_gets_the_404_a_missing_reference_gets(self, alices: Donation, bob: User) -> None:
        client = client_for(bob)
        theirs = client.get(reverse("community:donation", args=[alices.reference]))
        missing = client.get(reverse("community:donation", args=[uuid.uuid4()]))
        assert theirs.status_code == missing.status_code == 404
        assert theirs.content == missing.content

    def test_bob_cannot_confirm_it(self, alices: Donation, bob: User) -> None:
        response = client_for(bob).post(
            reverse("community:donation_confirm", args=[alices.reference])
        )
        assert response.status_code == 404
        alices.refresh_from_db()
        assert alices.state == Donation.State.PENDING

    def test_anonymous_is_sent_to_log_in(self, alices: Donation, client: Client) -> None:
        response = client.get(reverse("community:donation", args=[alices.reference]))
        assert response.status_code == 302


class TestCausePage:
    def test_links_to_donate_and_to_the_causes_projects(
        self, client: Client, wateraid: Cause
    ) -> None:
        page = client.get(reverse("causes:detail", args=["wateraid"])).content.decode()
        assert f'href="{reverse("community:cause_donate", args=["wateraid"])}"' in page
        assert f'href="{reverse("community:projects")}?cause=wateraid"' in page

    def test_follow_link_once_the_cause_has_a_community_profile(
        self, client: Client, wateraid: Cause
    ) -> None:
        Account.objects.create(username="wateraid", kind=Account.Kind.CAUSE, cause=wateraid)
        try:
            profile = reverse("community:profile", args=["wateraid"])
        except NoReverseMatch:  # the social pages are merged separately
            pytest.skip("community:profile is not routed on this branch")
        page = client.get(reverse("causes:detail", args=["wateraid"])).content.decode()
        assert f'href="{profile}"' in page
