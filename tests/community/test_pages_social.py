"""The community's social pages through Django's test client, as a browser without
JavaScript (plain forms and redirects) and as HTMX (``HX-Request``: fragments): timelines
and their pages, the compose box and its errors, the post card's actions, profiles,
notifications, search, reports and the staff's queue; charlie the outsider never meets
alice's followers-only or mentioned-only posts, and gets the same 404 as for a missing one.
"""

from __future__ import annotations

import html as htmllib
import io
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import date
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from PIL import Image

import kindwave
from kindwave.accounts.models import User
from kindwave.causes.models import Cause
from kindwave.community.models import (
    Account,
    Favourite,
    Follow,
    MediaAttachment,
    Project,
    Report,
    Status,
    Visibility,
)
from kindwave.community.services import follows, moderation, posts, web_social
from kindwave.community.services import projects as project_services
from kindwave.community.services.accounts import ensure_cause_account
from kindwave.community.views.social import PAGE_SIZE
from kindwave.lines import services as line_services
from kindwave.lines.models import Line
from tests.community.test_projects import create as make_project
from tests.lines.conftest import active_line, gb, gb_stock, ordered_line

__all__ = ["active_line", "gb", "gb_stock", "ordered_line"]

HTMX = {"HTTP_HX_REQUEST": "true"}


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def html(response) -> str:
    return response.content.decode()


def card_ids(page: str) -> list[int]:
    """The timeline items' ids on a page, in order."""
    return [int(pk) for pk in re.findall(r'<article class="status[^"]*" id="status-(\d+)"', page)]


def compose_data(text: str, **more: str) -> dict[str, str]:
    return {"text": text, "visibility": "public", "idempotency_key": "key-" + text[:40], **more}


def png(size: tuple[int, int] = (32, 24)) -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", size, "teal").save(out, format="PNG")
    out.seek(0)
    out.name = "picture.png"
    return out


@pytest.fixture
def as_alice(alice: User, alice_account: Account) -> Client:
    return signed_in(alice)


@pytest.fixture
def as_bob(bob: User, bob_account: Account) -> Client:
    return signed_in(bob)


@pytest.fixture
def as_charlie(charlie: User, charlie_account: Account) -> Client:
    return signed_in(charlie)


class TestHome:
    def test_a_visitor_sees_public_posts_and_an_invitation(self, client: Client, alice_account):
        public = posts.post(alice_account, "Hello everyone", visibility=Visibility.PUBLIC)
        posts.post(alice_account, "Friends only", visibility=Visibility.PRIVATE)

        page = html(client.get(reverse("community:home")))

        assert card_ids(page) == [public.pk]
        assert reverse("accounts:login") in page
        assert reverse("accounts:signup") in page
        assert 'id="compose"' not in page

    def test_a_member_gets_their_home_and_the_compose_box(
        self, as_bob: Client, alice_account, bob_account
    ):
        follows.follow(bob_account, alice_account)
        mine = posts.post(bob_account, "Mine", visibility=Visibility.PUBLIC)
        theirs = posts.post(alice_account, "Followers", visibility=Visibility.PRIVATE)

        page = html(as_bob.get(reverse("community:home")))

        assert card_ids(page) == [theirs.pk, mine.pk]
        assert 'id="compose"' in page
        assert 'aria-live="polite"' in page

    def test_first_visit_makes_the_community_account(self, charlie: User):
        signed_in(charlie).get(reverse("community:home"))

        assert Account.objects.filter(user=charlie).count() == 1

    def test_the_main_navigation_links_to_the_community(self, client: Client, db):
        page = html(client.get(reverse("public:home")))

        assert f'href="{reverse("community:home")}"' in page


