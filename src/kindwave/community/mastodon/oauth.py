"""OAuth 2 as Mastodon clients expect it, on django-oauth-toolkit.

* ``POST /api/v1/apps`` registers a client (confidential, with a secret) for the
  authorization-code, password and client-credentials grants alike, as Mastodon does;
  rate limited per client address.
* ``/oauth/authorize`` asks the logged-in person's consent (an ``urn:ietf:wg:oauth:2.0:oob``
  redirect shows the code on the page instead); PKCE S256 is accepted.
* The scopes an app registered with (kept in :class:`~kindwave.community.models.AppScopes`)
  bound its tokens' scopes, in every grant: asking for more is ``invalid_scope`` (a 400
  page at ``/oauth/authorize``, a 400 JSON error at ``/oauth/token``), as Mastodon.
* ``/oauth/token`` answers with Mastodon's ``created_at`` besides the usual fields, and is
  rate limited per client address; ``/oauth/revoke`` answers ``{}``.
* Access tokens are stored hashed (only their SHA-256 checksum is kept) and resolved by
  :func:`access_token_for`.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import AccessToken, Application
from oauth2_provider.oauth2_backends import OAuthLibCore
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.views import AuthorizationView, RevokeTokenView, TokenView

from kindwave.community.mastodon.parsing import MastodonError, Params
from kindwave.community.mastodon.scopes import ALL_SCOPES, scopes_within
from kindwave.community.models import AppScopes
from kindwave.lib.ratelimit import rate_limited

#: The "out of band" redirect: the code is shown to the person, who pastes it in the app.
OOB = "urn:ietf:wg:oauth:2.0:oob"
#: Schemes no redirect may use: they would run code in the browser or read local files.
FORBIDDEN_SCHEMES = {"javascript", "data", "vbscript", "file", "about", "blob"}
#: The grants every Mastodon app may use (Mastodon does not register grants per app).
MASTODON_GRANTS = {"authorization_code", "password", "client_credentials", "refresh_token"}

#: Why a scope is refused, in Mastodon's (Doorkeeper's) words: for machines (the token
#: endpoint's JSON, in English as Mastodon's) and for the person (the consent page).
INVALID_SCOPE_DESCRIPTION = "The requested scope is invalid, unknown, or malformed."
INVALID_SCOPE = _("The requested scope is invalid, unknown, or malformed.")
#: What an app registered without ``scopes`` gets, and a token asked for without ``scope``.
DEFAULT_SCOPES = ["read"]

_MAX_NAME = 255
_MAX_URIS = 10
#: Registering apps needs no account: at most this many per client address per window.
APPS_RATE_LIMIT, APPS_RATE_WINDOW = 60, 300


def application_entity(app: Application, scopes: list[str], *, secret: str | None) -> dict:
    """Mastodon's Application entity (``CredentialApplication`` when ``secret`` is given)."""
    uris = app.redirect_uris.split()
    entity: dict[str, Any] = {
        "id": str(app.pk),
        "name": app.name,
        "website": None,
        "scopes": scopes,
        "redirect_uri": "\n".join(uris),
        "redirect_uris": uris,
        "client_id": app.client_id,
    }
    if secret is not None:
        entity["client_secret"] = secret
        entity["client_secret_expires_at"] = 0
    return entity


def parse_scopes(raw: str | None) -> list[str]:
    """Space- (or ``+``-) separated scopes; unknown ones are a 422, as Mastodon."""
    scopes = (raw or "").replace("+", " ").split()
    unknown = [scope for scope in scopes if scope not in ALL_SCOPES]
    if unknown:
        raise MastodonError(422, f"Validation failed: Scopes are invalid: {' '.join(unknown)}")
    return list(dict.fromkeys(scopes)) or list(DEFAULT_SCOPES)


def registered_scopes(app: Application) -> list[str]:
    """The scopes ``app`` registered with; an app registered otherwise than through
    ``POST /api/v1/apps`` (the admin) has Mastodon's default, ``read``."""
    found = AppScopes.objects.filter(application=app).values_list("scopes", flat=True).first()
    return found.split() if found else list(DEFAULT_SCOPES)


def scopes_allowed(app: Application, scopes: list[str]) -> bool:
    """Whether a token of ``app`` may carry ``scopes``: each one known and within the
    app's registered scopes (``scopes_within``)."""
    known = all(scope in ALL_SCOPES for scope in scopes)
    return known and scopes_within(registered_scopes(app), scopes)


