"""Who sees which post: the one rule in ``selectors.visible_statuses``, checked for every
kind of post and every relation, and charlie the outsider who never sees alice's
followers-only or mentioned-only posts anywhere."""

from __future__ import annotations

import pytest
from django.http import Http404
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from kindwave.accounts import services as accounts
from kindwave.community import selectors
from kindwave.community.models import Account, Status, Visibility
from kindwave.community.services import follows, posts
from kindwave.community.services.accounts import ensure_account
from tests.conftest import PASSWORD


def sees(viewer: Account | None, status: Status) -> bool:
    by_rule = selectors.can_see(viewer, status)
    listed = selectors.visible_statuses(viewer).filter(pk=status.pk).exists()
    assert by_rule == listed
    return by_rule


@pytest.fixture
def posts_by_alice(alice_account: Account, bob_account: Account) -> dict[str, Status]:
    return {
        "public": posts.post(alice_account, "public", visibility=Visibility.PUBLIC),
        "unlisted": posts.post(alice_account, "unlisted", visibility=Visibility.UNLISTED),
        "private": posts.post(alice_account, "friends", visibility=Visibility.PRIVATE),
        "direct": posts.post(alice_account, "@bob psst", visibility=Visibility.DIRECT),
    }


class TestTheRule:
    def test_the_author_sees_all_her_posts(
        self, alice_account: Account, posts_by_alice: dict[str, Status]
    ) -> None:
        assert all(sees(alice_account, status) for status in posts_by_alice.values())

    def test_anonymous_and_outsider_see_public_and_unlisted_only(
        self, charlie_account: Account, posts_by_alice: dict[str, Status]
    ) -> None:
        for viewer in (None, charlie_account):
            seen = {name for name, status in posts_by_alice.items() if sees(viewer, status)}
            assert seen == {"public", "unlisted"}

    def test_followers_see_followers_only(
        self,
        alice_account: Account,
        charlie_account: Account,
        posts_by_alice: dict[str, Status],
    ) -> None:
        follows.follow(charlie_account, alice_account)

        seen = {name for name, status in posts_by_alice.items() if sees(charlie_account, status)}

        assert seen == {"public", "unlisted", "private"}

    def test_the_mentioned_see_direct_and_private_posts_mentioning_them(
        self, alice_account: Account, bob_account: Account, posts_by_alice: dict[str, Status]
    ) -> None:
        mentioned_private = posts.post(alice_account, "@bob only", visibility="private")

        assert sees(bob_account, posts_by_alice["direct"])
        assert sees(bob_account, mentioned_private)
        assert not sees(bob_account, posts_by_alice["private"])

    def test_blocks_hide_both_ways(
        self, alice_account: Account, charlie_account: Account, posts_by_alice: dict[str, Status]
    ) -> None:
        reply = posts.post(charlie_account, "hey", visibility="public")
        follows.block(alice_account, charlie_account)

        assert not sees(charlie_account, posts_by_alice["public"])
        assert not sees(alice_account, reply)

    def test_reblogs_of_a_blocked_author_are_hidden(
        self,
        alice_account: Account,
        bob_account: Account,
        charlie_account: Account,
        posts_by_alice: dict[str, Status],
    ) -> None:
        shared = posts.reblog(bob_account, posts_by_alice["public"])
        follows.block(charlie_account, alice_account)

        assert not sees(charlie_account, shared)

    def test_deleted_posts_are_seen_by_no_one(
        self, alice_account: Account, posts_by_alice: dict[str, Status]
    ) -> None:
        posts.delete_status(alice_account, posts_by_alice["public"])

        assert not sees(alice_account, posts_by_alice["public"])
        assert not sees(None, posts_by_alice["public"])

    def test_an_invisible_post_is_a_404_like_a_missing_one(
        self, charlie_account: Account, posts_by_alice: dict[str, Status]
    ) -> None:
        for status_id in (posts_by_alice["private"].pk, posts_by_alice["direct"].pk, 10**9):
            with pytest.raises(Http404):
                selectors.get_status_for(charlie_account, status_id)


class TestCharlieNeverSeesAlicesPrivatePosts(HypothesisTestCase):
    """Whatever alice posts, whoever she mentions among bob and herself, whatever charlie
    and bob follow: no read path shows charlie a followers-only or mentioned-only post of
    alice's (he does not follow her and is not mentioned)."""

    @classmethod
    def setUpTestData(cls) -> None:
        people = {}
        for name in ("alice", "bob", "charlie"):
            user = accounts.create_subscriber(
                email=f"{name}@example.org", full_name=name, password=PASSWORD
            )
            people[name] = ensure_account(user)
        cls.alice, cls.bob, cls.charlie = people["alice"], people["bob"], people["charlie"]

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.lists(
            st.tuples(
                st.sampled_from([Visibility.PRIVATE, Visibility.DIRECT]),
                st.sampled_from(["", "@bob ", "@alice "]),
                st.sampled_from(["", "#eau "]),
                st.booleans(),
            ),
            min_size=1,
            max_size=4,
        ),
        st.booleans(),
        st.booleans(),
    )
    def test_no_read_path_shows_them(
        self,
        drafts: list[tuple[str, str, str, bool]],
        bob_follows_alice: bool,
        charlie_follows_bob: bool,
    ) -> None:
        if bob_follows_alice:
            follows.follow(self.bob, self.alice)
        if charlie_follows_bob:
            follows.follow(self.charlie, self.bob)
        hidden: set[int] = set()
        for visibility, mention, tag, as_reply in drafts:
            parent = posts.post(self.bob, "thread", visibility="public") if as_reply else None
            status = posts.post(
                self.alice, f"{mention}{tag}secret", visibility=visibility, in_reply_to=parent
            )
            hidden.add(status.pk)
            if parent is not None:
                hidden_context = selectors.context(self.charlie, parent)
                assert not {s.pk for s in hidden_context.descendants} & hidden

        shown = {
            *(s.pk for s in selectors.home(self.charlie, limit=40)),
            *(s.pk for s in selectors.public(self.charlie, limit=40)),
            *(s.pk for s in selectors.hashtag(self.charlie, "eau", limit=40)),
            *(s.pk for s in selectors.account_statuses(self.charlie, self.alice, limit=40)),
            *(n.status_id for n in selectors.notifications(self.charlie, limit=80)),
            *selectors.visible_statuses(self.charlie).values_list("pk", flat=True),
        }
        assert not shown & hidden
        for pk in hidden:
            with pytest.raises(Http404):
                selectors.get_status_for(self.charlie, pk)
