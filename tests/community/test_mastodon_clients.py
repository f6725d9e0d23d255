"""Real Mastodon clients against a live server: Mastodon.py 2.x and toot, unmodified,
register an app, log in (password grant, and the code flow through the consent page
posted as a person would), verify credentials, check the instance's version and read
the public timeline with its Link-header pagination; two people post (idempotently),
follow, read their home, favourite, reblog, search and read their notifications."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from html import unescape

import pytest
import requests
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from mastodon import Mastodon
from pytest_django.live_server_helper import LiveServer

from kindwave.accounts.models import User
from kindwave.community.mastodon.identity import account_for_user
from kindwave.community.models import Status, Visibility
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

OOB = "urn:ietf:wg:oauth:2.0:oob"
SCOPES = ["read", "write", "follow", "push"]
TIMEOUT = 10


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def logged_in_browser(user: User) -> requests.Session:
    """A requests session carrying ``user``'s Django session cookie, as a web browser
    where the person is logged in."""
    client = Client()
    client.force_login(user)
    session = requests.Session()
    session.cookies.set(
        settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value
    )
    return session


def press_authorise(browser: requests.Session, url: str) -> str:
    """Open the consent page at ``url``, press "Authorise", return the code on the oob page."""
    page = browser.get(url, timeout=TIMEOUT)
    assert page.status_code == 200, page.text
    fields = {
        name: unescape(value)
        for name, value in re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text
        )
    }
    answer = browser.post(
        page.url.split("?")[0],
        data={**fields, "allow": "true"},
        headers={"Referer": page.url},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 200, answer.text
    code = re.search(r'id="authorization-code">([^<]+)<', answer.text)
    assert code is not None, answer.text
    return code.group(1)


@pytest.fixture
def public_posts(alice: User) -> list[Status]:
    author = account_for_user(alice)
    return [
        Status.objects.create(
            account=author,
            text=f"post {n}",
            content_html=f"<p>post {n}</p>",
            visibility=Visibility.PUBLIC,
        )
        for n in range(3)
    ]


class TestMastodonPy:
    def app(self, live_server: LiveServer) -> Mastodon:
        client_id, client_secret = Mastodon.create_app(
            "Kindwave test (Mastodon.py)",
            scopes=SCOPES,
            redirect_uris=OOB,
            website="https://example.org",
            api_base_url=live_server.url,
        )
        return Mastodon(
            client_id=client_id,
            client_secret=client_secret,
            api_base_url=live_server.url,
            version_check_mode="none",
        )

    def test_password_login_instance_and_public_timeline(
        self, live_server: LiveServer, alice: User, public_posts: list[Status]
    ) -> None:
        mastodon = self.app(live_server)

        token = mastodon.log_in("alice@example.org", PASSWORD, scopes=SCOPES, allow_http=True)

        assert token
        me = mastodon.account_verify_credentials()
        assert me.acct == "alice"
        assert me.username == "alice"
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. "no API version found" must not be raised
            version = mastodon.retrieve_mastodon_version(fail_hard=True)
        assert version.startswith("4.3.0")
        assert mastodon.verify_minimum_version("4.3.0", cached=True)
        instance = mastodon.instance()
        assert instance.configuration.statuses.max_characters == 500
        first = mastodon.timeline_public(limit=2)
        assert [str(status.id) for status in first] == [
            str(public_posts[2].pk),
            str(public_posts[1].pk),
        ]
        assert first[0].account.acct == "alice"
        older = mastodon.fetch_next(first)
        assert [str(status.id) for status in older] == [str(public_posts[0].pk)]
        newer = mastodon.fetch_previous(older)
        assert [str(status.id) for status in newer] == [
            str(public_posts[2].pk),
            str(public_posts[1].pk),
        ]

    def test_code_flow_through_the_consent_page(self, live_server: LiveServer, alice: User) -> None:
        mastodon = self.app(live_server)
        url = mastodon.auth_request_url(redirect_uris=OOB, scopes=SCOPES, allow_http=True)

        code = press_authorise(logged_in_browser(alice), url)
        mastodon.log_in(code=code, redirect_uri=OOB, scopes=SCOPES, allow_http=True)

        assert mastodon.account_verify_credentials().acct == "alice"

    def test_two_people_post_follow_favourite_reblog_search_and_get_notified(
        self, live_server: LiveServer, alice: User, bob: User
    ) -> None:
        as_alice, as_bob = self.app(live_server), self.app(live_server)
        as_alice.log_in("alice@example.org", PASSWORD, scopes=SCOPES, allow_http=True)
        as_bob.log_in("bob@example.org", PASSWORD, scopes=SCOPES, allow_http=True)
        alice_id = as_alice.account_verify_credentials().id

        relationship = as_bob.account_follow(alice_id)
        first = as_alice.status_post("Clean rivers #riverclean", idempotency_key="k-1")
        again = as_alice.status_post("Clean rivers #riverclean", idempotency_key="k-1")
        private = as_alice.status_post("for my followers", visibility="private")

        assert relationship.following is True
        assert again.id == first.id
        home = as_bob.timeline_home()
        assert [status.id for status in home] == [private.id, first.id]
        assert as_bob.status_favourite(first.id).favourited is True
        shared = as_bob.status_reblog(first.id)
        assert shared.reblog.id == first.id
        found = as_bob.search_v2("riverclean")
        assert [tag.name for tag in found.hashtags] == ["riverclean"]
        assert [status.id for status in found.statuses] == [first.id]
        kinds = [item.type for item in as_alice.notifications()]
        assert kinds == ["reblog", "favourite", "follow"]
        assert as_alice.notifications(types=["follow"])[0].account.acct == "bob"

    def test_wrong_password_is_refused(self, live_server: LiveServer, alice: User) -> None:
        from mastodon.errors import MastodonIllegalArgumentError

        mastodon = self.app(live_server)

        with pytest.raises(MastodonIllegalArgumentError):
            mastodon.log_in("alice@example.org", "not her password", allow_http=True)


class TestToot:
    @pytest.fixture(autouse=True)
    def _own_config_dir(self, tmp_path, monkeypatch) -> None:
        # toot saves its apps and users in $XDG_CONFIG_HOME/toot/config.json.
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))

    def test_register_login_and_read(
        self, live_server: LiveServer, alice: User, public_posts: list[Status]
    ) -> None:
        from toot import api
        from toot import auth as toot_auth

        app = toot_auth.get_or_create_app(live_server.url)
        user = toot_auth.login_username_password(app, "alice@example.org", PASSWORD)

        assert user.username == "alice"
        assert api.verify_credentials(app, user).json()["acct"] == "alice"
        assert api.fetch_app_token(app)["token_type"] == "Bearer"  # a JSON body
        pages = api.anon_public_timeline_generator(live_server.url, limit=2)
        assert [status["id"] for status in next(pages)] == [
            str(public_posts[2].pk),
            str(public_posts[1].pk),
        ]
        assert [status["id"] for status in next(pages)] == [str(public_posts[0].pk)]

    def test_post_and_read_home(self, live_server: LiveServer, alice: User) -> None:
        from toot import api
        from toot import auth as toot_auth

        app = toot_auth.get_or_create_app(live_server.url)
        user = toot_auth.login_username_password(app, "alice@example.org", PASSWORD)

        posted = api.post_status(app, user, "Hello from toot", visibility="unlisted").json()
        home = next(api.home_timeline_generator(app, user, limit=5))

        assert posted["visibility"] == "unlisted"
        assert [status["id"] for status in home] == [posted["id"]]
        assert home[0]["content"] == "<p>Hello from toot</p>"

    def test_browser_login_with_the_code(self, live_server: LiveServer, alice: User) -> None:
        from toot import api
        from toot import auth as toot_auth

        app = toot_auth.get_or_create_app(live_server.url)
        url = api.get_browser_login_url(app)  # note: /oauth/authorize/ with a slash

        code = press_authorise(logged_in_browser(alice), url)
        user = toot_auth.login_auth_code(app, code)

        assert user.username == "alice"
