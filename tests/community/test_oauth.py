"""OAuth 2 for Mastodon clients: app registration, the consent page, the code flow with
PKCE (and oob), the password and client-credentials grants, revocation, scopes, and the
rate limit on /oauth/token — all through HTTP, as a client would."""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.core.cache import cache
from django.test import Client

from kindwave.accounts import services as accounts
from kindwave.community.mastodon.scopes import scopes_allow
from tests.conftest import PASSWORD, client_for

pytestmark = pytest.mark.django_db

REDIRECT = "https://app.example.org/callback"
OOB = "urn:ietf:wg:oauth:2.0:oob"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # The token endpoint's rate limit counts in the cache, per client address.
    cache.clear()
    yield
    cache.clear()


def register(client: Client, **fields) -> dict:
    data = {
        "client_name": "Test app",
        "redirect_uris": f"{REDIRECT} {OOB}",
        "scopes": "read write follow push",
        **fields,
    }
    response = client.post("/api/v1/apps", data)
    assert response.status_code == 200, response.content
    return response.json()


def password_grant(
    client: Client,
    app: dict,
    email: str,
    *,
    password: str = PASSWORD,
    secret: str | None = None,
    scope: str = "read write",
    as_json: bool = False,
):
    return client.post(
        "/oauth/token",
        {
            "grant_type": "password",
            "client_id": app["client_id"],
            "client_secret": secret or app["client_secret"],
            "username": email,
            "password": password,
            "scope": scope,
        },
        # Django's test client sends a form (multipart) unless told the body is JSON.
        **({"content_type": "application/json"} if as_json else {}),
    )


def password_token(client: Client, app: dict, email: str, scope: str = "read write") -> dict:
    response = password_grant(client, app, email, scope=scope)
    assert response.status_code == 200, response.content
    return response.json()


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def pkce_pair() -> tuple[str, str]:
    verifier = "v" * 20 + "-kindwave-test-verifier-0123456789abcdef"
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def consent(browser: Client, app: dict, redirect_uri: str, **extra: str):
    """GET the consent page, then POST its form as the person pressing "Authorise"."""
    query = {
        "client_id": app["client_id"],
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "scope": "read write",
        **extra,
    }
    page = browser.get(f"/oauth/authorize?{urlencode(query)}")
    assert page.status_code == 200
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    assert "csrfmiddlewaretoken" in fields
    return browser.post("/oauth/authorize", {**fields, "allow": "true"})


class TestRegisterApp:
    def test_returns_the_credential_application(self, client: Client) -> None:
        app = register(client, website="https://app.example.org")

        assert app["name"] == "Test app"
        assert app["client_id"]
        assert app["client_secret"]
        assert app["redirect_uris"] == [REDIRECT, OOB]
        assert app["redirect_uri"] == f"{REDIRECT}\n{OOB}"
        assert app["scopes"] == ["read", "write", "follow", "push"]
        assert app["website"] == "https://app.example.org"
        assert "vapid_key" not in app

    def test_json_body_array_of_uris_and_default_scope(self, client: Client) -> None:
        response = client.post(
            "/api/v1/apps/",
            {"client_name": "JSON app", "redirect_uris": [OOB]},
            content_type="application/json",
        )

        assert response.status_code == 200
        assert response.json()["scopes"] == ["read"]
        assert response.json()["redirect_uris"] == [OOB]

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"client_name": ""}, "name"),
            ({"redirect_uris": ""}, "Redirect URI"),
            ({"redirect_uris": "javascript:alert(1)"}, "Redirect URI"),
            ({"redirect_uris": "/relative"}, "Redirect URI"),
            ({"scopes": "read admin:everything"}, "Scopes"),
        ],
    )
    def test_bad_registration_is_422(self, client: Client, fields: dict, message: str) -> None:
        data = {"client_name": "x", "redirect_uris": OOB, **fields}

        response = client.post("/api/v1/apps", data)

        assert response.status_code == 422
        assert message in response.json()["error"]

    def test_the_secret_is_stored_hashed(self, client: Client) -> None:
        from oauth2_provider.models import Application

        app = register(client)

        assert (
            Application.objects.get(client_id=app["client_id"]).client_secret
            != (app["client_secret"])
        )


