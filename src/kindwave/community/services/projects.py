"""Projects: a cause or a member gathers people around a goal in money and/or volunteers,
with an optional deadline and place. People follow a project and join it as volunteers;
donations to it (:mod:`kindwave.community.services.donations`) reach its cause's ledger
account and add to ``raised_minor``.

Every write owns its transaction and keeps the project's counters in the same one. A
refusal raises :class:`ProjectError` with the reason, and nothing is written. Posting a
project's updates to its followers' timelines belongs to the social services: they read
:func:`project_followers`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import formats, timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _

from kindwave.causes.models import Cause
from kindwave.community.models import Account, Project, ProjectFollow, Volunteer
from kindwave.lib.money import format_money
from kindwave.lines.models import Market

#: The currencies a cause's ledger account can hold (those Kindwave operates in).
CURRENCIES = frozenset(Market.CURRENCIES.values())


#: The most volunteers a project can ask for: more than any one project gathers, and well
#: within every database's integer column.
MAX_VOLUNTEERS_GOAL = 100_000

#: A money goal is at most this many of the largest single donations (see max_goal_minor).
GIFTS_PER_GOAL = 1_000


class ProjectError(Exception):
    """A project request that cannot be honoured; the message says why."""


@dataclass(frozen=True)
class Progress:
    """Where a project stands. ``percent`` is exact (``raised / goal * 100``, may pass 100);
    ``display_percent`` is what a progress bar draws (0 to 100, rounded down, so a bar is
    never full before the goal is reached). ``days_left`` is None without a deadline and
    0 on the deadline day itself and after it."""

    raised_minor: int
    goal_minor: int | None
    currency: str
    percent: Decimal | None
    display_percent: int | None
    volunteers: int
    volunteers_goal: int | None
    days_left: int | None


def today() -> date:
    """Today's UTC date: deadlines are dates, compared in UTC like every other date."""
    return timezone.now().date()


def is_open(project: Project, on: date | None = None) -> bool:
    """Whether ``project`` still takes volunteers and donations on ``on`` (default today):
    no deadline, or the deadline not yet passed (the deadline day itself is open)."""
    return project.deadline is None or (on or today()) <= project.deadline


def ended_message(project: Project) -> str:
    """What to tell someone who wants to give or volunteer after ``project``'s deadline, the
    date written the way the active language writes dates (never ISO)."""
    assert project.deadline is not None  # an ended project has a deadline  # noqa: S101
    return _("The project %(title)s ended on %(deadline)s.") % {
        "title": project.title,
        "deadline": formats.date_format(project.deadline, "DATE_FORMAT"),
    }


def max_goal_minor() -> int:
    """The largest money goal, in minor units of any currency: what
    :data:`GIFTS_PER_GOAL` of the largest single donations make (10,000,000.00 by
    default). A goal beyond it could never be met on these pages, and would only make the
    progress bar meaningless."""
    # donations imports this module (is_open, CURRENCIES): its maximum is read at call time.
    from kindwave.community.services.donations import max_donation_minor

    return GIFTS_PER_GOAL * max_donation_minor()


