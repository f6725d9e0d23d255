"""Notifications, written by the services that cause them (in their transaction)."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from kindwave.community.models import Account, Block, Notification, Status


def notify(
    account: Account, from_account: Account, kind: str, status: Status | None = None
) -> Notification | None:
    """Tell ``account`` that ``from_account`` did ``kind`` (a ``Notification.Kind``),
    unless it is themselves or either blocks the other. Mutes are applied when reading,
    so that unmuting shows what came meanwhile (as Mastodon)."""
    if account.pk == from_account.pk:
        return None
    if Block.objects.filter(
        Q(account=account, target=from_account) | Q(account=from_account, target=account)
    ).exists():
        return None
    return Notification.objects.create(
        account=account, from_account=from_account, kind=kind, status=status
    )


def withdraw(
    from_account: Account, kind: str, status: Status | None = None, **more: object
) -> None:
    """Remove the notifications ``from_account`` caused by an action it undid."""
    Notification.objects.filter(
        from_account=from_account, kind=kind, status=status, **more
    ).delete()


def mark_read(account: Account, up_to_id: int) -> int:
    """Mark ``account``'s notifications up to ``up_to_id`` read; returns how many.
    Idempotent."""
    return Notification.objects.filter(
        account=account, pk__lte=up_to_id, read_at__isnull=True
    ).update(read_at=timezone.now())


def dismiss(account: Account, notification_id: int) -> None:
    """Delete one of ``account``'s notifications (someone else's: nothing happens, as for
    one that does not exist). Idempotent."""
    Notification.objects.filter(account=account, pk=notification_id).delete()


def clear(account: Account) -> None:
    """Delete all of ``account``'s notifications."""
    Notification.objects.filter(account=account).delete()