class TestCompose:
    def test_a_post_is_published_and_we_go_back(self, as_alice: Client, alice_account):
        response = as_alice.post(
            reverse("community:compose"), compose_data("Hello #eau", next="/community/")
        )

        assert response.status_code == 302
        assert response["Location"] == "/community/"
        status = Status.objects.get(account=alice_account)
        assert status.text == "Hello #eau"
        assert card_ids(html(as_alice.get("/community/"))) == [status.pk]

    def test_a_double_submit_posts_once(self, as_alice: Client, alice_account):
        data = compose_data("Only once", idempotency_key="the-form-key")

        as_alice.post(reverse("community:compose"), data)
        as_alice.post(reverse("community:compose"), data)

        assert Status.objects.filter(account=alice_account).count() == 1

    def test_a_double_submit_with_an_image_stores_one_image(self, as_alice: Client, alice_account):
        data = compose_data("Picture once", idempotency_key="the-image-form")

        as_alice.post(reverse("community:compose"), {**data, "image": png()})
        as_alice.post(reverse("community:compose"), {**data, "image": png()})

        assert Status.objects.filter(account=alice_account).count() == 1
        assert MediaAttachment.objects.count() == 1

    def test_each_form_shown_has_its_own_key(self, as_alice: Client):
        keys = [
            re.search(r'name="idempotency_key" value="([^"]+)"', html(as_alice.get("/community/")))
            for _ in range(2)
        ]

        assert keys[0]
        assert keys[1]
        assert keys[0].group(1) != keys[1].group(1)

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("   ", "A post needs some text or an image."),
            ("x" * 501, "A post is at most 500 characters; this one has 501."),
        ],
    )
    def test_a_refused_post_shows_the_services_message_by_the_text(
        self, as_alice: Client, alice_account, text: str, message: str
    ):
        response = as_alice.post(reverse("community:compose"), compose_data(text))

        page = html(response)
        assert response.status_code == 200
        assert 'id="compose-text-errors"' in page
        errors = re.search(r'id="compose-text-errors".*?</ul>', page, re.S)
        assert errors is not None
        assert message in errors.group(0)
        assert not Status.objects.exists()

    def test_windows_line_ends_count_as_the_browsers_counter_counts(
        self, as_alice: Client, alice_account
    ):
        text = "\r\n".join(["a" * 49] * 10)  # the counter showed 1 character left

        response = as_alice.post(reverse("community:compose"), compose_data(text))

        assert response.status_code == 302
        assert Status.objects.get().text == "\n".join(["a" * 49] * 10)

    def test_the_counter_without_javascript_shows_what_is_left(self, as_alice: Client):
        page = html(
            as_alice.post(reverse("community:compose"), compose_data("\U0001f1eb\U0001f1f7" * 510))
        )

        assert re.search(r"<span data-compose-remaining>10</span>", page)
        assert "characters too many" in page
        assert "A post is at most 500 characters; this one has 510." in page

    def test_a_url_counts_23_characters(self, as_alice: Client, alice_account):
        # 476 letters, a space and a 60-character link counting 23: 500, accepted.
        text = "a" * 476 + " https://example.org/" + "p" * 40

        as_alice.post(reverse("community:compose"), compose_data(text))

        assert Status.objects.filter(account=alice_account).count() == 1

    def test_an_image_with_its_alt_text(self, as_alice: Client, alice_account):
        data = compose_data("A picture", image_description="A teal square")

        as_alice.post(reverse("community:compose"), {**data, "image": png()})

        status = Status.objects.get(account=alice_account)
        media = MediaAttachment.objects.get(status=status)
        page = html(as_alice.get("/community/"))
        assert f'src="{media.preview.url}" alt="A teal square"' in page

    def test_a_bad_image_is_refused_by_the_image_field_and_nothing_is_written(
        self, as_alice: Client, alice_account
    ):
        fake = io.BytesIO(b"not an image at all")
        fake.name = "photo.jpg"

        page = html(
            as_alice.post(reverse("community:compose"), {**compose_data("Look"), "image": fake})
        )

        assert "This file is not an image we accept" in page
        assert "compose-text-errors" not in page
        assert not Status.objects.exists()
        assert not MediaAttachment.objects.exists()

    def test_a_refused_post_keeps_no_image(
        self, as_alice: Client, alice_account, settings, tmp_path
    ):
        settings.MEDIA_ROOT = tmp_path
        data = {**compose_data("x" * 600), "image": png()}

        as_alice.post(reverse("community:compose"), data)

        assert not MediaAttachment.objects.exists()
        assert not Status.objects.exists()
        assert [path for path in tmp_path.rglob("*") if path.is_file()] == []

    def test_htmx_gets_the_card_and_a_fresh_box(self, as_alice: Client, alice_account):
        response = as_alice.post(reverse("community:compose"), compose_data("Swapped in"), **HTMX)

        page = html(response)
        status = Status.objects.get(account=alice_account)
        assert card_ids(page) == [status.pk]
        assert 'id="compose"' in page
        assert 'hx-swap-oob="true"' in page
        assert "Your post is published." in page
        assert "<html" not in page

    def test_htmx_errors_replace_the_box(self, as_alice: Client, alice_account):
        response = as_alice.post(reverse("community:compose"), compose_data(" "), **HTMX)

        assert response["HX-Retarget"] == "#compose"
        assert response["HX-Reswap"] == "outerHTML"
        assert "A post needs some text or an image." in html(response)
        # The corrected post is sent by HTMX again, not as a whole page.
        assert 'hx-post="/community/compose/"' in html(response)

    def test_a_reply_to_a_hidden_post_reads_like_one_to_a_missing_post(
        self, as_charlie: Client, alice_account
    ):
        hidden = posts.post(alice_account, "Friends only", visibility=Visibility.PRIVATE)

        answers = [
            html(as_charlie.post(reverse("community:compose"), compose_data("Hi", in_reply_to=pk)))
            for pk in (str(hidden.pk), "999999")
        ]

        message = "The post you are replying to does not exist or was deleted."
        assert all(message in answer for answer in answers)
        assert not Status.objects.filter(text="Hi").exists()

    def test_a_reply_from_the_posts_page_joins_its_thread(
        self, as_bob: Client, alice_account, bob_account
    ):
        parent = posts.post(alice_account, "Who is coming?", visibility=Visibility.PUBLIC)
        page_url = f"/community/@alice/{parent.pk}"
        form = html(as_bob.get(page_url))
        assert f'name="in_reply_to" value="{parent.pk}"' in form
        assert "@alice </textarea>" in form

        response = as_bob.post(
            reverse("community:compose"),
            compose_data("@alice I am", in_reply_to=str(parent.pk), next=page_url),
        )

        assert response["Location"] == page_url
        reply = Status.objects.get(account=bob_account)
        assert reply.in_reply_to == parent
        thread = html(as_bob.get(page_url))
        assert card_ids(thread) == [parent.pk, reply.pk]

    def test_a_visitor_cannot_post(self, client: Client, db):
        response = client.post(reverse("community:compose"), compose_data("Anonymous"))

        assert response.status_code == 302
        assert reverse("accounts:login") in response["Location"]
        assert not Status.objects.exists()


