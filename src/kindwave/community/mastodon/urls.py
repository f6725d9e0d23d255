"""Routes of the Mastodon-compatible API and of OAuth 2, each served with and without a
trailing slash (clients differ), included at the site's root by ``kindwave.urls``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.urls import URLPattern, re_path

from kindwave.community.mastodon import api, oauth, social, statuses

app_name = "mastodon"


def route(pattern: str, view: Callable[..., Any], name: str) -> URLPattern:
    """``pattern`` (a regex without anchors or trailing slash), with an optional slash."""
    return re_path(rf"^{pattern}/?$", view, name=name)


urlpatterns = [
    route(
        r"\.well-known/oauth-authorization-server",
        oauth.authorization_server_metadata,
        "oauth_metadata",
    ),
    route(r"oauth/authorize", oauth.MastodonAuthorizationView.as_view(), "authorize"),
    route(r"oauth/token", oauth.token, "token"),
    route(r"oauth/revoke", oauth.MastodonRevokeView.as_view(), "revoke"),
    route(r"api/v1/apps", oauth.create_app, "apps"),
    route(r"api/v1/apps/verify_credentials", api.verify_app, "apps_verify"),
    route(r"api/v1/instance", api.instance_v1, "instance_v1"),
    route(r"api/v2/instance", api.instance_v2, "instance_v2"),
    route(r"api/v1/custom_emojis", api.custom_emojis, "custom_emojis"),
    route(r"api/v1/preferences", api.preferences, "preferences"),
    route(r"api/v1/accounts/verify_credentials", api.verify_credentials, "verify_credentials"),
    route(r"api/v1/accounts/lookup", api.account_lookup, "account_lookup"),
    route(r"api/v1/accounts/relationships", api.relationships, "relationships"),
    route(r"api/v1/accounts/(?P<account_id>[^/]+)", api.account_detail, "account"),
    route(
        r"api/v1/accounts/(?P<account_id>[^/]+)/statuses",
        statuses.account_statuses,
        "account_statuses",
    ),
    route(r"api/v1/accounts/(?P<account_id>[^/]+)/follow", social.follow, "follow"),
    route(r"api/v1/accounts/(?P<account_id>[^/]+)/unfollow", social.unfollow, "unfollow"),
    route(r"api/v1/statuses", statuses.create_status, "statuses"),
    route(r"api/v1/statuses/(?P<status_id>[^/]+)", statuses.status, "status"),
    route(r"api/v1/statuses/(?P<status_id>[^/]+)/context", statuses.status_context, "context"),
    route(r"api/v1/statuses/(?P<status_id>[^/]+)/favourite", statuses.favourite, "favourite"),
    route(r"api/v1/statuses/(?P<status_id>[^/]+)/unfavourite", statuses.unfavourite, "unfavourite"),
    route(r"api/v1/statuses/(?P<status_id>[^/]+)/reblog", statuses.reblog, "reblog"),
    route(r"api/v1/statuses/(?P<status_id>[^/]+)/unreblog", statuses.unreblog, "unreblog"),
    route(r"api/v1/notifications", social.notification_list, "notifications"),
    route(r"api/v1/notifications/clear", social.notifications_clear, "notifications_clear"),
    route(
        r"api/v1/notifications/(?P<notification_id>[^/]+)/dismiss",
        social.notification_dismiss,
        "notification_dismiss",
    ),
    route(r"api/v2/search", social.search_v2, "search"),
    route(r"api/v1/timelines/home", statuses.timeline_home, "timeline_home"),
    route(r"api/v1/timelines/public", statuses.timeline_public, "timeline_public"),
    route(r"api/v1/timelines/tag/(?P<hashtag>[^/]+)", statuses.timeline_tag, "timeline_tag"),
    route(r"avatars/original/missing\.png", api.default_avatar, "default_avatar"),
    route(r"headers/original/missing\.png", api.default_header, "default_header"),
]