def parse_redirect_uris(params: Params) -> list[str]:
    uris: list[str] = []
    for value in params.get_list("redirect_uris"):
        uris.extend(value.split())
    if not uris:
        raise MastodonError(422, "Validation failed: Redirect URI can't be blank")
    if len(uris) > _MAX_URIS:
        raise MastodonError(422, f"Validation failed: at most {_MAX_URIS} redirect URIs")
    for uri in uris:
        if uri == OOB:
            continue
        parts = urlsplit(uri)
        if (
            not parts.scheme
            or parts.scheme.lower() in FORBIDDEN_SCHEMES
            or parts.fragment
            or not (parts.netloc or parts.path)
        ):
            raise MastodonError(422, "Validation failed: Redirect URI must be an absolute URI")
    return list(dict.fromkeys(uris))


@csrf_exempt
@require_POST
@rate_limited("oauth-apps", APPS_RATE_LIMIT, APPS_RATE_WINDOW)
def create_app(request: HttpRequest) -> JsonResponse:
    """``POST /api/v1/apps``: register a client; its secret is shown only here."""
    try:
        params = Params(request)
        name = (params.get("client_name") or "").strip()
        if not name:
            raise MastodonError(422, "Validation failed: Application name can't be blank")
        if len(name) > _MAX_NAME:
            raise MastodonError(422, "Validation failed: Application name is too long")
        uris = parse_redirect_uris(params)
        scopes = parse_scopes(params.get("scopes"))
    except MastodonError as error:
        return error.response()
    secret = generate_client_secret()
    with transaction.atomic():
        app = Application.objects.create(
            name=name,
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris=" ".join(uris),
            client_secret=secret,
            skip_authorization=False,
        )
        AppScopes.objects.create(application=app, scopes=" ".join(scopes))
    entity = application_entity(app, scopes, secret=secret)
    website = (params.get("website") or "").strip()
    if website.startswith(("https://", "http://")):
        entity["website"] = website
    return JsonResponse(entity)


