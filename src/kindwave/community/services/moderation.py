"""Reports to the moderators and the staff's decisions on them."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.db.models import Prefetch, TextChoices
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kindwave.accounts.models import User
from kindwave.community import selectors
from kindwave.community.models import Account, Report, Status
from kindwave.community.services import posts
from kindwave.community.services.errors import CommunityError

MAX_COMMENT = 1_000


class Decision(TextChoices):
    DISMISS = "dismiss", gettext_lazy("No action")
    DELETE_POSTS = "delete_posts", gettext_lazy("Reported posts deleted")


@transaction.atomic
def report(
    account: Account, target: Account, *, status_ids: Sequence[int] = (), comment: str = ""
) -> Report:
    """``account`` reports ``target`` (and some of ``target``'s posts it can see) to the
    moderators. Refuses reporting oneself, an over-long comment, and posts that are not
    ``target``'s or that ``account`` may not see (the same answer for both)."""
    if account.pk == target.pk:
        raise CommunityError(_("You cannot report yourself."))
    if len(comment) > MAX_COMMENT:
        raise CommunityError(_("The comment is at most %(max)d characters.") % {"max": MAX_COMMENT})
    ids = set(status_ids)
    statuses = list(selectors.visible_statuses(account).filter(pk__in=ids, account=target))
    if len(statuses) != len(ids):
        raise CommunityError(_("A reported post does not exist."))
    created = Report.objects.create(account=account, target=target, comment=comment)
    created.statuses.set(statuses)
    return created


def open_reports() -> list[Report]:
    """The moderation queue: unresolved reports, oldest first, with who and what."""
    return list(
        Report.objects.filter(resolved_at__isnull=True)
        .select_related("account", "target")
        .prefetch_related(
            Prefetch("statuses", queryset=Status.objects.select_related("account").order_by("id"))
        )
        .order_by("created_at")
    )


@transaction.atomic
def resolve_report(staff: User, report: Report, decision: str, note: str = "") -> Report:
    """A staff member closes ``report``: ``dismiss`` (no action) or ``delete_posts``
    (the reported posts are deleted as their author would). Only staff may; a report
    already resolved keeps its first decision (idempotent)."""
    if not staff.is_staff:
        raise CommunityError(_("Only staff can resolve reports."))
    if decision not in Decision.values:
        raise CommunityError(_("Unknown decision %(value)r.") % {"value": decision})
    report = Report.objects.select_for_update().get(pk=report.pk)
    if report.resolved_at is not None:
        return report
    if decision == Decision.DELETE_POSTS:
        for status in report.statuses.all():
            posts.delete_status(status.account, status)
    report.resolved_at = timezone.now()
    report.resolved_by = staff
    report.resolution = f"{Decision(decision).label}{': ' if note else ''}{note}"[:200]
    report.save(update_fields=["resolved_at", "resolved_by", "resolution"])
    return report


def reported_statuses(report: Report) -> list[Status]:
    """The posts a report is about (deleted ones included, for the record), oldest first;
    read from ``open_reports``' prefetch with no further query."""
    return sorted(report.statuses.all(), key=lambda status: status.pk)