def _check_goal(value: int | None, what: str, maximum: int, shown_maximum: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ProjectError(
            _("The %(what)s must be a positive whole number, not %(value)r.")
            % {"what": what, "value": value}
        )
    if value > maximum:
        raise ProjectError(
            _("The %(what)s can be at most %(maximum)s.") % {"what": what, "maximum": shown_maximum}
        )


def check_money_goal(goal_minor: int | None, currency: str) -> None:
    """Refuse (``ProjectError``) a money goal that is not a positive whole number of minor
    units of ``currency`` or is over :func:`max_goal_minor`; ``None`` (no money goal) is
    fine."""
    limit = max_goal_minor()
    shown = format_money(limit, currency, translation.get_language() or "en")
    _check_goal(goal_minor, _("money goal"), limit, shown)


def check_volunteers_goal(volunteers_goal: int | None) -> None:
    """Refuse (``ProjectError``) a volunteers goal that is not a whole number from 1 to
    :data:`MAX_VOLUNTEERS_GOAL`; ``None`` (no volunteers wanted) is fine."""
    shown = formats.number_format(MAX_VOLUNTEERS_GOAL, force_grouping=True)
    _check_goal(volunteers_goal, _("number of volunteers wanted"), MAX_VOLUNTEERS_GOAL, shown)


def _unique_slug(title: str) -> str:
    base = slugify(title)[:70].strip("-") or "project"
    slug, n = base, 1
    while Project.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def create_project(
    owner_account: Account,
    *,
    cause: Cause,
    title: str,
    description: str,
    currency: str,
    goal_minor: int | None = None,
    volunteers_goal: int | None = None,
    deadline: date | None = None,
    place: str = "",
) -> Project:
    """Create a project run by ``owner_account`` whose money goes to ``cause``.

    The owner is the cause's own community account or any person's. Refused
    (``ProjectError``, nothing written): no goal at all, a zero or negative goal, a
    money goal over :func:`max_goal_minor`, more than :data:`MAX_VOLUNTEERS_GOAL`
    volunteers wanted, a deadline already past, a currency the cause's ledger cannot hold
    (GBP, EUR, USD), a cause not verified (it could not receive donations), an owner that is another
    cause's account, an empty or over-long title or description. The slug is derived from
    the title (a number added when taken). Atomic."""
    title, description, place = title.strip(), description.strip(), place.strip()
    if owner_account.kind == Account.Kind.CAUSE and owner_account.cause_id != cause.pk:
        raise ProjectError(
            _("A cause can run projects only for itself; a person can run one for any cause.")
        )
    if owner_account.kind not in (Account.Kind.CAUSE, Account.Kind.PERSON):
        raise ProjectError(_("Only a cause or a person can run a project."))
    if not cause.is_verified:
        raise ProjectError(_("%(cause)s is not verified yet.") % {"cause": cause.name})
    if not 1 <= len(title) <= 140:
        raise ProjectError(_("A project needs a title of 1 to 140 characters."))
    if not 1 <= len(description) <= 5_000:
        raise ProjectError(_("A project needs a description of 1 to 5,000 characters."))
    if len(place) > 140:
        raise ProjectError(_("The place can be at most 140 characters."))
    if currency not in CURRENCIES:
        raise ProjectError(
            _("%(currency)r is not a currency a cause's account can hold (%(known)s).")
            % {"currency": currency, "known": ", ".join(sorted(CURRENCIES))}
        )
    if goal_minor is None and volunteers_goal is None:
        raise ProjectError(_("A project needs a goal: an amount to raise, volunteers, or both."))
    check_money_goal(goal_minor, currency)
    check_volunteers_goal(volunteers_goal)
    if deadline is not None and deadline < today():
        raise ProjectError(
            _("The deadline %(deadline)s has already passed.") % {"deadline": deadline}
        )
    for _attempt in range(3):
        try:
            with transaction.atomic():
                return Project.objects.create(
                    owner=owner_account,
                    cause=cause,
                    slug=_unique_slug(title),
                    title=title,
                    description=description,
                    place=place,
                    currency=currency,
                    goal_minor=goal_minor,
                    volunteers_goal=volunteers_goal,
                    deadline=deadline,
                )
        except IntegrityError:  # the slug was taken meanwhile: pick the next one
            continue
    raise ProjectError(_("Could not choose an address for the project; please try again."))


def _locked_open(project: Project, *, must_be_open: bool) -> Project:
    locked = Project.objects.select_for_update().get(pk=project.pk)
    if must_be_open and not is_open(locked):
        raise ProjectError(ended_message(locked))
    return locked


def _toggle(
    model: type[ProjectFollow] | type[Volunteer],
    counter: str,
    account: Account,
    project: Project,
    *,
    add: bool,
    must_be_open: bool,
) -> bool:
    """Add (``add``) or remove ``account``'s row of ``model`` for ``project``, once, and
    keep ``counter`` in the same transaction; True if something changed now."""
    with transaction.atomic():
        locked = _locked_open(project, must_be_open=must_be_open)
        if add:
            changed = model.objects.get_or_create(project=locked, account=account)[1]
        else:
            changed = bool(model.objects.filter(project=locked, account=account).delete()[0])
        if changed:
            step = 1 if add else -1
            Project.objects.filter(pk=locked.pk).update(**{counter: F(counter) + step})
    project.refresh_from_db(fields=[counter])
    return changed


def follow_project(account: Account, project: Project) -> bool:
    """``account`` follows ``project`` (its updates reach their home timeline). Idempotent:
    True if followed now, False if already following. Atomic, counter kept."""
    return _toggle(ProjectFollow, "followers_count", account, project, add=True, must_be_open=False)


def unfollow_project(account: Account, project: Project) -> bool:
    """Stop following. Idempotent: True if unfollowed now. Atomic, counter kept."""
    return _toggle(
        ProjectFollow, "followers_count", account, project, add=False, must_be_open=False
    )


def join_as_volunteer(account: Account, project: Project) -> bool:
    """``account`` volunteers for ``project``. Refused after the deadline (``ProjectError``).
    Idempotent: True if joined now, False if already a volunteer. Atomic, counter kept."""
    return _toggle(Volunteer, "volunteers_count", account, project, add=True, must_be_open=True)


def leave(account: Account, project: Project) -> bool:
    """``account`` stops volunteering. Refused after the deadline (the count then records
    who took part). Idempotent: True if left now. Atomic, counter kept."""
    return _toggle(Volunteer, "volunteers_count", account, project, add=False, must_be_open=True)


def progress(project: Project, on: date | None = None) -> Progress:
    """The project's progress on ``on`` (default today, UTC). Reads only the row."""
    percent: Decimal | None = None
    display: int | None = None
    if project.goal_minor:
        percent = Decimal(project.raised_minor) * 100 / Decimal(project.goal_minor)
        display = min(100, int(percent.to_integral_value(rounding=ROUND_DOWN)))
    days_left = None
    if project.deadline is not None:
        days_left = max(0, (project.deadline - (on or today())).days)
    return Progress(
        raised_minor=project.raised_minor,
        goal_minor=project.goal_minor,
        currency=project.currency,
        percent=percent,
        display_percent=display,
        volunteers=project.volunteers_count,
        volunteers_goal=project.volunteers_goal,
        days_left=days_left,
    )


def project_followers(project: Project) -> QuerySet[Account]:
    """The accounts following ``project``, for the social services' fan-out of its
    updates (ordered by id; a queryset, so a caller can iterate it in chunks)."""
    return Account.objects.filter(
        pk__in=ProjectFollow.objects.filter(project=project).values("account_id")
    ).order_by("pk")