class TestTimelinePages:
    @pytest.fixture
    def many(self, alice_account: Account) -> list[int]:
        return [
            posts.post(alice_account, f"post {n} #eau", visibility=Visibility.PUBLIC).pk
            for n in range(PAGE_SIZE + 5)
        ]

    @pytest.mark.parametrize(
        "url",
        ["/community/", "/community/public/", "/community/tags/eau", "/community/@alice"],
    )
    def test_older_posts_by_max_id_with_a_plain_link(
        self, as_alice: Client, many: list[int], url: str
    ):
        first = html(as_alice.get(url))

        assert card_ids(first) == many[::-1][:PAGE_SIZE]
        link = re.search(r'<a href="([^"]+)" rel="next" hx-get="([^"]+)"', first)
        assert link is not None
        assert f"max_id={many[5]}" in link.group(1)
        older = html(as_alice.get(link.group(1).replace("&amp;", "&")))
        assert card_ids(older) == many[::-1][PAGE_SIZE:]
        assert 'rel="next"' not in older

    def test_htmx_gets_only_the_next_page(self, as_alice: Client, many: list[int]):
        response = as_alice.get(f"/community/?max_id={many[5]}", **HTMX)

        page = html(response)
        assert card_ids(page) == many[::-1][PAGE_SIZE:]
        assert "<html" not in page
        assert "HX-Request" in response["Vary"]

    def test_the_scroll_trigger(self, as_alice: Client, many: list[int]):
        page = html(as_alice.get("/community/"))

        assert 'hx-trigger="click, revealed"' in page

    def test_a_bad_max_id_is_ignored(self, as_alice: Client, many: list[int]):
        assert as_alice.get("/community/?max_id=abc").status_code == 200

    @pytest.mark.parametrize(
        "url",
        [
            "/community/",
            "/community/public/",
            "/community/tags/eau",
            "/community/@bob",
            "/community/notifications/",
            "/community/search/?q=busy",
        ],
    )
    def test_query_count_does_not_grow_with_the_posts(
        self,
        as_alice: Client,
        alice_account: Account,
        bob_account: Account,
        charlie_account: Account,
        django_assert_max_num_queries: Callable,
        url: str,
    ):
        follows.follow(alice_account, bob_account)

        def busy_post(n: int) -> None:
            status = posts.post(
                bob_account,
                f"#eau @alice @charlie busy {n}",
                visibility=Visibility.PUBLIC,
                media_ids=[],
            )
            posts.favourite(alice_account, status)
            posts.favourite(charlie_account, status)
            posts.reblog(charlie_account, status)
            posts.post(charlie_account, "a reply", visibility="public", in_reply_to=status)

        busy_post(0)
        as_alice.get(url)  # sessions and the account made once
        with django_assert_max_num_queries(20) as few:
            as_alice.get(url)
        for n in range(1, 12):
            busy_post(n)
        with django_assert_max_num_queries(len(few.captured_queries)):
            page = html(as_alice.get(url))
        assert len(card_ids(page)) >= 12, page


class TestCard:
    def test_content_warning_time_and_visibility(self, as_alice: Client, alice_account):
        status = posts.post(
            alice_account, "Spoiler", visibility=Visibility.UNLISTED, spoiler_text="Film ending"
        )

        page = html(as_alice.get(f"/community/@alice/{status.pk}"))

        assert re.search(r"<details class=\"status-cw\">\s*<summary>.*Film ending", page)
        assert f'datetime="{status.created_at.isoformat()}"' in page
        assert "Unlisted" in page

    def test_a_boost_shows_who_boosted(self, as_alice: Client, alice_account, bob_account):
        follows.follow(alice_account, bob_account)
        original = posts.post(alice_account, "Boost me", visibility=Visibility.PUBLIC)
        posts.reblog(bob_account, original)

        page = html(as_alice.get("/community/"))

        assert "Bob Martin boosted" in page

    def test_mentions_and_hashtags_link_to_the_community_pages(
        self, as_alice: Client, alice_account, bob_account
    ):
        status = posts.post(alice_account, "Hi @bob #eau", visibility=Visibility.PUBLIC)

        assert "/community/@bob" in status.content_html
        assert "/community/tags/eau" in status.content_html
        assert as_alice.get("/community/@bob").status_code == 200
        assert as_alice.get("/community/tags/eau").status_code == 200

    def test_the_donate_button_does_not_break_the_card(
        self, as_alice: Client, alice_account, demo_causes: dict[str, Cause]
    ):
        cause = demo_causes["wateraid"]
        status = posts.post(alice_account, "Give", visibility=Visibility.PUBLIC, donate_cause=cause)

        page = html(as_alice.get(f"/community/@alice/{status.pk}"))

        try:
            url = reverse("community:cause_donate", args=[cause.slug])
        except NoReverseMatch:
            # The donation pages are another branch's: until they are merged the card
            # shows no button rather than failing.
            assert "status-donate" not in page
        else:
            assert f'href="{url}"' in page
            assert f"Donate to {cause.name}" in page

    def test_own_posts_can_be_deleted_others_reported(
        self, as_alice: Client, alice_account, bob_account
    ):
        mine = posts.post(alice_account, "Mine", visibility=Visibility.PUBLIC)
        theirs = posts.post(bob_account, "Theirs", visibility=Visibility.PUBLIC)

        page = html(as_alice.get("/community/public/"))

        assert reverse("community:delete", args=[mine.pk]) in page
        assert reverse("community:delete", args=[theirs.pk]) not in page
        assert f"{reverse('community:report', args=['bob'])}?status={theirs.pk}" in page

    def test_a_followers_only_post_has_no_boost_button(self, as_alice: Client, alice_account):
        status = posts.post(alice_account, "Friends", visibility=Visibility.PRIVATE)

        page = html(as_alice.get(f"/community/@alice/{status.pk}"))

        assert reverse("community:reblog", args=[status.pk]) not in page


