"""The Mastodon-compatible endpoints that need only models: request parsing, routes with
and without a trailing slash, the entities' shape, pagination with its Link header, what
the outsider may see, and the number of queries a page costs."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from kindwave.community.mastodon.entities import instance_version
from kindwave.community.mastodon.identity import account_for_user
from kindwave.community.mastodon.pagination import paginate
from kindwave.community.mastodon.parsing import MastodonError, Params
from kindwave.community.models import (
    Account,
    Block,
    Favourite,
    Follow,
    Mute,
    Status,
    Tag,
    Visibility,
)
from tests.community.test_oauth import (  # noqa: F401 - the fixture applies here too
    _fresh_rate_limits,
    bearer,
    password_token,
    register,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_token(client: Client, alice) -> str:
    return password_token(client, register(client), "alice@example.org", "read write follow")[
        "access_token"
    ]


def post(account: Account, text: str, visibility: str = Visibility.PUBLIC, **fields) -> Status:
    return Status.objects.create(
        account=account,
        text=text,
        content_html=f"<p>{text}</p>",
        visibility=visibility,
        **fields,
    )


class TestParams:
    factory = RequestFactory()

    def test_form_body_with_arrays_and_booleans(self) -> None:
        request = self.factory.post(
            "/x?limit=5", {"media_ids[]": ["1", "2"], "sensitive": "true", "poll": "0"}
        )

        params = Params(request)

        assert params.get_list("media_ids") == ["1", "2"]
        assert params.get_bool("sensitive") is True
        assert params.get_bool("poll") is False
        assert params.get_bool("missing", default=True) is True
        assert params.get_int("limit") == 5

    def test_json_body(self) -> None:
        request = self.factory.post(
            "/x",
            {"status": "hello", "media_ids": ["3", 4], "sensitive": False, "language": None},
            content_type="application/json",
        )

        params = Params(request)

        assert params.get("status") == "hello"
        assert params.get_list("media_ids") == ["3", "4"]
        assert params.get_bool("sensitive", default=True) is False
        assert params.get("language") is None

    def test_query_string_arrays(self) -> None:
        params = Params(self.factory.get("/x?id[]=1&id[]=7"))

        assert params.get_list("id") == ["1", "7"]

    @pytest.mark.parametrize(
        ("body", "content_type"),
        [
            (b"{not json", "application/json"),
            (b"[1, 2]", "application/json"),
        ],
    )
    def test_bad_json_is_422(self, body: bytes, content_type: str) -> None:
        request = self.factory.post("/x", body, content_type=content_type)

        with pytest.raises(MastodonError) as raised:
            Params(request)

        assert raised.value.status == 422

    def test_bad_boolean_and_number_are_422(self) -> None:
        params = Params(self.factory.get("/x?sensitive=maybe&limit=ten"))

        with pytest.raises(MastodonError):
            params.get_bool("sensitive")
        with pytest.raises(MastodonError):
            params.get_int("limit")


class TestRoutes:
    @pytest.mark.parametrize(
        "path",
        [
            "/api/v1/instance",
            "/api/v2/instance",
            "/api/v1/custom_emojis",
            "/api/v1/timelines/public",
        ],
    )
    def test_with_and_without_trailing_slash(self, client: Client, path: str) -> None:
        assert client.get(path).status_code == 200
        assert client.get(f"{path}/").status_code == 200

    def test_wrong_method_is_405_json(self, client: Client) -> None:
        response = client.delete("/api/v1/instance")

        assert response.status_code == 405
        assert "error" in response.json()

    def test_endpoints_needing_a_user_are_401_without_a_token(self, client: Client) -> None:
        for path in (
            "/api/v1/accounts/verify_credentials",
            "/api/v1/accounts/relationships?id[]=1",
            "/api/v1/preferences",
        ):
            response = client.get(path)
            assert response.status_code == 401
            assert response.json() == {"error": "The access token is invalid"}

    def test_default_images_are_png(self, client: Client) -> None:
        for path in ("/avatars/original/missing.png", "/headers/original/missing.png"):
            response = client.get(path)
            assert response.status_code == 200
            assert response.content.startswith(b"\x89PNG")


class TestInstance:
    def test_version_parses_as_semver_at_least_4_3(self) -> None:
        match = re.match(r"^(\d+)\.(\d+)\.(\d+)", instance_version())

        assert match is not None
        assert tuple(int(part) for part in match.groups()) >= (4, 3, 0)
        assert "Kindwave" in instance_version()

    def test_v1(self, client: Client, alice) -> None:
        account_for_user(alice)

        instance = client.get("/api/v1/instance").json()

        assert instance["version"] == instance_version()
        assert instance["uri"] == "testserver"
        assert instance["languages"] == ["en", "fr"]
        assert instance["configuration"]["statuses"]["max_characters"] == 500
        assert instance["stats"]["user_count"] == 1
        assert instance["registrations"] is True

    def test_v2(self, client: Client) -> None:
        instance = client.get("/api/v2/instance").json()

        assert instance["domain"] == "testserver"
        assert instance["version"] == instance_version()
        assert instance["configuration"]["statuses"]["max_characters"] == 500
        assert instance["registrations"]["enabled"] is True
        assert instance["api_versions"] == {"mastodon": 2}
        assert instance["contact"]["email"]


class TestAccounts:
    def test_account_for_user_makes_unique_clean_usernames(self, alice, db) -> None:
        from kindwave.accounts import services as accounts

        first = account_for_user(alice)
        twin = accounts.create_subscriber(
            email="Alice@elsewhere.example", full_name="Another Alice", password="x" * 20
        )
        odd = accounts.create_subscriber(
            email="jean-luc.o'neil@example.org", full_name="J", password="x" * 20
        )

        assert first.username == "alice"
        assert account_for_user(alice) == first
        assert account_for_user(twin).username == "alice_2"
        assert account_for_user(odd).username.startswith("jean")

    def test_verify_credentials_shape(self, client: Client, alice, alice_token: str) -> None:
        me = client.get("/api/v1/accounts/verify_credentials", **bearer(alice_token)).json()

        assert me["acct"] == "alice"
        assert me["display_name"] == "Alice Martin"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT00:00:00\.000Z", me["created_at"])
        assert me["avatar"].endswith("/avatars/original/missing.png")
        assert me["avatar"].startswith("http://testserver/")
        assert me["fields"] == []
        assert me["emojis"] == []
        assert me["bot"] is False
        assert me["source"]["privacy"] == "public"
        assert isinstance(me["id"], str)

    def test_detail_and_lookup(self, client: Client, alice, bob) -> None:
        bob_account = account_for_user(bob)
        bob_account.note = "Loves <b>rivers</b>\nand lakes"
        bob_account.save(update_fields=["note"])

        by_id = client.get(f"/api/v1/accounts/{bob_account.pk}").json()
        assert by_id["username"] == "bob"
        assert by_id["note"] == "<p>Loves &lt;b&gt;rivers&lt;/b&gt;<br>and lakes</p>"
        for acct in ("bob", "@bob", "BOB", "bob@testserver"):
            assert client.get(f"/api/v1/accounts/lookup?acct={acct}").json()["id"] == by_id["id"]
        assert client.get("/api/v1/accounts/lookup?acct=bob@mastodon.social").status_code == 404
        assert client.get("/api/v1/accounts/lookup?acct=nobody").status_code == 404

    @pytest.mark.parametrize("bad_id", ["999999", "abc", "1;drop"])
    def test_missing_account_is_404(self, client: Client, bad_id: str) -> None:
        response = client.get(f"/api/v1/accounts/{bad_id}")

        assert response.status_code == 404
        assert response.json() == {"error": "Record not found"}

    def test_relationships(self, client: Client, alice, bob, charlie, alice_token: str) -> None:
        me, b, c = account_for_user(alice), account_for_user(bob), account_for_user(charlie)
        Follow.objects.create(account=me, target=b)
        Follow.objects.create(account=b, target=me)
        Block.objects.create(account=c, target=me)
        Mute.objects.create(account=me, target=c)

        response = client.get(
            f"/api/v1/accounts/relationships?id[]={c.pk}&id[]={b.pk}&id[]=424242",
            **bearer(alice_token),
        )

        assert response.status_code == 200
        with_charlie, with_bob = response.json()
        assert with_bob["id"] == str(b.pk)
        assert with_bob["following"] is True
        assert with_bob["followed_by"] is True
        assert with_bob["blocking"] is False
        assert with_charlie["blocked_by"] is True
        assert with_charlie["muting"] is True
        assert with_charlie["following"] is False


class TestStatuses:
    def test_public_status_shape(self, client: Client, alice, bob, alice_token: str) -> None:
        me, b = account_for_user(alice), account_for_user(bob)
        original = post(b, "Clean water for all #eau")
        original.tags.add(Tag.objects.create(name="eau"))
        original.mentions.add(me)
        Favourite.objects.create(account=me, status=original)
        boost = Status.objects.create(account=me, reblog_of=original)

        seen = client.get(f"/api/v1/statuses/{original.pk}", **bearer(alice_token)).json()
        boosted = client.get(f"/api/v1/statuses/{boost.pk}", **bearer(alice_token)).json()

        assert seen["id"] == str(original.pk)
        assert seen["content"] == "<p>Clean water for all #eau</p>"
        assert seen["account"]["acct"] == "bob"
        assert seen["tags"][0]["name"] == "eau"
        assert seen["mentions"][0]["acct"] == "alice"
        assert seen["favourited"] is True
        assert seen["reblogged"] is True
        assert seen["card"] is None
        assert seen["media_attachments"] == []
        assert seen["reblog"] is None
        assert seen["created_at"].endswith("Z")
        assert boosted["reblog"]["id"] == str(original.pk)
        assert boosted["content"] == ""

    @pytest.mark.parametrize("visibility", [Visibility.PRIVATE, Visibility.DIRECT])
    def test_hidden_posts_are_404_like_missing_ones(
        self, client: Client, alice, charlie, visibility: str
    ) -> None:
        secret = post(account_for_user(alice), "for my followers", visibility)
        token = password_token(client, register(client), "charlie@example.org")["access_token"]

        for headers in ({}, bearer(token)):
            response = client.get(f"/api/v1/statuses/{secret.pk}", **headers)
            assert response.status_code == 404
            assert response.json() == client.get("/api/v1/statuses/987654").json()

    def test_deleted_post_and_its_reblogs_are_404(self, client: Client, alice, bob) -> None:
        gone = post(account_for_user(alice), "oops", deleted_at=datetime.now(UTC))
        boost = Status.objects.create(account=account_for_user(bob), reblog_of=gone)

        assert client.get(f"/api/v1/statuses/{gone.pk}").status_code == 404
        assert client.get(f"/api/v1/statuses/{boost.pk}").status_code == 404

    def test_reblog_of_a_hidden_author_is_404(
        self, client: Client, alice, bob, charlie, alice_token: str
    ) -> None:
        me, b, c = account_for_user(alice), account_for_user(bob), account_for_user(charlie)
        boost = Status.objects.create(account=b, reblog_of=post(c, "from charlie"))
        Block.objects.create(account=me, target=c)

        mine = client.get(f"/api/v1/statuses/{boost.pk}", **bearer(alice_token))

        assert mine.status_code == 404
        assert client.get(f"/api/v1/statuses/{boost.pk}").status_code == 200


class TestPublicTimeline:
    def test_only_public_live_originals_newest_first(self, client: Client, alice, bob) -> None:
        me, b = account_for_user(alice), account_for_user(bob)
        first = post(me, "one")
        post(me, "followers only", Visibility.PRIVATE)
        post(me, "unlisted", Visibility.UNLISTED)
        post(me, "direct", Visibility.DIRECT)
        post(me, "gone", deleted_at=datetime.now(UTC))
        Status.objects.create(account=b, reblog_of=first)
        second = post(b, "two")

        ids = [item["id"] for item in client.get("/api/v1/timelines/public").json()]

        assert ids == [str(second.pk), str(first.pk)]
        assert client.get("/api/v1/timelines/public?remote=true").json() == []

    def test_blocked_and_muted_authors_are_left_out(
        self, client: Client, alice, bob, charlie, alice_token: str
    ) -> None:
        me, b, c = account_for_user(alice), account_for_user(bob), account_for_user(charlie)
        post(b, "from bob")
        post(c, "from charlie")
        Mute.objects.create(account=me, target=b)
        Block.objects.create(account=c, target=me)

        assert client.get("/api/v1/timelines/public", **bearer(alice_token)).json() == []
        assert len(client.get("/api/v1/timelines/public").json()) == 2

    def test_pagination_and_link_header(self, client: Client, alice) -> None:
        me = account_for_user(alice)
        ids = [post(me, f"post {n}").pk for n in range(5)]  # oldest first

        page = client.get("/api/v1/timelines/public?limit=2")

        assert [int(item["id"]) for item in page.json()] == [ids[4], ids[3]]
        links = re.findall(r'<([^>]+)>; rel="(\w+)"', page["Link"])
        assert [rel for _url, rel in links] == ["next", "prev"]
        next_url, prev_url = links[0][0], links[1][0]
        assert next_url.startswith("http://testserver/api/v1/timelines/public?")
        assert "limit=2" in next_url
        assert f"max_id={ids[3]}" in next_url
        assert f"min_id={ids[4]}" in prev_url
        older = client.get(next_url.removeprefix("http://testserver"))
        assert [int(item["id"]) for item in older.json()] == [ids[2], ids[1]]

    def test_since_id_and_min_id(self, client: Client, alice) -> None:
        me = account_for_user(alice)
        ids = [post(me, f"post {n}").pk for n in range(5)]

        since = client.get(f"/api/v1/timelines/public?since_id={ids[1]}&limit=2").json()
        after = client.get(f"/api/v1/timelines/public?min_id={ids[1]}&limit=2").json()
        between = client.get(f"/api/v1/timelines/public?max_id={ids[4]}&since_id={ids[0]}").json()

        # since_id: the newest ones; min_id: the ones right after it (catching up).
        assert [int(item["id"]) for item in since] == [ids[4], ids[3]]
        assert [int(item["id"]) for item in after] == [ids[3], ids[2]]
        assert [int(item["id"]) for item in between] == [ids[3], ids[2], ids[1]]

    def test_limit_is_capped_and_bad_ids_are_422(self, client: Client, alice) -> None:
        me = account_for_user(alice)
        for n in range(45):
            post(me, f"post {n}")

        assert len(client.get("/api/v1/timelines/public?limit=100").json()) == 40
        assert client.get("/api/v1/timelines/public?limit=0").status_code == 422
        assert client.get("/api/v1/timelines/public?max_id=abc").status_code == 422

    def test_empty_page_has_no_link(self, client: Client) -> None:
        response = client.get("/api/v1/timelines/public")

        assert response.json() == []
        assert "Link" not in response

    def test_query_count_does_not_grow_with_the_page(
        self, client: Client, alice, bob, alice_token: str
    ) -> None:
        def count_queries(number: int) -> int:
            for n in range(number):
                status = post(authors[n % 2], f"post {n}")
                status.tags.add(tag)
                status.mentions.add(authors[(n + 1) % 2])
                Status.objects.create(account=authors[(n + 1) % 2], reblog_of=status)
            with CaptureQueriesContext(connection) as queries:
                response = client.get("/api/v1/timelines/public?limit=40", **bearer(alice_token))
            assert response.status_code == 200
            return len(queries)

        authors = [account_for_user(alice), account_for_user(bob)]
        tag = Tag.objects.create(name="eau")
        client.get("/api/v1/timelines/public", **bearer(alice_token))  # warm the account

        assert count_queries(3) == count_queries(20)


def test_paginate_is_generic_over_the_id_column(alice, bob) -> None:
    """The helper the home timeline uses: any model, any integer column."""
    me = account_for_user(alice)
    follows = [Follow.objects.create(account=me, target=account_for_user(user)) for user in (bob,)]
    request = RequestFactory().get("/api/v1/follows?limit=1")

    page = paginate(request, Follow.objects.all(), id_field="target_id")

    assert page.items == follows
    assert page.ids == [follows[0].target_id]
    assert page.link is not None
    assert f"max_id={follows[0].target_id}" in page.link


class TestParamsOtherMethods:
    factory = RequestFactory()

    def test_patch_and_put_forms_are_read(self) -> None:
        patch = self.factory.patch(
            "/x", "display_name=Alice&fields_attributes[]=a", "application/x-www-form-urlencoded"
        )
        put = self.factory.put("/x", "locked=1", "application/x-www-form-urlencoded")

        assert Params(patch).get("display_name") == "Alice"
        assert Params(patch).get_list("fields_attributes") == ["a"]
        assert Params(put).get_bool("locked") is True

    def test_multipart_patch_with_a_file(self) -> None:
        from django.core.files.uploadedfile import SimpleUploadedFile
        from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

        body = encode_multipart(
            BOUNDARY,
            {"note": "hello", "avatar": SimpleUploadedFile("a.png", b"\x89PNG", "image/png")},
        )
        request = self.factory.patch("/x", body, content_type=MULTIPART_CONTENT)

        params = Params(request)

        assert params.get("note") == "hello"
        assert params.files["avatar"].read() == b"\x89PNG"
