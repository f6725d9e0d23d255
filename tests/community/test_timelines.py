"""Timelines: order, Mastodon's pagination, threads, and a query count that does not grow
with the number of posts."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kindwave.community import selectors
from kindwave.community.models import Account, Status, Visibility
from kindwave.community.services import follows, posts


def ids(statuses: list[Status]) -> list[int]:
    return [status.pk for status in statuses]


@pytest.fixture
def ten(alice_account: Account, bob_account: Account) -> list[int]:
    follows.follow(bob_account, alice_account)
    return [posts.post(alice_account, f"#eau post {n}", visibility="public").pk for n in range(10)]


class TestPagination:
    def test_newest_first_with_a_limit(self, bob_account: Account, ten: list[int]) -> None:
        assert ids(selectors.home(bob_account, limit=3)) == ten[::-1][:3]

    def test_max_id_is_an_exclusive_upper_bound(self, bob_account: Account, ten: list[int]) -> None:
        assert ids(selectors.home(bob_account, max_id=ten[5], limit=3)) == [ten[4], ten[3], ten[2]]

    def test_since_id_gives_the_newest_above(self, bob_account: Account, ten: list[int]) -> None:
        assert ids(selectors.home(bob_account, since_id=ten[5], limit=2)) == [ten[9], ten[8]]

    def test_min_id_gives_the_oldest_above_newest_first(
        self, bob_account: Account, ten: list[int]
    ) -> None:
        assert ids(selectors.home(bob_account, min_id=ten[5], limit=2)) == [ten[7], ten[6]]

    def test_the_same_on_every_timeline(
        self, alice_account: Account, bob_account: Account, ten: list[int]
    ) -> None:
        for read in (
            lambda **page: selectors.public(bob_account, **page),
            lambda **page: selectors.hashtag(bob_account, "#EAU", **page),
            lambda **page: selectors.account_statuses(bob_account, alice_account, **page),
        ):
            assert ids(read(max_id=ten[5], limit=2)) == [ten[4], ten[3]]
            assert ids(read(min_id=ten[5], limit=2)) == [ten[7], ten[6]]

    def test_limit_is_capped(self, bob_account: Account, ten: list[int]) -> None:
        assert len(selectors.home(bob_account, limit=0)) == 1
        assert len(selectors.home(bob_account, limit=1000)) == 10


class TestPublicAndHashtag:
    def test_public_lists_public_posts_only_without_reblogs(
        self, alice_account: Account, bob_account: Account
    ) -> None:
        public = posts.post(alice_account, "#eau public", visibility=Visibility.PUBLIC)
        posts.post(alice_account, "#eau unlisted", visibility=Visibility.UNLISTED)
        posts.post(alice_account, "#eau friends", visibility=Visibility.PRIVATE)
        posts.reblog(bob_account, public)

        assert ids(selectors.public(None)) == [public.pk]
        assert ids(selectors.hashtag(None, "Eau")) == [public.pk]


class TestContext:
    def test_ancestors_and_descendants_visible_to_the_viewer(
        self, alice_account: Account, bob_account: Account, charlie_account: Account
    ) -> None:
        root = posts.post(alice_account, "root", visibility="public")
        first = posts.post(bob_account, "first", visibility="public", in_reply_to=root)
        under_first = posts.post(alice_account, "under", visibility="public", in_reply_to=first)
        secret = posts.post(alice_account, "secret", visibility="private", in_reply_to=root)
        second = posts.post(charlie_account, "second", visibility="public", in_reply_to=root)

        thread = selectors.context(charlie_account, first)
        whole = selectors.context(alice_account, root)

        assert ids(thread.ancestors) == [root.pk]
        assert ids(thread.descendants) == [under_first.pk]
        assert ids(whole.descendants) == [first.pk, under_first.pk, secret.pk, second.pk]
        assert secret.pk not in ids(selectors.context(charlie_account, root).descendants)


def _busy(alice: Account, bob: Account, charlie: Account, n: int) -> None:
    follows.follow(bob, alice)
    follows.follow(bob, charlie)
    for i in range(n):
        status = posts.post(alice, f"@bob #eau {i} https://example.org", visibility="public")
        posts.favourite(bob, status)
        posts.reblog(charlie, status)
        posts.post(charlie, f"reply {i}", visibility="public", in_reply_to=status)


@pytest.mark.parametrize("n", [2, 12])
def test_query_counts_do_not_grow_with_posts(
    n: int,
    alice_account: Account,
    bob_account: Account,
    charlie_account: Account,
    django_assert_max_num_queries: Callable,
) -> None:
    _busy(alice_account, bob_account, charlie_account, n)
    root = Status.objects.filter(in_reply_to__isnull=True, reblog_of__isnull=True).first()
    assert root is not None
    reads: list[Callable[[], object]] = [
        lambda: selectors.home(bob_account, limit=40),
        lambda: selectors.public(bob_account, limit=40),
        lambda: selectors.hashtag(bob_account, "eau", limit=40),
        lambda: selectors.account_statuses(bob_account, charlie_account, limit=40),
        lambda: selectors.notifications(alice_account, limit=80),
        lambda: selectors.notifications(bob_account, limit=80),
        lambda: selectors.context(bob_account, root),
    ]
    for read in reads:
        with django_assert_max_num_queries(12):
            result = read()
        # Everything a page or the API shows is loaded: touching it costs no query.
        with django_assert_max_num_queries(0):
            statuses = result.descendants if isinstance(result, selectors.Context) else result
            for item in statuses:
                status = getattr(item, "status", item)
                if status is None:
                    continue
                shown = status.reblog_of or status
                _ = (status.account.username, shown.account.username, shown.viewer_favourited)
                _ = ([t.name for t in shown.tags.all()], [m.username for m in shown.mentions.all()])
                _ = list(shown.media.all())