class TestPostActions:
    def test_favourite_without_javascript_goes_back(self, as_bob: Client, alice_account):
        status = posts.post(alice_account, "Like me", visibility=Visibility.PUBLIC)

        response = as_bob.post(
            reverse("community:favourite", args=[status.pk]), {"next": "/community/public/"}
        )

        assert response.status_code == 302
        assert response["Location"] == "/community/public/"
        assert Favourite.objects.filter(status=status).count() == 1

    def test_next_must_be_this_site(self, as_bob: Client, alice_account):
        status = posts.post(alice_account, "Like me", visibility=Visibility.PUBLIC)

        response = as_bob.post(
            reverse("community:favourite", args=[status.pk]), {"next": "https://evil.example/"}
        )

        assert response["Location"] == f"/community/@alice/{status.pk}"

    def test_htmx_swaps_the_card_with_the_new_state(self, as_bob: Client, alice_account):
        status = posts.post(alice_account, "Like me", visibility=Visibility.PUBLIC)

        page = html(
            as_bob.post(
                reverse("community:favourite", args=[status.pk]), {"card": status.pk}, **HTMX
            )
        )

        assert card_ids(page) == [status.pk]
        assert re.search(r'data-action="favourite" aria-pressed="true">Favourite <span', page)
        assert '<span class="count">1</span>' in page
        assert reverse("community:unfavourite", args=[status.pk]) in page

    def test_boost_and_undo(self, as_bob: Client, alice_account, bob_account):
        status = posts.post(alice_account, "Share me", visibility=Visibility.PUBLIC)

        as_bob.post(reverse("community:reblog", args=[status.pk]))
        assert Status.objects.filter(account=bob_account, reblog_of=status).exists()
        as_bob.post(reverse("community:unreblog", args=[status.pk]))

        assert not Status.objects.filter(
            account=bob_account, reblog_of=status, deleted_at__isnull=True
        ).exists()

    def test_undoing_a_boost_from_its_own_card_shows_the_original(
        self, as_bob: Client, alice_account, bob_account
    ):
        status = posts.post(alice_account, "Share me", visibility=Visibility.PUBLIC)
        boost = posts.reblog(bob_account, status)

        page = html(
            as_bob.post(reverse("community:unreblog", args=[status.pk]), {"card": boost.pk}, **HTMX)
        )

        assert card_ids(page) == [status.pk]

    def test_delete_own_post(self, as_alice: Client, alice_account):
        status = posts.post(alice_account, "Oops", visibility=Visibility.PUBLIC)

        response = as_alice.post(reverse("community:delete", args=[status.pk]), **HTMX)

        assert response.status_code == 200
        assert html(response) == ""
        status.refresh_from_db()
        assert status.deleted_at is not None

    def test_without_javascript_delete_asks_on_a_page_first(self, as_alice: Client, alice_account):
        status = posts.post(alice_account, "Oops", visibility=Visibility.PUBLIC)
        card = html(as_alice.get("/community/public/"))
        form = re.search(
            rf'<form method="get" action="(/community/statuses/{status.pk}/delete)"[^>]*'
            r'hx-post="([^"]+)"[^>]*hx-confirm="[^"]+">(.*?)</form>',
            card,
            re.S,
        )
        assert form is not None
        assert "csrfmiddlewaretoken" not in form.group(3)  # never in a URL

        page = html(
            as_alice.get(form.group(1), {"card": str(status.pk), "next": "/community/public/"})
        )

        assert "Delete this post?" in page
        assert re.search(rf'<form method="post" action="{form.group(1)}">', page)
        assert "csrfmiddlewaretoken" in page
        assert 'href="/community/public/">Keep it</a>' in page
        status.refresh_from_db()
        assert status.deleted_at is None

        response = as_alice.post(form.group(1), {"next": "/community/public/"})

        assert response["Location"] == "/community/public/"
        status.refresh_from_db()
        assert status.deleted_at is not None

    def test_deleting_from_the_posts_own_page_goes_home(self, as_alice: Client, alice_account):
        status = posts.post(alice_account, "Oops", visibility=Visibility.PUBLIC)

        response = as_alice.post(
            reverse("community:delete", args=[status.pk]),
            {"next": f"/community/@alice/{status.pk}"},
        )

        assert response["Location"] == reverse("community:home")

    @pytest.mark.parametrize("visibility", [Visibility.PUBLIC, Visibility.DIRECT])
    def test_the_confirmation_page_of_someone_elses_post_is_missing(
        self, as_bob: Client, as_charlie: Client, alice_account, bob_account, visibility: str
    ):
        status = posts.post(alice_account, "@bob not yours", visibility=visibility)
        url = reverse("community:delete", args=[status.pk])

        assert as_bob.get(url).status_code == 404
        assert as_charlie.get(url).status_code == 404
        assert as_bob.get(reverse("community:delete", args=[999999])).status_code == 404

    def test_someone_elses_post_cannot_be_deleted(self, as_bob: Client, alice_account):
        status = posts.post(alice_account, "Not yours", visibility=Visibility.PUBLIC)

        response = as_bob.post(reverse("community:delete", args=[status.pk]), follow=True)

        assert "This post does not exist." in html(response)
        status.refresh_from_db()
        assert status.deleted_at is None

    def test_a_boost_of_a_followers_only_post_is_refused_clearly(
        self, as_bob: Client, alice_account, bob_account
    ):
        follows.follow(bob_account, alice_account)
        status = posts.post(alice_account, "Friends", visibility=Visibility.PRIVATE)

        page = html(as_bob.post(reverse("community:reblog", args=[status.pk]), **HTMX))

        assert "Only public posts can be shared." in page

    @pytest.mark.parametrize("action", ["favourite", "reblog", "delete"])
    def test_a_hidden_post_is_missing(self, as_charlie: Client, alice_account, action: str):
        hidden = posts.post(alice_account, "Friends", visibility=Visibility.PRIVATE)

        assert as_charlie.post(reverse(f"community:{action}", args=[hidden.pk])).status_code == 404
        assert not Favourite.objects.exists()

    def test_actions_are_posts_only(self, as_bob: Client, alice_account):
        status = posts.post(alice_account, "x", visibility=Visibility.PUBLIC)

        assert as_bob.get(reverse("community:favourite", args=[status.pk])).status_code == 405


