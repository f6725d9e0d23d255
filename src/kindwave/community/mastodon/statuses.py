"""The Mastodon endpoints for posts and timelines, on the community's services (every
write) and selectors (every read, hence the one visibility rule): a post the caller may
not see is a 404 exactly like a missing one, and never appears in a timeline."""

from __future__ import annotations

from collections.abc import Callable

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from kindwave.community import selectors
from kindwave.community.mastodon.api import Caller, endpoint, parse_id, render_statuses
from kindwave.community.mastodon.pagination import link_header, page_request
from kindwave.community.mastodon.parsing import MastodonError, Params
from kindwave.community.models import Account, Status, Visibility
from kindwave.community.services import posts


def _visible(caller: Caller, status_id: str) -> Status:
    """The post ``status_id`` as the caller may see it (``Http404`` otherwise); a reblog of
    a deleted post is gone with it."""
    status = selectors.get_status_for(caller.account, parse_id(status_id))
    if status.reblog_of is not None and status.reblog_of.deleted_at is not None:
        raise Http404
    return status


def _page_response(request: HttpRequest, caller: Caller, statuses: list[Status]) -> HttpResponse:
    response = JsonResponse(render_statuses(request, caller, statuses), safe=False)
    link = link_header(request, [status.pk for status in statuses])
    if link:
        response["Link"] = link
    return response


def _ids(params: Params, name: str) -> list[int]:
    values = params.get_list(name)
    if not all(value.isdigit() for value in values):
        raise MastodonError(422, f"{name}: expected ids")
    return [int(value) for value in values]


# -- statuses --------------------------------------------------------------------------------


@endpoint("POST", scope="write:statuses", user_required=True)
def create_status(request: HttpRequest, caller: Caller) -> dict:
    """``POST /api/v1/statuses``; the same ``Idempotency-Key`` gives back the same post."""
    assert caller.account is not None  # noqa: S101 - user_required
    params = Params(request)
    in_reply_to: Status | None = None
    if reply_id := params.get("in_reply_to_id"):
        in_reply_to = (
            Status.objects.filter(pk=int(reply_id)).first()
            if reply_id.isdigit() and len(reply_id) <= 18
            else None
        )
        if in_reply_to is None:
            # The service's words for a hidden or deleted post: a missing one reads the same.
            raise MastodonError(
                422, _("The post you are replying to does not exist or was deleted.")
            )
    status = posts.post(
        caller.account,
        params.get("status") or "",
        visibility=params.get("visibility") or Visibility.PUBLIC.value,
        in_reply_to=in_reply_to,
        spoiler_text=params.get("spoiler_text") or "",
        sensitive=params.get_bool("sensitive"),
        language=params.get("language") or "",
        media_ids=_ids(params, "media_ids"),
        idempotency_key=request.headers.get("Idempotency-Key", ""),
    )
    return _rendered(request, caller, status.pk)


@csrf_exempt
def status(request: HttpRequest, status_id: str) -> HttpResponse:
    """``/api/v1/statuses/:id``: reading needs no token, deleting needs ``write:statuses``."""
    if request.method == "DELETE":
        return delete_status(request, status_id=status_id)
    return status_detail(request, status_id=status_id)


@endpoint("GET")
def status_detail(request: HttpRequest, caller: Caller, status_id: str) -> dict:
    """``GET /api/v1/statuses/:id``: a post the caller may see."""
    return render_statuses(request, caller, [_visible(caller, status_id)])[0]


@endpoint("DELETE", scope="write:statuses", user_required=True)
def delete_status(request: HttpRequest, caller: Caller, status_id: str) -> dict:
    """Delete one's own post; answered with the post as it was, with its ``text``, so that
    a client can redraft it. Someone else's post is a 404 like a missing one."""
    assert caller.account is not None  # noqa: S101 - user_required
    found = _visible(caller, status_id)
    if found.account_id != caller.account.pk:
        raise Http404
    entity = render_statuses(request, caller, [found])[0]
    entity["text"] = found.text
    posts.delete_status(caller.account, found)
    return entity


