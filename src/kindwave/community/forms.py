"""The social pages' forms: the compose box, a report, a moderator's decision. They only
parse input; the services decide (and word their refusals)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kindwave.community.models import MAX_STATUS_CHARS, Visibility
from kindwave.community.services import media, moderation, posts, web_social
from kindwave.community.services import text as post_text


class ComposeForm(forms.Form):
    text = forms.CharField(
        label=_("What would you like to share?"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    visibility = forms.ChoiceField(
        label=_("Who can see it"), choices=Visibility.choices, initial=Visibility.PUBLIC
    )
    spoiler_text = forms.CharField(
        label=_("Content warning (optional)"),
        required=False,
        max_length=posts.SPOILER_MAX,
        help_text=_("Shown instead of the post until the reader opens it."),
    )
    image = forms.FileField(
        label=_("Image (optional)"),
        required=False,
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png,image/gif,image/webp"}),
    )
    image_description = forms.CharField(
        label=_("Describe the image for people who cannot see it"),
        required=False,
        max_length=media.MAX_DESCRIPTION,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    donate = forms.ChoiceField(
        label=_("Add a donate button (optional)"),
        required=False,
        help_text=_("Readers can give to it from your post, with no commission."),
        error_messages={"invalid_choice": _("You cannot add this donate button.")},
    )
    in_reply_to = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)
    # One key per form shown: the same form sent twice is the same post.
    idempotency_key = forms.CharField(
        widget=forms.HiddenInput, max_length=120, initial=lambda: uuid.uuid4().hex
    )

    max_chars = MAX_STATUS_CHARS

    def __init__(
        self, *args: Any, donate_targets: Sequence[web_social.DonateTarget] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.donate_targets = {target.key: target for target in donate_targets}
        field = self.fields["donate"]
        if isinstance(field, forms.ChoiceField):  # always; this tells the type checker
            field.choices = [("", _("No donate button"))] + [
                (target.key, target.label) for target in donate_targets
            ]

    def clean_donate(self) -> web_social.DonateTarget | None:
        return self.donate_targets.get(self.cleaned_data["donate"])

    def clean_text(self) -> str:
        # A browser sends line ends as ``\r\n``; its counter saw ``\n``.
        return post_text.normalise_newlines(self.cleaned_data["text"])

    def clean_spoiler_text(self) -> str:
        return post_text.normalise_newlines(self.cleaned_data["spoiler_text"])

    def remaining(self) -> int:
        """The characters left (negative: too many) for what the box holds, as the page's
        counter shows it without JavaScript."""
        content = self["text"].value() or ""
        spoiler = self["spoiler_text"].value() or ""
        return self.max_chars - post_text.status_length(str(content), str(spoiler))

    def remaining_shown(self) -> int:
        return abs(self.remaining())


class ReportForm(forms.Form):
    comment = forms.CharField(
        label=_("What is wrong? (optional, seen by the moderators only)"),
        required=False,
        max_length=moderation.MAX_COMMENT,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    status = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)


class ResolveReportForm(forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), choices=moderation.Decision.choices)
    note = forms.CharField(label=_("Note (optional)"), required=False, max_length=150)
