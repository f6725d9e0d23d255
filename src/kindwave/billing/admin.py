"""Billing in the staff site: read-only views of what the services wrote, and the one
thing staff enter by hand (operating costs for the profit pledge)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from kindwave.accounts.models import User
from kindwave.billing import models
from kindwave.billing.services import costs
from kindwave.lib.admin import ReadOnlyAdmin


class InvoiceLineInline(admin.TabularInline):
    model = models.InvoiceLine
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(models.Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ["number", "cycle", "msisdn", "total_minor", "currency", "status"]
    list_filter = ["market", "cycle", "status"]
    search_fields = ["number", "msisdn"]
    inlines = [InvoiceLineInline]


@admin.register(models.BillRun)
class BillRunAdmin(ReadOnlyAdmin):
    list_display = ["cycle", "state", "invoices_issued", "started_at", "finished_at"]


for model in (
    models.CarrierCharge,
    models.Payment,
    models.BankStatement,
    models.BankEntry,
    models.DunningStep,
    models.Pledge,
    models.InvoiceSequence,
):
    admin.site.register(model, ReadOnlyAdmin)


class OperatingCostForm(forms.ModelForm):
    """Checks a new cost as the service will (period, currency, pledge not yet posted)."""

    class Meta:
        model = models.OperatingCost
        fields = ["period", "kind", "currency", "amount_minor", "description"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors:
            try:
                costs.check_cost(
                    data["period"], data["kind"], data["currency"], data["amount_minor"]
                )
            except costs.CostError as error:
                raise forms.ValidationError(str(error)) from None
        return data


@admin.register(models.OperatingCost)
class OperatingCostAdmin(admin.ModelAdmin):
    """Staff add costs; a saved cost is posted to the ledger and never edited or deleted.
    A mistake is cancelled with the "reverse" action and entered again (docs/pledge.md)."""

    form = OperatingCostForm
    list_display = [
        "period",
        "kind",
        "currency",
        "amount_minor",
        "description",
        "entered_by",
        "reversed",
    ]
    list_filter = ["period", "kind", "currency"]
    readonly_fields = ["entered_by", "entered_at"]
    actions = ["reverse_costs"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The change page shows a posted cost read-only; nothing can be saved over it.
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(boolean=True, description=_("reversed"))
    def reversed(self, obj: models.OperatingCost) -> bool:
        return costs.is_reversed(obj)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            raise PermissionDenied
        try:
            cost = costs.record_cost(
                obj.period,
                obj.kind,
                obj.currency,
                obj.amount_minor,
                obj.description,
                request.user if isinstance(request.user, User) else None,
            )
        except costs.CostError as error:
            raise PermissionDenied(str(error)) from None
        obj.pk, obj.entered_by, obj.entered_at = cost.pk, cost.entered_by, cost.entered_at

    @admin.action(description=_("Reverse the selected costs (cancel them in the ledger)"))
    def reverse_costs(self, request: HttpRequest, queryset: QuerySet[models.OperatingCost]) -> None:
        done = 0
        for cost in queryset:
            try:
                costs.reverse_cost(cost)
                done += 1
            except costs.CostError as error:
                self.message_user(request, str(error), level=messages.ERROR)
        self.message_user(request, _("%(count)s costs reversed.") % {"count": done})
