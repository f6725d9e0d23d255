"""The home timeline store's cap: trimming keeps each home's newest entries, and reading
past them (fan-out on read) gives the same pages, the same visibility, blocks and mutes,
as the untrimmed home did."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command

from kindwave.causes.models import Cause
from kindwave.community import selectors
from kindwave.community.models import Account, Status, TimelineEntry, Visibility
from kindwave.community.services import follows, posts, projects, timelines

pytestmark = pytest.mark.django_db

CAP = 5


@pytest.fixture
def cap(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(timelines, "HOME_CAP", CAP)
    return CAP


def ids(statuses: list[Status]) -> list[int]:
    return [status.pk for status in statuses]


def kept(account: Account) -> list[int]:
    return list(
        TimelineEntry.objects.filter(account=account)
        .order_by("-status_id")
        .values_list("status_id", flat=True)
    )


def walk(account: Account, limit: int) -> list[int]:
    """Every post of ``account``'s home, page after page with ``max_id`` as a client."""
    seen: list[int] = []
    page = ids(selectors.home(account, limit=limit))
    while page:
        seen += page
        page = ids(selectors.home(account, max_id=page[-1], limit=limit))
    return seen


def walk_up(account: Account, limit: int) -> list[int]:
    """Every post of ``account``'s home from the oldest, page after page with ``min_id``."""
    seen: list[int] = []
    page = ids(selectors.home(account, min_id=0, limit=limit))
    while page:
        seen = page + seen
        page = ids(selectors.home(account, min_id=page[0], limit=limit))
    return seen


@pytest.fixture
def twelve(alice_account: Account, bob_account: Account) -> list[int]:
    follows.follow(bob_account, alice_account)
    return [posts.post(alice_account, f"post {n}", visibility="public").pk for n in range(12)]


class TestTrimHomes:
    def test_keeps_the_newest_entries_of_each_home(
        self, cap: int, twelve: list[int], alice_account: Account, bob_account: Account
    ) -> None:
        removed = timelines.trim_homes()

        assert kept(bob_account) == twelve[::-1][:cap]
        assert kept(alice_account) == twelve[::-1][:cap]
        assert removed == 2 * (len(twelve) - cap)

    def test_a_second_run_removes_nothing(
        self, cap: int, twelve: list[int], bob_account: Account
    ) -> None:
        timelines.trim_homes()

        assert timelines.trim_homes() == 0
        assert kept(bob_account) == twelve[::-1][:cap]

    def test_homes_under_the_cap_are_untouched(
        self, alice_account: Account, bob_account: Account, charlie_account: Account
    ) -> None:
        follows.follow(bob_account, alice_account)
        mine = [posts.post(alice_account, f"p{n}", visibility="public").pk for n in range(3)]

        assert timelines.trim_homes(cap=3) == 0
        assert kept(bob_account) == mine[::-1]

    def test_runs_in_batches_of_accounts_and_resumes_after_one(
        self, cap: int, twelve: list[int], alice_account: Account, bob_account: Account
    ) -> None:
        first, second = sorted([alice_account.pk, bob_account.pk])
        batches: list[tuple[int, int, int]] = []

        removed = timelines.trim_homes(
            batch=1, after_account=first, on_batch=lambda *done: batches.append(done)
        )

        assert removed == len(twelve) - cap
        assert batches == [(second, 1, len(twelve) - cap)]
        assert len(kept(Account.objects.get(pk=first))) == len(twelve)

    def test_refuses_a_cap_under_one(self) -> None:
        with pytest.raises(ValueError, match="cap"):
            timelines.trim_homes(cap=0)

    def test_the_command_trims_and_says_how_much(
        self, twelve: list[int], bob_account: Account
    ) -> None:
        out = io.StringIO()

        call_command("community", "trim-timelines", "--cap", "4", "--quiet", stdout=out)

        assert kept(bob_account) == twelve[::-1][:4]
        assert "16" in out.getvalue()


