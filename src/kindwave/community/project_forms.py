"""The forms of the project and donation pages: a new project, and a donation on the
phone bill with an optional UK Gift Aid declaration.

Amounts are typed in major units with a decimal point or comma (``5``, ``5.50``,
``5,50``) and turned into integer minor units of the currency here; the services check
everything else (limits, lines, causes) and their refusals are shown next to the field.
"""

from __future__ import annotations

import re
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_precision
from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kindwave.accounts.models import User
from kindwave.causes.models import Cause
from kindwave.community.giftaid import GiftAidDeclaration, GiftAidError, check_declaration
from kindwave.community.services.projects import (
    CURRENCIES,
    MAX_VOLUNTEERS_GOAL,
    ProjectError,
    check_money_goal,
    today,
)
from kindwave.community.services.web_projects import causes_run_by

# ASCII digits, then at most one decimal separator (point or comma) and its decimals.
# Not ``\d``: it also matches Arabic-Indic or full-width digits, which Decimal would
# read as their value — a person should see and confirm the very digits that are charged.
_AMOUNT = re.compile(r"^([0-9]{1,12})(?:[.,]([0-9]{1,3}))?$")

#: The "run as" choice for running a project as oneself.
AS_MYSELF = "me"


def parse_amount(raw: str, currency: str) -> int:
    """``"5,50"`` or ``"5.50"`` in GBP → 550. ``ValidationError`` for anything else: not a
    number, digits other than 0 to 9, a negative or zero amount, more decimals than the
    currency has."""
    text = re.sub(r"\s+", "", raw or "")
    match = _AMOUNT.match(text)
    if text.startswith("-"):
        raise forms.ValidationError(_("Enter an amount above zero."), code="negative")
    if match is None and any(char.isdigit() and not char.isascii() for char in text):
        raise forms.ValidationError(
            _("Type the amount with the digits 0 to 9, such as 5 or 5.50."), code="digits"
        )
    if match is None:
        raise forms.ValidationError(
            _("Enter an amount in %(currency)s such as 5 or 5.50."),
            code="invalid",
            params={"currency": currency},
        )
    whole, decimals = match.group(1), match.group(2) or ""
    precision = get_currency_precision(currency)
    if len(decimals) > precision:
        raise forms.ValidationError(
            _("%(currency)s amounts have at most %(precision)s decimals."),
            code="precision",
            params={"currency": currency, "precision": precision},
        )
    amount = int(Decimal(f"{whole}.{decimals or '0'}").scaleb(precision))
    if amount <= 0:
        raise forms.ValidationError(_("Enter an amount above zero."), code="zero")
    return amount


class DescribedFieldsMixin(forms.Form):
    """Ties each field to its help text and its errors (``aria-describedby``) and marks a
    field in error ``aria-invalid``, so a screen reader reads why a value was refused.
    The ids are those ``community/projects/_field.html`` renders."""

    #: Extra ids a field is described by (an element of the page, e.g. a statement).
    described_by: dict[str, str] = {}

    def describe(self) -> None:
        for name, field in self.fields.items():
            bound = self[name]
            ids = [self.described_by[name]] if name in self.described_by else []
            if field.help_text:
                ids.append(f"{bound.auto_id}_helptext")
            if self.is_bound and self.errors.get(name):
                ids.append(f"{bound.auto_id}_errors")
                field.widget.attrs["aria-invalid"] = "true"
            if ids:
                field.widget.attrs["aria-describedby"] = " ".join(ids)

    def full_clean(self) -> None:
        super().full_clean()
        self.describe()


