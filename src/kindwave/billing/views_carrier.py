"""The subscriber's carrier-billing page: this month's charges to the phone bill, and the
setting (on or off, a monthly limit at most the operator's cap)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_precision
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from kindwave.accounts.models import User
from kindwave.billing.models import CarrierCharge
from kindwave.billing.services import carrier
from kindwave.lib.money import format_money, minor_to_major
from kindwave.lines.models import LineState
from kindwave.lines.selectors import lines_of


def _money(amount_minor: int, currency: str) -> str:
    """An amount as the page's reader writes it (``12,50 £GB`` in French)."""
    return format_money(amount_minor, currency, (get_language() or "en")[:2])


class CarrierBillingForm(forms.Form):
    """On or off, and a monthly limit in major units (empty: the operator's cap)."""

    enabled = forms.BooleanField(label=_("Allow charges to my phone bill"), required=False)
    monthly_limit = forms.DecimalField(
        label=_("My monthly limit"),
        required=False,
        min_value=Decimal(0),
        decimal_places=2,
        max_digits=9,
    )

    def __init__(self, *args: Any, cap_minor: int, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cap_minor, self.currency = cap_minor, currency
        cap = minor_to_major(cap_minor, currency)
        field = self.fields["monthly_limit"]
        field.help_text = _(
            "Leave empty for the most we allow, %(cap)s a month. 0 blocks every charge."
        ) % {"cap": _money(cap_minor, currency)}
        field.widget.attrs.update({"max": str(cap), "step": "0.01", "min": "0"})

    def clean_monthly_limit(self) -> Decimal | None:
        value: Decimal | None = self.cleaned_data["monthly_limit"]
        if value is not None and value > minor_to_major(self.cap_minor, self.currency):
            raise forms.ValidationError(
                _("The limit can be at most %(cap)s a month."),
                params={"cap": _money(self.cap_minor, self.currency)},
            )
        return value

    def limit_minor(self) -> int | None:
        value = self.cleaned_data["monthly_limit"]
        return None if value is None else int(value.scaleb(get_currency_precision(self.currency)))


def _currency(user: User) -> str:
    lines = list(lines_of(user))
    active = [line for line in lines if line.state == LineState.ACTIVE]
    chosen = (active or lines)[0] if lines else None
    return chosen.market.currency if chosen is not None else "GBP"


@login_required
def carrier_billing(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)  # guaranteed by @login_required  # noqa: S101
    now = timezone.now()
    month = carrier.month_of(now)
    currency = _currency(user)
    terms = carrier.limit_for(user)
    initial = {
        "enabled": terms.enabled,
        "monthly_limit": (
            None
            if terms.own_limit_minor is None
            else minor_to_major(terms.own_limit_minor, currency)
        ),
    }
    form = CarrierBillingForm(
        request.POST or None, initial=initial, cap_minor=terms.cap_minor, currency=currency
    )
    if request.method == "POST" and form.is_valid():
        try:
            carrier.set_limit(
                user, enabled=form.cleaned_data["enabled"], monthly_limit_minor=form.limit_minor()
            )
        except carrier.CarrierBillingError as error:
            form.add_error("monthly_limit", str(error))
        else:
            messages.success(request, _("Your carrier-billing setting is saved."))
            return redirect("billing:carrier_billing")
    spent = carrier.spent_in_month(user, month, currency)
    charges = (
        CarrierCharge.objects.filter(owner=user)
        .select_related("cause")
        .order_by("-reserved_at", "-pk")[:20]
    )
    return render(
        request,
        "billing/carrier_billing.html",
        {
            "form": form,
            "terms": terms,
            "currency": currency,
            "month": month,
            "spent_minor": spent,
            "left_minor": max(terms.monthly_limit_minor - spent, 0),
            "charges": charges,
        },
    )
