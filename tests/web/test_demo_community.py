"""The demo's community: a small one (a few dozen people), built on a small simulated
operator and the demo personas exactly as ``kindwave demo`` builds the full one."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core import mail
from django.core.management import call_command
from django.db.models import Sum

from kindwave.billing.models import CarrierCharge
from kindwave.causes import services as causes
from kindwave.community import selectors
from kindwave.community.models import (
    Account,
    Donation,
    Favourite,
    Follow,
    Notification,
    Project,
    ProjectFollow,
    Status,
    Visibility,
    Volunteer,
)
from kindwave.ledger import chart
from kindwave.ledger import services as ledger
from kindwave.ledger.models import Transfer
from kindwave.lines import services as lines
from kindwave.lines.models import LineState
from kindwave.web import demo, demo_community

PEOPLE = 24


@pytest.fixture
def demo_operator(db: None, tmp_path: Path) -> None:
    """What ``load_demo`` has made when the community step runs: catalogues, causes, the
    demo stock, a small simulated operator in the UK and France and the personas."""
    lines.load_demo_catalogs()
    causes.load_demo_causes()
    for stock in demo.STOCK:
        demo.ensure_stock(stock)
    for country, subscribers, seed in (("GB", 20, 7), ("FR", 10, 33)):
        out = tmp_path / country
        call_command(
            "simulate", str(out), country=country, subscribers=subscribers, days=1, seed=seed
        )
        lines.import_simulated_operator(out)
    for persona in demo.PERSONAS:
        demo.ensure_persona(persona)


Build = Callable[[list[str]], demo_community.CommunitySummary]


@pytest.fixture
def build(django_capture_on_commit_callbacks: Any) -> Build:
    """Build the community as the demo does, running the after-commit work (receipts)."""

    def run(said: list[str]) -> demo_community.CommunitySummary:
        with django_capture_on_commit_callbacks(execute=True):
            return demo_community.build_community(said.append, people=PEOPLE)

    return run


def _snapshot() -> dict[str, str]:
    """Every row of the apps the community step writes to, fingerprinted per model."""
    snapshot = {}
    for label in ("community", "billing", "ledger", "accounts", "lines"):
        for model in apps.get_app_config(label).get_models():
            rows = list(model.objects.order_by("pk").values_list())
            digest = hashlib.sha256(repr(rows).encode()).hexdigest()
            snapshot[model.__name__] = f"{len(rows)} {digest}"
    return snapshot


def _account(email: str) -> Account:
    return Account.objects.get(user__email=email)


def _check_the_personas_part() -> None:
    """alice follows two causes and bob, posts and is notified; bob follows her; charlie
    follows no one and never sees her followers-only post; zoé posts in French."""
    alice = _account("alice@example.org")
    bob = _account("bob@example.org")
    charlie = _account("charlie@example.org")

    followed = set(Follow.objects.filter(account=alice).values_list("target__username", flat=True))
    assert followed == {"wateraid", "the_trussell_trust", "bob"}
    assert set(Follow.objects.filter(account=bob).values_list("target_id", flat=True)) >= {alice.pk}
    assert not Follow.objects.filter(account=charlie).exists()
    assert Status.objects.filter(account=alice).count() >= 3
    kinds = set(Notification.objects.filter(account=alice).values_list("kind", flat=True))
    assert {Notification.Kind.FOLLOW, Notification.Kind.MENTION} <= kinds
    home = selectors.home(alice)
    assert home
    assert {status.account_id for status in home} - {alice.pk}  # others' posts too
    # alice's followers-only post reaches bob, never charlie.
    private = Status.objects.get(account=alice, visibility=Visibility.PRIVATE)
    assert selectors.can_see(bob, private)
    assert not selectors.can_see(charlie, private)
    assert Status.objects.filter(account__user__email="zoe@example.org", language="fr").exists()


@pytest.mark.usefixtures("demo_operator")
def test_the_community_is_lively_and_coherent(build: Build) -> None:
    said: list[str] = []

    summary = build(said)

    # One summary line, with the counts, the total given and the time taken.
    assert len(said) == 1
    assert said[0].startswith("Community: ")
    assert f"{summary.donations:,} donations" in said[0]
    assert re.search(r"in \d+\.\d s", said[0])
    # Every cause has its account; people were drawn from both simulations.
    assert Account.objects.filter(kind=Account.Kind.CAUSE).count() == 12
    people = Account.objects.filter(kind=Account.Kind.PERSON)
    assert people.filter(user__lines__external_ref__startswith="gb-").distinct().count() > 5
    assert people.filter(user__lines__external_ref__startswith="fr-").distinct().count() > 2
    # 14 of the UK's 20 and 6 of France's 10 (there is no US simulation here), and the
    # four personas who take part.
    assert summary.accounts == Account.objects.count() == 12 + 14 + 6 + 4
    assert summary.follows == Follow.objects.count() > PEOPLE
    assert summary.posts == Status.objects.count() > 40
    # Counters match the rows the services wrote.
    for account in Account.objects.all():
        assert account.followers_count == Follow.objects.filter(target=account).count()
        assert account.following_count == Follow.objects.filter(account=account).count()
        assert account.statuses_count == Status.objects.filter(account=account).count()
    for status in Status.objects.filter(reblog_of__isnull=True):
        assert status.favourites_count == Favourite.objects.filter(status=status).count()
        assert status.replies_count == Status.objects.filter(in_reply_to=status).count()
    # Posts: replies, reblogs, hashtags (with accents in French), donate buttons, a few
    # private ones; all in the past weeks, their ids in the order of their times.
    assert Status.objects.filter(in_reply_to__isnull=False).exists()
    assert Status.objects.filter(reblog_of__isnull=False).exists()
    assert Status.objects.filter(donate_cause__isnull=False, donate_project__isnull=True).exists()
    assert Status.objects.filter(tags__name="écologie", language="fr").exists()
    assert Status.objects.filter(visibility=Visibility.PRIVATE).exists()
    times = list(Status.objects.order_by("pk").values_list("created_at", flat=True))
    assert times == sorted(times)
    assert (times[-1] - times[0]).days >= 14
    assert Favourite.objects.exists()
    # Notifications are dated like what caused them, never before it.
    for note in Notification.objects.filter(kind=Notification.Kind.FOLLOW):
        follow = Follow.objects.get(account=note.from_account, target=note.account)
        assert note.created_at == follow.created_at

    # Projects in the UK and France, with followers, volunteers and a deadline ahead.
    projects = list(Project.objects.all())
    assert 3 <= len(projects) <= 6
    assert {p.place.rsplit(", ", 1)[1] for p in projects} == {"United Kingdom", "France"}
    for project in projects:
        assert project.deadline is not None
        assert project.deadline > project.created_at.date()
        assert project.followers_count == ProjectFollow.objects.filter(project=project).count()
        assert project.volunteers_count == Volunteer.objects.filter(project=project).count()
        completed = Donation.objects.filter(project=project, state=Donation.State.COMPLETED)
        raised = completed.aggregate(total=Sum("amount_minor"))["total"] or 0
        assert project.raised_minor == raised
        if project.goal_minor:
            assert 0 < raised < project.goal_minor  # a partly filled progress bar
    # Every donation is on a phone bill, completed, and its money is in the ledger.
    given = Donation.objects.all()
    assert given.count() == summary.donations > 0
    assert {d.currency for d in given} >= {"GBP", "EUR"}
    for donation in given.select_related("carrier_charge"):
        assert donation.state == Donation.State.COMPLETED
        assert donation.method == Donation.Method.PHONE_BILL
        assert donation.carrier_charge is not None
        assert donation.carrier_charge.state == CarrierCharge.State.CONFIRMED
        assert donation.donor.lines.filter(state=LineState.ACTIVE).exists()
        posted = Transfer.objects.select_related("credit_account").get(
            idempotency_key=f"carrier:{donation.reference}:confirm"
        )
        assert posted.amount == donation.amount_minor
        assert posted.credit_account.code == chart.cause(donation.cause_id, donation.currency).code
    assert len(mail.outbox) == given.count()  # one receipt each
    assert ledger.verify().ok
    _check_the_personas_part()


@pytest.mark.usefixtures("demo_operator")
def test_a_second_run_adds_nothing(build: Build) -> None:
    first = build([])
    before = _snapshot()
    sent = len(mail.outbox)

    said: list[str] = []
    again = build(said)

    assert _snapshot() == before
    assert len(mail.outbox) == sent
    assert again.created == 0 < first.created
    assert "0 added by this run" in said[0]
    assert (again.accounts, again.follows, again.posts, again.donations) == (
        first.accounts,
        first.follows,
        first.posts,
        first.donations,
    )
    assert ledger.verify().ok