class TestPasswordGrant:
    def test_token_with_scope_and_created_at(self, client: Client, alice) -> None:
        app = register(client)

        token = password_token(client, app, "alice@example.org", "read write follow")

        assert token["token_type"] == "Bearer"
        assert token["scope"] == "read write follow"
        assert isinstance(token["created_at"], int)
        me = client.get("/api/v1/accounts/verify_credentials", **bearer(token["access_token"]))
        assert me.status_code == 200
        assert me.json()["username"] == "alice"
        assert me.json()["acct"] == "alice"

    def test_wrong_secret_is_refused(self, client: Client, alice) -> None:
        app = register(client)

        response = password_grant(client, app, "alice@example.org", secret="not-the-secret")

        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"

    def test_wrong_password_is_refused(self, client: Client, alice) -> None:
        app = register(client)

        response = password_grant(client, app, "alice@example.org", password="wrong")

        assert response.status_code == 400
        assert response.json()["error"] == "invalid_grant"

    def test_tokens_are_not_stored_in_clear(self, client: Client, alice) -> None:
        from oauth2_provider.models import AccessToken

        token = password_token(client, register(client), "alice@example.org")

        assert not AccessToken.objects.filter(token=token["access_token"]).exists()


class TestAuthorizationCode:
    def test_code_flow_with_pkce(self, client: Client, alice) -> None:
        app = register(client)
        verifier, challenge = pkce_pair()

        answer = consent(
            client_for(alice),
            app,
            REDIRECT,
            code_challenge=challenge,
            code_challenge_method="S256",
            state="xyz",
        )

        assert answer.status_code == 302
        location = urlsplit(answer["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
        query = parse_qs(location.query)
        assert query["state"] == ["xyz"]
        exchange = {
            "grant_type": "authorization_code",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "redirect_uri": REDIRECT,
            "code": query["code"][0],
        }
        wrong = client.post("/oauth/token", {**exchange, "code_verifier": "x" * 50})
        assert wrong.status_code == 400
        token = client.post("/oauth/token", {**exchange, "code_verifier": verifier})
        assert token.status_code == 200, token.content
        assert token.json()["scope"] == "read write"
        me = client.get(
            "/api/v1/accounts/verify_credentials", **bearer(token.json()["access_token"])
        )
        assert me.json()["username"] == "alice"

    def test_oob_shows_the_code(self, client: Client, alice) -> None:
        app = register(client)

        page = consent(client_for(alice), app, OOB)

        assert page.status_code == 200
        code = re.search(r'id="authorization-code">([^<]+)<', page.text)
        assert code is not None
        token = client.post(
            "/oauth/token",
            {
                "grant_type": "authorization_code",
                "client_id": app["client_id"],
                "client_secret": app["client_secret"],
                "redirect_uri": OOB,
                "code": code.group(1),
            },
        )
        assert token.status_code == 200

    def test_unregistered_redirect_is_refused_without_redirecting(
        self, client: Client, alice
    ) -> None:
        app = register(client)
        query = urlencode(
            {
                "client_id": app["client_id"],
                "response_type": "code",
                "redirect_uri": "https://evil.example.net/steal",
                "scope": "read",
            }
        )

        page = client_for(alice).get(f"/oauth/authorize?{query}")

        assert page.status_code == 400
        assert "Location" not in page
        assert "evil.example.net" not in page.get("Location", "")

    def test_refusing_gives_no_code(self, client: Client, alice) -> None:
        app = register(client)
        browser = client_for(alice)
        query = urlencode(
            {"client_id": app["client_id"], "response_type": "code", "redirect_uri": REDIRECT}
        )
        page = browser.get(f"/oauth/authorize?{query}")
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))

        answer = browser.post("/oauth/authorize", fields)

        assert answer.status_code == 302
        assert parse_qs(urlsplit(answer["Location"]).query)["error"] == ["access_denied"]

    def test_consent_needs_login(self, client: Client) -> None:
        app = register(client)
        query = urlencode({"client_id": app["client_id"], "response_type": "code"})

        page = client.get(f"/oauth/authorize?{query}")

        assert page.status_code == 302
        assert page["Location"].startswith("/accounts/login/")

    def test_consent_needs_csrf(self, client: Client, alice) -> None:
        app = register(client)
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(alice)
        fields = {
            "client_id": app["client_id"],
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "read",
            "allow": "true",
        }

        assert browser.post("/oauth/authorize", fields).status_code == 403

    def test_consent_page_in_french(self, client: Client, alice) -> None:
        app = register(client)
        query = urlencode(
            {"client_id": app["client_id"], "response_type": "code", "redirect_uri": OOB}
        )
        accounts.set_preferences(alice, language="fr")

        page = client_for(alice).get(f"/oauth/authorize?{query}")

        assert page.status_code == 200
        assert page["Content-Language"] == "fr"


