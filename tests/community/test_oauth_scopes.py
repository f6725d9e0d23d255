"""An app's registered scopes bound its tokens' scopes, in every grant and on the consent
page: asking for more is Mastodon's ``invalid_scope`` (400), nothing is granted, and the
consent page does not send the refusal back to the app. A granular scope under a
registered parent is within it; no ``scope`` means ``read``, if the app has it."""

from __future__ import annotations

import importlib
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.apps import apps as installed_apps
from django.test import Client
from oauth2_provider.models import AccessToken, Application, Grant

from kindwave.accounts.models import User
from kindwave.community.mastodon.scopes import scope_within, scopes_within
from kindwave.community.models import AppScopes
from tests.community.test_oauth import OOB, REDIRECT, bearer, password_grant, register
from tests.conftest import PASSWORD, client_for

pytestmark = pytest.mark.django_db

INVALID_SCOPE = {
    "error": "invalid_scope",
    "error_description": "The requested scope is invalid, unknown, or malformed.",
}


def token_request(client: Client, app: dict, grant_type: str, **fields: str):
    data = {"grant_type": grant_type, "client_id": app["client_id"], **fields}
    data["client_secret"] = app["client_secret"]
    return client.post("/oauth/token", data)


def refused_at_token(response) -> None:
    assert response.status_code == 400, response.content
    assert response.json() == INVALID_SCOPE


def authorize_page(browser: Client, app: dict, redirect_uri: str = REDIRECT, **extra: str):
    query = {
        "client_id": app["client_id"],
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "state": "s1",
        **extra,
    }
    return browser.get(f"/oauth/authorize?{urlencode(query)}")


def hidden_fields(page) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))


def refused_on_the_page(page) -> None:
    """Mastodon's answer at /oauth/authorize: a 400 page saying why, no redirect."""
    assert page.status_code == 400
    assert "Location" not in page
    assert INVALID_SCOPE["error_description"] in page.text
    assert 'id="authorization-form"' not in page.text


class TestTheRule:
    @pytest.mark.parametrize(
        ("registered", "requested", "within"),
        [
            ({"read"}, "read", True),
            ({"read"}, "read:statuses", True),
            ({"read"}, "write", False),
            ({"read"}, "write:statuses", False),
            ({"read:statuses"}, "read", False),
            ({"read:statuses"}, "read:accounts", False),
            ({"read", "write"}, "write:favourites", True),
            ({"follow"}, "read:follows", True),
            ({"follow"}, "write:blocks", True),
            ({"follow"}, "read:statuses", False),
            ({"read"}, "profile", False),
            ({"read"}, "push", False),
        ],
    )
    def test_scope_within(self, registered: set, requested: str, within: bool) -> None:
        assert scope_within(registered, requested) is within

    def test_every_requested_scope_must_be_within(self) -> None:
        assert scopes_within(["read", "follow"], ["read:statuses", "write:mutes"])
        assert not scopes_within(["read"], ["read:statuses", "write:statuses"])
        assert scopes_within(["read"], [])


class TestRegistration:
    def test_the_registered_scopes_are_kept(self, client: Client) -> None:
        app = register(client, scopes="read write:statuses")

        kept = AppScopes.objects.get(application__client_id=app["client_id"])
        assert kept.scopes == "read write:statuses"
        assert app["scopes"] == ["read", "write:statuses"]

    def test_no_scopes_registers_read(self, client: Client) -> None:
        app = client.post("/api/v1/apps", {"client_name": "Plain", "redirect_uris": OOB}).json()

        assert AppScopes.objects.get(application__client_id=app["client_id"]).scopes == "read"


class TestPasswordGrant:
    def test_a_read_app_cannot_obtain_a_write_token(self, client: Client, alice: User) -> None:
        app = register(client, scopes="read")

        for scope in ("read write", "write", "write:statuses", "follow"):
            refused_at_token(password_grant(client, app, "alice@example.org", scope=scope))
        assert not AccessToken.objects.exists()

    def test_a_granular_scope_under_a_registered_one(self, client: Client, alice: User) -> None:
        app = register(client, scopes="read")

        response = password_grant(client, app, "alice@example.org", scope="read:statuses")

        assert response.status_code == 200, response.content
        assert response.json()["scope"] == "read:statuses"

    def test_no_scope_gives_read_when_the_app_has_it(self, client: Client, alice: User) -> None:
        app = register(client, scopes="read write")

        response = token_request(
            client, app, "password", username="alice@example.org", password=PASSWORD
        )

        assert response.status_code == 200, response.content
        assert response.json()["scope"] == "read"

    @pytest.mark.parametrize("registered", ["write", "read:statuses"])
    def test_no_scope_is_refused_when_the_app_lacks_read(
        self, client: Client, alice: User, registered: str
    ) -> None:
        app = register(client, scopes=registered)

        refused_at_token(
            token_request(client, app, "password", username="alice@example.org", password=PASSWORD)
        )
        refused_at_token(password_grant(client, app, "alice@example.org", scope="read"))

    def test_the_token_cannot_do_more_than_the_app(self, client: Client, alice: User) -> None:
        app = register(client, scopes="read")
        token = password_grant(client, app, "alice@example.org", scope="read").json()

        posted = client.post(
            "/api/v1/statuses", {"status": "hello"}, **bearer(token["access_token"])
        )

        assert posted.status_code == 403


