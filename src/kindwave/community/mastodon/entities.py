"""Mastodon's entities, serialised from the community's models.

Field names, types and formats follow Mastodon 4.3's API documentation, which clients
parse strictly: ids are strings, dates ISO 8601 in UTC with milliseconds, an account's
``created_at`` is at midnight UTC (Mastodon rounds it so as not to tell when someone
joined to the second). An :class:`EntityRenderer` is made once per request: it knows the
site's address and the viewer, and renders a page of statuses with a fixed number of
queries (see :func:`with_status_relations` and :meth:`EntityRenderer.prepare`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, linebreaks

from kindwave.community.models import (
    MAX_STATUS_CHARS,
    Account,
    Block,
    Favourite,
    Follow,
    MediaAttachment,
    Mute,
    Notification,
    Status,
    Visibility,
)

#: The version clients see: Mastodon's API level, then ours (it must parse as semver).
MASTODON_API_VERSION = "4.3.0"
#: ``api_versions.mastodon`` of Mastodon 4.3.
MASTODON_API_LEVEL = 2
MAX_MEDIA_ATTACHMENTS = 4
IMAGE_SIZE_LIMIT = 16 * 1024 * 1024


#: Kindwave's own release series, shown after Mastodon's version.
KINDWAVE_SERIES = "0.1"


def instance_version() -> str:
    return f"{MASTODON_API_VERSION} (compatible; Kindwave {KINDWAVE_SERIES})"


def iso(moment: datetime | None) -> str | None:
    """Mastodon's timestamp format: UTC with milliseconds and a ``Z``."""
    if moment is None:
        return None
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def iso_day(moment: datetime) -> str:
    """Midnight UTC of the day ``moment`` falls on, as Mastodon shows ``created_at``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT00:00:00.000Z")


def with_status_relations(queryset: QuerySet[Status]) -> QuerySet[Status]:
    """``queryset`` with everything :meth:`EntityRenderer.status` reads, in a fixed
    number of queries however long the page."""
    live_media = Prefetch("media", queryset=MediaAttachment.objects.order_by("id"))
    return queryset.select_related("account", "reblog_of", "reblog_of__account").prefetch_related(
        "tags",
        "mentions",
        live_media,
        "reblog_of__tags",
        "reblog_of__mentions",
        Prefetch("reblog_of__media", queryset=MediaAttachment.objects.order_by("id")),
    )


class EntityRenderer:
    """Renders entities for one request: absolute URLs from the request's address, and
    the viewer's own state (``favourited``, ``reblogged``, ``muted``) for statuses."""

    def __init__(self, request: HttpRequest, viewer: Account | None) -> None:
        self.base = request.build_absolute_uri("/").rstrip("/")
        self.viewer = viewer
        self._favourited: set[int] = set()
        self._reblogged: set[int] = set()
        self._muted_accounts: set[int] = set()
        # Resolved once per request, not once per account rendered (a page has 40).
        self._default_avatar = self.absolute(reverse("mastodon:default_avatar"))
        self._default_header = self.absolute(reverse("mastodon:default_header"))

    # -- helpers -------------------------------------------------------------------
    def absolute(self, path: str) -> str:
        return f"{self.base}{path}"

    def profile_url(self, account: Account) -> str:
        return self.absolute(f"/community/@{account.username}")

    def default_avatar(self) -> str:
        return self._default_avatar

    def prepare(self, statuses: Iterable[Status]) -> None:
        """Load the viewer's favourites, reblogs and mutes among ``statuses`` (and the
        posts they reblog): three queries, whatever the number of statuses; one when
        they come from the selectors, which set the viewer's ``viewer_favourited`` and
        ``viewer_reblogged`` flags on each."""
        if self.viewer is None:
            return
        ids: set[int] = set()
        authors: set[int] = set()
        shown: list[Status] = []
        for status in statuses:
            shown.append(status)
            ids.add(status.pk)
            authors.add(status.account_id)
            if status.reblog_of is not None:
                shown.append(status.reblog_of)
                ids.add(status.reblog_of.pk)
                authors.add(status.reblog_of.account_id)
        if not ids:
            return
        self._muted_accounts |= set(
            Mute.objects.filter(account=self.viewer, target_id__in=authors).values_list(
                "target_id", flat=True
            )
        )
        if all(hasattr(status, "viewer_favourited") for status in shown):
            # Loaded by the selectors for this viewer: their flags, not the same two
            # queries again.
            self._favourited |= {s.pk for s in shown if s.viewer_favourited}  # type: ignore[attr-defined]
            self._reblogged |= {s.pk for s in shown if s.viewer_reblogged}  # type: ignore[attr-defined]
            return
        self._favourited |= set(
            Favourite.objects.filter(account=self.viewer, status_id__in=ids).values_list(
                "status_id", flat=True
            )
        )
        self._reblogged |= {
            reblogged
            for reblogged in Status.objects.filter(
                account=self.viewer, reblog_of_id__in=ids, deleted_at__isnull=True
            ).values_list("reblog_of_id", flat=True)
            if reblogged is not None
        }

    # -- entities ------------------------------------------------------------------
    def account(self, account: Account) -> dict[str, Any]:
        avatar = self.absolute(account.avatar.url) if account.avatar else self.default_avatar()
        url = self.profile_url(account)
        return {
            "id": str(account.pk),
            "username": account.username,
            # Local accounts have a bare acct (no @domain), as Mastodon.
            "acct": account.username,
            "display_name": account.display_name or account.username,
            "locked": False,
            "bot": False,
            "discoverable": account.discoverable,
            "indexable": account.discoverable,
            "group": False,
            "created_at": iso_day(account.created_at),
            "note": linebreaks(escape(account.note)) if account.note else "",
            "url": url,
            "uri": url,
            "avatar": avatar,
            "avatar_static": avatar,
            "header": self._default_header,
            "header_static": self._default_header,
            "followers_count": account.followers_count,
            "following_count": account.following_count,
            "statuses_count": account.statuses_count,
            "last_status_at": (
                account.last_status_at.astimezone(UTC).date().isoformat()
                if account.last_status_at
                else None
            ),
            "hide_collections": False,
            "noindex": not account.discoverable,
            "emojis": [],
            "roles": [],
            "fields": [],
        }

    def credential_account(self, account: Account, language: str | None) -> dict[str, Any]:
        """The viewer's own account, with ``source`` (what their settings hold)."""
        entity = self.account(account)
        entity["source"] = {
            "privacy": Visibility.PUBLIC.value,
            "sensitive": False,
            "language": language or "",
            "note": account.note,
            "fields": [],
            "follow_requests_count": 0,
            "hide_collections": False,
            "discoverable": account.discoverable,
            "indexable": account.discoverable,
        }
        entity["role"] = {
            "id": "-99",
            "name": "",
            "permissions": "0",
            "color": "",
            "highlighted": False,
        }
        return entity

    def media(self, media: MediaAttachment) -> dict[str, Any]:
        url = self.absolute(media.file.url)
        preview = self.absolute(media.preview.url) if media.preview else url
        aspect = round(media.width / media.height, 4) if media.height else None
        size = {
            "width": media.width,
            "height": media.height,
            "size": f"{media.width}x{media.height}",
            "aspect": aspect,
        }
        return {
            "id": str(media.pk),
            "type": "image",
            "url": url,
            "preview_url": preview,
            "remote_url": None,
            "preview_remote_url": None,
            "text_url": None,
            "meta": {"original": size, "small": size},
            "description": media.description or None,
            "blurhash": None,
        }

    def status(self, status: Status) -> dict[str, Any]:
        """A status; a reblog carries the reblogged status in ``reblog``. Call
        :meth:`prepare` first with the page's statuses for the viewer's flags."""
        reblog = status.reblog_of
        entity = self._status_fields(status)
        entity["reblog"] = (
            self._status_fields(reblog) | {"reblog": None}
            if reblog is not None and reblog.deleted_at is None
            else None
        )
        return entity

    def _status_fields(self, status: Status) -> dict[str, Any]:
        url = self.absolute(f"/community/@{status.account.username}/{status.pk}")
        is_reblog = status.reblog_of_id is not None
        return {
            "id": str(status.pk),
            "uri": url,
            "url": None if is_reblog else url,
            "created_at": iso(status.created_at),
            "edited_at": iso(status.edited_at),
            "account": self.account(status.account),
            "content": "" if is_reblog else status.content_html,
            "visibility": status.visibility,
            "sensitive": status.sensitive,
            "spoiler_text": status.spoiler_text,
            "media_attachments": [self.media(media) for media in status.media.all()],
            "application": None,
            "mentions": [
                {
                    "id": str(mentioned.pk),
                    "username": mentioned.username,
                    "acct": mentioned.username,
                    "url": self.profile_url(mentioned),
                }
                for mentioned in status.mentions.all()
            ],
            "tags": [
                {"name": tag.name, "url": self.absolute(f"/community/tags/{tag.name}")}
                for tag in status.tags.all()
            ],
            "emojis": [],
            "reblogs_count": status.reblogs_count,
            "favourites_count": status.favourites_count,
            "replies_count": status.replies_count,
            "in_reply_to_id": str(status.in_reply_to_id) if status.in_reply_to_id else None,
            "in_reply_to_account_id": (
                str(status.in_reply_to_account_id) if status.in_reply_to_account_id else None
            ),
            "poll": None,
            "card": None,
            "language": status.language or None,
            "favourited": status.pk in self._favourited,
            "reblogged": status.pk in self._reblogged,
            "muted": status.account_id in self._muted_accounts,
            "bookmarked": False,
            "pinned": False,
            "filtered": [],
        }

    def notification(self, notification: Notification) -> dict[str, Any]:
        """A notification; its status (if any) must have been passed to :meth:`prepare`."""
        return {
            "id": str(notification.pk),
            "type": notification.kind,
            "group_key": f"ungrouped-{notification.pk}",
            "created_at": iso(notification.created_at),
            "account": self.account(notification.from_account),
            "status": self.status(notification.status) if notification.status else None,
        }

    def relationships(self, ids: list[int]) -> list[dict[str, Any]]:
        """The viewer's relationships with the accounts ``ids`` (existing ones, in the
        order asked): six queries, whatever the number of accounts."""
        viewer = self.viewer
        if viewer is None:
            return []
        found = set(Account.objects.filter(pk__in=ids).values_list("pk", flat=True))
        wanted = [pk for pk in dict.fromkeys(ids) if pk in found]

        def targets(model: type[Follow] | type[Block] | type[Mute]) -> set[int]:
            return set(
                model.objects.filter(account=viewer, target_id__in=wanted).values_list(
                    "target_id", flat=True
                )
            )

        def sources(model: type[Follow] | type[Block]) -> set[int]:
            return set(
                model.objects.filter(target=viewer, account_id__in=wanted).values_list(
                    "account_id", flat=True
                )
            )

        following, followed_by = targets(Follow), sources(Follow)
        blocking, blocked_by, muting = targets(Block), sources(Block), targets(Mute)
        return [
            {
                "id": str(pk),
                "following": pk in following,
                "showing_reblogs": pk in following,
                "notifying": False,
                "languages": None,
                "followed_by": pk in followed_by,
                "blocking": pk in blocking,
                "blocked_by": pk in blocked_by,
                "muting": pk in muting,
                "muting_notifications": pk in muting,
                "requested": False,
                "requested_by": False,
                "domain_blocking": False,
                "endorsed": False,
                "note": "",
            }
            for pk in wanted
        ]


