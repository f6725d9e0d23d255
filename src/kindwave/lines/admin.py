"""Operator staff's view of the catalogue, the stock and the lines.

Catalogue versions are read-only once loaded (they change only by loading a new file
with ``kindwave catalog load``). Lines are changed only through the lifecycle actions,
which go through ``services`` like every other write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from kindwave.lines import services
from kindwave.lines.models import (
    CatalogVersion,
    CauseChoice,
    DestinationClass,
    IllegalTransitionError,
    Line,
    LineStateChange,
    NumberBlock,
    PhoneNumber,
    Plan,
    PlanRate,
    PlanSubscription,
    PortInRequest,
    RoamingZone,
    SimCard,
)


class ReadOnlyAdminMixin:
    """Staff may look, not touch: the data changes only through services."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False


# --- Catalogue ---------------------------------------------------------------------------------


class PlanInline(ReadOnlyInline):
    model = Plan
    fields = readonly_fields = (
        "code",
        "kind",
        "name_en",
        "name_fr",
        "monthly_fee_minor",
        "currency",
    )


class DestinationClassInline(ReadOnlyInline):
    model = DestinationClass
    fields = readonly_fields = ("code", "kind", "name_en", "name_fr")


class RoamingZoneInline(ReadOnlyInline):
    model = RoamingZone
    fields = readonly_fields = (
        "code",
        "kind",
        "name_en",
        "voice_out_per_minute",
        "voice_in_per_minute",
        "sms_out",
        "sms_in",
        "data_per_mb",
    )


@admin.register(CatalogVersion)
class CatalogVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["market", "version", "effective_from", "tax_mode", "vat_rate", "loaded_at"]
    list_filter = ["market"]
    ordering = ["market__code", "-effective_from"]
    fields = readonly_fields = (
        "market",
        "version",
        "effective_from",
        "currency",
        "host_plmn",
        "tax_mode",
        "vat_rate",
        "description",
        "source_name",
        "source_sha256",
        "loaded_at",
        "source_text",
    )
    inlines = [PlanInline, DestinationClassInline, RoamingZoneInline]


class PlanRateInline(ReadOnlyInline):
    model = PlanRate
    fields = readonly_fields = ("destination_class", "voice_per_minute", "sms_per_message")


@admin.register(Plan)
class PlanAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "code",
        "name_en",
        "catalog",
        "kind",
        "monthly_fee_minor",
        "currency",
        "included_minutes",
        "included_sms",
        "included_data_mb",
    ]
    list_filter = ["catalog__market", "kind"]
    search_fields = ["code", "name_en", "name_fr"]
    list_select_related = ["catalog__market"]
    fields = readonly_fields = (
        "catalog",
        "code",
        "kind",
        "name_en",
        "name_fr",
        "monthly_fee_minor",
        "currency",
        "included_minutes",
        "included_sms",
        "included_data_mb",
        "allowance_covers",
        "data_per_mb",
        "call_minimum_seconds",
        "call_increment_seconds",
    )
    inlines = [PlanRateInline]


# --- Stock ----------------------------------------------------------------------------------


@admin.register(NumberBlock)
class NumberBlockAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "market", "size", "created_at"]
    list_filter = ["market"]
    fields = readonly_fields = ("market", "first", "last", "created_at")


@admin.register(PhoneNumber)
class PhoneNumberAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["msisdn", "market", "status", "status_changed_at"]
    list_filter = ["market", "status"]
    search_fields = ["msisdn"]
    readonly_fields = ["block", "market", "msisdn", "status", "status_changed_at"]
    show_full_result_count = False


@admin.register(SimCard)
class SimCardAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["iccid", "imsi", "market", "status", "created_at"]
    list_filter = ["market", "status"]
    search_fields = ["iccid", "imsi"]
    readonly_fields = ["market", "iccid", "imsi", "status", "created_at"]
    show_full_result_count = False


# --- Lines ----------------------------------------------------------------------------------


class LineStateChangeInline(ReadOnlyInline):
    model = LineStateChange
    fk_name = "line"
    fields = readonly_fields = ("at", "from_state", "to_state", "reason", "actor", "recorded_at")
    ordering = ["at", "id"]


class PlanSubscriptionInline(ReadOnlyInline):
    model = PlanSubscription
    fields = readonly_fields = ("plan_code", "valid_from", "valid_to", "created_at")


class CauseChoiceInline(ReadOnlyInline):
    model = CauseChoice
    fields = readonly_fields = ("cause", "valid_from", "chosen_at")


class PortInRequestInline(ReadOnlyInline):
    model = PortInRequest
    # The transfer PIN stays out of the page: it is only for the donor operator.
    fields = readonly_fields = (
        "msisdn",
        "donor_operator",
        "code",
        "account_number",
        "requested_at",
        "completed_at",
    )


def _lifecycle_action(
    name: str, apply: Callable[[Line, HttpRequest], Any], description: str | Promise
) -> Callable[[Any, HttpRequest, QuerySet[Line]], None]:
    def action(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Line]) -> None:
        done = 0
        for line in queryset.select_related("sim"):
            try:
                apply(line, request)
            except ValidationError as error:
                messages.error(request, f"{line}: {' '.join(error.messages)}")
            except (services.LinesError, IllegalTransitionError) as error:
                messages.error(request, f"{line}: {error}")
            else:
                done += 1
        if done:
            messages.success(request, _("%(count)s line(s) updated.") % {"count": done})

    action.__name__ = name  # the admin tells actions apart by name
    action.short_description = description  # type: ignore[attr-defined]
    return action


def _staff(request: HttpRequest) -> Any:
    return request.user if request.user.is_authenticated else None


@admin.register(Line)
class LineAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["msisdn", "owner", "market", "state", "ordered_at", "activated_at"]
    list_filter = ["market", "state"]
    search_fields = ["msisdn", "owner__email", "sim__iccid", "sim__imsi", "external_ref"]
    list_select_related = ["owner", "market"]
    fields = readonly_fields = (
        "owner",
        "market",
        "msisdn",
        "number",
        "sim",
        "state",
        "ordered_at",
        "activated_at",
        "terminated_at",
        "state_changed_at",
        "external_ref",
    )
    inlines = [
        LineStateChangeInline,
        PlanSubscriptionInline,
        CauseChoiceInline,
        PortInRequestInline,
    ]
    show_full_result_count = False
    actions = [
        _lifecycle_action(
            "activate_lines",
            lambda line, request: services.activate_line(line, by=_staff(request)),
            _("Activate the selected lines"),
        ),
        _lifecycle_action(
            "suspend_lines",
            lambda line, request: services.suspend_line(
                line, gettext_noop("suspended by staff"), by=_staff(request)
            ),
            _("Suspend the selected lines"),
        ),
        _lifecycle_action(
            "resume_lines",
            lambda line, request: services.resume_line(
                line, gettext_noop("resumed by staff"), by=_staff(request)
            ),
            _("Resume the selected lines"),
        ),
        _lifecycle_action(
            "terminate_lines",
            lambda line, request: services.terminate_line(
                line, gettext_noop("terminated by staff"), by=_staff(request)
            ),
            _("Terminate the selected lines"),
        ),
    ]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Changing means "may run the lifecycle actions"; the fields stay read-only.
        return bool(request.user.has_perm("lines.change_line"))
