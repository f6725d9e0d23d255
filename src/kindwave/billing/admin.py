"""Billing in the staff site: read-only views of what the services wrote, and the one
thing staff enter by hand (operating costs for the profit pledge)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from kindwave.billing import models


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by the billing services: staff look, never edit."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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


@admin.register(models.OperatingCost)
class OperatingCostAdmin(admin.ModelAdmin):
    list_display = ["period", "currency", "amount_minor", "description", "entered_by"]
    list_filter = ["period", "currency"]
    readonly_fields = ["entered_by", "entered_at"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.entered_by = request.user
        super().save_model(request, obj, form, change)