class TestOtherGrants:
    def test_client_credentials(self, client: Client) -> None:
        app = register(client, scopes="read")

        refused_at_token(token_request(client, app, "client_credentials", scope="read write"))
        allowed = token_request(client, app, "client_credentials", scope="read")
        assert allowed.status_code == 200
        assert allowed.json()["scope"] == "read"

    def test_a_refresh_cannot_widen_the_token(self, client: Client, alice: User) -> None:
        app = register(client, scopes="read write")
        token = password_grant(client, app, "alice@example.org", scope="read").json()
        assert token.get("refresh_token")

        refused_at_token(
            token_request(
                client,
                app,
                "refresh_token",
                refresh_token=token["refresh_token"],
                scope="read write",
            )
        )

    def test_an_app_registered_elsewhere_has_read_only(self, client: Client, alice: User) -> None:
        # Given an app made in the admin (no registered scopes kept),
        secret = "an-admin-made-secret-0123456789"
        made = Application.objects.create(
            name="Admin-made",
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris=OOB,
            client_secret=secret,
        )
        app = {"client_id": made.client_id, "client_secret": secret}

        # then it gets Mastodon's default, read, and nothing more.
        refused_at_token(password_grant(client, app, "alice@example.org", scope="read write"))
        assert password_grant(client, app, "alice@example.org", scope="read").status_code == 200


class TestAuthorizationCode:
    @pytest.mark.parametrize("redirect_uri", [REDIRECT, OOB])
    def test_the_consent_page_refuses_a_scope_beyond_the_app(
        self, client: Client, alice: User, redirect_uri: str
    ) -> None:
        app = register(client, scopes="read")

        page = authorize_page(client_for(alice), app, redirect_uri, scope="read write")

        refused_on_the_page(page)
        assert not Grant.objects.exists()

    def test_no_scope_on_an_app_without_read_is_refused(self, client: Client, alice: User) -> None:
        app = register(client, scopes="write")

        refused_on_the_page(authorize_page(client_for(alice), app))

    def test_a_tampered_consent_form_is_refused(self, client: Client, alice: User) -> None:
        # Given the consent page of a read app, asked for read,
        app = register(client, scopes="read")
        browser = client_for(alice)
        page = authorize_page(browser, app, scope="read")
        assert page.status_code == 200
        fields = hidden_fields(page)
        assert fields["scope"] == "read"

        # when its form comes back asking for write,
        answer = browser.post(
            "/oauth/authorize", {**fields, "scope": "read write", "allow": "true"}
        )

        # then nothing is granted.
        refused_on_the_page(answer)
        assert not Grant.objects.exists()

    def test_a_granular_scope_goes_all_the_way_to_the_token(
        self, client: Client, alice: User
    ) -> None:
        app = register(client, scopes="read write")
        browser = client_for(alice)
        page = authorize_page(browser, app, scope="read:statuses write:favourites")
        assert page.status_code == 200

        answer = browser.post("/oauth/authorize", {**hidden_fields(page), "allow": "true"})

        assert answer.status_code == 302
        code = parse_qs(urlsplit(answer["Location"]).query)["code"][0]
        token = token_request(client, app, "authorization_code", redirect_uri=REDIRECT, code=code)
        assert token.status_code == 200, token.content
        assert token.json()["scope"] == "read:statuses write:favourites"


def test_the_migration_keeps_existing_apps_working(client: Client, alice: User) -> None:
    # Given an app registered before its scopes were kept, whose token has read and write,
    app = register(client, scopes="read write")
    assert password_grant(client, app, "alice@example.org", scope="read write").status_code == 200
    never_used = register(client, scopes="read write follow")
    AppScopes.objects.all().delete()

    # when the migration's backfill runs,
    migration = importlib.import_module("kindwave.community.migrations.0005_smallfix_app_scopes")
    migration.backfill(installed_apps, None)

    # then both keep what they could ask for before (tokens were not bounded): every
    # top-level scope, so a client that kept its credentials logs in as before.
    for registered in (app, never_used):
        scopes = AppScopes.objects.get(application__client_id=registered["client_id"]).scopes
        assert scopes == "read write follow push"
