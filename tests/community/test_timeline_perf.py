"""The timelines' fast loader: :func:`selectors.load_statuses` loads a page's related
objects by id, without the ORM's joins and prefetches. Whatever a page or the API shows
must be what the ORM itself loads, for every kind of post, and touching it must cost no
query (no timing here: correctness only)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Prefetch
from PIL import Image

from kindwave.accounts import services as accounts
from kindwave.causes.models import Cause
from kindwave.community import selectors
from kindwave.community.models import Account, MediaAttachment, Status, Tag, Visibility
from kindwave.community.services import follows, posts
from kindwave.community.services import media as media_service
from kindwave.community.services.accounts import ensure_account
from tests.community.test_projects import create as make_project
from tests.conftest import PASSWORD


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


def _image() -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "teal").save(out, format="PNG")
    return SimpleUploadedFile("photo.png", out.getvalue())


def _reference(ids: list[int]) -> dict[int, Status]:
    """The posts as the ORM loads them, relation by relation (the slow, obvious way)."""
    return {
        status.pk: status
        for status in Status.objects.filter(pk__in=ids)
        .select_related(
            "account",
            "in_reply_to_account",
            "donate_cause",
            "donate_project",
            "reblog_of__account",
            "reblog_of__in_reply_to_account",
            "reblog_of__donate_cause",
            "reblog_of__donate_project",
        )
        .prefetch_related(
            # Media have no model order: upload order (pk), as the loader and Mastodon show
            # them — unordered, PostgreSQL may return them either way.
            Prefetch("media", queryset=MediaAttachment.objects.order_by("pk")),
            "tags",
            "mentions",
            Prefetch("reblog_of__media", queryset=MediaAttachment.objects.order_by("pk")),
            "reblog_of__tags",
            "reblog_of__mentions",
        )
    }


def _shown(status: Status | None) -> Any:
    """Everything of ``status`` a page or an entity reads, relations included."""
    if status is None:
        return None
    return (
        status.pk,
        status.text,
        status.visibility,
        status.deleted_at,
        status.account.pk,
        status.account.username,
        status.account.display_name,
        status.in_reply_to_id,
        status.in_reply_to_account and status.in_reply_to_account.username,
        status.donate_cause and status.donate_cause.slug,
        status.donate_project and status.donate_project.slug,
        [media.pk for media in status.media.all()],
        [media.file.name for media in status.media.all()],
        [tag.name for tag in status.tags.all()],
        [account.username for account in status.mentions.all()],
        _shown(status.reblog_of),
    )


@pytest.fixture
def varied(
    alice_account: Account,
    bob_account: Account,
    charlie_account: Account,
    demo_causes: dict[str, Cause],
) -> list[int]:
    """Posts of every shape, newest first: plain, with media (two), tags and mentions
    (two, out of alphabetical order), a reply, reblogs (of a post with everything, of a
    deleted post), donate buttons for a cause and a project."""
    wateraid = demo_causes["wateraid"]
    project = make_project(alice_account, wateraid, volunteers_goal=10)
    follows.follow(bob_account, alice_account)
    follows.follow(bob_account, charlie_account)
    first, second = (media_service.upload_media(alice_account, _image()) for _ in range(2))
    plain = posts.post(alice_account, "plain", visibility=Visibility.PUBLIC)
    rich = posts.post(
        alice_account,
        "@charlie @bob #zinc #Eau look",
        visibility=Visibility.PUBLIC,
        media_ids=[second.pk, first.pk],
    )
    # Linked last but first in their model's order: a page must not show link order.
    aaron = ensure_account(
        accounts.create_subscriber(
            email="aaron@example.org", full_name="Aaron", password=PASSWORD, verified=True
        )
    )
    rich.mentions.add(aaron)
    rich.tags.add(Tag.objects.create(name="aqua"))
    reply = posts.post(charlie_account, "a reply", visibility=Visibility.PUBLIC, in_reply_to=rich)
    button = posts.post(
        alice_account,
        "give",
        visibility=Visibility.PUBLIC,
        donate_cause=wateraid,
        donate_project=project,
    )
    gone = posts.post(alice_account, "soon gone", visibility=Visibility.PUBLIC)
    shared_gone = posts.reblog(charlie_account, gone)
    posts.delete_status(alice_account, gone)
    shared = posts.reblog(charlie_account, rich)
    friends = posts.post(alice_account, "friends", visibility=Visibility.PRIVATE)
    return [s.pk for s in (friends, shared, shared_gone, gone, button, reply, rich, plain)]


class TestLoadStatuses:
    def test_loads_what_the_orm_loads_in_the_order_asked(self, varied: list[int]) -> None:
        loaded = selectors.load_statuses(None, varied)
        reference = _reference(varied)

        assert [status.pk for status in loaded] == varied
        assert [_shown(status) for status in loaded] == [_shown(reference[pk]) for pk in varied]

    def test_a_rich_post_and_its_reblog_carry_everything(
        self, varied: list[int], bob_account: Account
    ) -> None:
        by_id = {status.pk: status for status in selectors.load_statuses(bob_account, varied)}
        shared = by_id[varied[1]]
        rich = shared.reblog_of

        assert rich is not None
        assert [tag.name for tag in rich.tags.all()] == ["aqua", "eau", "zinc"]
        assert [account.username for account in rich.mentions.all()] == ["aaron", "bob", "charlie"]
        assert len(rich.media.all()) == 2
        assert [media.pk for media in rich.media.all()] == sorted(m.pk for m in rich.media.all())
        assert by_id[varied[5]].in_reply_to_account == rich.account

    def test_touching_a_page_costs_no_query(
        self, varied: list[int], bob_account: Account, django_assert_num_queries: Callable
    ) -> None:
        loaded = selectors.load_statuses(bob_account, varied)

        with django_assert_num_queries(0):
            shown = [_shown(status) for status in loaded]
            flags = [(s.viewer_favourited, s.viewer_reblogged) for s in loaded]  # type: ignore[attr-defined]

        assert len(shown) == len(flags) == len(varied)

    def test_a_page_of_plain_posts_takes_five_queries(
        self,
        alice_account: Account,
        bob_account: Account,
        django_assert_num_queries: Callable,
    ) -> None:
        """The posts, their links to media, tags and mentions, the accounts, and the
        viewer's favourites and reblogs: none for relations the page does not hold."""
        ids = [
            posts.post(alice_account, f"post {n}", visibility=Visibility.PUBLIC).pk
            for n in range(5)
        ][::-1]

        with django_assert_num_queries(5):
            loaded = selectors.load_statuses(bob_account, ids)

        assert [status.pk for status in loaded] == ids

    def test_a_further_filter_on_a_loaded_relation_still_asks_the_database(
        self, varied: list[int]
    ) -> None:
        rich = selectors.load_statuses(None, [varied[6]])[0]

        assert list(rich.tags.filter(name="zinc")) == [Tag.objects.get(name="zinc")]
        assert rich.tags.filter(name="nothing").count() == 0
        assert [tag.name for tag in rich.tags.all().iterator()] == ["aqua", "eau", "zinc"]
        assert rich.tags.all().order_by("-name").first() == Tag.objects.get(name="zinc")

    def test_sql_on_a_loaded_relation_touches_that_post_s_objects_only(
        self, varied: list[int]
    ) -> None:
        """An ``update()`` (or anything else built on the relation's query) must reach the
        post's own rows, not every row of the model."""
        rich, plain = selectors.load_statuses(None, [varied[6], varied[7]])

        assert len(plain.media.all()) == 0
        assert plain.media.all().update(description="x") == 0
        assert rich.media.all().update(description="alt") == 2
        assert plain.mentions.all().exists() is False
        assert set(Tag.objects.values_list("name", flat=True)) >= {"aqua", "eau", "zinc"}
        assert rich.tags.all().filter(name="eau").exists()

    def test_missing_ids_are_skipped_and_nothing_asked_is_nothing_loaded(
        self, varied: list[int]
    ) -> None:
        assert selectors.load_statuses(None, []) == []
        missing = max(varied) + 1000
        assert [s.pk for s in selectors.load_statuses(None, [missing, varied[0]])] == [varied[0]]
