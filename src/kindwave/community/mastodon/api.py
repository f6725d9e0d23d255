"""The Mastodon-compatible endpoints that need only the community's models.

Every endpoint is a plain view wrapped by :func:`endpoint`, which checks the method and
the Bearer token's scope, resolves the caller's community account, turns a
:class:`~kindwave.community.mastodon.parsing.MastodonError` into Mastodon's
``{"error": …}`` (``Http404`` from the selectors into a 404, the services'
``CommunityError`` into a 422) and serialises what the view returns as JSON. CSRF does
not apply: these endpoints authenticate with a Bearer token, never with the session cookie.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from oauth2_provider.models import AccessToken
from PIL import Image

from kindwave.accounts.models import User
from kindwave.community.mastodon import entities
from kindwave.community.mastodon.entities import EntityRenderer
from kindwave.community.mastodon.identity import account_for_user
from kindwave.community.mastodon.oauth import access_token_for, registered_scopes
from kindwave.community.mastodon.parsing import MastodonError, Params
from kindwave.community.mastodon.scopes import scopes_allow
from kindwave.community.models import Account, Status, Visibility
from kindwave.community.services.errors import CommunityError

NOT_FOUND = "Record not found"


@dataclass(frozen=True)
class Caller:
    """Who is calling: the token, its user and their community account (all ``None`` for
    an anonymous call; ``user`` and ``account`` ``None`` for an app's own token)."""

    token: AccessToken | None
    user: User | None
    account: Account | None

    def renderer(self, request: HttpRequest) -> EntityRenderer:
        return EntityRenderer(request, self.account)


Handler = Callable[..., Any]


def endpoint(
    *methods: str, scope: str | None = None, user_required: bool = False
) -> Callable[[Handler], Callable[..., HttpResponse]]:
    """Wrap a Mastodon endpoint: ``methods`` allowed, a token holding ``scope`` needed
    when one is given (or when ``user_required``), and a user behind the token when
    ``user_required``. The view gets ``(request, caller, **url_kwargs)`` and returns
    JSON-able data or a response."""

    def decorate(view: Handler) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @functools.wraps(view)
        def wrapped(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            allowed = {*methods, "HEAD"} if "GET" in methods else set(methods)
            if request.method not in allowed:
                response = JsonResponse({"error": "Method not allowed"}, status=405)
                response["Allow"] = ", ".join(sorted(allowed))
                return response
            try:
                caller = _caller(request, scope=scope, user_required=user_required)
                result = view(request, caller, **kwargs)
            except MastodonError as error:
                return error.response()
            except Http404:
                # A post the caller may not see answers exactly like a missing one.
                return MastodonError(404, NOT_FOUND).response()
            except CommunityError as error:
                return MastodonError(422, error.message).response()
            if isinstance(result, HttpResponse):
                return result
            return JsonResponse(result, safe=False)

        return wrapped

    return decorate


def _caller(request: HttpRequest, *, scope: str | None, user_required: bool) -> Caller:
    token = access_token_for(request)
    if token is None:
        if scope is not None or user_required:
            raise MastodonError(401, "The access token is invalid")
        return Caller(None, None, None)
    if scope is not None and not scopes_allow(token.scope.split(), scope):
        raise MastodonError(403, "This action is outside the authorized scopes")
    user = token.user
    if user is None:
        if user_required:
            raise MastodonError(422, "This method requires an authenticated user")
        return Caller(token, None, None)
    try:
        # Loaded with the token by access_token_for: no query.
        account = user.community_account
    except Account.DoesNotExist:
        account = account_for_user(user)  # a first call: created now
    return Caller(token, user, account)


# -- helpers shared with the social endpoints --------------------------------------------


def parse_id(value: str) -> int:
    """A Mastodon id from the URL: digits; anything else is a 404 like a missing one."""
    if not value.isdigit() or len(value) > 18:
        raise MastodonError(404, NOT_FOUND)
    return int(value)


def render_statuses(request: HttpRequest, caller: Caller, statuses: list[Status]) -> list[dict]:
    renderer = caller.renderer(request)
    renderer.prepare(statuses)
    return [renderer.status(status) for status in statuses]


# -- instance and preferences --------------------------------------------------------------


@endpoint("GET")
def instance_v1(request: HttpRequest, caller: Caller) -> dict:
    return entities.instance_v1(request)


@endpoint("GET")
def instance_v2(request: HttpRequest, caller: Caller) -> dict:
    return entities.instance_v2(request)


@endpoint("GET")
def custom_emojis(request: HttpRequest, caller: Caller) -> list:
    return []


@endpoint("GET", scope="read:accounts", user_required=True)
def preferences(request: HttpRequest, caller: Caller) -> dict:
    assert caller.user is not None  # noqa: S101 - user_required
    return {
        "posting:default:visibility": Visibility.PUBLIC.value,
        "posting:default:sensitive": False,
        "posting:default:language": getattr(caller.user, "language", "") or None,
        "reading:expand:media": "default",
        "reading:expand:spoilers": False,
    }


@endpoint("GET")
def verify_app(request: HttpRequest, caller: Caller) -> dict:
    """``GET /api/v1/apps/verify_credentials``: the app behind the token, with the scopes it
    registered (as Mastodon answers; a token's own scopes may be fewer)."""
    if caller.token is None or caller.token.application is None:
        raise MastodonError(401, "The access token is invalid")
    app = caller.token.application
    return {
        "id": str(app.pk),
        "name": app.name,
        "website": None,
        "scopes": registered_scopes(app),
        "redirect_uri": "\n".join(app.redirect_uris.split()),
        "redirect_uris": app.redirect_uris.split(),
    }


# -- accounts ------------------------------------------------------------------------------


@endpoint("GET", scope="read:accounts", user_required=True)
def verify_credentials(request: HttpRequest, caller: Caller) -> dict:
    assert caller.account is not None  # noqa: S101 - user_required
    language = getattr(caller.user, "language", None)
    return caller.renderer(request).credential_account(caller.account, language)


@endpoint("GET")
def account_detail(request: HttpRequest, caller: Caller, account_id: str) -> dict:
    account = Account.objects.filter(pk=parse_id(account_id)).first()
    if account is None:
        raise MastodonError(404, NOT_FOUND)
    return caller.renderer(request).account(account)


@endpoint("GET")
def account_lookup(request: HttpRequest, caller: Caller) -> dict:
    """``?acct=alice``, ``@alice`` or ``alice@<this host>``; other domains are not ours."""
    acct = (Params(request).get("acct") or "").strip().lstrip("@")
    username, _at, domain = acct.partition("@")
    if not username or (domain and domain.lower() != request.get_host().lower()):
        raise MastodonError(404, NOT_FOUND)
    account = Account.objects.filter(username__iexact=username).first()
    if account is None:
        raise MastodonError(404, NOT_FOUND)
    return caller.renderer(request).account(account)


@endpoint("GET", scope="read:follows", user_required=True)
def relationships(request: HttpRequest, caller: Caller) -> list:
    ids = [int(value) for value in Params(request).get_list("id") if value.isdigit()]
    return caller.renderer(request).relationships(ids[:100])


# -- default images --------------------------------------------------------------------------


@functools.cache
def _png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


@require_safe
@cache_control(public=True, max_age=86_400)
def default_avatar(request: HttpRequest) -> HttpResponse:
    """The avatar of an account without one (clients expect an image URL)."""
    return HttpResponse(_png(120, 120, (46, 125, 110)), content_type="image/png")


@require_safe
@cache_control(public=True, max_age=86_400)
def default_header(request: HttpRequest) -> HttpResponse:
    """The header image of every account (and the instance's thumbnail)."""
    return HttpResponse(_png(3, 1, (230, 240, 237)), content_type="image/png")