# -- the instance -------------------------------------------------------------------


def _contact_email() -> str:
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1]


def _statuses_configuration() -> dict[str, Any]:
    return {
        "max_characters": MAX_STATUS_CHARS,
        "max_media_attachments": MAX_MEDIA_ATTACHMENTS,
        "characters_reserved_per_url": 23,
    }


def _media_configuration() -> dict[str, Any]:
    return {
        "supported_mime_types": ["image/jpeg", "image/png", "image/gif", "image/webp"],
        "image_size_limit": IMAGE_SIZE_LIMIT,
        "image_matrix_limit": 16_777_216,
        "video_size_limit": 0,
        "video_frame_rate_limit": 0,
        "video_matrix_limit": 0,
        "description_limit": 1_500,
    }


def _polls_configuration() -> dict[str, Any]:
    # Polls are not offered: a client asking for one gets a clear error; the limits
    # clients read are still present (Mastodon.py and toot expect them).
    return {
        "max_options": 4,
        "max_characters_per_option": 50,
        "min_expiration": 300,
        "max_expiration": 2_629_746,
    }


_TITLE = "Kindwave"
_DESCRIPTION = (
    "The community of a people's mobile operator: people and causes, no advertising, "
    "no tracking, donations with no commission."
)
_LANGUAGES = [code for code, _name in settings.LANGUAGES]


