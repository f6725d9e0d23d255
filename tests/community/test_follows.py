"""Follows, blocks and mutes: what reaches whose home."""

from __future__ import annotations

import pytest

from kindwave.community import selectors
from kindwave.community.models import Account, Follow, Notification, Visibility
from kindwave.community.services import follows, posts
from kindwave.community.services.errors import CommunityError


def home_texts(account: Account) -> list[str]:
    return [status.text for status in selectors.home(account, limit=40)]


def counters(account: Account) -> tuple[int, int]:
    account.refresh_from_db()
    return account.followers_count, account.following_count


class TestFollow:
    def test_backfills_visible_posts_counts_and_notifies(
        self, alice_account: Account, bob_account: Account
    ) -> None:
        posts.post(alice_account, "old public", visibility=Visibility.PUBLIC)
        posts.post(alice_account, "old friends", visibility=Visibility.PRIVATE)
        posts.post(alice_account, "old @charlie direct", visibility=Visibility.DIRECT)

        follows.follow(bob_account, alice_account)
        follows.follow(bob_account, alice_account)

        assert home_texts(bob_account) == ["old friends", "old public"]
        assert counters(alice_account) == (1, 0)
        assert counters(bob_account) == (0, 1)
        assert (
            Notification.objects.filter(
                account=alice_account, kind=Notification.Kind.FOLLOW
            ).count()
            == 1
        )

    def test_backfill_takes_the_last_40(self, alice_account: Account, bob_account: Account) -> None:
        for n in range(45):
            posts.post(alice_account, f"post {n}", visibility="public")

        follows.follow(bob_account, alice_account)

        assert home_texts(bob_account)[0] == "post 44"
        assert len(home_texts(bob_account)) == 40

    def test_refuses_oneself(self, alice_account: Account) -> None:
        with pytest.raises(CommunityError, match="yourself"):
            follows.follow(alice_account, alice_account)
        assert not Follow.objects.exists()

    def test_refuses_across_a_block(self, alice_account: Account, bob_account: Account) -> None:
        follows.block(alice_account, bob_account)

        with pytest.raises(CommunityError):
            follows.follow(bob_account, alice_account)
        assert not Follow.objects.exists()

    def test_unfollow_clears_the_home_and_counters(
        self, alice_account: Account, bob_account: Account
    ) -> None:
        follows.follow(bob_account, alice_account)
        posts.post(alice_account, "hello", visibility="public")
        posts.post(bob_account, "mine", visibility="public")

        follows.unfollow(bob_account, alice_account)
        follows.unfollow(bob_account, alice_account)

        assert home_texts(bob_account) == ["mine"]
        assert counters(alice_account) == (0, 0)
        assert counters(bob_account) == (0, 0)
        assert not Notification.objects.filter(kind=Notification.Kind.FOLLOW).exists()


class TestBlockAndMute:
    def test_block_removes_follows_both_ways_and_homes(
        self, alice_account: Account, bob_account: Account
    ) -> None:
        follows.follow(bob_account, alice_account)
        follows.follow(alice_account, bob_account)
        posts.post(alice_account, "from alice", visibility="public")
        posts.post(bob_account, "from bob", visibility="public")

        follows.block(alice_account, bob_account)

        assert not Follow.objects.exists()
        assert home_texts(alice_account) == ["from alice"]
        assert home_texts(bob_account) == ["from bob"]
        assert counters(alice_account) == counters(bob_account) == (0, 0)

    def test_block_removes_reblogs_of_the_blocked(
        self, alice_account: Account, bob_account: Account, charlie_account: Account
    ) -> None:
        follows.follow(charlie_account, bob_account)
        posts.reblog(bob_account, posts.post(alice_account, "spread", visibility="public"))

        follows.block(charlie_account, alice_account)

        assert home_texts(charlie_account) == []

    def test_mute_hides_from_home_and_notifications_until_unmuted(
        self, alice_account: Account, bob_account: Account
    ) -> None:
        follows.follow(bob_account, alice_account)
        follows.mute(bob_account, alice_account)
        posts.post(alice_account, "hi @bob", visibility="public")

        assert home_texts(bob_account) == []
        assert selectors.notifications(bob_account) == []
        assert Follow.objects.filter(account=bob_account, target=alice_account).exists()

        follows.unmute(bob_account, alice_account)

        assert home_texts(bob_account) == ["hi @bob"]
        assert [n.kind for n in selectors.notifications(bob_account)] == ["mention"]
