"""The community's social pages, under ``/community/`` (routes in ``urlpatterns``).

Thin views: posts are read through ``community.selectors`` (so a post the viewer may not
see is a 404 exactly like a missing one, and never appears in a list) and written through
the social services. Every action is a plain form POST that redirects back, which HTMX
enhances (``HX-Request``): the page then gets only the fragment to swap (a post's card, a
profile's header, the next page of a timeline).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django.views.decorators.vary import vary_on_headers

from kindwave.accounts.models import User
from kindwave.community import selectors
from kindwave.community.forms import ComposeForm, ReportForm, ResolveReportForm
from kindwave.community.models import Account, Status, Visibility
from kindwave.community.services import follows, moderation, posts, search, web_social
from kindwave.community.services.accounts import ensure_account
from kindwave.community.services.errors import CommunityError
from kindwave.lib.htmx import login_required

#: Posts (or notifications) on one page of a timeline.
PAGE_SIZE = 20
_ID = re.compile(r"[0-9]{1,18}")


def _viewer(request: HttpRequest) -> Account | None:
    """The signed-in person's community account (made on first use), or None."""
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        return None
    return ensure_account(user)


def _member(request: HttpRequest) -> Account:
    viewer = _viewer(request)
    if viewer is None:  # pragma: no cover - the views that call this require a login
        raise Http404
    return viewer


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _id_param(raw: str | None) -> int | None:
    return int(raw) if raw and _ID.fullmatch(raw) else None