class ProjectForm(DescribedFieldsMixin, forms.Form):
    """A new project: who runs it, the cause receiving the money, its goals and dates."""

    title = forms.CharField(label=_("Title"), max_length=140)
    # With a context: the bare "Description" is an invoice column ("Désignation" in French).
    description = forms.CharField(
        label=pgettext_lazy("what a project is about, form field", "Description"),
        max_length=5_000,
        widget=forms.Textarea,
    )
    cause = forms.ModelChoiceField(
        label=_("Cause receiving the money"),
        queryset=Cause.objects.none(),
        to_field_name="slug",
        empty_label=None,
    )
    run_as = forms.ChoiceField(label=_("Run by"))
    currency = forms.ChoiceField(
        label=_("Currency"), choices=[(code, code) for code in sorted(CURRENCIES)]
    )
    goal = forms.CharField(
        label=_("Money to raise"),
        required=False,
        help_text=_("In the currency above, for example 1500 or 1500.50. Optional."),
    )
    volunteers_goal = forms.IntegerField(
        label=_("Volunteers wanted"),
        required=False,
        min_value=1,
        max_value=MAX_VOLUNTEERS_GOAL,
        help_text=_("Optional; a project needs a money goal, volunteers, or both."),
    )
    deadline = forms.DateField(
        label=_("Deadline"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Optional. Donations and volunteers are taken until the end of that day."),
    )
    place = forms.CharField(label=_("Place"), max_length=140, required=False)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["cause"]
        assert isinstance(field, forms.ModelChoiceField)  # noqa: S101 - declared above
        field.queryset = Cause.objects.verified().order_by("name")
        run_as = self.fields["run_as"]
        assert isinstance(run_as, forms.ChoiceField)  # noqa: S101 - declared above
        run_as.choices = [(AS_MYSELF, _("Myself"))] + [
            (cause.slug, cause.name) for cause in causes_run_by(user)
        ]
        self.describe()
        self.fields["goal"].widget.attrs["inputmode"] = "decimal"

    def clean_deadline(self) -> date | None:
        deadline: date | None = self.cleaned_data["deadline"]
        if deadline is not None and deadline < today():
            raise forms.ValidationError(_("The deadline has already passed."))
        return deadline

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        currency = cleaned.get("currency")
        raw_goal = (self.data.get(self.add_prefix("goal")) or "").strip()
        cleaned["goal_minor"] = None
        if raw_goal and currency:
            try:
                cleaned["goal_minor"] = parse_amount(raw_goal, currency)
                check_money_goal(cleaned["goal_minor"], currency)
            except forms.ValidationError as error:
                self.add_error("goal", error)
            except ProjectError as refusal:
                self.add_error("goal", str(refusal))
        if not raw_goal and cleaned.get("volunteers_goal") is None and "goal" not in self.errors:
            self.add_error(
                "goal", _("A project needs a goal: an amount to raise, volunteers, or both.")
            )
        cause, run_as = cleaned.get("cause"), cleaned.get("run_as")
        if cause is not None and run_as not in (None, AS_MYSELF) and run_as != cause.slug:
            self.add_error(
                "run_as",
                _("A cause can run projects only for itself; choose it as the cause too."),
            )
        return cleaned


class PhoneBillDonationForm(DescribedFieldsMixin, forms.Form):
    """A gift on the phone bill: the amount, the render's key (a double submit is one
    donation), and the optional UK Gift Aid declaration."""

    amount = forms.CharField(label=_("Amount"), max_length=20)
    client_key = forms.CharField(widget=forms.HiddenInput, max_length=64)
    gift_aid = forms.BooleanField(
        label=_("Add Gift Aid: I am a UK taxpayer"),
        required=False,
    )
    title = forms.CharField(label=_("Title (optional)"), required=False, max_length=4)
    first_name = forms.CharField(label=_("First name"), required=False, max_length=35)
    last_name = forms.CharField(label=_("Last name"), required=False, max_length=35)
    house = forms.CharField(label=_("House name or number"), required=False, max_length=40)
    address = forms.CharField(label=_("Rest of your home address"), required=False, max_length=300)
    postcode = forms.CharField(label=_("Postcode"), required=False, max_length=10)
    declaration = forms.BooleanField(label=_("I accept this declaration"), required=False)

    GIFT_AID_FIELDS = ("title", "first_name", "last_name", "house", "address", "postcode")
    described_by = {"declaration": "gift-aid-statement"}

    def __init__(
        self,
        *args: Any,
        cause: Cause,
        currency: str,
        gift_aid_offered: bool,
        amount_help: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"].help_text = amount_help
        self.cause, self.currency, self.gift_aid_offered = cause, currency, gift_aid_offered
        if not self.is_bound:
            self.initial.setdefault("client_key", uuid.uuid4().hex)
        amount = self.fields["amount"].widget
        amount.attrs.update({"inputmode": "decimal", "autocomplete": "off"})
        self.fields["postcode"].widget.attrs["autocomplete"] = "postal-code"
        self.fields["first_name"].widget.attrs["autocomplete"] = "given-name"
        self.fields["last_name"].widget.attrs["autocomplete"] = "family-name"
        if not gift_aid_offered:
            for name in ("gift_aid", "declaration", *self.GIFT_AID_FIELDS):
                del self.fields[name]
        self.describe()

    def clean_amount(self) -> int:
        return parse_amount(self.cleaned_data["amount"], self.currency)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cleaned["declaration_checked"] = None
        if not self.gift_aid_offered or not cleaned.get("gift_aid"):
            return cleaned
        declaration = GiftAidDeclaration(
            title=cleaned.get("title", ""),
            first_name=cleaned.get("first_name", ""),
            last_name=cleaned.get("last_name", ""),
            house=cleaned.get("house", ""),
            address=cleaned.get("address", ""),
            postcode=cleaned.get("postcode", ""),
            accepted=bool(cleaned.get("declaration")),
        )
        if not declaration.accepted:
            self.add_error("declaration", _("To add Gift Aid, please accept the declaration."))
            return cleaned
        try:
            cleaned["declaration_checked"] = check_declaration(
                declaration, cause=self.cause, currency=self.currency
            )
        except GiftAidError as error:
            self.add_error(_gift_aid_field(str(error)), str(error))
        return cleaned


def _gift_aid_field(message: str) -> str:
    """The field a Gift Aid refusal is about, to show it next to that field."""
    lowered = message.lower()
    for needle, field in (
        ("postcode", "postcode"),
        (str(_("first name")), "first_name"),
        (str(_("last name")), "last_name"),
        (str(_("house name or number")), "house"),
        (str(_("address")), "address"),
    ):
        if needle.lower() in lowered:
            return field
    return "gift_aid"