@endpoint("GET")
def status_context(request: HttpRequest, caller: Caller, status_id: str) -> dict:
    """``GET /api/v1/statuses/:id/context``: the ancestors and descendants the caller may
    see."""
    thread = selectors.context(caller.account, _visible(caller, status_id))
    return {
        "ancestors": render_statuses(request, caller, thread.ancestors),
        "descendants": render_statuses(request, caller, thread.descendants),
    }


# -- timelines -------------------------------------------------------------------------------


@endpoint("GET", scope="read:statuses", user_required=True)
def timeline_home(request: HttpRequest, caller: Caller) -> HttpResponse:
    """The caller's home: fanned out on write, paged on the posts' ids."""
    assert caller.account is not None  # noqa: S101 - user_required
    statuses = selectors.home(caller.account, **page_request(request).bounds())
    return _page_response(request, caller, statuses)


@endpoint("GET")
def timeline_public(request: HttpRequest, caller: Caller) -> HttpResponse:
    """Public posts (not reblogs), newest first. All our accounts are local: ``remote=true``
    is an empty page, ``local`` changes nothing."""
    params = Params(request)
    asked = page_request(request)
    if params.get_bool("remote"):
        return _page_response(request, caller, [])
    statuses = selectors.public(caller.account, **asked.bounds())
    if params.get_bool("only_media"):
        # Filtering after the page would shorten it; the selector has no media filter.
        statuses = [status for status in statuses if status.media.all()]
    return _page_response(request, caller, statuses)


@endpoint("GET")
def timeline_tag(request: HttpRequest, caller: Caller, hashtag: str) -> HttpResponse:
    """Public posts tagged ``hashtag``, newest first."""
    statuses = selectors.hashtag(caller.account, hashtag, **page_request(request).bounds())
    return _page_response(request, caller, statuses)


@endpoint("GET")
def account_statuses(request: HttpRequest, caller: Caller, account_id: str) -> HttpResponse:
    """``GET /api/v1/accounts/:id/statuses``: the account's posts the caller may see."""
    target = Account.objects.filter(pk=parse_id(account_id)).first()
    if target is None:
        raise Http404
    params = Params(request)
    if params.get_bool("pinned"):
        return _page_response(request, caller, [])
    statuses = selectors.account_statuses(
        caller.account,
        target,
        exclude_replies=params.get_bool("exclude_replies"),
        exclude_reblogs=params.get_bool("exclude_reblogs"),
        **page_request(request).bounds(),
    )
    return _page_response(request, caller, statuses)


# -- favourites and reblogs ------------------------------------------------------------------


StatusAction = Callable[[Account, Status], Status]


def _action(service: StatusAction, scope: str, doc: str) -> Callable[..., HttpResponse]:
    """``POST /api/v1/statuses/:id/<action>``: ``service`` applied by the caller to a post
    they may see, answered with the post it returns as the caller now sees it."""

    def act(request: HttpRequest, caller: Caller, status_id: str) -> dict:
        assert caller.account is not None  # noqa: S101 - user_required
        return _rendered(request, caller, service(caller.account, _visible(caller, status_id)).pk)

    act.__doc__ = doc
    return endpoint("POST", scope=scope, user_required=True)(act)


favourite = _action(
    posts.favourite, "write:favourites", "Favourite a post; answers with it. Idempotent."
)
unfavourite = _action(
    posts.unfavourite, "write:favourites", "Undo a favourite; answers with the post. Idempotent."
)
reblog = _action(
    posts.reblog,
    "write:statuses",
    "Share a public or unlisted post; answers with the reblog (the post in ``reblog``). "
    "Idempotent.",
)
unreblog = _action(
    posts.unreblog,
    "write:statuses",
    "Undo the caller's reblog; answers with the original post. Idempotent.",
)


def _rendered(request: HttpRequest, caller: Caller, status_id: int) -> dict:
    """A post as the caller now sees it (counters and flags after their action)."""
    shown = selectors.get_status_for(caller.account, status_id)
    return render_statuses(request, caller, [shown])[0]