class MastodonOAuth2Validator(OAuth2Validator):
    """django-oauth-toolkit's validator with Mastodon's rules: every app may use every
    grant (the password grant takes the e-mail address as username: the user model's
    login field), the out-of-band and app-scheme redirects match exactly, and a token's
    scopes stay within its app's registered scopes."""

    def validate_scopes(
        self,
        client_id: str,
        scopes: list[str],
        client: Any,
        request: Any,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        """Known scopes, each within the app's registered ones (``scopes_within``). oauthlib
        asks this in the authorization request (the consent page and its form) and in the
        password and client-credentials grants, after putting the default (``read``) in
        place of a missing ``scope``; a code's scopes were checked when it was issued, and a
        refresh stays within its token's."""
        return bool(super().validate_scopes(client_id, scopes, client, request)) and (
            scopes_allowed(client, scopes)
        )

    def validate_grant_type(
        self, client_id: str, grant_type: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        if client.authorization_grant_type == Application.GRANT_AUTHORIZATION_CODE:
            return grant_type in MASTODON_GRANTS
        return bool(super().validate_grant_type(client_id, grant_type, client, request))

    def validate_redirect_uri(
        self, client_id: str, redirect_uri: str, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        registered = request.client.redirect_uris.split()
        if redirect_uri == OOB or urlsplit(redirect_uri).scheme not in ("http", "https"):
            # Exact match only for the oob marker and app schemes (``tusky://oauth``).
            return redirect_uri in registered
        return bool(super().validate_redirect_uri(client_id, redirect_uri, request))


class MastodonOAuthLibCore(OAuthLibCore):
    """Reads a JSON body as well as a form, as Mastodon does: some clients (toot) post
    JSON to ``/oauth/token``."""

    def extract_body(self, request: HttpRequest) -> list[tuple[str, str]]:
        if request.content_type != "application/json":
            return list(super().extract_body(request))
        try:
            data = json.loads(request.body or b"{}")
        except (UnicodeDecodeError, ValueError):
            return []
        if not isinstance(data, dict):
            return []
        return [
            (str(key), value if isinstance(value, str) else json.dumps(value))
            for key, value in data.items()
            if value is not None and not isinstance(value, (dict, list))
        ]


@require_safe
def authorization_server_metadata(request: HttpRequest) -> JsonResponse:
    """``/.well-known/oauth-authorization-server`` (RFC 8414), as Mastodon 4.3 serves it;
    Mastodon.py reads the endpoints and the grants from it."""
    base = request.build_absolute_uri("/").rstrip("/")
    return JsonResponse(
        {
            "issuer": f"{base}/",
            "service_documentation": f"{base}/",
            "authorization_endpoint": f"{base}/oauth/authorize",
            "token_endpoint": f"{base}/oauth/token",
            "revocation_endpoint": f"{base}/oauth/revoke",
            "app_registration_endpoint": f"{base}/api/v1/apps",
            "scopes_supported": list(ALL_SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code", "password", "client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }
    )


class MastodonAuthorizationView(AuthorizationView):
    """The consent page (login required). Redirects to the app's registered URI, which
    may use the app's own scheme; the oob URI shows the code instead."""

    template_name = "community/oauth_authorize.html"

    def error_response(
        self, error: OAuthToolkitError, application: Application | None, **kwargs: Any
    ) -> HttpResponse:
        """Scopes the app may not have are refused on the page (400), not sent back to the
        app, as Mastodon does: the person sees why, and nothing is granted."""
        if getattr(error.oauthlib_error, "error", "") == "invalid_scope":
            return self._scope_refused()
        return super().error_response(error, application, **kwargs)

    def form_valid(self, form: Any) -> HttpResponse:
        """The consent form carries the scopes in a hidden field: one changed to ask for
        more than the app may have is refused as on the page (oauthlib would send this
        refusal back to the app rather than raise it)."""
        data = form.cleaned_data
        if data.get("allow"):
            app = Application.objects.filter(client_id=data.get("client_id")).first()
            wanted = (data.get("scope") or "").split() or list(DEFAULT_SCOPES)
            if app is not None and not scopes_allowed(app, wanted):
                return self._scope_refused()
        return super().form_valid(form)

    def _scope_refused(self) -> HttpResponse:
        return self.render_to_response(
            {"error": {"error": "invalid_scope", "description": INVALID_SCOPE}}, status=400
        )

    def redirect(self, redirect_to: str, application: Application | None) -> HttpResponse:
        parts = urlsplit(redirect_to)
        if f"{parts.scheme}:{parts.path}" == OOB:
            query = parse_qs(parts.query)
            return render(
                self.request,
                "community/oauth_oob.html",
                {
                    "application": application,
                    "code": (query.get("code") or [""])[0],
                    "error": (query.get("error") or [""])[0],
                },
            )
        if parts.scheme.lower() in FORBIDDEN_SCHEMES or not parts.scheme:
            return HttpResponse(status=400)
        response = HttpResponse(status=302)
        response["Location"] = redirect_to
        return response


class MastodonTokenView(TokenView):
    """``POST /oauth/token``: the toolkit's answer plus ``created_at`` (Mastodon clients
    read it) and the granted ``scope`` always present; a refused scope says why, as
    Mastodon's (400 ``invalid_scope`` with its ``error_description``)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        if response.status_code == 400:
            error = json.loads(response.content or b"{}")
            if isinstance(error, dict) and error.get("error") == "invalid_scope":
                error.setdefault("error_description", INVALID_SCOPE_DESCRIPTION)
                response.content = json.dumps(error).encode()
            return response
        if response.status_code != 200:
            return response
        body = json.loads(response.content)
        body["created_at"] = int(time.time())
        body.setdefault("scope", "read")
        body["token_type"] = "Bearer"  # noqa: S105 - the scheme's name, not a secret
        response.content = json.dumps(body).encode()
        return response


@csrf_exempt
def token(request: HttpRequest) -> HttpResponse:
    """``/oauth/token`` behind a per-client-address rate limit (read at each request, so
    that ``OAUTH_TOKEN_RATE_PER_MINUTE`` can change without a restart of the view)."""
    limit = int(getattr(settings, "OAUTH_TOKEN_RATE_PER_MINUTE", 30))
    view = rate_limited("oauth-token", limit, 60)(_token_view)
    return view(request)


_token_view = MastodonTokenView.as_view()


@method_decorator(csrf_exempt, name="dispatch")
class MastodonRevokeView(RevokeTokenView):
    """``POST /oauth/revoke``: answers ``{}`` as Mastodon (the toolkit answers nothing)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        if response.status_code == 200:
            return JsonResponse({})
        return response


def access_token_for(request: HttpRequest) -> AccessToken | None:
    """The live access token of an ``Authorization: Bearer …`` header; ``None`` without
    one. A header with an unknown, revoked or expired token is a 401."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None
    kind, _space, value = header.partition(" ")
    if kind.lower() != "bearer" or not value.strip():
        raise MastodonError(401, "The access token is invalid")
    checksum = hashlib.sha256(value.strip().encode()).hexdigest()
    # The caller's community account comes in the same query (the API needs it next).
    found = (
        AccessToken.objects.select_related("user__community_account", "application")
        .filter(token_checksum=checksum)
        .first()
    )
    if (
        found is None
        or found.expires <= timezone.now()
        or (found.user is not None and not found.user.is_active)
    ):
        raise MastodonError(401, "The access token is invalid")
    return found
