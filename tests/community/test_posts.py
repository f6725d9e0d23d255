"""Posting, deleting, reblogging and favouriting: what is written, what is refused."""

from __future__ import annotations

import pytest

from kindwave.causes.models import Cause
from kindwave.community import selectors
from kindwave.community.models import (
    Account,
    MediaAttachment,
    Notification,
    Project,
    ProjectFollow,
    Status,
    TimelineEntry,
    Visibility,
)
from kindwave.community.services import follows, posts
from kindwave.community.services.accounts import ensure_cause_account
from kindwave.community.services.errors import CommunityError


def counts() -> tuple[int, int, int]:
    return Status.objects.count(), TimelineEntry.objects.count(), Notification.objects.count()


def home_ids(account: Account) -> list[int]:
    return [status.pk for status in selectors.home(account)]


class TestPost:
    def test_reaches_the_author_and_followers_with_tags_and_counters(
        self, alice_account: Account, bob_account: Account, charlie_account: Account
    ) -> None:
        follows.follow(bob_account, alice_account)

        status = posts.post(alice_account, "Hello #Kindwave", visibility=Visibility.PUBLIC)

        assert home_ids(alice_account) == [status.pk]
        assert home_ids(bob_account) == [status.pk]
        assert home_ids(charlie_account) == []
        assert [tag.name for tag in status.tags.all()] == ["kindwave"]
        alice_account.refresh_from_db()
        assert alice_account.statuses_count == 1
        assert alice_account.last_status_at == status.created_at

    def test_mentions_notify(self, alice_account: Account, bob_account: Account) -> None:
        status = posts.post(alice_account, "hi @bob", visibility=Visibility.PUBLIC)

        notification = Notification.objects.get(account=bob_account)
        assert (notification.kind, notification.from_account, notification.status) == (
            Notification.Kind.MENTION,
            alice_account,
            status,
        )

    @pytest.mark.parametrize("text", ["", "   \n", "x" * 501])
    def test_refuses_empty_or_too_long_writing_nothing(
        self, alice_account: Account, text: str
    ) -> None:
        before = counts()

        with pytest.raises(CommunityError):
            posts.post(alice_account, text, visibility=Visibility.PUBLIC)

        assert counts() == before

    def test_refuses_an_over_long_content_warning(self, alice_account: Account) -> None:
        with pytest.raises(CommunityError, match="content warning"):
            posts.post(alice_account, "x", visibility="public", spoiler_text="w" * 201)
        assert not Status.objects.exists()

    def test_500_characters_and_long_links_are_fine(self, alice_account: Account) -> None:
        posts.post(alice_account, "é" * 500, visibility=Visibility.PUBLIC)
        posts.post(
            alice_account, "x" * 476 + " https://example.org/" + "a" * 300, visibility="public"
        )

    def test_refuses_a_reply_to_a_deleted_or_hidden_post(
        self, alice_account: Account, charlie_account: Account
    ) -> None:
        hidden = posts.post(alice_account, "friends only", visibility=Visibility.PRIVATE)
        deleted = posts.post(alice_account, "oops", visibility=Visibility.PUBLIC)
        posts.delete_status(alice_account, deleted)
        before = counts()

        for parent in (hidden, deleted):
            with pytest.raises(CommunityError, match="does not exist or was deleted"):
                posts.post(charlie_account, "reply", visibility="public", in_reply_to=parent)

        assert counts() == before

    def test_a_reply_counts_and_joins_the_thread(
        self, alice_account: Account, bob_account: Account
    ) -> None:
        root = posts.post(alice_account, "root", visibility="public")
        reply = posts.post(bob_account, "reply", visibility="public", in_reply_to=root)
        deeper = posts.post(alice_account, "deeper", visibility="public", in_reply_to=reply)

        root.refresh_from_db()
        assert root.replies_count == 1
        assert (reply.conversation_root_id, deeper.conversation_root_id) == (root.pk, root.pk)
        assert deeper.in_reply_to_account == bob_account

    def test_refuses_media_of_someone_else(
        self, alice_account: Account, bob_account: Account
    ) -> None:
        media = MediaAttachment.objects.create(
            account=bob_account, file="community/media/x.jpg", width=1, height=1
        )
        before = counts()

        with pytest.raises(CommunityError, match="not yours"):
            posts.post(alice_account, "mine", visibility="public", media_ids=[media.pk])

        assert counts() == before
        media.refresh_from_db()
        assert media.status is None

    def test_the_same_idempotency_key_is_the_same_post(self, alice_account: Account) -> None:
        first = posts.post(alice_account, "once", visibility="public", idempotency_key="k1")
        again = posts.post(alice_account, "once", visibility="public", idempotency_key="k1")

        assert first == again
        assert Status.objects.count() == 1

    def test_direct_reaches_only_the_mentioned(
        self, alice_account: Account, bob_account: Account, charlie_account: Account
    ) -> None:
        follows.follow(charlie_account, alice_account)

        status = posts.post(alice_account, "@bob psst", visibility=Visibility.DIRECT)

        assert home_ids(bob_account) == [status.pk]
        assert home_ids(charlie_account) == []

    def test_not_delivered_across_a_block(
        self, alice_account: Account, bob_account: Account
    ) -> None:
        follows.follow(bob_account, alice_account)
        follows.block(bob_account, alice_account)

        posts.post(alice_account, "hello @bob", visibility="public")

        assert home_ids(bob_account) == []
        assert not Notification.objects.filter(account=bob_account).exists()


