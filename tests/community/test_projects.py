"""Projects: who may create one and with what goals, following and volunteering with
their counters, the deadline, and the progress figures."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from kindwave.accounts.models import User
from kindwave.causes.models import Cause
from kindwave.community.models import Account, Project
from kindwave.community.services import projects
from kindwave.community.services.projects import ProjectError

pytestmark = pytest.mark.django_db


@pytest.fixture
def wateraid(demo_causes: dict[str, Cause]) -> Cause:
    return demo_causes["wateraid"]


@pytest.fixture
def alice_account(alice: User) -> Account:
    return Account.objects.create(username="alice", kind=Account.Kind.PERSON, user=alice)


@pytest.fixture
def bob_account(bob: User) -> Account:
    return Account.objects.create(username="bob", kind=Account.Kind.PERSON, user=bob)


@pytest.fixture
def wateraid_account(wateraid: Cause) -> Account:
    return Account.objects.create(username="wateraid", kind=Account.Kind.CAUSE, cause=wateraid)


def create(owner: Account, cause: Cause, **overrides: object) -> Project:
    fields: dict[str, object] = {
        "cause": cause,
        "title": "Wells for Tamale",
        "description": "Ten wells before the dry season.",
        "currency": "GBP",
        "goal_minor": 100_000,
        "deadline": projects.today() + timedelta(days=30),
        "place": "Tamale, Ghana",
    }
    fields.update(overrides)
    return projects.create_project(owner, **fields)  # type: ignore[arg-type]


def refused(owner: Account, cause: Cause, **overrides: object) -> str:
    before = Project.objects.count()
    with pytest.raises(ProjectError) as error:
        create(owner, cause, **overrides)
    assert Project.objects.count() == before
    return str(error.value)


class TestCreate:
    def test_a_person_creates_a_project_for_a_cause(
        self, alice_account: Account, wateraid: Cause
    ) -> None:
        project = create(alice_account, wateraid)

        assert (project.owner, project.cause, project.slug) == (
            alice_account,
            wateraid,
            "wells-for-tamale",
        )
        assert (project.raised_minor, project.volunteers_count, project.followers_count) == (
            0,
            0,
            0,
        )

    def test_the_cause_itself_creates_one_with_volunteers_only(
        self, wateraid_account: Account, wateraid: Cause
    ) -> None:
        project = create(wateraid_account, wateraid, goal_minor=None, volunteers_goal=12)

        assert (project.goal_minor, project.volunteers_goal) == (None, 12)

    def test_the_same_title_gets_another_slug(
        self, alice_account: Account, wateraid: Cause
    ) -> None:
        first, second = create(alice_account, wateraid), create(alice_account, wateraid)

        assert (first.slug, second.slug) == ("wells-for-tamale", "wells-for-tamale-2")

    def test_another_causes_account_is_refused(
        self, wateraid_account: Account, demo_causes: dict[str, Cause]
    ) -> None:
        message = refused(wateraid_account, demo_causes["the-trussell-trust"])

        assert "only for itself" in message

    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            ({"goal_minor": None}, "needs a goal"),
            ({"goal_minor": 0}, "positive whole number"),
            ({"goal_minor": -5}, "positive whole number"),
            ({"volunteers_goal": 0}, "positive whole number"),
            ({"goal_minor": None, "volunteers_goal": -1}, "positive whole number"),
            ({"deadline": date(2020, 1, 1)}, "already passed"),
            ({"currency": "JPY"}, "not a currency"),
            ({"currency": "gbp"}, "not a currency"),
            ({"title": "  "}, "title"),
            ({"description": ""}, "description"),
            ({"place": "x" * 141}, "place"),
            ({"volunteers_goal": 100_001}, "can be at most 100,000"),
            ({"volunteers_goal": 3_000_000_000}, "can be at most 100,000"),
            ({"goal_minor": 1_000_000_001}, "money goal can be at most £10,000,000.00"),
        ],
    )
    def test_refusals(
        self,
        alice_account: Account,
        wateraid: Cause,
        overrides: dict[str, object],
        message: str,
    ) -> None:
        assert message in refused(alice_account, wateraid, **overrides)

    def test_an_unverified_cause_is_refused(self, alice_account: Account, wateraid: Cause) -> None:
        Cause.objects.filter(pk=wateraid.pk).update(verified_at=None)
        wateraid.refresh_from_db()

        assert "not verified" in refused(alice_account, wateraid)

    def test_the_largest_goals_are_accepted(self, alice_account: Account, wateraid: Cause) -> None:
        project = create(alice_account, wateraid, goal_minor=1_000_000_000, volunteers_goal=100_000)

        assert (project.goal_minor, project.volunteers_goal) == (1_000_000_000, 100_000)

    def test_todays_deadline_is_accepted(self, alice_account: Account, wateraid: Cause) -> None:
        project = create(alice_account, wateraid, deadline=projects.today())

        assert projects.is_open(project)
        assert projects.progress(project).days_left == 0


class TestFollowAndVolunteer:
    def test_follow_and_unfollow_keep_the_counter(
        self, alice_account: Account, bob_account: Account, wateraid: Cause
    ) -> None:
        project = create(alice_account, wateraid)

        assert projects.follow_project(bob_account, project) is True
        assert projects.follow_project(bob_account, project) is False
        assert projects.follow_project(alice_account, project) is True
        assert project.followers_count == 2
        assert list(projects.project_followers(project)) == [alice_account, bob_account]

        assert projects.unfollow_project(bob_account, project) is True
        assert projects.unfollow_project(bob_account, project) is False
        assert project.followers_count == 1
        assert list(projects.project_followers(project)) == [alice_account]

    def test_join_and_leave_keep_the_counter(
        self, alice_account: Account, bob_account: Account, wateraid: Cause
    ) -> None:
        project = create(alice_account, wateraid, volunteers_goal=3)

        assert projects.join_as_volunteer(bob_account, project) is True
        assert projects.join_as_volunteer(bob_account, project) is False
        assert projects.progress(project).volunteers == 1
        assert projects.leave(bob_account, project) is True
        assert projects.leave(bob_account, project) is False
        project.refresh_from_db()
        assert project.volunteers_count == 0

    def test_no_joining_or_leaving_after_the_deadline(
        self, alice_account: Account, bob_account: Account, wateraid: Cause
    ) -> None:
        project = create(alice_account, wateraid)
        projects.join_as_volunteer(bob_account, project)
        Project.objects.filter(pk=project.pk).update(deadline=projects.today() - timedelta(days=1))
        project.refresh_from_db()

        with pytest.raises(ProjectError, match="ended on"):
            projects.join_as_volunteer(alice_account, project)
        with pytest.raises(ProjectError, match="ended on"):
            projects.leave(bob_account, project)

        project.refresh_from_db()
        assert project.volunteers_count == 1


class TestProgress:
    def test_exact_percent_and_a_capped_bar(self, alice_account: Account, wateraid: Cause) -> None:
        project = create(alice_account, wateraid, goal_minor=30_000, volunteers_goal=10)
        deadline = project.deadline
        assert deadline is not None

        Project.objects.filter(pk=project.pk).update(raised_minor=10_000)
        project.refresh_from_db()
        third = projects.progress(project, on=deadline - timedelta(days=5))
        Project.objects.filter(pk=project.pk).update(raised_minor=45_000)
        project.refresh_from_db()
        over = projects.progress(project, on=deadline + timedelta(days=2))

        assert third.percent is not None
        assert third.percent.quantize(Decimal("0.0001")) == Decimal("33.3333")
        assert third.display_percent == 33
        assert third.days_left == 5
        assert (third.volunteers, third.volunteers_goal) == (0, 10)
        assert over.percent == Decimal(150)
        assert over.display_percent == 100
        assert over.days_left == 0

    def test_just_below_the_goal_is_not_a_full_bar(
        self, alice_account: Account, wateraid: Cause
    ) -> None:
        project = create(alice_account, wateraid, goal_minor=10_000)
        Project.objects.filter(pk=project.pk).update(raised_minor=9_999)
        project.refresh_from_db()

        assert projects.progress(project).display_percent == 99

    def test_a_volunteers_only_project_has_no_money_percent(
        self, alice_account: Account, wateraid: Cause
    ) -> None:
        project = create(alice_account, wateraid, goal_minor=None, volunteers_goal=4, deadline=None)

        figures = projects.progress(project)

        assert (figures.percent, figures.display_percent, figures.days_left) == (None, None, None)