class TestProfiles:
    def test_header_counts_and_posts(self, client: Client, alice_account, bob_account):
        follows.follow(bob_account, alice_account)
        status = posts.post(alice_account, "Hello", visibility=Visibility.PUBLIC)

        page = html(client.get("/community/@alice"))

        assert "<h1" in page
        assert "Alice Martin" in page
        assert re.search(r"<dt>Followers</dt><dd>1</dd>", page)
        assert card_ids(page) == [status.pk]

    def test_an_unknown_profile_is_missing(self, client: Client, db):
        assert client.get("/community/@nobody").status_code == 404

    def test_follow_and_unfollow(self, as_alice: Client, alice_account, bob_account):
        response = as_alice.post(reverse("community:follow", args=["bob"]))

        assert response["Location"] == "/community/@bob"
        assert Follow.objects.filter(account=alice_account, target=bob_account).exists()
        page = html(as_alice.get("/community/@bob"))
        assert re.search(r'data-action="follow" aria-pressed="true"', page)

        as_alice.post(reverse("community:unfollow", args=["bob"]))
        assert not Follow.objects.exists()

    def test_following_oneself_is_refused_clearly(self, as_alice: Client, alice_account):
        page = html(as_alice.post(reverse("community:follow", args=["alice"]), follow=True))

        assert "You cannot follow yourself." in page
        assert not Follow.objects.exists()
        assert "This is your profile." in page

    def test_htmx_swaps_the_header(self, as_alice: Client, alice_account, bob_account):
        page = html(as_alice.post(reverse("community:follow", args=["bob"]), **HTMX))

        assert page.startswith('<section id="profile-header"')
        assert "You follow @bob." in page
        assert re.search(r"<dt>Followers</dt><dd>1</dd>", page)

    def test_block_and_mute(self, as_alice: Client, alice_account, bob_account):
        follows.follow(alice_account, bob_account)

        as_alice.post(reverse("community:mute", args=["bob"]))
        as_alice.post(reverse("community:block", args=["bob"]))

        page = html(as_alice.get("/community/@bob"))
        assert re.search(r'data-action="block" aria-pressed="true"', page)
        assert re.search(r'data-action="mute" aria-pressed="true"', page)
        assert not Follow.objects.exists()
        as_alice.post(reverse("community:unblock", args=["bob"]))
        as_alice.post(reverse("community:unmute", args=["bob"]))
        page = html(as_alice.get("/community/@bob"))
        assert re.search(r'data-action="block" aria-pressed="false"', page)

    def test_a_cause_has_a_badge_to_its_page(self, client: Client, demo_causes):
        cause = demo_causes["wateraid"]
        account = ensure_cause_account(cause)

        page = html(client.get(f"/community/@{account.username}"))

        assert f'href="{reverse("causes:detail", args=[cause.slug])}"' in page
        assert f"Cause: {cause.name}" in page


class TestVisibility:
    """charlie (no follow, no mention) and a visitor never meet alice's followers-only and
    mentioned-only posts, whatever page they open."""

    @pytest.fixture
    def hidden(self, alice_account: Account, bob_account: Account) -> list[Status]:
        follows.follow(bob_account, alice_account)
        return [
            posts.post(alice_account, "secretword friends #eau", visibility=Visibility.PRIVATE),
            posts.post(alice_account, "secretword @bob only #eau", visibility=Visibility.DIRECT),
        ]

    def test_charlie_gets_the_same_404_as_for_a_missing_post(
        self, as_charlie: Client, hidden: list[Status]
    ):
        missing = as_charlie.get("/community/@alice/999999")
        assert missing.status_code == 404
        for status in hidden:
            response = as_charlie.get(f"/community/@alice/{status.pk}")
            assert response.status_code == 404
            assert response.content == missing.content

    def test_bob_may_open_them(self, as_bob: Client, hidden: list[Status]):
        for status in hidden:
            assert as_bob.get(f"/community/@alice/{status.pk}").status_code == 200

    @pytest.mark.parametrize(
        "url",
        [
            "/community/",
            "/community/public/",
            "/community/tags/eau",
            "/community/@alice",
            "/community/search/?q=secretword",
            "/community/notifications/",
        ],
    )
    def test_no_page_shows_them_to_charlie_or_a_visitor(
        self, as_charlie: Client, client: Client, charlie_account, hidden: list[Status], url: str
    ):
        # charlie once followed alice: what he saw then does not stay in his home.
        follows.follow(charlie_account, hidden[0].account)
        follows.unfollow(charlie_account, hidden[0].account)
        for reader in (as_charlie, client):
            response = reader.get(url, follow=True)
            assert response.status_code == 200
            page = html(response)
            assert not set(card_ids(page)) & {status.pk for status in hidden}
            for status in hidden:
                assert f"/community/@alice/{status.pk}" not in page
            assert "secretword friends" not in page
            assert "only <a" not in page

    def test_a_hidden_post_cannot_be_reported_either(
        self, as_charlie: Client, hidden: list[Status]
    ):
        response = as_charlie.get(f"/community/@alice/report?status={hidden[0].pk}")

        assert response.status_code == 404


