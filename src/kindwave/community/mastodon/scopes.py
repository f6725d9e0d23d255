"""Mastodon's OAuth scopes and the rule that decides whether a token's scopes allow an
endpoint. Imported by the settings, so it imports nothing of Django's but its lazy
translations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

_GRANULAR = {
    "read": [
        "accounts",
        "blocks",
        "bookmarks",
        "favourites",
        "filters",
        "follows",
        "lists",
        "mutes",
        "notifications",
        "search",
        "statuses",
    ],
    "write": [
        "accounts",
        "blocks",
        "bookmarks",
        "conversations",
        "favourites",
        "filters",
        "follows",
        "lists",
        "media",
        "mutes",
        "notifications",
        "reports",
        "statuses",
    ],
}

# What each granular scope covers, named for the consent page ("read your …"). The context
# tells translators these are things on a person's account: "blocks" are the accounts
# they blocked, not blocks of something.
_COVERS = "what an app may read or change on your account"
_PART_NAMES = {
    "accounts": pgettext_lazy(_COVERS, "account details"),
    "blocks": pgettext_lazy(_COVERS, "blocks"),
    "bookmarks": pgettext_lazy(_COVERS, "bookmarks"),
    "conversations": pgettext_lazy(_COVERS, "conversations"),
    "favourites": pgettext_lazy(_COVERS, "favourites"),
    "filters": pgettext_lazy(_COVERS, "filters"),
    "follows": pgettext_lazy(_COVERS, "follows"),
    "lists": pgettext_lazy(_COVERS, "lists"),
    "media": pgettext_lazy(_COVERS, "media"),
    "mutes": pgettext_lazy(_COVERS, "mutes"),
    "notifications": pgettext_lazy(_COVERS, "notifications"),
    "reports": pgettext_lazy(_COVERS, "reports"),
    "search": pgettext_lazy(_COVERS, "searches"),
    "statuses": pgettext_lazy(_COVERS, "posts"),
}

#: Every scope a token may carry, with the description the consent page shows.
ALL_SCOPES: dict[str, Any] = {
    "read": _("read everything on your account"),
    "write": _("post and change everything on your account"),
    "follow": _("follow, block and mute accounts"),
    "push": _("receive push notifications"),
    "profile": _("read your profile only"),
    **{
        f"{parent}:{part}": format_lazy(
            _("read your {}") if parent == "read" else _("change your {}"), _PART_NAMES[part]
        )
        for parent, parts in _GRANULAR.items()
        for part in parts
    },
}

# Mastodon's legacy ``follow`` scope stands for these granular ones.
_FOLLOW_COVERS = {
    "read:blocks",
    "write:blocks",
    "read:follows",
    "write:follows",
    "read:mutes",
    "write:mutes",
}


def scopes_allow(granted: Iterable[str], required: str) -> bool:
    """Whether a token with the ``granted`` scopes may call an endpoint that asks for
    ``required``. As Mastodon: a parent scope (``read``) allows every granular one under it
    (``read:statuses``), and an endpoint that asks for a parent accepts a token holding any
    of its granular scopes (Mastodon declares each endpoint with both)."""
    held = set(granted)
    if required in held:
        return True
    parent, _colon, part = required.partition(":")
    if part:
        return parent in held or (required in _FOLLOW_COVERS and "follow" in held)
    return any(scope.startswith(f"{required}:") for scope in held)


def scope_within(registered: Iterable[str], requested: str) -> bool:
    """Whether an app registered with the ``registered`` scopes may obtain a token with the
    ``requested`` one: the scope itself, a granular scope under a registered parent
    (``read:statuses`` under ``read``), or one the legacy ``follow`` stands for. Never the
    other way round: an app registered with ``read:statuses`` may not ask for ``read``.
    (Mastodon itself wants granular scopes registered one by one; a granular scope under a
    registered parent gives the token nothing the parent would not.)"""
    held = set(registered)
    if requested in held:
        return True
    parent, _colon, part = requested.partition(":")
    return bool(part) and (parent in held or (requested in _FOLLOW_COVERS and "follow" in held))


def scopes_within(registered: Iterable[str], requested: Iterable[str]) -> bool:
    """Whether every one of the ``requested`` scopes is within the ``registered`` ones
    (:func:`scope_within`)."""
    held = list(registered)
    return all(scope_within(held, scope) for scope in requested)
