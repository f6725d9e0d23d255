"""What the social web pages need beyond the other services: a person's relationship with
a profile, the profile by its username, the donate buttons one may add to a post, and
posting from the compose box (an image and its post written together or not at all)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

from django.db import transaction
from django.db.models import Prefetch, Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from kindwave.accounts.models import User
from kindwave.causes.models import Cause
from kindwave.community.models import (
    Account,
    Block,
    Follow,
    MediaAttachment,
    Mute,
    Project,
    ProjectFollow,
    Report,
    Status,
)
from kindwave.community.services import media, posts
from kindwave.community.services.errors import CommunityError
from kindwave.lines import selectors as line_selectors
from kindwave.lines.models import CauseChoice


class ImageError(CommunityError):
    """The compose box's image was refused (its message belongs next to the image field)."""


@dataclass(frozen=True)
class Relationship:
    """How a viewer stands with a profile, for its buttons."""

    following: bool = False
    followed_by: bool = False
    blocking: bool = False
    blocked_by: bool = False
    muting: bool = False


def get_account(username: str) -> Account:
    """The profile ``@username`` (any case), with its cause; ``Http404`` if there is none."""
    account = Account.objects.select_related("cause").filter(username__iexact=username).first()
    if account is None:
        raise Http404
    return account


def relationship(viewer: Account | None, target: Account) -> Relationship:
    """``viewer``'s follow, block and mute with ``target`` (none for a visitor or oneself)."""
    if viewer is None or viewer.pk == target.pk:
        return Relationship()
    pair = {"account": viewer, "target": target}
    reverse = {"account": target, "target": viewer}
    return Relationship(
        following=Follow.objects.filter(**pair).exists(),
        followed_by=Follow.objects.filter(**reverse).exists(),
        blocking=Block.objects.filter(**pair).exists(),
        blocked_by=Block.objects.filter(**reverse).exists(),
        muting=Mute.objects.filter(**pair).exists(),
    )


@dataclass(frozen=True)
class DonateTarget:
    """A donate button a post may carry: a cause's, or one of its projects'."""

    key: str  # the compose box's value: ``cause:<slug>`` or ``project:<slug>``
    cause: Cause
    project: Project | None = None

    @property
    def label(self) -> str:
        if self.project is not None:
            return _("Project: %(title)s") % {"title": self.project.title}
        return _("Cause: %(name)s") % {"name": self.cause.name}


def _project_target(project: Project) -> DonateTarget:
    return DonateTarget(f"project:{project.slug}", project.cause, project)


def donate_targets(account: Account) -> list[DonateTarget]:
    """The donate buttons ``account`` may put on a post, in the compose box's order: a
    cause's account, its cause and its open projects; a person, the cause their line gives
    to and the open projects they run or follow. Only verified causes (no one else may
    receive donations). A fixed number of queries, however many lines or projects."""
    today = timezone.now().date()
    open_projects = (
        Project.objects.filter(Q(deadline__isnull=True) | Q(deadline__gte=today))
        .filter(cause__verified_at__isnull=False)
        .select_related("cause")
        .order_by("title", "pk")
    )
    causes: list[Cause] = []
    if account.cause_id is not None:
        causes = [account.cause] if account.cause and account.cause.is_verified else []
        projects = open_projects.filter(cause_id=account.cause_id)
    else:
        if account.user is not None:
            causes = _line_causes(account.user)
        projects = open_projects.filter(
            Q(owner=account)
            | Q(pk__in=ProjectFollow.objects.filter(account=account).values("project"))
        )
    targets = [DonateTarget(f"cause:{cause.slug}", cause) for cause in causes]
    return targets + [_project_target(project) for project in projects]


def _line_causes(user: User) -> list[Cause]:
    """The verified causes the person's lines give to now (each once, in the lines' order)."""
    now = timezone.now()
    lines = line_selectors.lines_of(user).prefetch_related(
        Prefetch("cause_choices", queryset=CauseChoice.objects.select_related("cause"))
    )
    found: dict[int, Cause] = {}
    for line in lines:
        choice = CauseChoice.in_force(line.cause_choices.all(), now)
        if choice is not None and choice.cause is not None and choice.cause.is_verified:
            found.setdefault(choice.cause.pk, choice.cause)
    return list(found.values())


def compose(
    account: Account,
    text: str,
    *,
    visibility: str,
    spoiler_text: str = "",
    in_reply_to_id: int | None = None,
    image: IO[bytes] | None = None,
    image_description: str = "",
    idempotency_key: str = "",
    donate: DonateTarget | None = None,
) -> Status:
    """Publish a post from the compose box, with at most one image and its alt text.

    Idempotent by ``idempotency_key`` (the form's, one per form shown): a second submit
    returns the first post and stores no second image. Atomic: when the image or the post
    is refused (``ImageError`` for the image, ``CommunityError`` for the rest), neither the
    image's row nor its files remain. A reply to a post that does not exist gets the same
    answer as one to a deleted or hidden post."""
    if idempotency_key:
        existing = Status.objects.filter(account=account, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    parent: Status | None = None
    if in_reply_to_id is not None:
        parent = Status.objects.filter(pk=in_reply_to_id).first()
        if parent is None:
            raise CommunityError(_("The post you are replying to does not exist or was deleted."))
    uploaded: MediaAttachment | None = None
    try:
        with transaction.atomic():
            if image is not None:
                try:
                    uploaded = media.upload_media(account, image, image_description)
                except CommunityError as error:
                    raise ImageError(error.message) from error
            return posts.post(
                account,
                text,
                visibility=visibility,
                spoiler_text=spoiler_text,
                in_reply_to=parent,
                media_ids=[uploaded.pk] if uploaded is not None else [],
                idempotency_key=idempotency_key,
                donate_cause=donate.cause if donate is not None else None,
                donate_project=donate.project if donate is not None else None,
            )
    except Exception:
        # The rows are rolled back; the files written by the upload are not.
        if uploaded is not None:
            uploaded.file.delete(save=False)
            uploaded.preview.delete(save=False)
        raise


def get_report_for(user: User, report_id: int) -> Report:
    """A report for the moderation queue; ``Http404`` for anyone but staff, as for a
    report that does not exist."""
    if not user.is_staff:
        raise Http404
    report = Report.objects.filter(pk=report_id).first()
    if report is None:
        raise Http404
    return report
