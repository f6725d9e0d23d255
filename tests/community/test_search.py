"""Search of accounts, hashtags and posts; posts only among those the viewer may see."""

from __future__ import annotations

import pytest
from django.db import connection

from kindwave.community.models import Account, Status, Visibility
from kindwave.community.services import follows, posts, search
from kindwave.community.services.search import SearchResults


def texts(results: SearchResults) -> list[str]:
    return [status.text for status in results.statuses]


@pytest.fixture
def posted(alice_account: Account, bob_account: Account) -> None:
    posts.post(alice_account, "Les fontaines de l'écologie urbaine #Écologie", visibility="public")
    posts.post(alice_account, "Secret fontaines for friends", visibility=Visibility.PRIVATE)
    posts.post(alice_account, "@bob fontaines between us", visibility=Visibility.DIRECT)
    posts.post(bob_account, "Water wells and #eau", visibility="public")


class TestStatuses:
    def test_full_text_when_the_database_has_it(self, posted: None) -> None:
        if connection.vendor == "sqlite":
            assert search._sqlite_fts(str(connection.settings_dict["NAME"]))

    def test_only_posts_the_viewer_may_see(
        self, posted: None, bob_account: Account, charlie_account: Account
    ) -> None:
        assert texts(search.search(charlie_account, "fontaines")) == [
            "Les fontaines de l'écologie urbaine #Écologie"
        ]
        assert texts(search.search(None, "fontaines", ["statuses"])) == [
            "Les fontaines de l'écologie urbaine #Écologie"
        ]
        assert len(search.search(bob_account, "fontaines").statuses) == 2

    def test_followers_find_followers_only_posts(
        self, posted: None, alice_account: Account, charlie_account: Account
    ) -> None:
        follows.follow(charlie_account, alice_account)

        assert "Secret fontaines for friends" in texts(search.search(charlie_account, "secret"))

    def test_words_case_and_no_syntax_injection(
        self, posted: None, charlie_account: Account
    ) -> None:
        assert texts(search.search(charlie_account, "WATER wells")) == ["Water wells and #eau"]
        assert texts(search.search(charlie_account, 'wat" OR secret*')) == []
        assert texts(search.search(charlie_account, "NEAR(")) == []

    def test_deleted_posts_are_not_found(
        self, alice_account: Account, charlie_account: Account
    ) -> None:
        status = posts.post(alice_account, "ephemeral thought", visibility="public")
        posts.delete_status(alice_account, status)

        assert texts(search.search(charlie_account, "ephemeral")) == []
        assert Status.objects.filter(text__icontains="ephemeral").count() == 0


class TestAccountsAndTags:
    def test_accounts_by_username_prefix_and_display_name(
        self, alice_account: Account, bob_account: Account, charlie_account: Account
    ) -> None:
        assert [a.username for a in search.search(charlie_account, "@ali").accounts] == ["alice"]
        assert [a.username for a in search.search(charlie_account, "martin").accounts] == [
            "alice",
            "bob",
        ]

    def test_undiscoverable_only_by_exact_name_and_blocks_hide(
        self, alice_account: Account, bob_account: Account, charlie_account: Account
    ) -> None:
        Account.objects.filter(pk=alice_account.pk).update(discoverable=False)
        follows.block(bob_account, charlie_account)

        assert [a.username for a in search.search(charlie_account, "Martin").accounts] == []
        assert [a.username for a in search.search(charlie_account, "alice").accounts] == ["alice"]
        assert search.search(charlie_account, "bob").accounts == []

    def test_hashtags_by_prefix(self, posted: None) -> None:
        assert [t.name for t in search.search(None, "#ÉCO", ["hashtags"]).hashtags] == ["écologie"]
        assert search.search(None, "#ÉCO", ["accounts"]).hashtags == []

    def test_blank_finds_nothing(self, posted: None) -> None:
        assert search.search(None, "  ") == SearchResults()