class TestNotifications:
    def test_favourites_boosts_follows_and_mentions(
        self, as_alice: Client, alice_account, bob_account
    ):
        status = posts.post(alice_account, "Mine", visibility=Visibility.PUBLIC)
        posts.favourite(bob_account, status)
        posts.reblog(bob_account, status)
        follows.follow(bob_account, alice_account)
        posts.post(bob_account, "Hey @alice", visibility=Visibility.PUBLIC)

        page = html(as_alice.get(reverse("community:notifications")))

        for said in ("mentioned you", "followed you", "favourited your post", "boosted your post"):
            assert said in page

    def test_older_notifications_by_htmx(self, as_alice: Client, alice_account, bob_account):
        for number in range(PAGE_SIZE + 3):
            posts.post(bob_account, f"@alice number {number}", visibility=Visibility.PUBLIC)
        first = html(as_alice.get(reverse("community:notifications")))
        link = re.search(r'<a href="([^"]+)" rel="next"', first)
        assert link is not None

        older = html(as_alice.get(link.group(1).replace("&amp;", "&"), **HTMX))

        assert older.count('class="notification notification-mention"') == 3
        assert "<html" not in older

    def test_a_visitor_is_sent_to_log_in(self, client: Client, db):
        response = client.get(reverse("community:notifications"))

        assert response.status_code == 302


class TestSearch:
    def test_accounts_hashtags_and_posts(self, client: Client, alice_account):
        status = posts.post(alice_account, "Clean #water for all", visibility=Visibility.PUBLIC)

        page = html(client.get(reverse("community:search"), {"q": "water"}))

        assert card_ids(page) == [status.pk]
        assert 'href="/community/tags/water"' in page
        assert html(client.get(reverse("community:search"), {"q": "alice"})).count(
            'href="/community/@alice"'
        )

    def test_blank_search_shows_the_form_only(self, client: Client, db):
        page = html(client.get(reverse("community:search")))

        assert 'role="search"' in page
        assert "No post found." not in page


class TestReportsAndModeration:
    def test_a_member_reports_a_post(self, as_alice: Client, alice_account, bob_account):
        status = posts.post(bob_account, "Rude", visibility=Visibility.PUBLIC)

        response = as_alice.post(
            f"/community/@bob/report?status={status.pk}",
            {"comment": "Insulting", "status": status.pk},
        )

        assert response.status_code == 302
        made = Report.objects.get()
        assert (made.account, made.target, made.comment) == (
            alice_account,
            bob_account,
            "Insulting",
        )
        assert list(made.statuses.all()) == [status]

    def test_reporting_oneself_is_refused(self, as_alice: Client, alice_account):
        page = html(as_alice.post("/community/@alice/report", {"comment": "me"}))

        assert "You cannot report yourself." in page
        assert not Report.objects.exists()

    @pytest.mark.parametrize("who", ["visitor", "alice"])
    def test_the_queue_is_missing_for_everyone_but_staff(
        self, client: Client, as_alice: Client, who: str, alice_account, bob_account
    ):
        report = moderation.report(alice_account, bob_account)
        reader = client if who == "visitor" else as_alice

        assert reader.get(reverse("community:moderation")).status_code == 404
        resolve = reverse("community:moderation_resolve", args=[report.pk])
        assert reader.post(resolve, {f"{report.pk}-decision": "dismiss"}).status_code == 404
        report.refresh_from_db()
        assert report.resolved_at is None

    def test_staff_hide_the_reported_post(self, staff: User, alice_account, bob_account):
        status = posts.post(bob_account, "Rude words", visibility=Visibility.PUBLIC)
        report = moderation.report(alice_account, bob_account, status_ids=[status.pk])
        as_staff = signed_in(staff)

        queue = html(as_staff.get(reverse("community:moderation")))
        assert "Rude words" in queue
        as_staff.post(
            reverse("community:moderation_resolve", args=[report.pk]),
            {f"{report.pk}-decision": "delete_posts", f"{report.pk}-note": "insults"},
        )

        status.refresh_from_db()
        report.refresh_from_db()
        assert status.deleted_at is not None
        assert report.resolved_by == staff
        assert "No open reports." in html(as_staff.get(reverse("community:moderation")))


@pytest.fixture
def french_catalogue(tmp_path: Path, settings) -> None:
    """The French translations compiled from the source catalogue (the worktree may have
    no ``.mo``), so that a test sees what a French reader would."""
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:  # pragma: no cover - gettext is part of the CI image
        pytest.skip("GNU gettext's msgfmt is not installed")
    source = Path(kindwave.__file__).parent / "locale" / "fr" / "LC_MESSAGES" / "django.po"
    target = tmp_path / "fr" / "LC_MESSAGES"
    target.mkdir(parents=True)
    subprocess.run([msgfmt, "-o", str(target / "django.mo"), str(source)], check=True)
    settings.LOCALE_PATHS = [str(tmp_path)]


