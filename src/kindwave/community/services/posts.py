"""Posting, deleting, reblogging and favouriting. Each function is atomic: the post, its
tags and mentions, the fan-out into home timelines, the notifications and the counters
are written together or not at all."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from kindwave.causes.models import Cause
from kindwave.community import selectors
from kindwave.community.models import (
    MAX_STATUS_CHARS,
    Account,
    Favourite,
    MediaAttachment,
    Notification,
    Project,
    Status,
    Tag,
    Visibility,
)
from kindwave.community.services import notifications, timelines
from kindwave.community.services.errors import CommunityError
from kindwave.community.services.text import normalise_newlines, render, status_length

MAX_MEDIA = 4
SPOILER_MAX = Status._meta.get_field("spoiler_text").max_length or 200


def _check_text(text: str, spoiler_text: str, media_ids: Sequence[int]) -> None:
    if not text.strip() and not media_ids:
        raise CommunityError(_("A post needs some text or an image."))
    if len(spoiler_text) > SPOILER_MAX:
        raise CommunityError(
            _("A content warning is at most %(max)d characters.") % {"max": SPOILER_MAX}
        )
    length = status_length(text, spoiler_text)
    if length > MAX_STATUS_CHARS:
        raise CommunityError(
            _("A post is at most %(max)d characters; this one has %(length)d.")
            % {"max": MAX_STATUS_CHARS, "length": length}
        )


def _reply_target(account: Account, in_reply_to: Status | None) -> Status | None:
    if in_reply_to is None:
        return None
    if in_reply_to.deleted_at is not None or not selectors.can_see(account, in_reply_to):
        # A hidden post and a deleted one get the same answer: nothing is revealed.
        raise CommunityError(_("The post you are replying to does not exist or was deleted."))
    if in_reply_to.reblog_of_id is not None:
        raise CommunityError(_("Reply to the original post, not to a reblog of it."))
    return in_reply_to


def _media(account: Account, media_ids: Sequence[int]) -> list[MediaAttachment]:
    ids = list(dict.fromkeys(int(pk) for pk in media_ids))
    if len(ids) > MAX_MEDIA:
        raise CommunityError(_("A post has at most %(max)d images.") % {"max": MAX_MEDIA})
    media = list(
        MediaAttachment.objects.select_for_update().filter(
            pk__in=ids, account=account, status__isnull=True
        )
    )
    if len(media) != len(ids):
        raise CommunityError(_("An image is not yours, does not exist or is already posted."))
    return sorted(media, key=lambda item: ids.index(item.pk))


# The public counters count only what anyone may know exists (as Mastodon's do): a
# mentioned-only post does not raise its author's post count, and only public or unlisted
# replies raise their parent's reply count.
def _counts_for_profile(status: Status) -> bool:
    return status.visibility != Visibility.DIRECT


def _counts_as_reply(status: Status) -> bool:
    return status.visibility in (Visibility.PUBLIC, Visibility.UNLISTED)


@transaction.atomic
def post(
    account: Account,
    text: str,
    *,
    visibility: str,
    in_reply_to: Status | None = None,
    spoiler_text: str = "",
    sensitive: bool = False,
    language: str = "",
    media_ids: Sequence[int] = (),
    idempotency_key: str = "",
    donate_cause: Cause | None = None,
    donate_project: Project | None = None,
) -> Status:
    """Publish a post by ``account`` and deliver it (home timelines, mention
    notifications). Idempotent by ``idempotency_key``: the same key from the same account
    returns the first post. Refuses with ``CommunityError`` (nothing written) an empty or
    over-long post, a reply to a deleted post or one the author may not see, media that are
    not the author's, an unknown visibility."""
    idempotency_key = idempotency_key[:120]
    if idempotency_key:
        existing = Status.objects.filter(account=account, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    if visibility not in Visibility.values:
        raise CommunityError(_("Unknown visibility %(value)r.") % {"value": visibility})
    # Stored and counted with the line ends the author's counter saw.
    text = normalise_newlines(text)
    spoiler_text = normalise_newlines(spoiler_text)
    _check_text(text, spoiler_text, media_ids)
    parent = _reply_target(account, in_reply_to)
    media = _media(account, media_ids)
    if donate_project is not None:
        donate_cause = donate_project.cause
    if donate_cause is not None and not donate_cause.is_verified:
        raise CommunityError(_("Only a verified cause can receive donations."))
    rendered = render(text)
    status = Status(
        account=account,
        text=text,
        content_html=rendered.html,
        spoiler_text=spoiler_text,
        sensitive=sensitive or bool(spoiler_text),
        language=language[:8],
        visibility=visibility,
        in_reply_to=parent,
        in_reply_to_account_id=parent.account_id if parent else None,
        conversation_root_id=(parent.conversation_root_id or parent.pk) if parent else None,
        donate_cause=donate_cause,
        donate_project=donate_project,
        idempotency_key=idempotency_key,
    )
    try:
        with transaction.atomic():
            status.save()
    except IntegrityError:
        # The same key arrived twice at once: the other request's post is the answer.
        return Status.objects.get(account=account, idempotency_key=idempotency_key)
    if rendered.tags:
        Tag.objects.bulk_create([Tag(name=name) for name in rendered.tags], ignore_conflicts=True)
        status.tags.set(Tag.objects.filter(name__in=rendered.tags))
    if rendered.mentions:
        status.mentions.set(rendered.mentions)
    for item in media:
        item.status = status
        item.save(update_fields=["status"])
    if _counts_for_profile(status):
        Account.objects.filter(pk=account.pk).update(
            statuses_count=F("statuses_count") + 1, last_status_at=status.created_at
        )
    if parent is not None and _counts_as_reply(status):
        Status.objects.filter(pk=parent.pk).update(replies_count=F("replies_count") + 1)
    timelines.fan_out(status, rendered.mentions)
    # Everyone mentioned may see the post (that is the visibility rule); blocks are
    # checked by ``notify``.
    for mentioned in rendered.mentions:
        notifications.notify(mentioned, account, Notification.Kind.MENTION, status)
    return status


@transaction.atomic
def delete_status(account: Account, status: Status) -> None:
    """Delete one of ``account``'s own posts (or reblogs): a tombstone stays so that
    replies keep their place, its text and markup are erased, it leaves every timeline,
    and its reblogs go with it. Idempotent. Someone else's post is refused as missing."""
    status = Status.objects.select_for_update().get(pk=status.pk)
    if status.account_id != account.pk:
        raise CommunityError(_("This post does not exist."))
    if status.deleted_at is not None:
        return
    _tombstone(status)


def _tombstone(status: Status) -> None:
    status.deleted_at = timezone.now()
    status.text = ""
    status.content_html = ""
    status.spoiler_text = ""
    status.save(update_fields=["deleted_at", "text", "content_html", "spoiler_text"])
    timelines.withdraw_status(status)
    if _counts_for_profile(status):
        Account.objects.filter(pk=status.account_id, statuses_count__gt=0).update(
            statuses_count=F("statuses_count") - 1
        )
    if status.in_reply_to_id is not None and _counts_as_reply(status):
        Status.objects.filter(pk=status.in_reply_to_id, replies_count__gt=0).update(
            replies_count=F("replies_count") - 1
        )
    if status.reblog_of_id is not None:
        Status.objects.filter(pk=status.reblog_of_id, reblogs_count__gt=0).update(
            reblogs_count=F("reblogs_count") - 1
        )
        notifications.withdraw(status.account, Notification.Kind.REBLOG, status.reblog_of)
    for reblog in Status.objects.filter(reblog_of=status, deleted_at__isnull=True):
        _tombstone(reblog)


def _target(account: Account, status: Status) -> Status:
    """The post an action is about (a reblog's original), if ``account`` may see it."""
    if status.reblog_of_id is not None:
        status = Status.objects.get(pk=status.reblog_of_id)
    if not selectors.can_see(account, status):
        raise CommunityError(_("This post does not exist."))
    return status


@transaction.atomic
def reblog(account: Account, status: Status) -> Status:
    """Share a public or unlisted post with ``account``'s followers; returns the reblog.
    Idempotent: reblogging twice returns the first reblog."""
    original = _target(account, status)
    existing = Status.objects.filter(
        account=account, reblog_of=original, deleted_at__isnull=True
    ).first()
    if existing is not None:
        return existing
    if original.visibility not in (Visibility.PUBLIC, Visibility.UNLISTED):
        raise CommunityError(_("Only public posts can be shared."))
    shared = Status.objects.create(
        account=account, reblog_of=original, visibility=original.visibility
    )
    Status.objects.filter(pk=original.pk).update(reblogs_count=F("reblogs_count") + 1)
    Account.objects.filter(pk=account.pk).update(
        statuses_count=F("statuses_count") + 1, last_status_at=shared.created_at
    )
    timelines.fan_out(shared)
    notifications.notify(original.account, account, Notification.Kind.REBLOG, original)
    return shared


@transaction.atomic
def unreblog(account: Account, status: Status) -> Status:
    """Undo ``account``'s reblog of ``status``; returns the original. Idempotent."""
    original = _target(account, status)
    for shared in Status.objects.filter(
        account=account, reblog_of=original, deleted_at__isnull=True
    ):
        _tombstone(shared)
    original.refresh_from_db(fields=["reblogs_count"])
    return original


@transaction.atomic
def favourite(account: Account, status: Status) -> Status:
    """Favourite a post ``account`` may see; returns it (counter up). Idempotent."""
    original = _target(account, status)
    _favourite, created = Favourite.objects.get_or_create(account=account, status=original)
    if created:
        Status.objects.filter(pk=original.pk).update(favourites_count=F("favourites_count") + 1)
        notifications.notify(original.account, account, Notification.Kind.FAVOURITE, original)
    original.refresh_from_db(fields=["favourites_count"])
    return original


@transaction.atomic
def unfavourite(account: Account, status: Status) -> Status:
    """Undo a favourite; returns the post. Idempotent."""
    original = _target(account, status)
    deleted, _rows = Favourite.objects.filter(account=account, status=original).delete()
    if deleted:
        Status.objects.filter(pk=original.pk, favourites_count__gt=0).update(
            favourites_count=F("favourites_count") - 1
        )
        notifications.withdraw(account, Notification.Kind.FAVOURITE, original)
    original.refresh_from_db(fields=["favourites_count"])
    return original
