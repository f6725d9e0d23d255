"""The Mastodon endpoints for follows, notifications and search, on the community's
services and selectors."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

from kindwave.community import selectors
from kindwave.community.mastodon.api import Caller, endpoint, parse_id
from kindwave.community.mastodon.pagination import link_header, page_request
from kindwave.community.mastodon.parsing import MastodonError, Params
from kindwave.community.mastodon.scopes import scopes_allow
from kindwave.community.models import Account, Notification
from kindwave.community.services import follows, notifications
from kindwave.community.services.search import KINDS, search

# -- follows ---------------------------------------------------------------------------------


def _account(account_id: str) -> Account:
    found = Account.objects.filter(pk=parse_id(account_id)).first()
    if found is None:
        raise Http404
    return found


def _relationship(request: HttpRequest, caller: Caller, target: Account) -> dict:
    return caller.renderer(request).relationships([target.pk])[0]


@endpoint("POST", scope="write:follows", user_required=True)
def follow(request: HttpRequest, caller: Caller, account_id: str) -> dict:
    """Follow an account; answers with the Relationship. Idempotent; following oneself or
    an account blocking either way is a 422."""
    assert caller.account is not None  # noqa: S101 - user_required
    target = _account(account_id)
    follows.follow(caller.account, target)
    return _relationship(request, caller, target)


@endpoint("POST", scope="write:follows", user_required=True)
def unfollow(request: HttpRequest, caller: Caller, account_id: str) -> dict:
    """Stop following an account; answers with the Relationship. Idempotent."""
    assert caller.account is not None  # noqa: S101 - user_required
    target = _account(account_id)
    follows.unfollow(caller.account, target)
    return _relationship(request, caller, target)


# -- notifications ---------------------------------------------------------------------------


@endpoint("GET", scope="read:notifications", user_required=True)
def notification_list(request: HttpRequest, caller: Caller) -> HttpResponse:
    """The caller's notifications, newest first, ``types[]`` / ``exclude_types[]``
    filtered, paged on their ids (at most 80 a page)."""
    assert caller.account is not None  # noqa: S101 - user_required
    params = Params(request)
    asked = page_request(request, max_limit=selectors.MAX_NOTIFICATIONS_LIMIT)
    found = selectors.notifications(
        caller.account,
        types=params.get_list("types"),
        exclude_types=params.get_list("exclude_types"),
        **asked.bounds(),
    )
    renderer = caller.renderer(request)
    renderer.prepare([item.status for item in found if item.status is not None])
    response = JsonResponse([renderer.notification(item) for item in found], safe=False)
    link = link_header(request, [item.pk for item in found])
    if link:
        response["Link"] = link
    return response


@endpoint("POST", scope="write:notifications", user_required=True)
def notifications_clear(request: HttpRequest, caller: Caller) -> dict:
    """Delete all the caller's notifications."""
    assert caller.account is not None  # noqa: S101 - user_required
    notifications.clear(caller.account)
    return {}


@endpoint("POST", scope="write:notifications", user_required=True)
def notification_dismiss(request: HttpRequest, caller: Caller, notification_id: str) -> dict:
    """Delete one of the caller's notifications; someone else's is a 404 like a missing
    one."""
    assert caller.account is not None  # noqa: S101 - user_required
    wanted = parse_id(notification_id)
    if not Notification.objects.filter(account=caller.account, pk=wanted).exists():
        raise Http404
    notifications.dismiss(caller.account, wanted)
    return {}


# -- search ----------------------------------------------------------------------------------


@endpoint("GET")
def search_v2(request: HttpRequest, caller: Caller) -> dict:
    """``GET /api/v2/search``: accounts, hashtags and posts the caller may see. ``resolve``
    is ignored (no federation); ``type`` narrows to one kind. Anonymous callers may search;
    a token must hold ``read:search`` (as Mastodon)."""
    if caller.token is not None and not scopes_allow(caller.token.scope.split(), "read:search"):
        raise MastodonError(403, "This action is outside the authorized scopes")
    params = Params(request)
    kind = params.get("type") or ""
    if kind and kind not in KINDS:
        raise MastodonError(422, "type: expected accounts, hashtags or statuses")
    results = search(
        caller.account,
        params.get("q") or "",
        (kind,) if kind else KINDS,
        limit=params.get_int("limit", 20, minimum=1) or 20,
        offset=params.get_int("offset", 0, minimum=0) or 0,
    )
    renderer = caller.renderer(request)
    renderer.prepare(results.statuses)
    return {
        "accounts": [renderer.account(account) for account in results.accounts],
        "hashtags": [
            {
                "name": tag.name,
                "url": renderer.absolute(f"/community/tags/{tag.name}"),
                "history": [],
            }
            for tag in results.hashtags
        ],
        "statuses": [renderer.status(status) for status in results.statuses],
    }