class TestLanguages:
    @pytest.mark.usefixtures("french_catalogue")
    def test_words_with_two_meanings_are_not_taken_from_billing_or_notifications(
        self, bob: User, as_bob: Client, alice_account
    ):
        User.objects.filter(pk=bob.pk).update(language="fr")
        posts.post(alice_account, "Bonjour", visibility=Visibility.PUBLIC)

        page = html(as_bob.get("/community/public/"))

        assert '<html lang="fr">' in page
        assert "Partager" in page  # the French catalogue is in use
        assert "Nationale" not in page  # "Home" as a roaming zone
        assert "Ajout aux favoris" not in page  # "Favourite" as a notification's kind

    def test_pages_are_served_in_french(self, client: Client, alice_account):
        posts.post(alice_account, "Bonjour", visibility=Visibility.PUBLIC)

        page = html(client.get("/community/", HTTP_ACCEPT_LANGUAGE="fr"))

        assert '<html lang="fr">' in page


def form_defaults(page: str) -> dict[str, str]:
    """What a browser would send from the page's compose box, left as it came."""
    found = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))
    found["visibility"] = re.search(r'<option value="(\w+)" selected', page).group(1)
    found["text"] = htmllib.unescape(re.search(r"<textarea[^>]*>([^<]*)</textarea>", page).group(1))
    return found


class TestReplyDefaults:
    def test_a_reply_to_a_direct_post_stays_direct(
        self,
        as_bob: Client,
        as_charlie: Client,
        client: Client,
        alice_account,
        bob_account,
        charlie_account,
    ):
        secret = posts.post(
            alice_account, "@bob my new address is 12 Rose St", visibility=Visibility.DIRECT
        )
        page_url = f"/community/@alice/{secret.pk}"
        defaults = form_defaults(html(as_bob.get(page_url)))
        assert defaults["visibility"] == Visibility.DIRECT
        assert defaults["text"] == "@alice "

        defaults["text"] += "12 Rose St noted"
        as_bob.post(reverse("community:compose"), defaults)

        reply = Status.objects.get(in_reply_to=secret)
        assert reply.visibility == Visibility.DIRECT
        assert list(reply.mentions.all()) == [alice_account]
        for outsider in (as_charlie, client):
            for url in ("/community/public/", "/community/@bob", page_url):
                assert "Rose St noted" not in html(outsider.get(url))

    @pytest.mark.parametrize(
        "visibility", [Visibility.PUBLIC, Visibility.UNLISTED, Visibility.PRIVATE]
    )
    def test_the_parents_visibility_is_the_default(
        self, as_bob: Client, alice_account, bob_account, visibility: str
    ):
        follows.follow(bob_account, alice_account)
        parent = posts.post(alice_account, "Who is coming?", visibility=visibility)

        defaults = form_defaults(html(as_bob.get(f"/community/@alice/{parent.pk}")))

        assert defaults["visibility"] == visibility

    def test_everyone_mentioned_is_mentioned_again_but_not_oneself(
        self, as_bob: Client, alice_account, bob_account, charlie_account
    ):
        parent = posts.post(alice_account, "@bob @charlie meet at noon", visibility="direct")

        defaults = form_defaults(html(as_bob.get(f"/community/@alice/{parent.pk}")))

        assert defaults["text"] == "@alice @charlie "


class TestExpiredSession:
    def test_htmx_is_told_to_go_to_the_login_page(self, client: Client, alice_account):
        status = posts.post(alice_account, "Hello", visibility=Visibility.PUBLIC)
        page = f"/community/@alice/{status.pk}"

        response = client.post(
            reverse("community:favourite", args=[status.pk]),
            {"card": str(status.pk)},
            HTTP_HX_CURRENT_URL=f"http://testserver{page}",
            **HTMX,
        )

        assert response.status_code == 200
        assert response.content == b""
        assert response["HX-Redirect"] == f"{reverse('accounts:login')}?next={quote(page)}"
        assert not Favourite.objects.exists()

    def test_a_plain_action_comes_back_to_its_page_after_login(self, client: Client, alice_account):
        status = posts.post(alice_account, "Hello", visibility=Visibility.PUBLIC)

        response = client.post(
            reverse("community:favourite", args=[status.pk]),
            {"card": str(status.pk)},
            HTTP_REFERER="http://testserver/community/public/",
        )

        assert response.status_code == 302
        assert response["Location"] == f"{reverse('accounts:login')}?next=/community/public/"


class TestPublicCounts:
    def test_a_visitor_cannot_count_hidden_posts(self, client: Client, alice_account, bob_account):
        parent = posts.post(alice_account, "Public hello", visibility=Visibility.PUBLIC)
        posts.post(bob_account, "@alice a secret", visibility=Visibility.DIRECT, in_reply_to=parent)
        for number in range(3):
            posts.post(bob_account, f"@alice message {number}", visibility=Visibility.DIRECT)

        thread = html(client.get(f"/community/@alice/{parent.pk}"))
        profile = html(client.get("/community/@bob"))

        assert re.findall(r'Replies <span class="count">(\d+)', thread) == ["0"]
        assert re.findall(r"<dt>Posts</dt><dd>(\d+)", profile) == ["0"]


