"""The community's project and donation pages, under ``/community/``.

* ``projects/`` open projects, newest first; ``projects/new`` a member or a cause's
  administrator starts one; ``projects/<slug>/`` a project with its progress, updates,
  follow and volunteer buttons (HTMX-enhanced forms that work without JavaScript);
* ``projects/<slug>/donate`` and ``causes/<slug>/donate``: a gift on the phone bill;
  ``donations/<reference>/`` shows the one confirmation while the gift is pending and the
  receipt once it is confirmed; ``donations/<reference>/confirm`` (POST) confirms it.

Card donations are not offered: the only card adapter needs a card token that a
processor's own script makes in the browser, and Kindwave pages load no third-party
script (docs/donations.md). A donation is fetched among the donor's own only: someone
else's reference is the same 404 as a missing one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from kindwave.accounts.models import User
from kindwave.causes import selectors as cause_selectors
from kindwave.causes.models import Cause
from kindwave.community.models import Account, Donation, Project
from kindwave.community.project_forms import AS_MYSELF, PhoneBillDonationForm, ProjectForm
from kindwave.community.services import projects as project_services
from kindwave.community.services import timelines, web_projects
from kindwave.community.services.accounts import ensure_account, ensure_cause_account
from kindwave.community.services.donations import (
    DonationError,
    DonationKeyReused,
    PhoneBillTerms,
    PhoneBillUnavailable,
    confirm_by,
    confirm_phone_bill_donation,
    donate_by_phone_bill,
    phone_bill_terms,
    reservation_minutes,
)
from kindwave.lib.htmx import is_htmx, login_required
from kindwave.lib.money import format_money

PER_PAGE = 20

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def _money(amount_minor: int, currency: str) -> str:
    return format_money(amount_minor, currency, (get_language() or "en")[:2])


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # guaranteed by @login_required  # noqa: S101
    return user


@require_safe
def project_list(request: HttpRequest) -> HttpResponse:
    """``projects/?cause=<slug>&page=N``: open projects (of one cause), newest first."""
    cause_slug = request.GET.get("cause", "")[:80]
    projects = web_projects.open_projects(cause_slug)
    page = Paginator(projects, PER_PAGE).get_page(request.GET.get("page"))
    rows = [(project, project_services.progress(project)) for project in page.object_list]
    return render(
        request,
        "community/projects/list.html",
        {"page": page, "rows": rows, "cause_slug": cause_slug},
    )


@login_required
def project_new(request: HttpRequest) -> HttpResponse:
    """``projects/new``: start a project, as oneself or as a cause one administers."""
    user = _user(request)
    form = ProjectForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        cause: Cause = data["cause"]
        owner = ensure_account(user) if data["run_as"] == AS_MYSELF else ensure_cause_account(cause)
        try:
            project = project_services.create_project(
                owner,
                cause=cause,
                title=data["title"],
                description=data["description"],
                currency=data["currency"],
                goal_minor=data["goal_minor"],
                volunteers_goal=data["volunteers_goal"],
                deadline=data["deadline"],
                place=data["place"],
            )
        except project_services.ProjectError as error:
            form.add_error(None, str(error))
            form.describe()
        else:
            messages.success(request, _("Your project is open."))
            return redirect("community:project", slug=project.slug)
    return render(request, "community/projects/new.html", {"form": form})


@dataclass(frozen=True)
class MoneyBar:
    """The money progress as the page shows it."""

    raised: str
    goal: str | None
    percent: int | None


def _project_context(request: HttpRequest, project: Project) -> dict[str, object]:
    viewer = web_projects.account_of(_user(request) if request.user.is_authenticated else None)
    progress = project_services.progress(project)
    return {
        "project": project,
        "progress": progress,
        "money": MoneyBar(
            raised=_money(progress.raised_minor, progress.currency),
            goal=None
            if progress.goal_minor is None
            else _money(progress.goal_minor, progress.currency),
            percent=progress.display_percent,
        ),
        "open": project_services.is_open(project),
        "place": web_projects.viewer_place(viewer, project),
    }


@require_safe
def project_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """``projects/<slug>/``: the project, its progress, its updates and what one can do."""
    project = web_projects.get_project(slug)
    viewer = web_projects.account_of(_user(request) if request.user.is_authenticated else None)
    context = _project_context(request, project)
    context["updates"] = web_projects.project_updates(viewer, project)
    # The project's owner and its cause's account post its updates (from the home page's
    # compose box, with the project preselected).
    context["speaks_for"] = viewer is not None and timelines.speaks_for(viewer, project)
    return render(request, "community/projects/detail.html", context)


#: The four POST actions of the project page: follow, unfollow, volunteer, leave.
ProjectAction = Callable[[Account, Project], bool]


def _project_action(
    action: ProjectAction, group: str, done: StrOrPromise
) -> Callable[[HttpRequest, str], HttpResponse]:
    """A POST view running ``action`` for the signed-in person on the project, then showing
    the buttons again (HTMX) or the project page (a plain form), with ``done`` said in a
    status message; a refusal (after the deadline) is said next to the buttons instead.

    ``group`` names the pair of buttons the action belongs to (``follow`` for follow and
    unfollow): the buttons HTMX puts back carry it as ``data-focus``, and
    ``projects.js`` moves keyboard focus to the button that replaced the one pressed."""

    @login_required
    @require_POST
    def view(request: HttpRequest, slug: str) -> HttpResponse:
        project = web_projects.get_project(slug)
        error = ""
        try:
            action(ensure_account(_user(request)), project)
        except project_services.ProjectError as refusal:
            error = str(refusal)
        if is_htmx(request):
            context = _project_context(request, project)
            context |= {"error": error, "focus": group, "done": "" if error else done}
            return render(request, "community/projects/_actions.html", context)
        if error:
            messages.error(request, error)
        else:
            messages.success(request, done)
        return redirect("community:project", slug=project.slug)

    return view


project_follow = _project_action(
    project_services.follow_project, "follow", gettext_lazy("You follow this project.")
)
project_unfollow = _project_action(
    project_services.unfollow_project,
    "follow",
    gettext_lazy("You no longer follow this project."),
)
project_volunteer = _project_action(
    project_services.join_as_volunteer,
    "volunteer",
    gettext_lazy("You volunteer for this project. Thank you!"),
)
project_leave = _project_action(
    project_services.leave, "volunteer", gettext_lazy("You no longer volunteer for this project.")
)


def _donation_form(
    data: QueryDict | None, cause: Cause, terms: PhoneBillTerms
) -> PhoneBillDonationForm:
    currency = terms.currency
    return PhoneBillDonationForm(
        data,
        cause=cause,
        currency=currency,
        gift_aid_offered=cause.country == Cause.Country.GB and currency == "GBP",
        amount_help=_(
            "In %(currency)s, for example 5 or 5.50. At most %(maximum)s; your phone bill "
            "can take %(left)s more this month."
        )
        % {
            "currency": currency,
            "maximum": _money(terms.max_minor, currency),
            "left": _money(terms.left_minor, currency),
        },
    )


def _with_a_new_key(
    request: HttpRequest, cause: Cause, terms: PhoneBillTerms, message: str
) -> PhoneBillDonationForm:
    """The form as it was sent, under a new client key (the old one stands for another
    gift now), with ``message`` above it: sending it again is a new, separate request."""
    data = request.POST.copy()
    data["client_key"] = uuid.uuid4().hex
    form = _donation_form(data, cause, terms)
    form.is_valid()
    form.add_error(None, message)
    return form


def _donate(request: HttpRequest, cause: Cause, project: Project | None) -> HttpResponse:
    """The donation form for ``cause`` (and ``project``): on a valid POST the gift is
    reserved on the phone bill and the donor sent to its confirmation page. When no gift
    on the phone bill can be made (the project ended, no active line, a project in another
    currency than the donor's line, charges switched off) the page says why instead."""
    user = _user(request)
    context: dict[str, object] = {"cause": cause, "project": project}
    try:
        terms = phone_bill_terms(user, cause=cause, project=project)
    except PhoneBillUnavailable as unavailable:
        context |= {"unavailable": str(unavailable), "reason": unavailable.reason}
        return render(request, "community/projects/donate.html", context)
    form = _donation_form(request.POST or None, cause, terms)
    if request.method == "POST" and form.is_valid():
        try:
            donation = donate_by_phone_bill(
                user,
                cause=cause,
                project=project,
                amount_minor=form.cleaned_data["amount"],
                currency=terms.currency,
                client_key=form.cleaned_data["client_key"],
                gift_aid=form.cleaned_data["declaration_checked"],
            )
        except DonationKeyReused as reused:
            form = _with_a_new_key(request, cause, terms, str(reused))
        except DonationError as error:
            form.add_error("amount", str(error))
            form.describe()
        else:
            if donation.state in (Donation.State.PENDING, Donation.State.COMPLETED):
                return redirect("community:donation", reference=donation.reference)
            form = _with_a_new_key(
                request,
                cause,
                terms,
                _(
                    "The gift sent earlier with this form was not confirmed in time, so it "
                    "was cancelled and nothing was charged. Send the form again to give."
                ),
            )
    context |= {
        "form": form,
        "currency": terms.currency,
        "statement": _(
            "I want to Gift Aid my donation to %(charity)s. I am a UK taxpayer and "
            "understand that if I pay less Income Tax and/or Capital Gains Tax than the "
            "amount of Gift Aid claimed on all my donations in that tax year it is my "
            "responsibility to pay any difference."
        )
        % {"charity": cause.name},
    }
    return render(request, "community/projects/donate.html", context)


@login_required
def project_donate(request: HttpRequest, slug: str) -> HttpResponse:
    """``projects/<slug>/donate``: give to the project's cause, for this project."""
    project = web_projects.get_project(slug)
    return _donate(request, project.cause, project)


@login_required
def cause_donate(request: HttpRequest, slug: str) -> HttpResponse:
    """``causes/<slug>/donate``: a gift to the cause itself."""
    return _donate(request, cause_selectors.get_public_cause(slug), None)


@login_required
@require_safe
def donation_detail(request: HttpRequest, reference: uuid.UUID) -> HttpResponse:
    """``donations/<reference>/``: the one confirmation while pending, the receipt once
    completed (someone else's is a 404, like a missing one). A pending gift whose
    reservation lapsed shows as expired, with no button to confirm it (carrier billing
    voids it when next touched; a GET writes nothing)."""
    donation = web_projects.get_donation_for(_user(request), reference)
    deadline = confirm_by(donation)
    expired = deadline is not None and timezone.now() >= deadline
    response = render(
        request,
        "community/projects/donation.html",
        {
            "donation": donation,
            "amount": _money(donation.amount_minor, donation.currency),
            "pending": deadline is not None and not expired,
            "expired": expired,
            "confirm_by": deadline,
            "minutes": reservation_minutes(),
            "completed": donation.state == Donation.State.COMPLETED,
            "line": donation.carrier_charge.line if donation.carrier_charge else None,
        },
    )
    # A receipt names the donor's line and Gift Aid details: never in a shared cache.
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
def donation_confirm(request: HttpRequest, reference: uuid.UUID) -> HttpResponse:
    """The one confirmation: the charge goes on the bill, the cause is credited."""
    user = _user(request)
    donation = web_projects.get_donation_for(user, reference)
    try:
        confirm_phone_bill_donation(user, donation.reference)
    except DonationError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Thank you: your donation is confirmed."))
    return redirect(reverse("community:donation", kwargs={"reference": donation.reference}))


urlpatterns: list[URLPattern] = [
    path("projects/", project_list, name="projects"),
    path("projects/new", project_new, name="project_new"),
    path("projects/<slug:slug>/", project_detail, name="project"),
    path("projects/<slug:slug>/follow", project_follow, name="project_follow"),
    path("projects/<slug:slug>/unfollow", project_unfollow, name="project_unfollow"),
    path("projects/<slug:slug>/volunteer", project_volunteer, name="project_volunteer"),
    path("projects/<slug:slug>/leave", project_leave, name="project_leave"),
    path("projects/<slug:slug>/donate", project_donate, name="project_donate"),
    path("causes/<slug:slug>/donate", cause_donate, name="cause_donate"),
    path("donations/<uuid:reference>/", donation_detail, name="donation"),
    path("donations/<uuid:reference>/confirm", donation_confirm, name="donation_confirm"),
]