class TestLineEnds:
    def test_a_post_of_499_with_windows_line_ends_is_stored_with_newlines(
        self, alice_account: Account
    ) -> None:
        text = "\r\n".join(["a" * 49] * 10)  # 499 characters in the browser's counter

        status = posts.post(alice_account, text, visibility=Visibility.PUBLIC, spoiler_text="")

        assert status.text == text.replace("\r\n", "\n")
        assert "\r" not in status.content_html


class TestPublicCounters:
    def test_mentioned_only_posts_do_not_raise_the_post_count(
        self, alice_account: Account, bob_account: Account
    ) -> None:
        posts.post(alice_account, "public", visibility=Visibility.PUBLIC)
        posts.post(alice_account, "followers", visibility=Visibility.PRIVATE)
        secret = posts.post(alice_account, "@bob secret", visibility=Visibility.DIRECT)

        alice_account.refresh_from_db()
        assert alice_account.statuses_count == 2

        posts.delete_status(alice_account, secret)

        alice_account.refresh_from_db()
        assert alice_account.statuses_count == 2

    def test_only_public_and_unlisted_replies_are_counted(
        self, alice_account: Account, bob_account: Account
    ) -> None:
        follows.follow(bob_account, alice_account)
        root = posts.post(alice_account, "root", visibility=Visibility.PUBLIC)
        replies = {
            visibility: posts.post(
                bob_account, f"@alice {visibility}", visibility=visibility, in_reply_to=root
            )
            for visibility in Visibility.values
        }

        root.refresh_from_db()
        assert root.replies_count == 2

        posts.delete_status(bob_account, replies[Visibility.DIRECT])
        posts.delete_status(bob_account, replies[Visibility.PRIVATE])
        root.refresh_from_db()
        assert root.replies_count == 2

        posts.delete_status(bob_account, replies[Visibility.UNLISTED])
        root.refresh_from_db()
        assert root.replies_count == 1


class TestDelete:
    def test_tombstone_leaves_timelines_and_erases_text(
        self, alice_account: Account, bob_account: Account
    ) -> None:
        follows.follow(bob_account, alice_account)
        status = posts.post(alice_account, "secret", visibility="public")
        posts.reblog(bob_account, status)

        posts.delete_status(alice_account, status)
        posts.delete_status(alice_account, status)

        status.refresh_from_db()
        assert status.deleted_at is not None
        assert status.text == ""
        assert status.content_html == ""
        assert home_ids(alice_account) == home_ids(bob_account) == []
        assert not selectors.can_see(alice_account, status)
        alice_account.refresh_from_db()
        assert alice_account.statuses_count == 0

    def test_someone_elses_post_is_refused(
        self, alice_account: Account, charlie_account: Account
    ) -> None:
        status = posts.post(alice_account, "mine", visibility="public")

        with pytest.raises(CommunityError):
            posts.delete_status(charlie_account, status)

        status.refresh_from_db()
        assert status.deleted_at is None