class TestReadingPastTheCap:
    @pytest.mark.parametrize("limit", [1, 3, 5, 7, 40])
    def test_pages_newest_first_are_those_of_the_whole_home(
        self, cap: int, twelve: list[int], bob_account: Account, limit: int
    ) -> None:
        timelines.trim_homes()

        assert walk(bob_account, limit) == twelve[::-1]

    @pytest.mark.parametrize("limit", [1, 3, 5, 40])
    def test_pages_oldest_first_are_those_of_the_whole_home(
        self, cap: int, twelve: list[int], bob_account: Account, limit: int
    ) -> None:
        timelines.trim_homes()

        assert walk_up(bob_account, limit) == twelve[::-1]

    def test_bounds_below_the_kept_entries(
        self, cap: int, twelve: list[int], bob_account: Account
    ) -> None:
        timelines.trim_homes()

        assert ids(selectors.home(bob_account, max_id=twelve[5], limit=3)) == twelve[4:1:-1]
        assert ids(selectors.home(bob_account, min_id=twelve[1], limit=3)) == twelve[4:1:-1]
        assert ids(selectors.home(bob_account, since_id=twelve[1], max_id=twelve[4])) == [
            twelve[3],
            twelve[2],
        ]
        assert ids(selectors.home(bob_account, since_id=twelve[9], limit=40)) == [
            twelve[11],
            twelve[10],
        ]

    def test_a_delete_in_a_trimmed_home_hides_no_older_post(
        self, cap: int, twelve: list[int], alice_account: Account, bob_account: Account
    ) -> None:
        # Given a home trimmed to the cap, whose newest post is then deleted (the home now
        # holds fewer than the cap, and older posts were trimmed away) after it was read
        # once (so that a store that builds homes on first read has built it),
        timelines.trim_homes()
        selectors.home(bob_account)
        newest = Status.objects.get(pk=twelve[-1])
        posts.delete_status(alice_account, newest)

        # then paging still reaches every older post, both ways.
        assert walk(bob_account, 3) == twelve[-2::-1]
        assert walk_up(bob_account, 3) == twelve[-2::-1]


def authors(status_ids: list[int]) -> set[int]:
    """The authors of these posts and of the posts they reblog."""
    shown = Status.objects.filter(pk__in=status_ids).select_related("reblog_of")
    return {s.account_id for s in shown} | {s.reblog_of.account_id for s in shown if s.reblog_of}


@pytest.fixture
def busy(
    alice_account: Account,
    bob_account: Account,
    charlie_account: Account,
    demo_causes: dict[str, Cause],
) -> Account:
    """Bob's home with every kind of delivery and exclusion, older ones first; returns bob."""
    wateraid = demo_causes["wateraid"]
    cause_account = Account.objects.create(
        username="wateraid", kind=Account.Kind.CAUSE, cause=wateraid
    )
    project = projects.create_project(
        cause_account,
        cause=wateraid,
        title="Wells",
        description="Ten wells.",
        currency="GBP",
        goal_minor=100_000,
        deadline=projects.today() + timedelta(days=30),
    )
    projects.follow_project(bob_account, project)
    follows.follow(bob_account, alice_account)
    follows.follow(alice_account, charlie_account)
    for n in range(3):
        for visibility in Visibility.values:
            posts.post(alice_account, f"alice {visibility} {n}", visibility=visibility)
        posts.post(alice_account, f"alice to @bob {n}", visibility=Visibility.DIRECT)
        posts.post(charlie_account, f"charlie friends {n}", visibility=Visibility.PRIVATE)
        from_charlie = posts.post(charlie_account, f"charlie {n}", visibility="public")
        posts.reblog(alice_account, from_charlie)
        posts.post(charlie_account, f"charlie to @bob {n}", visibility=Visibility.DIRECT)
        posts.post(cause_account, f"wells {n}", visibility="public", donate_project=project)
        posts.post(cause_account, f"wateraid {n}", visibility="public")
        posts.post(bob_account, f"bob {n}", visibility=Visibility.PRIVATE)
    return bob_account


class TestVisibilityUnchanged:
    @pytest.mark.parametrize("limit", [2, 7, 40])
    def test_the_whole_home_reads_the_same_trimmed(
        self, cap: int, busy: Account, limit: int
    ) -> None:
        before = walk(busy, 40)

        timelines.trim_homes()

        assert len(kept(busy)) == cap
        assert walk(busy, limit) == before
        assert walk_up(busy, limit) == before

    def test_what_the_untrimmed_home_shows(self, busy: Account) -> None:
        texts = {status.text for status in selectors.home(busy, limit=40)}

        assert texts >= {"alice to @bob 0", "charlie to @bob 2", "wells 1", "bob 0"}
        assert texts >= {"alice private 2", "alice unlisted 0", "alice public 1"}
        assert not {"alice direct 0", "charlie friends 0", "wateraid 0"} & texts

    def test_blocks_and_mutes_hold_past_the_cap(
        self,
        cap: int,
        busy: Account,
        alice_account: Account,
        charlie_account: Account,
    ) -> None:
        timelines.trim_homes()

        follows.mute(busy, alice_account)
        muted = walk(busy, 3)
        follows.unmute(busy, alice_account)
        follows.block(busy, charlie_account)
        blocked = walk(busy, 3)

        assert muted
        assert alice_account.pk not in authors(muted)
        assert charlie_account.pk not in authors(blocked)

    def test_the_outsider_sees_nothing_of_the_friends_only_posts(
        self, cap: int, busy: Account, charlie_account: Account, alice_account: Account
    ) -> None:
        timelines.trim_homes()

        outsider = walk(charlie_account, 3)

        assert outsider
        assert not Status.objects.filter(
            pk__in=outsider, account=alice_account, visibility=Visibility.PRIVATE
        ).exists()
        assert (
            not Status.objects.filter(pk__in=outsider, visibility=Visibility.DIRECT)
            .exclude(account=charlie_account)
            .exists()
        )
