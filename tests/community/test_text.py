"""Usernames, the post's HTML and its length as Mastodon counts it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kindwave.accounts import services as accounts
from kindwave.accounts.models import User
from kindwave.causes.models import Cause
from kindwave.community.models import Account
from kindwave.community.services.accounts import (
    ensure_account,
    ensure_cause_account,
    username_base,
)
from kindwave.community.services.text import URL_CHARS, render, status_length
from tests.conftest import PASSWORD


class TestEnsureAccount:
    def test_username_from_the_email_local_part(self, alice: User) -> None:
        account = ensure_account(alice)

        assert account.username == "alice"
        assert account.kind == Account.Kind.PERSON
        assert account.display_name == "Alice Martin"

    def test_is_idempotent(self, alice: User) -> None:
        assert ensure_account(alice) == ensure_account(alice)
        assert Account.objects.count() == 1

    def test_accents_folded_and_names_made_unique(self, db) -> None:
        first = accounts.create_subscriber(
            email="helene.d@a.example", full_name="", password=PASSWORD
        )
        second = accounts.create_subscriber(
            email="Helene_D@b.example", full_name="", password=PASSWORD
        )

        assert username_base("Hélène.Dupré") == "helene_dupre"
        assert ensure_account(first).username == "helene_d"
        assert ensure_account(second).username == "helene_d_2"

    def test_long_names_stay_within_30(self, db) -> None:
        users = [
            accounts.create_subscriber(
                email=f"{'x' * 40}@{n}.example", full_name="", password=PASSWORD
            )
            for n in range(3)
        ]

        names = [ensure_account(user).username for user in users]

        assert names == ["x" * 30, "x" * 28 + "_2", "x" * 28 + "_3"]

    def test_cause_account_from_the_slug(self, demo_causes: dict[str, Cause]) -> None:
        account = ensure_cause_account(demo_causes["wateraid"])

        assert account.username == "wateraid"
        assert account.kind == Account.Kind.CAUSE
        assert ensure_cause_account(demo_causes["wateraid"]) == account

    @given(st.text(max_size=60))
    def test_any_text_gives_a_valid_username(self, raw: str) -> None:
        name = username_base(raw)

        assert 1 <= len(name) <= 30
        assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789_")


@pytest.mark.django_db
class TestRender:
    def test_escapes_everything(self) -> None:
        html = render('<script>alert("x")</script> & <b>').html

        assert "<script>" not in html
        assert "<b>" not in html
        assert "&lt;script&gt;" in html
        assert "&amp;" in html

    def test_links_urls_with_nofollow(self) -> None:
        html = render("see https://example.org/a?b=1&c=2.").html

        assert '<a href="https://example.org/a?b=1&amp;c=2" rel="nofollow noopener"' in html
        assert html.endswith("</a>.</p>")

    def test_a_url_cannot_break_out_of_the_attribute(self) -> None:
        html = render('https://example.org/"onmouseover=alert(1)').html

        assert '"onmouseover' not in html

    def test_mentions_local_accounts_only(self, alice_account: Account) -> None:
        rendered = render("hi @Alice and @nobody, mail me at x@alice.example")

        assert rendered.mentions == [alice_account]
        assert 'class="u-url mention">@<span>alice</span></a>' in rendered.html
        assert "@nobody" in rendered.html

    def test_unicode_hashtags(self) -> None:
        rendered = render("#Écologie et #eau, pas #2026 ni https://x.example/#frag")

        assert rendered.tags == ["écologie", "eau"]
        assert 'rel="tag">#<span>Écologie</span></a>' in rendered.html

    def test_paragraphs_and_line_breaks(self) -> None:
        assert render("one\ntwo\n\nthree").html == "<p>one<br />two</p><p>three</p>"


class TestLength:
    def test_a_url_counts_23(self) -> None:
        assert status_length("https://example.org/" + "a" * 200) == URL_CHARS

    def test_accents_and_emoji_count_one_each(self) -> None:
        assert status_length("e\u0301té") == 3
        assert status_length("👍🏽 👨‍👩‍👧") == 3

    def test_the_content_warning_counts_too(self) -> None:
        assert status_length("abc", "de") == 5

    @pytest.mark.parametrize(
        ("text", "length"),
        [
            ("\U0001f1eb\U0001f1f7", 1),  # a regional-indicator flag
            ("\U0001f1eb\U0001f1f7\U0001f1ec\U0001f1e7\U0001f1ec", 3),  # two flags and half
            ("1\ufe0f\u20e3#\ufe0f\u20e3", 2),  # keycaps
            ("\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", 1),
            ("\U0001f469\u200d\U0001f52c\U0001f3f3\ufe0f\u200d\U0001f308", 2),  # ZWJ
            ("\u1100\u1161\u11a8", 1),  # Hangul jamo make one syllable
            ("a\n\u0301", 3),  # a mark after a line end stands alone
        ],
    )
    def test_grapheme_clusters_count_one(self, text: str, length: int) -> None:
        assert status_length(text) == length

    def test_a_windows_line_end_counts_one_as_in_the_browser(self) -> None:
        lines = ["a" * 49] * 10

        assert status_length("\r\n".join(lines)) == status_length("\n".join(lines)) == 499
        assert status_length("a\rb") == 3
