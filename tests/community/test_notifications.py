"""Notifications: who is told what, and what they read."""

from __future__ import annotations

from kindwave.community import selectors
from kindwave.community.models import Account, Notification
from kindwave.community.services import follows, notifications, posts


def kinds(account: Account, **filters: object) -> list[str]:
    return [n.kind for n in selectors.notifications(account, **filters)]  # type: ignore[arg-type]


class TestNotifications:
    def test_each_action_newest_first_with_sender_and_post(
        self, alice_account: Account, bob_account: Account
    ) -> None:
        status = posts.post(alice_account, "hello", visibility="public")
        follows.follow(bob_account, alice_account)
        posts.favourite(bob_account, status)
        posts.reblog(bob_account, status)
        posts.post(bob_account, "@alice hi", visibility="public")

        found = selectors.notifications(alice_account)

        assert [n.kind for n in found] == ["mention", "reblog", "favourite", "follow"]
        assert {n.from_account for n in found} == {bob_account}
        assert found[1].status == status

    def test_not_for_ones_own_actions(self, alice_account: Account) -> None:
        status = posts.post(alice_account, "@alice me", visibility="public")
        posts.favourite(alice_account, status)

        assert kinds(alice_account) == []

    def test_filters_by_type(self, alice_account: Account, bob_account: Account) -> None:
        follows.follow(bob_account, alice_account)
        posts.post(bob_account, "@alice hi", visibility="public")

        assert kinds(alice_account, types=["follow"]) == ["follow"]
        assert kinds(alice_account, exclude_types=["follow"]) == ["mention"]

    def test_blocked_senders_and_deleted_posts_are_hidden(
        self, alice_account: Account, bob_account: Account, charlie_account: Account
    ) -> None:
        posts.post(charlie_account, "@alice hi", visibility="public")
        gone = posts.post(bob_account, "@alice soon gone", visibility="public")
        posts.delete_status(bob_account, gone)

        follows.block(alice_account, charlie_account)

        assert kinds(alice_account) == []

    def test_nobody_reads_anyone_elses(
        self, alice_account: Account, bob_account: Account, charlie_account: Account
    ) -> None:
        posts.post(bob_account, "@alice private word", visibility="direct")

        assert kinds(charlie_account) == []

    def test_mark_read_dismiss_and_clear(
        self, alice_account: Account, bob_account: Account
    ) -> None:
        posts.post(bob_account, "@alice one", visibility="public")
        posts.post(bob_account, "@alice two", visibility="public")
        newest, oldest = selectors.notifications(alice_account)

        assert notifications.mark_read(alice_account, oldest.pk) == 1
        assert notifications.mark_read(alice_account, oldest.pk) == 0
        notifications.dismiss(bob_account, newest.pk)
        assert Notification.objects.filter(pk=newest.pk).exists()
        notifications.dismiss(alice_account, newest.pk)
        assert [n.pk for n in selectors.notifications(alice_account)] == [oldest.pk]
        notifications.clear(alice_account)
        assert kinds(alice_account) == []
