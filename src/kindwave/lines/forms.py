from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from kindwave.causes.models import Cause
from kindwave.lines.models import Plan

NO_CAUSE = ""


def _cause_choices(causes: list[Cause]) -> list[tuple[str, str]]:
    return [(cause.slug, cause.name) for cause in causes] + [
        (NO_CAUSE, str(_("No preference: let the Kindwave foundation share it out")))
    ]


class CauseField(forms.ChoiceField):
    def __init__(self, causes: list[Cause], **kwargs: Any) -> None:
        super().__init__(
            label=_("Your cause"),
            choices=_cause_choices(causes),
            widget=forms.RadioSelect,
            required=False,
            **kwargs,
        )
        self.causes = {cause.slug: cause for cause in causes}

    def clean(self, value: Any) -> Cause | None:
        slug = super().clean(value)
        return self.causes.get(slug) if slug else None


class OrderLineForm(forms.Form):
    """Pick a plan on offer in the market and a cause of that country."""

    def __init__(self, *args: Any, plans: list[Plan], causes: list[Cause], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        french = (get_language() or "en").startswith("fr")
        self.fields["plan"] = forms.ChoiceField(
            label=_("Your plan"),
            choices=[(plan.code, plan.name_fr if french else plan.name_en) for plan in plans],
            widget=forms.RadioSelect,
        )
        self.fields["cause"] = CauseField(causes)


class ChangeCauseForm(forms.Form):
    def __init__(self, *args: Any, causes: list[Cause], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["cause"] = CauseField(causes)


class ActivateLineForm(forms.Form):
    iccid = forms.CharField(
        label=_("SIM card number (ICCID)"),
        max_length=30,
        help_text=_("The 19 or 20 digits printed on your SIM card, starting with 89."),
    )