class TestModerationQueueQueries:
    def test_the_query_count_does_not_grow_with_the_reports(
        self,
        staff: User,
        alice_account,
        bob_account,
        charlie_account,
        django_assert_max_num_queries: Callable,
    ):
        as_staff = signed_in(staff)

        def reports(reporter: Account, count: int) -> None:
            for number in range(count):
                status = posts.post(bob_account, f"rude {number}", visibility=Visibility.PUBLIC)
                moderation.report(reporter, bob_account, status_ids=[status.pk], comment="x")

        reports(alice_account, 2)
        as_staff.get(reverse("community:moderation"))
        with django_assert_max_num_queries(20) as few:
            as_staff.get(reverse("community:moderation"))
        reports(charlie_account, 10)

        with django_assert_max_num_queries(len(few.captured_queries)):
            page = html(as_staff.get(reverse("community:moderation")))

        assert page.count('class="card report"') == 12


def donate_options(page: str) -> dict[str, str]:
    """The compose box's donate choices: value → label (the blank one left out)."""
    select = re.search(r'<select name="donate".*?</select>', page, re.S)
    assert select is not None
    return {
        value: htmllib.unescape(label)
        for value, label in re.findall(r'<option value="([^"]+)"[^>]*>([^<]*)</option>', select[0])
    }


class TestDonateButton:
    @pytest.fixture
    def wateraid(self, demo_causes: dict[str, Cause]) -> Cause:
        return demo_causes["wateraid"]

    @pytest.fixture
    def other_cause(self, demo_causes: dict[str, Cause], wateraid: Cause) -> Cause:
        return next(c for c in demo_causes.values() if c.is_verified and c.pk != wateraid.pk)

    @pytest.fixture
    def wells(self, alice_account: Account, wateraid: Cause) -> Project:
        return make_project(alice_account, wateraid, title="Wells for Tamale")

    def test_a_person_is_offered_their_lines_cause_and_the_projects_they_run_or_follow(
        self,
        as_alice: Client,
        active_line: Line,
        alice_account,
        bob_account,
        charlie_account,
        wateraid: Cause,
        other_cause: Cause,
        wells: Project,
    ):
        line_services.choose_cause(active_line, other_cause)
        followed = make_project(bob_account, wateraid, title="Bob's garden")
        project_services.follow_project(alice_account, followed)
        closed = make_project(bob_account, wateraid, title="Closed one")
        project_services.follow_project(alice_account, closed)
        Project.objects.filter(pk=closed.pk).update(deadline=date(2020, 1, 1))
        make_project(charlie_account, wateraid, title="A stranger's")

        options = donate_options(html(as_alice.get("/community/")))

        assert options == {
            f"cause:{other_cause.slug}": f"Cause: {other_cause.name}",
            f"project:{followed.slug}": "Project: Bob's garden",
            f"project:{wells.slug}": "Project: Wells for Tamale",
        }

    def test_no_choice_no_select(self, as_charlie: Client):
        assert 'name="donate"' not in html(as_charlie.get("/community/"))

    def test_a_project_update_carries_its_button_and_reaches_the_projects_followers(
        self, as_alice: Client, as_bob: Client, alice_account, bob_account, wells: Project
    ):
        project_services.follow_project(bob_account, wells)

        page = html(as_alice.get("/community/", {"donate_project": wells.slug}))
        assert re.search(rf'<option value="project:{wells.slug}" selected>', page)
        defaults = form_defaults(page)
        defaults.update(text="Two wells dug!", donate=f"project:{wells.slug}")
        as_alice.post(reverse("community:compose"), defaults)

        status = Status.objects.get(text="Two wells dug!")
        assert (status.donate_project, status.donate_cause) == (wells, wells.cause)
        bobs_home = html(as_bob.get("/community/"))
        assert status.pk in card_ids(bobs_home)
        assert f"Donate to {wells.title}" in bobs_home

    def test_a_button_not_offered_is_refused_and_nothing_written(
        self, as_bob: Client, bob_account, wells: Project, wateraid: Cause
    ):
        for value in (f"project:{wells.slug}", f"cause:{wateraid.slug}", "project:nonexistent"):
            page = html(
                as_bob.post(reverse("community:compose"), compose_data("Give!", donate=value))
            )
            assert "You cannot add this donate button." in page
        assert not Status.objects.exists()

    def test_a_causes_account_is_offered_its_cause_and_open_projects(
        self, alice_account, wateraid: Cause, wells: Project
    ):
        cause_account = ensure_cause_account(wateraid)

        targets = web_social.donate_targets(cause_account)

        assert [target.key for target in targets] == [
            f"cause:{wateraid.slug}",
            f"project:{wells.slug}",
        ]

    def test_the_query_count_does_not_grow_with_lines_or_projects(
        self,
        alice: User,
        active_line: Line,
        gb_stock,
        alice_account,
        bob_account,
        wateraid: Cause,
        other_cause: Cause,
    ):
        line_services.choose_cause(active_line, wateraid)
        make_project(alice_account, wateraid, title="One")
        account = Account.objects.get(pk=alice_account.pk)
        with CaptureQueriesContext(connection) as few:
            assert len(web_social.donate_targets(account)) == 2

        for number in range(3):
            line = line_services.order_line(alice, gb_stock, "gb-starter")
            line_services.choose_cause(line, other_cause)
            project_services.follow_project(
                alice_account, make_project(bob_account, wateraid, title=f"Bob's {number}")
            )
        account = Account.objects.get(pk=alice_account.pk)
        with CaptureQueriesContext(connection) as many:
            assert len(web_social.donate_targets(account)) == 6

        assert len(many) == len(few)
