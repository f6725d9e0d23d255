"""Follows, blocks and mutes between accounts. Each function is atomic and idempotent."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F, Q
from django.utils.translation import gettext as _

from kindwave.community import selectors
from kindwave.community.models import Account, Block, Follow, Mute, Notification
from kindwave.community.services import notifications, timelines
from kindwave.community.services.errors import CommunityError

#: How many of an account's recent posts a new follower finds in their home at once.
BACKFILL = 40


def _count_follow(follow: Follow, step: int) -> None:
    Account.objects.filter(pk=follow.account_id).update(following_count=F("following_count") + step)
    Account.objects.filter(pk=follow.target_id).update(followers_count=F("followers_count") + step)


@transaction.atomic
def follow(account: Account, target: Account) -> Follow:
    """``account`` follows ``target``: counters up, a notification, and ``target``'s last
    ``BACKFILL`` posts that ``account`` may see put into its home. Refuses following
    oneself or an account one blocks or that blocks one. Idempotent."""
    if account.pk == target.pk:
        raise CommunityError(_("You cannot follow yourself."))
    if Block.objects.filter(
        Q(account=account, target=target) | Q(account=target, target=account)
    ).exists():
        raise CommunityError(_("You cannot follow this account."))
    existing = Follow.objects.filter(account=account, target=target).first()
    if existing is not None:
        return existing
    created = Follow.objects.create(account=account, target=target)
    _count_follow(created, +1)
    recent = (
        selectors.visible_statuses(account)
        .filter(account=target)
        .order_by("-id")
        .values_list("id", flat=True)[:BACKFILL]
    )
    timelines.backfill(account, list(recent))
    notifications.notify(target, account, Notification.Kind.FOLLOW)
    return created


@transaction.atomic
def unfollow(account: Account, target: Account) -> None:
    """``account`` stops following ``target``: counters down, ``target``'s posts leave
    ``account``'s home. Idempotent."""
    _remove_follow(account, target)


def _remove_follow(account: Account, target: Account) -> None:
    existing = Follow.objects.filter(account=account, target=target).first()
    if existing is None:
        return
    existing.delete()
    _count_follow(existing, -1)
    timelines.withdraw_account(account, target)
    notifications.withdraw(account, Notification.Kind.FOLLOW, None, account=target)


@transaction.atomic
def block(account: Account, target: Account) -> Block:
    """``account`` blocks ``target``: follows both ways end, each other's posts leave both
    homes, neither sees the other's posts nor notifies the other. Idempotent."""
    if account.pk == target.pk:
        raise CommunityError(_("You cannot block yourself."))
    created, _new = Block.objects.get_or_create(account=account, target=target)
    _remove_follow(account, target)
    _remove_follow(target, account)
    timelines.withdraw_account(account, target, reblogs_of_too=True)
    timelines.withdraw_account(target, account, reblogs_of_too=True)
    return created


@transaction.atomic
def unblock(account: Account, target: Account) -> None:
    """Lift ``account``'s block of ``target`` (follows are not restored). Idempotent."""
    Block.objects.filter(account=account, target=target).delete()


@transaction.atomic
def mute(account: Account, target: Account) -> Mute:
    """Hide ``target``'s posts and notifications from ``account`` only (``target`` is not
    told; following carries on). Idempotent."""
    if account.pk == target.pk:
        raise CommunityError(_("You cannot mute yourself."))
    created, _new = Mute.objects.get_or_create(account=account, target=target)
    return created


@transaction.atomic
def unmute(account: Account, target: Account) -> None:
    """Show ``target``'s posts to ``account`` again. Idempotent."""
    Mute.objects.filter(account=account, target=target).delete()
