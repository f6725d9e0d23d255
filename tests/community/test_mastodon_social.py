"""The Mastodon API's follows, favourites, reblogs, notifications and search through
Django's test client with Bearer tokens; charlie, the outsider, can act on none of alice's
followers-only or mentioned-only posts and finds none of them."""

from __future__ import annotations

import pytest
from django.test import Client

from kindwave.community.models import Account, Favourite, Follow, Notification, Status, Visibility
from kindwave.community.services import follows, posts
from tests.community import test_mastodon_statuses as statuses_tests
from tests.community.test_mastodon_statuses import ids, token_for
from tests.community.test_oauth import _fresh_rate_limits  # noqa: F401 - the fixture applies

pytestmark = pytest.mark.django_db

# The personas' Bearer headers, shared with the statuses' tests.
as_alice = statuses_tests.as_alice
as_bob = statuses_tests.as_bob
as_charlie = statuses_tests.as_charlie


class TestFollow:
    def test_follow_and_unfollow_answer_the_relationship(
        self, client: Client, alice_account: Account, bob_account: Account, as_bob
    ) -> None:
        followed = client.post(f"/api/v1/accounts/{alice_account.pk}/follow", **as_bob)
        again = client.post(f"/api/v1/accounts/{alice_account.pk}/follow/", **as_bob)

        assert followed.status_code == 200
        assert followed.json()["id"] == str(alice_account.pk)
        assert followed.json()["following"] is True
        assert again.json()["following"] is True
        assert Follow.objects.filter(account=bob_account, target=alice_account).count() == 1

        unfollowed = client.post(f"/api/v1/accounts/{alice_account.pk}/unfollow", **as_bob)

        assert unfollowed.json()["following"] is False
        assert not Follow.objects.exists()

    def test_following_oneself_is_422_and_a_missing_account_404(
        self, client: Client, bob_account: Account, as_bob
    ) -> None:
        assert client.post(f"/api/v1/accounts/{bob_account.pk}/follow", **as_bob).status_code == 422
        assert client.post("/api/v1/accounts/987654/follow", **as_bob).status_code == 404

    def test_needs_write_follows(self, client: Client, alice_account, bob_account) -> None:
        read_only = token_for(client, "bob@example.org", "read")

        response = client.post(f"/api/v1/accounts/{alice_account.pk}/follow", **read_only)

        assert response.status_code == 403
        assert not Follow.objects.exists()


class TestFavouriteAndReblog:
    def test_favourite_and_unfavourite(
        self, client: Client, alice_account, bob_account, as_bob
    ) -> None:
        hers = posts.post(alice_account, "hello", visibility=Visibility.PUBLIC)

        liked = client.post(f"/api/v1/statuses/{hers.pk}/favourite", **as_bob).json()

        assert liked["favourited"] is True
        assert liked["favourites_count"] == 1
        unliked = client.post(f"/api/v1/statuses/{hers.pk}/unfavourite", **as_bob).json()
        assert unliked["favourited"] is False
        assert unliked["favourites_count"] == 0

    def test_reblog_and_unreblog(self, client: Client, alice_account, bob_account, as_bob) -> None:
        hers = posts.post(alice_account, "share me", visibility=Visibility.PUBLIC)

        shared = client.post(f"/api/v1/statuses/{hers.pk}/reblog", **as_bob).json()

        assert shared["reblog"]["id"] == str(hers.pk)
        assert shared["reblog"]["reblogged"] is True
        assert shared["account"]["acct"] == "bob"
        original = client.post(f"/api/v1/statuses/{hers.pk}/unreblog", **as_bob).json()
        assert original["id"] == str(hers.pk)
        assert original["reblogged"] is False
        assert original["reblogs_count"] == 0

    def test_followers_only_post_cannot_be_reblogged(
        self, client: Client, alice_account, bob_account, as_bob
    ) -> None:
        follows.follow(bob_account, alice_account)
        hers = posts.post(alice_account, "ours", visibility=Visibility.PRIVATE)

        response = client.post(f"/api/v1/statuses/{hers.pk}/reblog", **as_bob)

        assert response.status_code == 422
        assert not Status.objects.filter(reblog_of=hers).exists()

    @pytest.mark.parametrize("visibility", [Visibility.PRIVATE, Visibility.DIRECT])
    @pytest.mark.parametrize("action", ["favourite", "unfavourite", "reblog", "unreblog"])
    def test_outsider_acting_on_a_hidden_post_gets_404(
        self, client: Client, alice_account, as_charlie, visibility, action
    ) -> None:
        secret = posts.post(alice_account, "not for charlie", visibility=visibility)

        response = client.post(f"/api/v1/statuses/{secret.pk}/{action}", **as_charlie)
        missing = client.post(f"/api/v1/statuses/987654/{action}", **as_charlie)

        assert response.status_code == 404
        assert response.json() == missing.json()
        assert not Favourite.objects.exists()
        assert not Status.objects.filter(reblog_of=secret).exists()


