"""Reads behind the project and donation pages: open projects, one project with its
updates and the viewer's place in it, the causes a person may run projects for, and a
donor's own donation (someone else's is a 404 exactly like a missing one).

Writes stay in :mod:`kindwave.community.services.projects` and
:mod:`kindwave.community.services.donations`; nothing here writes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.http import Http404

from kindwave.accounts.models import Membership, User
from kindwave.causes.models import Cause
from kindwave.community import selectors
from kindwave.community.models import Account, Donation, Project, ProjectFollow, Status, Volunteer
from kindwave.community.services.projects import today

#: How many of a project's updates its page shows.
UPDATES_SHOWN = 20


def open_projects(cause_slug: str = "") -> QuerySet[Project]:
    """Projects still open today (no deadline, or the deadline not passed) whose cause is
    verified — only ``cause_slug``'s when given — newest first, cause and owner loaded."""
    projects = Project.objects.filter(
        Q(deadline__isnull=True) | Q(deadline__gte=today()), cause__verified_at__isnull=False
    )
    if cause_slug:
        projects = projects.filter(cause__slug=cause_slug)
    return projects.select_related("cause", "owner").order_by("-created_at", "-pk")


def get_project(slug: str) -> Project:
    """The project ``slug`` of a verified cause, open or ended; ``Http404`` otherwise."""
    project = (
        Project.objects.filter(slug=slug, cause__verified_at__isnull=False)
        .select_related("cause", "owner")
        .first()
    )
    if project is None:
        raise Http404
    return project


def account_of(user: User | None) -> Account | None:
    """The person's community account if they have one (never created by a read)."""
    if user is None or not user.is_authenticated:
        return None
    return Account.objects.filter(user=user).first()


@dataclass(frozen=True)
class ViewerPlace:
    """Whether the viewer follows the project and volunteers for it."""

    following: bool = False
    volunteering: bool = False


def viewer_place(viewer: Account | None, project: Project) -> ViewerPlace:
    """The viewer's place in ``project`` (an anonymous visitor has none). Two queries."""
    if viewer is None:
        return ViewerPlace()
    return ViewerPlace(
        following=ProjectFollow.objects.filter(project=project, account=viewer).exists(),
        volunteering=Volunteer.objects.filter(project=project, account=viewer).exists(),
    )


def project_updates(
    viewer: Account | None, project: Project, limit: int = UPDATES_SHOWN
) -> list[Status]:
    """The posts about ``project`` (carrying its donate button) that ``viewer`` may see,
    not reblogs, newest first, loaded like a timeline's (a fixed number of queries)."""
    ids = list(
        selectors.visible_statuses(viewer)
        .filter(donate_project=project, reblog_of__isnull=True)
        .order_by("-id")
        .values_list("id", flat=True)[:limit]
    )
    return selectors.load_statuses(viewer, ids)


def causes_run_by(user: User) -> QuerySet[Cause]:
    """The verified causes ``user`` administers: they may run projects as the cause."""
    return (
        Cause.objects.verified()
        .filter(
            organisation__memberships__user=user,
            organisation__memberships__role=Membership.Role.CAUSE_ADMIN,
        )
        .order_by("name")
    )


def get_donation_for(user: User, reference: uuid.UUID) -> Donation:
    """``user``'s own donation ``reference`` with what its page shows loaded; ``Http404``
    for a missing reference and for anyone else's alike."""
    donation = (
        Donation.objects.filter(donor=user, reference=reference)
        .select_related("cause", "project", "carrier_charge__line")
        .first()
    )
    if donation is None:
        raise Http404
    return donation
