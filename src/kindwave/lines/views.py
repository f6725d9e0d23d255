"""The subscriber's own pages: my lines, ordering a line, activating it, choosing a cause.

Every line is fetched through ``selectors.get_line_for``: anyone but its owner gets a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kindwave.accounts.models import User
from kindwave.causes import selectors as causes
from kindwave.lines import selectors, services
from kindwave.lines.forms import ActivateLineForm, ChangeCauseForm, OrderLineForm
from kindwave.lines.models import IllegalTransitionError, LineState


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # guaranteed by @login_required  # noqa: S101
    return user


def _default_market(user: User) -> str:
    if user.language == "fr" or user.time_zone == "Europe/Paris":
        return "FR"
    if user.time_zone.startswith("America/"):
        return "US"
    return "GB"


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    now = timezone.now()
    lines = [
        {
            "line": line,
            "plan": selectors.plan_in_force(line, now),
            "cause": selectors.cause_in_force(line, now),
        }
        for line in selectors.lines_of(user)
    ]
    return render(request, "lines/home.html", {"lines": lines})


@login_required
def order(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not user.is_email_verified:
        messages.warning(request, _("Please verify your e-mail address before ordering a line."))
        return redirect("lines:home")
    now = timezone.now()
    markets = selectors.markets_on_offer(now)
    wanted = request.GET.get("market") or _default_market(user)
    market = next((m for m in markets if m.code == wanted), markets[0] if markets else None)
    if market is None:
        return render(request, "lines/order.html", {"markets": [], "form": None})
    plans = selectors.plans_on_offer(market, now)
    cause_list = list(causes.public_causes(market.code))
    form = OrderLineForm(request.POST or None, plans=plans, causes=cause_list)
    if request.method == "POST" and form.is_valid():
        try:
            line = services.order_line(
                user, market, form.cleaned_data["plan"], cause=form.cleaned_data["cause"]
            )
        except ValidationError as error:
            form.add_error(None, error)
        except services.LinesError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Your line is ordered. Activate it when your SIM arrives."))
            return redirect("lines:detail", line_id=line.pk)
    return render(
        request,
        "lines/order.html",
        {"form": form, "market": market, "markets": markets, "plans": plans},
    )


@login_required
def detail(request: HttpRequest, line_id: int) -> HttpResponse:
    line = selectors.get_line_for(_user(request), line_id)
    now = timezone.now()
    current_cause = selectors.cause_in_force(line, now)
    cause_form = ChangeCauseForm(
        initial={"cause": current_cause.slug if current_cause else ""},
        causes=list(causes.public_causes(line.market.code)),
    )
    return render(
        request,
        "lines/detail.html",
        {
            "line": line,
            "plan": selectors.plan_in_force(line, now),
            "cause": current_cause,
            "cause_form": cause_form,
            "activate_form": ActivateLineForm() if line.state == LineState.ORDERED else None,
            "history": line.state_changes.order_by("at", "pk"),
            "cause_history": line.cause_choices.select_related("cause").order_by("-valid_from"),
        },
    )


@login_required
@require_POST
def change_cause(request: HttpRequest, line_id: int) -> HttpResponse:
    line = selectors.get_line_for(_user(request), line_id)
    form = ChangeCauseForm(request.POST, causes=list(causes.public_causes(line.market.code)))
    if form.is_valid():
        services.choose_cause(line, form.cleaned_data["cause"])
        messages.success(request, _("Your cause is changed. It receives your next bills' share."))
    else:
        messages.error(request, _("Please choose one of the causes listed."))
    return redirect("lines:detail", line_id=line.pk)


@login_required
@require_POST
def activate(request: HttpRequest, line_id: int) -> HttpResponse:
    line = selectors.get_line_for(_user(request), line_id)
    form = ActivateLineForm(request.POST)
    if form.is_valid():
        try:
            services.activate_line(line, form.cleaned_data["iccid"], by=_user(request))
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        except (services.LinesError, IllegalTransitionError) as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("Your line is active. Welcome to Kindwave!"))
    else:
        messages.error(request, _("Please type the number printed on your SIM card."))
    return redirect("lines:detail", line_id=line.pk)