def _back(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    """Redirect to the form's ``next`` (a page of this site) or to ``fallback``."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = fallback
    return HttpResponseRedirect(target)


def _status_url(status: Status) -> str:
    return reverse("community:status", args=[status.account.username, status.pk])


def _timeline(
    request: HttpRequest, template: str, context: dict[str, Any], items: list[Any]
) -> HttpResponse:
    """Render a page of a timeline; the next pages (``?max_id=``) requested by HTMX's
    infinite scroll get only their items and the link to the page after."""
    next_url = None
    if len(items) >= PAGE_SIZE:
        query = request.GET.copy()
        query["max_id"] = str(items[-1].pk)
        next_url = f"{request.path}?{query.urlencode()}"
    context = {**context, "items": items, "next_url": next_url}
    if _is_htmx(request) and "max_id" in request.GET:
        return render(request, context.get("page_template", "community/social/_page.html"), context)
    return render(request, template, context)


def _compose_form(viewer: Account, *args: Any, **kwargs: Any) -> ComposeForm:
    """The compose box, offering the donate buttons ``viewer`` may add."""
    return ComposeForm(*args, donate_targets=web_social.donate_targets(viewer), **kwargs)


# --- Timelines --------------------------------------------------------------------------


@require_safe
@vary_on_headers("HX-Request")
def home(request: HttpRequest) -> HttpResponse:
    """``/community/``: the person's home timeline under the compose box; for a visitor,
    the public timeline and an invitation to log in or join."""
    viewer = _viewer(request)
    max_id = _id_param(request.GET.get("max_id"))
    if viewer is None:
        items = selectors.public(None, max_id=max_id, limit=PAGE_SIZE)
        return _timeline(request, "community/social/home.html", {"viewer": None}, items)
    items = selectors.home(viewer, max_id=max_id, limit=PAGE_SIZE)
    # ``?donate_project=<slug>`` (a project's "Post an update") preselects its button.
    project = request.GET.get("donate_project", "")
    form = _compose_form(viewer, initial={"donate": f"project:{project}"} if project else {})
    context = {"viewer": viewer, "form": form}
    return _timeline(request, "community/social/home.html", context, items)


@require_safe
@vary_on_headers("HX-Request")
def public(request: HttpRequest) -> HttpResponse:
    """``/community/public/``: everyone's public posts, newest first."""
    viewer = _viewer(request)
    items = selectors.public(viewer, max_id=_id_param(request.GET.get("max_id")), limit=PAGE_SIZE)
    return _timeline(request, "community/social/public.html", {"viewer": viewer}, items)


@require_safe
@vary_on_headers("HX-Request")
def tag(request: HttpRequest, name: str) -> HttpResponse:
    """``/community/tags/<name>``: public posts with the hashtag."""
    viewer = _viewer(request)
    items = selectors.hashtag(
        viewer, name, max_id=_id_param(request.GET.get("max_id")), limit=PAGE_SIZE
    )
    context = {"viewer": viewer, "tag": name.lstrip("#")}
    return _timeline(request, "community/social/tag.html", context, items)


@require_safe
@vary_on_headers("HX-Request")
def profile(request: HttpRequest, username: str) -> HttpResponse:
    """``/community/@<username>``: the profile's header, its buttons and its posts that
    the viewer may see."""
    viewer = _viewer(request)
    target = web_social.get_account(username)
    items = selectors.account_statuses(
        viewer, target, max_id=_id_param(request.GET.get("max_id")), limit=PAGE_SIZE
    )
    context = {
        "viewer": viewer,
        "target": target,
        "relationship": web_social.relationship(viewer, target),
    }
    return _timeline(request, "community/social/profile.html", context, items)


#: Visibilities from the widest audience to the narrowest.
_AUDIENCE = [Visibility.PUBLIC, Visibility.UNLISTED, Visibility.PRIVATE, Visibility.DIRECT]


def _reply_visibility(parent: str) -> str:
    """A reply's default visibility: the parent's, never wider than public (a reply to a
    mentioned-only post stays mentioned-only unless its author chooses otherwise)."""
    return parent if parent in _AUDIENCE else Visibility.PUBLIC


def _reply_mentions(viewer: Account, parent: Status) -> str:
    """The reply box's opening ``@``s: the parent's author and everyone it mentions, but
    not the viewer (as Mastodon does), so that a mentioned-only reply reaches them all."""
    names = [parent.account.username, *(account.username for account in parent.mentions.all())]
    ours = viewer.username.lower()
    kept = dict.fromkeys(name for name in names if name.lower() != ours)
    return "".join(f"@{name} " for name in kept)


@require_safe
def status_detail(request: HttpRequest, username: str, status_id: int) -> HttpResponse:
    """``/community/@<username>/<id>``: a post in its thread, with a reply box."""
    viewer = _viewer(request)
    status = selectors.get_status_for(viewer, status_id)
    if status.account.username.lower() != username.lower():
        return redirect(_status_url(status))
    thread = selectors.context(viewer, status)
    form = None
    if viewer is not None:
        original = status.reblog_of or status
        form = _compose_form(
            viewer,
            initial={
                "in_reply_to": original.pk,
                "text": _reply_mentions(viewer, original),
                "visibility": _reply_visibility(original.visibility),
            },
        )
    return render(
        request,
        "community/social/status.html",
        {"status": status, "thread": thread, "form": form, "viewer": viewer},
    )


# --- Writing ----------------------------------------------------------------------------


@login_required
@require_POST
def compose(request: HttpRequest) -> HttpResponse:
    """Publish the compose box. With HTMX: the new post's card (the page puts it at the top
    of the timeline) and a fresh compose box; refused, the box with its errors in place."""
    viewer = _member(request)
    form = _compose_form(viewer, request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            status = web_social.compose(
                viewer,
                data["text"],
                visibility=data["visibility"],
                spoiler_text=data["spoiler_text"],
                in_reply_to_id=data["in_reply_to"],
                image=data["image"],
                image_description=data["image_description"],
                idempotency_key=data["idempotency_key"],
                donate=data["donate"],
            )
        except web_social.ImageError as error:
            form.add_error("image", error.message)
        except CommunityError as error:
            form.add_error("text", error.message)
        else:
            if _is_htmx(request):
                item = selectors.get_status_for(viewer, status.pk)
                return render(
                    request,
                    "community/social/_composed.html",
                    {"item": item, "viewer": viewer, "form": _compose_form(viewer)},
                )
            messages.success(request, _("Your post is published."))
            return _back(request, _status_url(status))
    context = {"form": form, "viewer": viewer, "next": request.POST.get("next", "")}
    if _is_htmx(request):
        # The box stays HTMX-enhanced, so that the corrected post is sent by HTMX again.
        response = render(
            request, "community/social/_compose.html", {**context, "inline": True, "focus": "error"}
        )
        response["HX-Retarget"] = "#compose"
        response["HX-Reswap"] = "outerHTML"
        return response
    return render(request, "community/social/compose.html", context)


StatusAction = Callable[[Account, Status], object]
STATUS_ACTIONS: dict[str, StatusAction] = {
    "favourite": posts.favourite,
    "unfavourite": posts.unfavourite,
    "reblog": posts.reblog,
    "unreblog": posts.unreblog,
    "delete": posts.delete_status,
}
STATUS_DONE = {
    "favourite": gettext_lazy("Added to your favourites."),
    "unfavourite": gettext_lazy("Removed from your favourites."),
    "reblog": gettext_lazy("Boosted to your followers."),
    "unreblog": gettext_lazy("Boost undone."),
    "delete": gettext_lazy("Your post is deleted."),
}


@login_required
@require_POST
def status_action(request: HttpRequest, status_id: int, action: str) -> HttpResponse:
    """Favourite, boost (or undo either) or delete one's own post. With HTMX: the card
    again (``card``: the timeline item it shows, maybe a boost of the post), or nothing
    once the post is gone."""
    viewer = _member(request)
    status = selectors.get_status_for(viewer, status_id)
    error = ""
    try:
        STATUS_ACTIONS[action](viewer, status)
    except CommunityError as refused:
        error = refused.message
    if _is_htmx(request):
        item = None
        for candidate in (_id_param(request.POST.get("card")), status.pk):
            if candidate is None:
                continue
            try:
                item = selectors.get_status_for(viewer, candidate)
                break
            except Http404:
                continue
        if item is None:
            return HttpResponse("")
        context = {"item": item, "viewer": viewer, "error": error, "focus": action}
        context["next"] = request.POST.get("next", "")
        return render(request, "community/social/_status.html", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, STATUS_DONE[action])
    if action == "delete":
        if request.POST.get("next", "").split("?")[0] == _status_url(status):
            return redirect("community:home")  # the post's own page is gone with it
        return _back(request, reverse("community:home"))
    return _back(request, _status_url(status))


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def delete(request: HttpRequest, status_id: int) -> HttpResponse:
    """Delete one's own post. Without JavaScript the card's button asks here first (a GET:
    a page to confirm, or to go back); HTMX confirms in the browser and posts at once."""
    if request.method == "POST":
        return status_action(request, status_id, "delete")
    viewer = _member(request)
    status = selectors.get_status_for(viewer, status_id)
    if status.account_id != viewer.pk or status.reblog_of_id is not None:
        raise Http404  # someone else's post reads as a missing one
    back = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = _status_url(status)
    return render(
        request,
        "community/social/delete.html",
        {"status": status, "next": back, "card": _id_param(request.GET.get("card")) or ""},
    )


AccountAction = Callable[[Account, Account], object]
ACCOUNT_ACTIONS: dict[str, AccountAction] = {
    "follow": follows.follow,
    "unfollow": follows.unfollow,
    "block": follows.block,
    "unblock": follows.unblock,
    "mute": follows.mute,
    "unmute": follows.unmute,
}
ACCOUNT_DONE = {
    "follow": gettext_lazy("You follow @%(name)s."),
    "unfollow": gettext_lazy("You no longer follow @%(name)s."),
    "block": gettext_lazy("You blocked @%(name)s."),
    "unblock": gettext_lazy("You unblocked @%(name)s."),
    "mute": gettext_lazy("You muted @%(name)s."),
    "unmute": gettext_lazy("You unmuted @%(name)s."),
}


@login_required
@require_POST
def account_action(request: HttpRequest, username: str, action: str) -> HttpResponse:
    """Follow, block or mute a profile (or undo it). With HTMX: the profile's header."""
    viewer = _member(request)
    target = web_social.get_account(username)
    error = ""
    try:
        ACCOUNT_ACTIONS[action](viewer, target)
    except CommunityError as refused:
        error = refused.message
    done = "" if error else ACCOUNT_DONE[action] % {"name": target.username}
    if _is_htmx(request):
        target = web_social.get_account(username)
        context = {
            "target": target,
            "relationship": web_social.relationship(viewer, target),
            "viewer": viewer,
            "error": error,
            "done": done,
            "focus": action,
        }
        return render(request, "community/social/_profile_header.html", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return _back(request, reverse("community:profile", args=[target.username]))


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def report(request: HttpRequest, username: str) -> HttpResponse:
    """``/community/@<username>/report[?status=<id>]``: tell the moderators about a
    profile, or one of its posts the reporter can see."""
    viewer = _member(request)
    target = web_social.get_account(username)
    data = request.POST if request.method == "POST" else None
    form = ReportForm(data, initial={"status": _id_param(request.GET.get("status"))})
    reported: Status | None = None
    status_id = _id_param(request.POST.get("status") or request.GET.get("status"))
    if status_id is not None:
        reported = selectors.get_status_for(viewer, status_id)
        if reported.account_id != target.pk:
            raise Http404
    if form.is_valid():
        try:
            moderation.report(
                viewer,
                target,
                status_ids=[reported.pk] if reported else [],
                comment=form.cleaned_data["comment"],
            )
        except CommunityError as refused:
            form.add_error(None, refused.message)
        else:
            messages.success(request, _("Thank you: the moderators will look at your report."))
            return redirect("community:profile", target.username)
    return render(
        request,
        "community/social/report.html",
        {"form": form, "target": target, "reported": reported, "viewer": viewer},
    )


# --- Notifications, search, moderation ---------------------------------------------------


@login_required
@require_safe
@vary_on_headers("HX-Request")
def notifications(request: HttpRequest) -> HttpResponse:
    """``/community/notifications/``: mentions, follows, favourites, boosts, donations."""
    viewer = _member(request)
    items = selectors.notifications(
        viewer, max_id=_id_param(request.GET.get("max_id")), limit=PAGE_SIZE
    )
    context = {"viewer": viewer, "page_template": "community/social/_notifications_page.html"}
    return _timeline(request, "community/social/notifications.html", context, items)


@require_safe
def search_page(request: HttpRequest) -> HttpResponse:
    """``/community/search/?q=``: accounts, hashtags and posts the viewer may see."""
    viewer = _viewer(request)
    q = request.GET.get("q", "").strip()[:200]
    results = search.search(viewer, q) if q else None
    return render(
        request, "community/social/search.html", {"q": q, "results": results, "viewer": viewer}
    )


def _staff(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User) or not user.is_staff:
        raise Http404
    return user


@require_safe
def moderation_queue(request: HttpRequest) -> HttpResponse:
    """``/community/moderation/``: open reports, oldest first (staff only; a 404 for
    everyone else, as for a page that does not exist)."""
    _staff(request)
    reports = [
        (report, moderation.reported_statuses(report), ResolveReportForm(prefix=str(report.pk)))
        for report in moderation.open_reports()
    ]
    return render(request, "community/social/moderation.html", {"reports": reports})


@require_POST
def moderation_resolve(request: HttpRequest, report_id: int) -> HttpResponse:
    """A staff member's decision on a report: no action, or the reported posts deleted."""
    staff = _staff(request)
    found = web_social.get_report_for(staff, report_id)
    form = ResolveReportForm(request.POST, prefix=str(found.pk))
    if form.is_valid():
        try:
            moderation.resolve_report(
                staff, found, form.cleaned_data["decision"], form.cleaned_data["note"]
            )
        except CommunityError as refused:
            messages.error(request, refused.message)
        else:
            messages.success(request, _("Report closed."))
    else:
        messages.error(request, _("Choose a decision."))
    return redirect("community:moderation")


urlpatterns: list[URLPattern] = [
    path("", home, name="home"),
    path("public/", public, name="public"),
    path("tags/<str:name>", tag, name="tag"),
    path("compose/", compose, name="compose"),
    path("notifications/", notifications, name="notifications"),
    path("search/", search_page, name="search"),
    path("moderation/", moderation_queue, name="moderation"),
    path("moderation/<int:report_id>", moderation_resolve, name="moderation_resolve"),
    *(
        path(f"statuses/<int:status_id>/{action}", status_action, {"action": action}, name=action)
        for action in STATUS_ACTIONS
        if action != "delete"
    ),
    path("statuses/<int:status_id>/delete", delete, name="delete"),
    path("@<str:username>", profile, name="profile"),
    path("@<str:username>/report", report, name="report"),
    path("@<str:username>/<int:status_id>", status_detail, name="status"),
    *(
        path(f"@<str:username>/{action}", account_action, {"action": action}, name=action)
        for action in ACCOUNT_ACTIONS
    ),
]