class TestNotifications:
    def test_list_filter_dismiss_and_clear(
        self, client: Client, alice_account, bob_account, as_alice
    ) -> None:
        mine = posts.post(alice_account, "hello", visibility=Visibility.PUBLIC)
        follows.follow(bob_account, alice_account)
        posts.favourite(bob_account, mine)
        posts.post(bob_account, "hi @alice", visibility=Visibility.PUBLIC)

        listed = client.get("/api/v1/notifications", **as_alice).json()
        mentions = client.get("/api/v1/notifications?types[]=mention", **as_alice).json()
        others = client.get(
            "/api/v1/notifications?exclude_types[]=mention&exclude_types[]=follow", **as_alice
        ).json()

        assert [item["type"] for item in listed] == ["mention", "favourite", "follow"]
        assert listed[1]["status"]["id"] == str(mine.pk)
        assert listed[2]["account"]["acct"] == "bob"
        assert [item["type"] for item in mentions] == ["mention"]
        assert [item["type"] for item in others] == ["favourite"]

        dismissed = client.post(f"/api/v1/notifications/{listed[0]['id']}/dismiss", **as_alice)
        assert dismissed.status_code == 200
        assert len(client.get("/api/v1/notifications", **as_alice).json()) == 2
        assert client.post("/api/v1/notifications/clear", **as_alice).json() == {}
        assert client.get("/api/v1/notifications", **as_alice).json() == []

    def test_pagination(self, client: Client, alice_account, bob_account, as_alice) -> None:
        made = [posts.post(bob_account, f"@alice {n}", visibility="public") for n in range(3)]

        page = client.get("/api/v1/notifications?limit=2", **as_alice)

        assert len(page.json()) == 2
        assert page.json()[0]["status"]["id"] == str(made[2].pk)
        assert 'rel="next"' in page["Link"]

    def test_someone_elses_notification_cannot_be_dismissed(
        self, client: Client, alice_account, bob_account, as_bob
    ) -> None:
        posts.post(bob_account, "hi @alice", visibility=Visibility.PUBLIC)
        hers = Notification.objects.get(account=alice_account)

        response = client.post(f"/api/v1/notifications/{hers.pk}/dismiss", **as_bob)

        assert response.status_code == 404
        assert Notification.objects.filter(pk=hers.pk).exists()


class TestSearch:
    def test_accounts_hashtags_and_visible_statuses(
        self, client: Client, alice_account, bob_account, as_bob, as_charlie
    ) -> None:
        follows.follow(bob_account, alice_account)
        public = posts.post(alice_account, "riverclean day #riverclean", visibility="public")
        secret = posts.post(alice_account, "riverclean secret", visibility=Visibility.PRIVATE)

        for_bob = client.get("/api/v2/search?q=riverclean", **as_bob).json()
        for_charlie = client.get("/api/v2/search?q=riverclean", **as_charlie).json()
        only_tags = client.get("/api/v2/search?q=riverclean&type=hashtags", **as_bob).json()

        assert {item["id"] for item in for_bob["statuses"]} == {str(public.pk), str(secret.pk)}
        assert [item["id"] for item in for_charlie["statuses"]] == [str(public.pk)]
        assert [tag["name"] for tag in only_tags["hashtags"]] == ["riverclean"]
        assert only_tags["statuses"] == only_tags["accounts"] == []

    def test_accounts_limit_offset_and_bad_type(
        self, client: Client, alice_account, bob_account
    ) -> None:
        found = client.get("/api/v2/search?q=alice&type=accounts&resolve=true").json()

        assert [item["acct"] for item in found["accounts"]] == ["alice"]
        assert client.get("/api/v2/search?q=a&type=people").status_code == 422
        assert client.get("/api/v2/search?q=alice&offset=5").json()["accounts"] == []


def test_home_shows_a_followed_accounts_new_post(
    client: Client, alice_account, bob_account, as_alice, as_bob
) -> None:
    client.post(f"/api/v1/accounts/{alice_account.pk}/follow", **as_bob)
    made = client.post(
        "/api/v1/statuses", {"status": "for followers", "visibility": "private"}, **as_alice
    ).json()

    assert ids(client.get("/api/v1/timelines/home", **as_bob)) == [int(made["id"])]
