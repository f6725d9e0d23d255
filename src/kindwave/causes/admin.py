from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from kindwave.causes import services
from kindwave.causes.models import Cause


class CauseForm(forms.ModelForm[Cause]):
    """The cause's fields, refusing the slugs the public ledger uses for itself."""

    # A website typed without a scheme is taken as https:// (Django 6's default).
    website = forms.URLField(
        label=_("website"), max_length=200, required=False, assume_scheme="https"
    )

    class Meta:
        model = Cause
        fields = [
            "slug",
            "name",
            "country",
            "registration_number",
            "summary",
            "description",
            "website",
            "logo",
        ]

    def clean_slug(self) -> str:
        slug = str(self.cleaned_data["slug"])
        try:
            services.check_slug(slug)
        except forms.ValidationError as error:
            raise forms.ValidationError(error.message_dict["slug"]) from None
        return slug


@admin.register(Cause)
class CauseAdmin(admin.ModelAdmin[Cause]):
    form = CauseForm
    list_display = ["name", "country", "registration_number", "verified_at"]
    list_filter = ["country", ("verified_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "registration_number", "slug"]
    readonly_fields = ["organisation", "verified_at", "verified_by", "created_at"]
    prepopulated_fields = {"slug": ["name"]}
    actions = ["verify", "withdraw"]

    @admin.action(description=_("Verify the selected causes"))
    def verify(self, request: HttpRequest, queryset: QuerySet[Cause]) -> None:
        for cause in queryset:
            services.verify_cause(cause, by=request.user)  # type: ignore[arg-type]
        count = queryset.count()
        self.message_user(
            request,
            ngettext("%(count)d cause verified.", "%(count)d causes verified.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Withdraw verification"))
    def withdraw(self, request: HttpRequest, queryset: QuerySet[Cause]) -> None:
        for cause in queryset:
            services.withdraw_verification(cause)

    def save_model(self, request: HttpRequest, obj: Cause, form: object, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # A new cause needs its organisation: that is register_cause's job.
        cause, _created = services.register_cause(
            slug=obj.slug,
            name=obj.name,
            country=obj.country,
            registration_number=obj.registration_number,
            summary=obj.summary,
            description=obj.description,
            website=obj.website,
            logo=obj.logo or None,
        )
        obj.pk, obj.organisation = cause.pk, cause.organisation
