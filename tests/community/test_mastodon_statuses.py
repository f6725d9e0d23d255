"""The Mastodon API's posts and timelines through Django's test client with Bearer tokens:
posting (idempotent), reading, deleting and the thread around a post, the home, hashtag,
public and account timelines; charlie, the outsider, never sees alice's followers-only or
mentioned-only posts, by id or in any timeline."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from kindwave.community.models import Account, Status, Visibility
from kindwave.community.services import follows, posts
from tests.community.test_oauth import (  # noqa: F401 - the fixture applies here too
    _fresh_rate_limits,
    bearer,
    password_token,
    register,
)

pytestmark = pytest.mark.django_db


def token_for(client: Client, email: str, scope: str = "read write follow") -> dict:
    return bearer(password_token(client, register(client), email, scope)["access_token"])


@pytest.fixture
def as_alice(client: Client, alice_account: Account) -> dict:
    return token_for(client, "alice@example.org")


@pytest.fixture
def as_bob(client: Client, bob_account: Account) -> dict:
    return token_for(client, "bob@example.org")


@pytest.fixture
def as_charlie(client: Client, charlie_account: Account) -> dict:
    return token_for(client, "charlie@example.org")


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [int(item["id"]) for item in response.json()]


class TestCreateStatus:
    def test_form_post_with_everything(self, client: Client, alice_account, as_alice) -> None:
        response = client.post(
            "/api/v1/statuses",
            {
                "status": "Water for all #eau",
                "visibility": "unlisted",
                "spoiler_text": "long",
                "language": "fr",
                "sensitive": "true",
            },
            **as_alice,
        )

        assert response.status_code == 200, response.content
        entity = response.json()
        assert entity["visibility"] == "unlisted"
        assert entity["spoiler_text"] == "long"
        assert entity["sensitive"] is True
        assert entity["language"] == "fr"
        assert entity["tags"][0]["name"] == "eau"
        assert entity["account"]["acct"] == "alice"
        assert Status.objects.get(pk=entity["id"]).account == alice_account

    def test_idempotency_key_gives_the_same_status(self, client: Client, as_alice) -> None:
        def send() -> dict:
            return client.post(
                "/api/v1/statuses/",
                {"status": "only once"},
                content_type="application/json",
                HTTP_IDEMPOTENCY_KEY="key-1",
                **as_alice,
            ).json()

        first, second = send(), send()

        assert first["id"] == second["id"]
        assert Status.objects.filter(text="only once").count() == 1

    @pytest.mark.parametrize(
        "data",
        [{"status": ""}, {"status": "x" * 501}, {"status": "hi", "visibility": "everyone"}],
    )
    def test_bad_posts_are_422_and_nothing_is_written(
        self, client: Client, as_alice, data: dict
    ) -> None:
        response = client.post("/api/v1/statuses", data, **as_alice)

        assert response.status_code == 422
        assert response.json()["error"]
        assert not Status.objects.exists()

    def test_reply_to_a_hidden_post_reads_like_a_missing_one(
        self, client: Client, alice_account, as_charlie
    ) -> None:
        secret = posts.post(alice_account, "followers only", visibility=Visibility.PRIVATE)

        hidden = client.post(
            "/api/v1/statuses", {"status": "hi", "in_reply_to_id": secret.pk}, **as_charlie
        )
        missing = client.post(
            "/api/v1/statuses", {"status": "hi", "in_reply_to_id": 987654}, **as_charlie
        )

        not_an_id = client.post(
            "/api/v1/statuses", {"status": "hi", "in_reply_to_id": "abc"}, **as_charlie
        )

        assert hidden.status_code == missing.status_code == not_an_id.status_code == 422
        assert hidden.json() == missing.json() == not_an_id.json()
        assert not Status.objects.exclude(pk=secret.pk).exists()

    def test_needs_a_token_with_write_scope(self, client: Client, alice_account) -> None:
        read_only = token_for(client, "alice@example.org", "read")

        assert client.post("/api/v1/statuses", {"status": "hi"}).status_code == 401
        assert client.post("/api/v1/statuses", {"status": "hi"}, **read_only).status_code == 403


class TestStatusDetail:
    @pytest.mark.parametrize("visibility", [Visibility.PRIVATE, Visibility.DIRECT])
    def test_outsider_gets_404_like_a_missing_post(
        self, client: Client, alice_account, bob_account, as_bob, as_charlie, visibility
    ) -> None:
        follows.follow(bob_account, alice_account)
        secret = posts.post(alice_account, "hi @bob", visibility=visibility)

        for path in (f"/api/v1/statuses/{secret.pk}", f"/api/v1/statuses/{secret.pk}/context"):
            assert client.get(path, **as_bob).status_code == 200
            seen = client.get(path, **as_charlie)
            assert seen.status_code == 404
            assert seen.json() == client.get("/api/v1/statuses/987654", **as_charlie).json()

    def test_context(self, client: Client, alice_account, bob_account, as_bob) -> None:
        root = posts.post(alice_account, "root", visibility=Visibility.PUBLIC)
        reply = posts.post(bob_account, "reply", visibility=Visibility.PUBLIC, in_reply_to=root)
        deeper = posts.post(
            alice_account, "deeper", visibility=Visibility.PUBLIC, in_reply_to=reply
        )

        thread = client.get(f"/api/v1/statuses/{reply.pk}/context", **as_bob).json()

        assert [item["id"] for item in thread["ancestors"]] == [str(root.pk)]
        assert [item["id"] for item in thread["descendants"]] == [str(deeper.pk)]


class TestDeleteStatus:
    def test_own_post_is_returned_with_its_text(
        self, client: Client, alice_account, as_alice
    ) -> None:
        mine = posts.post(alice_account, "oops #typo", visibility=Visibility.PUBLIC)

        response = client.delete(f"/api/v1/statuses/{mine.pk}", **as_alice)

        assert response.status_code == 200
        assert response.json()["text"] == "oops #typo"
        assert client.get(f"/api/v1/statuses/{mine.pk}", **as_alice).status_code == 404

    def test_someone_elses_post_is_404_and_stays(
        self, client: Client, alice_account, as_bob
    ) -> None:
        hers = posts.post(alice_account, "mine", visibility=Visibility.PUBLIC)

        response = client.delete(f"/api/v1/statuses/{hers.pk}", **as_bob)

        assert response.status_code == 404
        assert client.get(f"/api/v1/statuses/{hers.pk}").status_code == 200

    def test_needs_a_token(self, client: Client, alice_account) -> None:
        hers = posts.post(alice_account, "mine", visibility=Visibility.PUBLIC)

        assert client.delete(f"/api/v1/statuses/{hers.pk}").status_code == 401


class TestTimelines:
    def test_home_has_followed_posts_and_a_link_header(
        self, client: Client, alice_account, bob_account, as_bob
    ) -> None:
        follows.follow(bob_account, alice_account)
        made = [
            posts.post(alice_account, f"post {n}", visibility=Visibility.PRIVATE).pk
            for n in range(3)
        ]

        page = client.get("/api/v1/timelines/home?limit=2", **as_bob)

        assert ids(page) == [made[2], made[1]]
        links = re.findall(r'<([^>]+)>; rel="(\w+)"', page["Link"])
        assert [rel for _url, rel in links] == ["next", "prev"]
        assert f"max_id={made[1]}" in links[0][0]
        older = client.get(links[0][0].removeprefix("http://testserver"), **as_bob)
        assert ids(older) == [made[0]]

    def test_home_needs_read_statuses(self, client: Client, alice_account) -> None:
        write_only = token_for(client, "alice@example.org", "write")

        assert client.get("/api/v1/timelines/home").status_code == 401
        assert client.get("/api/v1/timelines/home", **write_only).status_code == 403

    def test_outsider_sees_nothing_private_in_any_timeline(
        self, client: Client, alice_account, as_charlie
    ) -> None:
        for visibility in (Visibility.PRIVATE, Visibility.DIRECT):
            posts.post(alice_account, f"secret #eau {visibility}", visibility=visibility)
        public = posts.post(alice_account, "open #eau", visibility=Visibility.PUBLIC)

        for path in (
            "/api/v1/timelines/home",
            "/api/v1/timelines/public",
            "/api/v1/timelines/tag/eau",
            f"/api/v1/accounts/{alice_account.pk}/statuses",
        ):
            seen = ids(client.get(path, **as_charlie))
            assert seen == ([] if path.endswith("home") else [public.pk]), path

    def test_tag_and_account_timelines(
        self, client: Client, alice_account, bob_account, as_alice
    ) -> None:
        tagged = posts.post(bob_account, "Clean #Eau", visibility=Visibility.PUBLIC)
        posts.post(bob_account, "untagged", visibility=Visibility.PUBLIC)
        reply = posts.post(bob_account, "re", visibility=Visibility.PUBLIC, in_reply_to=tagged)

        assert ids(client.get("/api/v1/timelines/tag/eau", **as_alice)) == [tagged.pk]
        everything = ids(client.get(f"/api/v1/accounts/{bob_account.pk}/statuses"))
        no_replies = ids(
            client.get(f"/api/v1/accounts/{bob_account.pk}/statuses?exclude_replies=true")
        )
        assert len(everything) == 3
        assert reply.pk in everything
        assert reply.pk not in no_replies
        assert client.get("/api/v1/accounts/987654/statuses").status_code == 404

    def test_home_query_count_does_not_grow_with_the_page(
        self, client: Client, alice_account, bob_account, as_bob, django_assert_max_num_queries
    ) -> None:
        follows.follow(bob_account, alice_account)
        client.get("/api/v1/timelines/home", **as_bob)  # the token and account are warm

        def fill(number: int) -> None:
            for n in range(number):
                original = posts.post(
                    alice_account, f"post {n} #eau @bob", visibility=Visibility.PUBLIC
                )
                posts.favourite(bob_account, original)
                posts.reblog(alice_account, posts.post(bob_account, "b", visibility="public"))

        fill(2)
        with django_assert_max_num_queries(16) as few:
            assert len(ids(client.get("/api/v1/timelines/home?limit=40", **as_bob))) == 6
        fill(12)
        with django_assert_max_num_queries(len(few.captured_queries)):
            assert len(ids(client.get("/api/v1/timelines/home?limit=40", **as_bob))) == 40
