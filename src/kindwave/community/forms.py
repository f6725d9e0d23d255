"""The social pages' forms: the compose box, a report, a moderator's decision. They only
parse input; the services decide (and word their refusals)."""

from __future__ import annotations

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from kindwave.community.models import MAX_STATUS_CHARS, Visibility
from kindwave.community.services import media, moderation, posts


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
    in_reply_to = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)
    # One key per form shown: the same form sent twice is the same post.
    idempotency_key = forms.CharField(
        widget=forms.HiddenInput, max_length=120, initial=lambda: uuid.uuid4().hex
    )

    max_chars = MAX_STATUS_CHARS


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