class TestClientCredentialsRevokeAndScopes:
    def test_app_token_reads_public_data_but_has_no_user(self, client: Client) -> None:
        app = register(client)
        token = client.post(
            "/oauth/token",
            {
                "grant_type": "client_credentials",
                "client_id": app["client_id"],
                "client_secret": app["client_secret"],
                "scope": "read",
            },
        ).json()

        headers = bearer(token["access_token"])
        app_seen = client.get("/api/v1/apps/verify_credentials", **headers).json()
        assert app_seen["name"] == "Test app"
        # Mastodon answers with the scopes the app registered, not the token's fewer ones.
        assert app_seen["scopes"] == ["read", "write", "follow", "push"]
        assert client.get("/api/v1/timelines/public", **headers).status_code == 200
        me = client.get("/api/v1/accounts/verify_credentials", **headers)
        assert me.status_code == 422

    def test_revoked_token_is_401(self, client: Client, alice) -> None:
        app = register(client)
        token = password_token(client, app, "alice@example.org")
        headers = bearer(token["access_token"])
        assert client.get("/api/v1/accounts/verify_credentials", **headers).status_code == 200

        revoked = client.post(
            "/oauth/revoke",
            {
                "client_id": app["client_id"],
                "client_secret": app["client_secret"],
                "token": token["access_token"],
            },
        )

        assert revoked.status_code == 200
        assert revoked.json() == {}
        after = client.get("/api/v1/accounts/verify_credentials", **headers)
        assert after.status_code == 401
        assert after.json() == {"error": "The access token is invalid"}

    def test_unknown_or_malformed_token_is_401(self, client: Client) -> None:
        for header in ("Bearer nope", "Basic abc", "Bearer "):
            response = client.get("/api/v1/instance", HTTP_AUTHORIZATION=header)
            assert response.status_code == 401
            assert "error" in response.json()

    @pytest.mark.parametrize(
        ("scope", "status"),
        [("read:accounts", 200), ("read", 200), ("read:statuses", 403), ("write", 403)],
    )
    def test_endpoint_scope_is_checked(
        self, client: Client, alice, scope: str, status: int
    ) -> None:
        token = password_token(client, register(client), "alice@example.org", scope)

        response = client.get(
            "/api/v1/accounts/verify_credentials", **bearer(token["access_token"])
        )

        assert response.status_code == status
        if status == 403:
            assert response.json() == {"error": "This action is outside the authorized scopes"}

    @pytest.mark.parametrize(
        ("granted", "required", "allowed"),
        [
            ({"read"}, "read:statuses", True),
            ({"read:statuses"}, "read:statuses", True),
            ({"read:statuses"}, "read", True),
            ({"read:statuses"}, "read:accounts", False),
            ({"write"}, "read:accounts", False),
            ({"follow"}, "write:follows", True),
            ({"follow"}, "write:statuses", False),
            ({"write:media"}, "write", True),
            (set(), "read", False),
        ],
    )
    def test_scope_rule(self, granted: set, required: str, allowed: bool) -> None:
        assert scopes_allow(granted, required) is allowed


class TestRateLimit:
    def test_token_endpoint_is_rate_limited_per_address(self, client: Client, settings) -> None:
        settings.OAUTH_TOKEN_RATE_PER_MINUTE = 3
        data = {"grant_type": "password", "client_id": "nobody", "client_secret": "x"}

        statuses = [client.post("/oauth/token", data).status_code for _ in range(4)]

        assert 429 not in statuses[:3]
        assert statuses[3] == 429
        other = Client(REMOTE_ADDR="192.0.2.7")
        assert other.post("/oauth/token", data).status_code != 429

    def test_registering_apps_is_rate_limited_per_address(self, client: Client) -> None:
        from kindwave.community.mastodon.oauth import APPS_RATE_LIMIT

        data = {"client_name": "spam", "redirect_uris": OOB}
        for _ in range(APPS_RATE_LIMIT):
            assert client.post("/api/v1/apps", data).status_code == 200

        assert client.post("/api/v1/apps", data).status_code == 429


class TestDiscoveryAndJson:
    def test_authorization_server_metadata(self, client: Client) -> None:
        metadata = client.get("/.well-known/oauth-authorization-server").json()

        assert metadata["token_endpoint"] == "http://testserver/oauth/token"
        assert metadata["authorization_endpoint"] == "http://testserver/oauth/authorize"
        assert "password" in metadata["grant_types_supported"]
        assert metadata["code_challenge_methods_supported"] == ["S256"]
        assert "read:statuses" in metadata["scopes_supported"]

    def test_token_request_as_json(self, client: Client, alice) -> None:
        app = register(client)

        response = password_grant(client, app, "alice@example.org", scope="read", as_json=True)

        assert response.status_code == 200
        assert response.json()["scope"] == "read"