class TestReblogAndFavourite:
    def test_reblog_reaches_the_rebloggers_followers_once(
        self, alice_account: Account, bob_account: Account, charlie_account: Account
    ) -> None:
        follows.follow(charlie_account, bob_account)
        status = posts.post(alice_account, "share me", visibility="public")

        shared = posts.reblog(bob_account, status)
        again = posts.reblog(bob_account, shared)

        assert shared == again
        assert home_ids(charlie_account) == [shared.pk]
        status.refresh_from_db()
        assert status.reblogs_count == 1
        assert (
            Notification.objects.filter(
                account=alice_account, kind=Notification.Kind.REBLOG
            ).count()
            == 1
        )

        posts.unreblog(bob_account, status)
        posts.unreblog(bob_account, status)

        status.refresh_from_db()
        assert status.reblogs_count == 0
        assert home_ids(charlie_account) == []
        assert not Notification.objects.filter(kind=Notification.Kind.REBLOG).exists()

    def test_private_posts_cannot_be_shared(
        self, alice_account: Account, bob_account: Account
    ) -> None:
        follows.follow(bob_account, alice_account)
        status = posts.post(alice_account, "friends", visibility=Visibility.PRIVATE)

        with pytest.raises(CommunityError):
            posts.reblog(bob_account, status)

        assert Status.objects.count() == 1

    def test_favourite_is_idempotent_and_notifies(
        self, alice_account: Account, bob_account: Account
    ) -> None:
        status = posts.post(alice_account, "like me", visibility="public")

        posts.favourite(bob_account, status)
        liked = posts.favourite(bob_account, status)

        assert liked.favourites_count == 1
        assert Notification.objects.filter(kind=Notification.Kind.FAVOURITE).count() == 1
        assert selectors.home(alice_account)[0].viewer_favourited is False
        assert selectors.get_status_for(bob_account, status.pk).viewer_favourited is True

        assert posts.unfavourite(bob_account, status).favourites_count == 0
        assert posts.unfavourite(bob_account, status).favourites_count == 0
        assert not Notification.objects.filter(kind=Notification.Kind.FAVOURITE).exists()

    def test_an_invisible_post_cannot_be_favourited(
        self, alice_account: Account, charlie_account: Account
    ) -> None:
        status = posts.post(alice_account, "friends", visibility=Visibility.PRIVATE)

        with pytest.raises(CommunityError, match="does not exist"):
            posts.favourite(charlie_account, status)


class TestDonateButtonAndProjectUpdates:
    @pytest.fixture
    def project(self, demo_causes: dict[str, Cause]) -> Project:
        cause = demo_causes["wateraid"]
        return Project.objects.create(
            owner=ensure_cause_account(cause),
            cause=cause,
            slug="wells",
            title="Wells",
            description="Wells for villages",
            currency="GBP",
            goal_minor=100_000,
        )

    def test_an_update_by_the_cause_reaches_the_projects_followers(
        self, project: Project, alice_account: Account, bob_account: Account
    ) -> None:
        ProjectFollow.objects.create(project=project, account=alice_account)

        update = posts.post(project.owner, "Half way!", visibility="public", donate_project=project)
        by_bob = posts.post(bob_account, "Give!", visibility="public", donate_project=project)

        assert home_ids(alice_account) == [update.pk]
        assert update.donate_cause == project.cause
        assert by_bob.donate_cause == project.cause

    def test_an_unverified_cause_gets_no_button(
        self, demo_causes: dict[str, Cause], alice_account: Account
    ) -> None:
        cause = demo_causes["wateraid"]
        cause.verified_at = None
        cause.save(update_fields=["verified_at"])

        with pytest.raises(CommunityError, match="verified"):
            posts.post(alice_account, "Give!", visibility="public", donate_cause=cause)
        assert not Status.objects.exists()