def instance_v1(request: HttpRequest) -> dict[str, Any]:
    """Mastodon's v1 Instance entity (deprecated upstream, still read by clients)."""
    host = request.get_host()
    return {
        "uri": host,
        "title": _TITLE,
        "short_description": _DESCRIPTION,
        "description": _DESCRIPTION,
        "email": _contact_email(),
        "version": instance_version(),
        # No streaming API (yet): clients then poll, as they do when streaming is down.
        "urls": {"streaming_api": None},
        "stats": {
            "user_count": Account.objects.count(),
            "status_count": Status.objects.filter(
                deleted_at__isnull=True, reblog_of__isnull=True
            ).count(),
            "domain_count": 0,
        },
        "thumbnail": None,
        "languages": _LANGUAGES,
        "registrations": True,
        "approval_required": False,
        "invites_enabled": False,
        "configuration": {
            "accounts": {"max_featured_tags": 0},
            "statuses": _statuses_configuration(),
            "media_attachments": _media_configuration(),
            "polls": _polls_configuration(),
        },
        "contact_account": None,
        "rules": [],
    }


def instance_v2(request: HttpRequest) -> dict[str, Any]:
    """Mastodon's v2 Instance entity."""
    base = request.build_absolute_uri("/").rstrip("/")
    month_ago = timezone.now() - timedelta(days=30)
    return {
        "domain": request.get_host(),
        "title": _TITLE,
        "version": instance_version(),
        # AGPL: where the running code's source is offered (the operator's site).
        "source_url": settings.SITE_URL,
        "description": _DESCRIPTION,
        "usage": {
            "users": {"active_month": Account.objects.filter(last_status_at__gte=month_ago).count()}
        },
        "thumbnail": {
            "url": base + reverse("mastodon:default_header"),
            "blurhash": None,
            "versions": {},
        },
        "icon": [],
        "languages": _LANGUAGES,
        "configuration": {
            "urls": {"streaming": None, "status": None},
            "vapid": {"public_key": ""},
            "accounts": {"max_featured_tags": 0, "max_pinned_statuses": 0},
            "statuses": _statuses_configuration(),
            "media_attachments": _media_configuration(),
            "polls": _polls_configuration(),
            "translation": {"enabled": False},
        },
        "registrations": {
            "enabled": True,
            "approval_required": False,
            "message": None,
            "url": base + reverse("accounts:signup"),
        },
        "api_versions": {"mastodon": MASTODON_API_LEVEL},
        "contact": {"email": _contact_email(), "account": None},
        "rules": [],
    }
